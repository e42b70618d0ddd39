"""The worked example of docs/scoring.md, so that the page stays true."""

from __future__ import annotations

from fractions import Fraction

import pytest
from ground_truths import WORKED_EXAMPLE_YAML

from itbench_eval.groundtruth import ground_truth_from_yaml
from itbench_eval.metrics import ibm_metrics
from itbench_eval.scoring import ScoreOptions, score_names

NAMESPACE = "cluster/Namespace/otel-demo"
DEPLOYMENT = "otel-demo/Deployment/ad"
QUOTA = "otel-demo/ResourceQuota/mem-quota"
GROUND_TRUTH = ground_truth_from_yaml(WORKED_EXAMPLE_YAML, "worked example")


def test_the_worked_example_scores_one_third_set_based_and_one_ranked() -> None:
    result = score_names(GROUND_TRUTH, [NAMESPACE, DEPLOYMENT, QUOTA])

    assert [(name.group_id, name.set_id, name.verdict) for name in result.matches] == [
        ("otel-demo-namespace-1", "otel-demo-namespace-1", "root_cause"),
        ("ad-deployment-1", "ad-pod-1", "symptom"),
        (None, None, "unmatched"),
    ]
    assert (result.tp, result.fp, result.fn, result.score) == (1, 2, 0, pytest.approx(1 / 3))
    assert score_names(GROUND_TRUTH, [DEPLOYMENT, QUOTA]).score == 0.0
    assert (
        score_names(GROUND_TRUTH, [NAMESPACE, DEPLOYMENT, QUOTA], options=ScoreOptions(ranked=True)).score
        == 1.0
    )


def test_the_worked_example_reordered_scores_one_half_ranked() -> None:
    names = [QUOTA, NAMESPACE, DEPLOYMENT]

    assert score_names(GROUND_TRUTH, names, options=ScoreOptions(ranked=True)).score == 0.5
    assert score_names(GROUND_TRUTH, names).score == pytest.approx(1 / 3)


def test_the_worked_example_ibm_metrics() -> None:
    hops = [(NAMESPACE, DEPLOYMENT), (DEPLOYMENT, "otel-demo/Service/frontend-proxy")]

    metrics = ibm_metrics(GROUND_TRUTH, [NAMESPACE, DEPLOYMENT, QUOTA], hops)

    assert (metrics.entity.precision, metrics.entity.recall, metrics.entity.f1) == (
        pytest.approx(1 / 3),
        1.0,
        pytest.approx(1 / 2),
    )
    assert (metrics.top_k[0].precision, metrics.top_k[0].recall, metrics.top_k[0].f1) == (1.0, 1.0, 1.0)
    assert metrics.propagation is not None
    assert (metrics.propagation.common, metrics.propagation.precision, metrics.propagation.recall) == (
        3,
        1.0,
        0.75,
    )
    assert Fraction(metrics.propagation.f1).limit_denominator(100) == Fraction(6, 7)
    assert (metrics.proximity, metrics.proximity_best) == (pytest.approx(1 / 2), 1.0)
