from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ground_truths import QUOTA_INCIDENT_YAML
from scripted_judge import scripted_judge

NAMESPACE = "cluster/Namespace/otel-demo"


def itbench_eval(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ITBENCH_JUDGE")}
    return subprocess.run(
        [sys.executable, "-m", "itbench_eval.cli", *map(str, arguments)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


@pytest.fixture
def ground_truth(tmp_path: Path) -> Path:
    path = tmp_path / "ground_truth.yaml"
    path.write_text(QUOTA_INCIDENT_YAML)
    return path


def write_submission(tmp_path: Path, payload: Any) -> Path:
    path = tmp_path / "submission.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


def test_score_prints_the_score_matches_and_ibm_metrics_as_json(tmp_path: Path, ground_truth: Path) -> None:
    submission = write_submission(
        tmp_path,
        {
            "contributing_factors": [
                {"name": NAMESPACE, "reasoning": "quota", "evidence": "FailedCreate events"},
                {"name": "otel-demo/Deployment/ad"},
                {"name": "the ad service"},
            ]
        },
    )

    completed = itbench_eval("score", "--ground-truth", ground_truth, "--submission", submission)

    assert (completed.returncode, completed.stderr) == (0, "")
    output = json.loads(completed.stdout)
    assert {key: output[key] for key in ("score", "tp", "fp", "fn", "matcher", "submission_error")} == {
        "score": 1 / 3,
        "tp": 1,
        "fp": 2,
        "fn": 0,
        "matcher": "deterministic",
        "submission_error": None,
    }
    assert [(match["name"], match["group_id"], match["verdict"]) for match in output["matches"]] == [
        (NAMESPACE, "otel-demo-namespace-1", "root_cause"),
        ("otel-demo/Deployment/ad", "ad-deployment-1", "symptom"),
        ("the ad service", None, "unmatched"),
    ]
    assert output["ibm"]["entity"] == {"precision": 1 / 3, "recall": 1.0, "f1": 0.5}


def test_score_options_choose_the_duplicate_policy_and_the_ranked_variant(
    tmp_path: Path, ground_truth: Path
) -> None:
    names = [NAMESPACE, NAMESPACE, "otel-demo/Service/frontend"]
    submission = write_submission(tmp_path, {"contributing_factors": [{"name": name} for name in names]})
    common = ("score", "--ground-truth", ground_truth, "--submission", submission)

    once = json.loads(itbench_eval(*common, "--duplicates", "once").stdout)
    ranked = json.loads(itbench_eval(*common, "--ranked").stdout)

    assert (once["score"], once["tp"], once["fp"], once["options"]) == (
        1 / 3,
        1,
        2,
        {"duplicates": "once", "ranked": False},
    )
    assert (ranked["score"], ranked["tp"], ranked["fp"]) == (1.0, 1, 0)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ("the namespace quota", "not JSON"),
        ({"answer": NAMESPACE}, "a submission needs 'contributing_factors' or 'entities'"),
        ({"contributing_factors": "cluster/Namespace/otel-demo"}, "does not have the expected shape"),
    ],
)
def test_a_submission_that_is_not_a_diagnosis_scores_zero_with_the_reason(
    tmp_path: Path, ground_truth: Path, payload: Any, error: str
) -> None:
    submission = write_submission(tmp_path, payload)

    completed = itbench_eval("score", "--ground-truth", ground_truth, "--submission", submission)

    assert completed.returncode == 0
    output = json.loads(completed.stdout)
    assert (output["score"], output["reason"], output["fn"]) == (0.0, "unreadable submission", 1)
    assert error in output["submission_error"]
    assert completed.stderr.startswith("warning: the submission scores 0: ")
    assert completed.stderr.count("\n") == 1


def test_bad_input_is_one_line_on_stderr_and_exit_status_2(tmp_path: Path, ground_truth: Path) -> None:
    submission = write_submission(tmp_path, {"contributing_factors": [{"name": NAMESPACE}]})
    broken = tmp_path / "broken.yaml"
    broken.write_text("groups: [{id: a, kind: Pod, name: a}]\n")

    cases = [
        (("--ground-truth", tmp_path / "absent.yaml", "--submission", submission), "cannot read"),
        (("--ground-truth", broken, "--submission", submission), "no group has 'root_cause: true'"),
        (("--ground-truth", ground_truth, "--submission", tmp_path / "absent.json"), "no such file"),
        (
            ("--ground-truth", ground_truth, "--submission", submission, "--matcher", "llm"),
            "needs --judge-base-url",
        ),
    ]
    for arguments, error in cases:
        completed = itbench_eval("score", *arguments)
        assert (completed.returncode, completed.stdout) == (2, "")
        assert completed.stderr.startswith("error: ") and error in completed.stderr
        assert completed.stderr.count("\n") == 1


def test_score_with_the_llm_judge_reports_its_agreement(tmp_path: Path, ground_truth: Path) -> None:
    submission = write_submission(tmp_path, {"contributing_factors": [{"name": NAMESPACE}]})
    mapping = json.dumps({NAMESPACE: "otel-demo-namespace-1"})

    # One call for the score, one for the IBM metrics.
    with scripted_judge((200, mapping), (200, mapping)) as judge:
        completed = itbench_eval(
            "score",
            "--ground-truth",
            ground_truth,
            "--submission",
            submission,
            "--matcher",
            "llm",
            "--judge-base-url",
            judge.base_url,
            "--judge-model",
            "judge-model",
        )

    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout)
    assert (output["score"], output["matcher"]) == (1.0, "llm")
    assert output["judge"] == {
        "matcher": "llm",
        "fallback_reason": None,
        "agreement": 1.0,
        "disagreements": [],
    }
    assert len(judge.requests) == 2
