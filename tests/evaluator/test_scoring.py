from __future__ import annotations

import json
from pathlib import Path

import pytest
from ground_truths import quota_incident, two_root_causes

from itbench_eval.groundtruth import ground_truth_from_yaml
from itbench_eval.scoring import (
    DuplicatePolicy,
    ScoredName,
    ScoreOptions,
    ScoreResult,
    score_diagnosis,
    score_names,
    score_submission_file,
)
from itbench_server.diagnosis import parse_submission

NAMESPACE = "cluster/Namespace/otel-demo"


def test_one_right_answer_scores_one() -> None:
    assert score_names(quota_incident(), [NAMESPACE]) == ScoreResult(
        score=1.0,
        tp=1,
        fp=0,
        fn=0,
        matches=[
            ScoredName(
                name=NAMESPACE,
                group_id="otel-demo-namespace-1",
                set_id="otel-demo-namespace-1",
                verdict="root_cause",
                counted_as="tp",
                reason="filter 'otel-demo' matches 'otel-demo'",
            )
        ],
        missed_root_causes=[],
        root_cause_sets=[["otel-demo-namespace-1"]],
        options=ScoreOptions(),
        reason="every root cause named; 1 true and 0 false positives",
    )


def test_the_right_answer_and_one_symptom_score_one_half() -> None:
    result = score_names(quota_incident(), [NAMESPACE, "otel-demo/Deployment/ad"])

    assert (result.score, result.tp, result.fp, result.fn) == (0.5, 1, 1, 0)
    assert [(name.verdict, name.set_id) for name in result.matches] == [
        ("root_cause", "otel-demo-namespace-1"),
        ("symptom", "ad-pod-1"),
    ]


def test_missing_one_of_two_root_causes_scores_zero_whatever_else_is_listed() -> None:
    result = score_names(two_root_causes(), ["otel-demo/ConfigMap/flagd-config"])

    assert (result.score, result.tp, result.fp, result.fn) == (0.0, 1, 0, 1)
    assert result.missed_root_causes == [["delay-product-catalog-1"]]
    assert result.reason == "missed 1 of 2 root causes"


def test_both_root_causes_and_an_unmatched_name_score_two_thirds() -> None:
    names = [
        "otel-demo/ConfigMap/flagd-config",
        "otel-demo/Service/cart",
        "chaos-mesh/NetworkChaos/delay-product-catalog",
    ]

    result = score_names(two_root_causes(), names)

    assert (result.score, result.tp, result.fp, result.fn) == (pytest.approx(2 / 3), 2, 1, 0)
    assert [name.verdict for name in result.matches] == ["root_cause", "unmatched", "root_cause"]


def test_naming_any_alias_of_a_root_cause_counts_as_naming_it() -> None:
    ground_truth = ground_truth_from_yaml(
        """
groups:
  - {id: ad-deployment-1, kind: Deployment, namespace: otel-demo, filter: ['ad\\b'], root_cause: true}
  - {id: ad-pod-1, kind: Pod, namespace: otel-demo, filter: [ad-.*]}
  - {id: ad-service-1, kind: Service, namespace: otel-demo, filter: ['ad\\b']}
  - {id: frontend-service-1, kind: Service, namespace: otel-demo, filter: ['frontend\\b']}
aliases: [[ad-service-1, ad-pod-1], [ad-pod-1, ad-deployment-1]]
"""
    )

    for name in ("otel-demo/Service/ad", "otel-demo/Pod/ad-5c7b9d8f6-x2k4q", "otel-demo/Deployment/ad"):
        assert score_names(ground_truth, [name]).score == 1.0
    assert score_names(ground_truth, ["otel-demo/Service/frontend"]).score == 0.0


def test_a_name_not_of_the_form_namespace_kind_name_is_a_false_positive() -> None:
    result = score_names(quota_incident(), [NAMESPACE, "the otel-demo namespace quota"])

    assert (result.score, result.tp, result.fp) == (0.5, 1, 1)
    assert result.matches[1].verdict == "unmatched"


def test_an_empty_submission_scores_zero() -> None:
    result = score_names(quota_incident(), [])

    assert (result.score, result.tp, result.fp, result.fn, result.reason) == (
        0.0,
        0,
        0,
        1,
        "empty submission",
    )


def test_a_duplicate_counts_as_a_true_positive_by_default_and_as_a_false_one_when_counted_once() -> None:
    names = [NAMESPACE, NAMESPACE, "otel-demo/Service/frontend"]

    counted = score_names(quota_incident(), names)
    once = score_names(quota_incident(), names, options=ScoreOptions(duplicates=DuplicatePolicy.ONCE))

    assert (counted.score, counted.tp, counted.fp) == (pytest.approx(2 / 3), 2, 1)
    assert (once.score, once.tp, once.fp) == (pytest.approx(1 / 3), 1, 2)
    assert [name.verdict for name in once.matches] == ["root_cause", "duplicate", "symptom"]


def test_the_ranked_score_ignores_names_after_full_recall() -> None:
    names = [
        "otel-demo/Service/frontend",
        "otel-demo/ConfigMap/flagd-config",
        "chaos-mesh/Schedule/delay-product-catalog",
        "otel-demo/Service/checkout",
        "otel-demo/ConfigMap/flagd-config",
    ]

    set_based = score_names(two_root_causes(), names)
    ranked = score_names(two_root_causes(), names, options=ScoreOptions(ranked=True))

    assert (set_based.score, set_based.tp, set_based.fp) == (pytest.approx(3 / 5), 3, 2)
    assert (ranked.score, ranked.tp, ranked.fp) == (pytest.approx(2 / 3), 2, 1)
    assert [name.counted_as for name in ranked.matches] == ["fp", "tp", "tp", "ignored", "ignored"]


def test_the_ranked_score_is_zero_without_full_recall() -> None:
    result = score_names(
        two_root_causes(), ["otel-demo/ConfigMap/flagd-config"], options=ScoreOptions(ranked=True)
    )

    assert (result.score, result.fn) == (0.0, 1)


def test_a_diagnosis_in_ibms_form_is_scored_on_its_contributing_factors() -> None:
    diagnosis = parse_submission(
        {
            "entities": [
                {"name": "otel-demo/Service/ad", "contributing_factor": False},
                {"name": NAMESPACE, "contributing_factor": True},
            ]
        }
    )

    result = score_diagnosis(quota_incident(), diagnosis)

    assert (result.score, [name.name for name in result.matches]) == (1.0, [NAMESPACE])


def test_an_unreadable_submission_file_scores_zero_with_the_reason(tmp_path: Path) -> None:
    not_json = tmp_path / "submission.json"
    not_json.write_text("root cause: the namespace quota")
    wrong_shape = tmp_path / "shape.json"
    wrong_shape.write_text(json.dumps({"answer": NAMESPACE}))

    for path, error in (
        (not_json, f"{not_json}: not JSON"),
        (wrong_shape, "a submission needs 'contributing_factors' or 'entities'"),
        (tmp_path / "absent.json", "cannot read"),
    ):
        result = score_submission_file(quota_incident(), path)
        assert (result.score, result.reason) == (0.0, "unreadable submission")
        assert result.submission_error is not None and error in result.submission_error


def test_a_readable_submission_file_is_scored(tmp_path: Path) -> None:
    path = tmp_path / "submission.json"
    path.write_text(json.dumps({"contributing_factors": [{"name": NAMESPACE, "reasoning": "quota"}]}))

    assert score_submission_file(quota_incident(), path).score == 1.0
