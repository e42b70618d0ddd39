"""The published diagnosis schema accepts both submission forms and explains what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from itbench_server.diagnosis import (
    Diagnosis,
    SubmissionFormatError,
    invalid_entity_names,
    load_submission,
    parse_submission,
)


def test_root_causes_come_from_both_forms_in_submission_order() -> None:
    diagnosis = parse_submission(
        {
            "contributing_factors": [{"name": "otel-demo/Deployment/ad", "reasoning": "r", "evidence": "e"}],
            "entities": [
                {"name": "otel-demo/Pod/frontend-1", "contributing_factor": False},
                {"name": "cluster/Node/worker-1", "contributing_factor": True},
            ],
        }
    )
    assert diagnosis.root_causes() == ["otel-demo/Deployment/ad", "cluster/Node/worker-1"]


def test_a_bare_list_of_factors_is_read_as_the_itbench_aa_form() -> None:
    assert parse_submission([{"name": "otel-demo/Service/cart"}]).root_causes() == ["otel-demo/Service/cart"]


def test_names_not_of_the_form_namespace_kind_name_are_listed() -> None:
    diagnosis = Diagnosis.model_validate(
        {"contributing_factors": [{"name": "ad"}, {"name": "otel-demo/Deployment/ad"}, {"name": "a/b c/d"}]}
    )
    assert invalid_entity_names(diagnosis) == ["ad", "a/b c/d"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("text", "a submission must be a JSON object with 'contributing_factors' or 'entities', not str"),
        ({"answer": 1}, "a submission needs 'contributing_factors' or 'entities'"),
        (
            {"contributing_factors": [{"reasoning": "x"}]},
            "the submission does not have the expected shape: contributing_factors.0.name: Field required",
        ),
    ],
)
def test_malformed_submissions_get_one_line_errors(payload: object, message: str) -> None:
    with pytest.raises(SubmissionFormatError) as raised:
        parse_submission(payload)
    assert str(raised.value) == message


def test_a_submission_file_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "submission.json"
    path.write_text("{oops", encoding="utf-8")
    with pytest.raises(SubmissionFormatError) as raised:
        load_submission(path)
    assert str(raised.value).startswith(f"{path}: not JSON: ")
    path.write_text(json.dumps({"contributing_factors": []}), encoding="utf-8")
    assert load_submission(path).root_causes() == []
