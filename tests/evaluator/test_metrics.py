from __future__ import annotations

import pytest
from ground_truths import quota_incident, two_root_causes

from itbench_eval.metrics import (
    MeanWithError,
    aggregate_scores,
    ibm_metrics,
    ibm_metrics_for_diagnosis,
    is_infrastructure_namespace,
    longest_common_subsequence,
    mean_with_standard_error,
    pass_at_1,
)
from itbench_server.diagnosis import parse_submission

NAMESPACE = "cluster/Namespace/otel-demo"


def test_entity_metrics_count_each_alias_set_once_and_drop_infrastructure_namespaces() -> None:
    names = [
        "otel-demo/Service/frontend",
        "kube-system/Pod/coredns-5d78c9869d-abcde",
        NAMESPACE,
        "otel-demo/Pod/ad-5c7b9d8f6-x2k4q",
        "otel-demo/Deployment/ad",
    ]

    metrics = ibm_metrics(quota_incident(), names)

    assert metrics.predictions == ["frontend-service-1", "otel-demo-namespace-1", "ad-pod-1"]
    assert metrics.dropped_infrastructure == ["kube-system/Pod/coredns-5d78c9869d-abcde"]
    assert (metrics.entity.precision, metrics.entity.recall, metrics.entity.f1) == (
        pytest.approx(1 / 3),
        1.0,
        pytest.approx(0.5),
    )
    assert [(top.k, top.precision, top.recall, top.f1) for top in metrics.top_k] == [
        (1, 0.0, 0.0, 0.0),
        (2, 0.5, 1.0, pytest.approx(2 / 3)),
        (3, pytest.approx(1 / 3), 1.0, pytest.approx(0.5)),
        (4, pytest.approx(1 / 3), 1.0, pytest.approx(0.5)),
        (5, pytest.approx(1 / 3), 1.0, pytest.approx(0.5)),
    ]


def test_recall_is_over_unique_root_cause_sets() -> None:
    metrics = ibm_metrics(
        two_root_causes(), ["otel-demo/ConfigMap/flagd-config", "otel-demo/ConfigMap/flagd-config"]
    )

    assert (metrics.entity.precision, metrics.entity.recall) == (1.0, 0.5)


def test_proximity_is_one_over_one_plus_hops_from_the_root_cause() -> None:
    # Along the propagation: namespace (0 hops) -> ad (1) -> frontend (2) -> frontend-proxy (3).
    names = ["otel-demo/Service/frontend", NAMESPACE, "otel-demo/Deployment/ad", "otel-demo/ConfigMap/other"]

    metrics = ibm_metrics(quota_incident(), names)

    assert metrics.proximity == pytest.approx((1 / 3 + 1 + 1 / 2 + 0) / 4)
    assert metrics.proximity_best == 1.0


def test_the_propagation_chain_is_compared_at_service_level_by_longest_common_subsequence() -> None:
    hops = [
        (NAMESPACE, "otel-demo/Deployment/ad"),
        ("otel-demo/Deployment/ad", "otel-demo/Pod/ad-5c7b9d8f6-x2k4q"),
        ("otel-demo/Pod/ad-5c7b9d8f6-x2k4q", "otel-demo/Service/frontend-proxy"),
        ("otel-demo/Service/frontend-proxy", "prometheus/Service/prometheus"),
    ]

    propagation = ibm_metrics(quota_incident(), [NAMESPACE], hops).propagation

    assert propagation is not None
    assert propagation.ground_truth_path == [
        "otel-demo-namespace-1",
        "ad-pod-1",
        "frontend-service-1",
        "frontend-proxy-service-1",
    ]
    assert propagation.predicted_path == ["otel-demo-namespace-1", "ad-pod-1", "frontend-proxy-service-1"]
    assert (propagation.common, propagation.precision, propagation.recall) == (3, 1.0, 0.75)
    assert propagation.f1 == pytest.approx(2 * 0.75 / 1.75)


def test_no_predicted_propagation_scores_zero_and_no_ground_truth_propagation_gives_none() -> None:
    propagation = ibm_metrics(quota_incident(), [NAMESPACE]).propagation
    assert propagation is not None and (propagation.f1, propagation.predicted_path) == (0.0, [])

    without = quota_incident().model_copy(update={"propagations": ()})
    assert ibm_metrics(without, [NAMESPACE]).propagation is None


def test_an_empty_prediction_scores_zero_everywhere() -> None:
    metrics = ibm_metrics(quota_incident(), [])

    assert (metrics.entity.f1, metrics.proximity, metrics.proximity_best, metrics.predictions) == (
        0.0,
        0.0,
        0.0,
        [],
    )


def test_longest_common_subsequence() -> None:
    assert longest_common_subsequence(list("ABCBDAB"), list("BDCABA")) == 4
    assert longest_common_subsequence([], ["a"]) == 0


@pytest.mark.parametrize(
    ("namespace", "infrastructure"),
    [
        ("kube-system", True),
        ("opentelemetry-operator", True),
        ("data-recorders", True),
        ("prometheus", True),
        ("prometheus-extra", False),
        ("otel-demo", False),
        ("cluster", False),
    ],
)
def test_infrastructure_namespaces(namespace: str, infrastructure: bool) -> None:
    assert is_infrastructure_namespace(namespace) is infrastructure


def test_mean_and_standard_error() -> None:
    assert mean_with_standard_error([]) == MeanWithError(mean=0.0, standard_error=0.0, n=0)
    assert mean_with_standard_error([0.5]) == MeanWithError(mean=0.5, standard_error=0.0, n=1)
    summary = mean_with_standard_error([1.0, 0.0, 0.5])
    assert (summary.mean, summary.standard_error, summary.n) == (0.5, pytest.approx(0.5 / 3**0.5), 3)


def test_pass_at_1_is_the_share_of_runs_scoring_exactly_one() -> None:
    assert pass_at_1([1.0, 0.5, 1.0, 0.0]) == 0.5
    assert pass_at_1([]) == 0.0


def test_the_benchmark_score_is_the_macro_average_of_task_means() -> None:
    aggregate = aggregate_scores({"scenario-b": [1.0, 0.0, 0.5], "scenario-a": [1.0, 1.0, 1.0]})

    assert [(task.task, task.score.mean, task.pass_at_1) for task in aggregate.tasks] == [
        ("scenario-a", 1.0, 1.0),
        ("scenario-b", 0.5, pytest.approx(1 / 3)),
    ]
    assert (aggregate.score.mean, aggregate.score.standard_error, aggregate.score.n) == (
        0.75,
        pytest.approx(0.25),
        2,
    )
    assert aggregate.pass_at_1 == pytest.approx(2 / 3)


def test_a_diagnosis_in_ibms_form_gives_its_root_causes_and_propagations() -> None:
    diagnosis = parse_submission(
        {
            "entities": [
                {"name": NAMESPACE, "contributing_factor": True},
                {"name": "otel-demo/Service/ad", "contributing_factor": False},
            ],
            "propagations": [{"source": NAMESPACE, "target": "otel-demo/Service/ad"}],
        }
    )

    metrics = ibm_metrics_for_diagnosis(quota_incident(), diagnosis)

    assert (metrics.predictions, metrics.entity.f1) == (["otel-demo-namespace-1"], 1.0)
    assert metrics.propagation is not None
    assert metrics.propagation.predicted_path == ["otel-demo-namespace-1", "ad-pod-1"]
    assert (metrics.propagation.precision, metrics.propagation.recall) == (1.0, 0.5)
