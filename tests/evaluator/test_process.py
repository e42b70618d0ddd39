"""Process metrics read from a run's audit log (and its transcript for model steps)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from itbench_eval.groundtruth import GroundTruth, ground_truth_from_mapping
from itbench_eval.process import (
    ProcessMetrics,
    call_category,
    process_metrics,
    root_cause_targets,
    summarize_process,
)

GROUND_TRUTH = ground_truth_from_mapping(
    {
        "groups": [
            {"id": "ad-deployment-1", "kind": "Deployment", "namespace": "otel-demo", "filter": ["ad\\b"], "root_cause": True},
            {"id": "ad-service-1", "kind": "Service", "namespace": "otel-demo", "filter": ["ad\\b"]},
            {"id": "frontend-service-1", "kind": "Service", "namespace": "otel-demo", "filter": ["frontend\\b"]},
        ],
        "aliases": [["ad-deployment-1", "ad-service-1"]],
    }
)  # fmt: skip
NAMESPACE_ROOT = ground_truth_from_mapping(
    {"groups": [{"id": "ns-1", "kind": "Namespace", "filter": ["otel-demo"], "root_cause": True}]}
)


def call(tool: str, arguments: dict[str, Any], *, second: float = 0.0, **fields: Any) -> dict[str, Any]:
    minute, rest = divmod(second, 60)
    record = {
        "time": f"2026-01-12T09:{int(minute):02d}:{rest:06.3f}Z",
        "tool": tool,
        "arguments": arguments,
        "latency_ms": 3.0,
        "output_chars": 100,
        "is_error": False,
        "error": None,
        "truncated": False,
    }
    record.update(fields)
    return record


def run_dir(
    tmp_path: Path, calls: list[dict[str, Any]], transcript: list[dict[str, Any]] | None = None
) -> Path:
    directory = tmp_path / "r1"
    directory.mkdir()
    (directory / "audit.jsonl").write_text("".join(json.dumps(c) + "\n" for c in calls), encoding="utf-8")
    if transcript is not None:
        text = "".join(json.dumps(event) + "\n" for event in transcript)
        (directory / "transcript.jsonl").write_text(text, encoding="utf-8")
    return directory


def metrics(
    tmp_path: Path, calls: list[dict[str, Any]], ground_truth: GroundTruth = GROUND_TRUTH
) -> ProcessMetrics:
    return process_metrics(run_dir(tmp_path, calls), ground_truth)


SUBMIT = call("submit_diagnosis", {"contributing_factors": [{"name": "otel-demo/Deployment/ad"}]}, second=9.0)


def test_the_root_causes_objects_are_every_member_of_its_alias_set() -> None:
    assert root_cause_targets(GROUND_TRUTH) == [("Deployment", "ad"), ("Service", "ad")]


def test_counts_calls_errors_repeats_tools_and_output(tmp_path: Path) -> None:
    calls = [
        call("get_alerts", {}, output_chars=500),
        call("get_events", {"type": "Warning"}, output_chars=300),
        call("get_events", {"type": "Warning"}, output_chars=300),
        call("kubectl", {"command": "get pods --bogus"}, is_error=True, output_chars=40, error="bad flag"),
        SUBMIT,
    ]

    result = metrics(tmp_path, calls)

    assert (result.calls, result.tool_errors, result.tool_error_rate) == (5, 1, 0.2)
    assert result.repeated_calls == 1
    assert result.tools_used == {"get_alerts": 1, "get_events": 2, "kubectl": 1, "submit_diagnosis": 1}
    assert result.output_chars == 1240
    assert result.submitted


def test_evidence_read_about_the_root_cause_before_submitting_is_found_by_kind(tmp_path: Path) -> None:
    calls = [
        call("get_overview", {}, second=0.0),
        call("get_events", {"object": "ad-5c7b9d8f6-x2k4q"}, second=2.0),  # a pod of the root workload
        call("search_logs", {"service": "frontend"}, second=3.0),  # a symptom
        call("kubectl", {"command": "describe deployment ad -n otel-demo"}, second=4.0),
        SUBMIT,
        call("query_metrics", {"entity": "ad"}, second=12.0),  # after the submission: not counted
    ]

    result = metrics(tmp_path, calls)

    assert result.root_cause_evidence == ["events", "spec"]
    assert result.looked_at_root_cause_evidence
    assert (result.first_root_cause_call, result.first_root_cause_turn, result.first_root_cause_s) == (
        2,
        2,
        2.0,
    )
    assert result.duration_s == 12.0


def test_calls_that_read_everything_name_no_root_cause(tmp_path: Path) -> None:
    calls = [call("get_changes", {}), call("get_events", {"type": "Warning"}), SUBMIT]

    result = metrics(tmp_path, calls)

    assert not result.looked_at_root_cause_evidence
    assert result.first_root_cause_call == 3  # only the submission names it


def test_a_name_that_only_begins_like_the_root_cause_is_not_it(tmp_path: Path) -> None:
    calls = [call("search_logs", {"service": "adservice"}), call("get_events", {"object": "ad-proxy"})]

    assert metrics(tmp_path, calls).first_root_cause_call is None


def test_a_namespace_root_cause_is_not_named_by_calls_scoped_to_the_namespace(tmp_path: Path) -> None:
    calls = [
        call("get_changes", {"namespace": "otel-demo"}),
        call("kubectl", {"command": "get resourcequota -n otel-demo"}),
        call("run_sql", {"sql": "SELECT * FROM events WHERE namespace = 'otel-demo'"}),
        call("get_events", {"object": "otel-demo/Deployment/ad"}),
        call("get_events", {"kind": "Namespace", "object": "otel-demo"}),
    ]

    result = metrics(tmp_path, calls, NAMESPACE_ROOT)

    assert result.first_root_cause_call == 5
    assert result.root_cause_evidence == ["events"]


def test_the_turn_is_the_model_step_when_the_transcript_records_steps(tmp_path: Path) -> None:
    calls = [call("get_alerts", {}), call("get_topology", {}), call("get_events", {"object": "ad"})]
    transcript = [
        {"type": "model_request", "step": 1},
        {"type": "tool_call", "tool": "get_alerts"},
        {"type": "tool_call", "tool": "get_topology"},
        {"type": "model_request", "step": 2},
        {"type": "tool_call", "tool": "get_events"},
    ]

    result = process_metrics(run_dir(tmp_path, calls, transcript), GROUND_TRUTH)

    assert (result.first_root_cause_call, result.first_root_cause_turn) == (3, 2)


def test_a_run_without_an_audit_log_says_so_and_counts_nothing(tmp_path: Path) -> None:
    result = process_metrics(tmp_path, GROUND_TRUTH)

    assert not result.audit_found
    assert (result.calls, result.tool_error_rate) == (0, None)


def test_a_torn_last_line_of_the_audit_log_is_ignored(tmp_path: Path) -> None:
    directory = run_dir(tmp_path, [call("get_alerts", {})])
    with (directory / "audit.jsonl").open("a", encoding="utf-8") as file:
        file.write('{"time": "2026-01-12T09:00:01Z", "tool": "get_ev')

    assert process_metrics(directory, GROUND_TRUTH).calls == 1


@pytest.mark.parametrize(
    ("tool", "arguments", "category"),
    [
        ("kubectl", {"command": "logs ad-5c7b9d8f6-x2k4q"}, "logs"),
        ("kubectl", {"command": "kubectl get events -n otel-demo"}, "events"),
        ("kubectl", {"command": "top pods"}, "metrics"),
        ("kubectl", {"command": "get deploy ad -o yaml"}, "spec"),
        ("run_sql", {"sql": "select count(*) from samples where entity = 'ad'"}, "metrics"),
        ("run_sql", {"sql": "SELECT * FROM spans s JOIN logs l USING (trace_id)"}, "traces"),
        ("run_shell", {"command": "grep ad k8s_events_raw.tsv | head"}, "events"),
        ("run_shell", {"command": "ls"}, "other"),
        ("get_changes", {"object": "ad"}, "changes"),
        ("get_topology", {"entity": "ad"}, "topology"),
    ],
)
def test_each_call_is_classed_by_what_it_reads(tool: str, arguments: dict[str, Any], category: str) -> None:
    assert call_category(tool, arguments) == category


def test_runs_are_summarized_with_shares_and_pooled_rates() -> None:
    first = ProcessMetrics(
        calls=4, tool_errors=1, repeated_calls=2, tools_used={"get_events": 3, "submit_diagnosis": 1},
        output_chars=1000, first_root_cause_call=2, first_root_cause_turn=2, first_root_cause_s=1.0,
        root_cause_evidence=["events"], looked_at_root_cause_evidence=True,
    )  # fmt: skip
    second = ProcessMetrics(calls=6, tool_errors=0, tools_used={"get_events": 6}, output_chars=3000)
    missing = ProcessMetrics(audit_found=False)

    summary = summarize_process([first, second, missing])

    assert summary.model_dump() == {
        "runs": 2,
        "looked_at_root_cause_evidence": 0.5,
        "root_cause_named": 0.5,
        "mean_first_root_cause_turn": 2.0,
        "mean_first_root_cause_s": 1.0,
        "tool_error_rate": 0.1,
        "repeated_call_rate": 0.2,
        "mean_calls": 5.0,
        "mean_output_chars": 2000.0,
        "tools_used": {"get_events": 9, "submit_diagnosis": 1},
        "evidence_kinds": {"events": 1},
    }
