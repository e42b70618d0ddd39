"""The baseline's reading of tool output and its choice of root causes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp_scenario import write_scenario

from itbench_eval.agents import resolve_agent
from itbench_eval.agents.baseline import (
    BaselineAgent,
    Candidate,
    Evidence,
    deepest_erroring_services,
    owning_workload,
    read_changes,
    read_warning_events,
)
from itbench_eval.runner import EvalSettings, run_evaluation
from itbench_eval.tasks import discover_tasks


def test_pods_and_replicasets_stand_for_their_deployment() -> None:
    assert owning_workload("otel-demo/Pod/ad-5d9f7c6b8-x2x9q") == "otel-demo/Deployment/ad"
    assert (
        owning_workload("otel-demo/Pod/frontend-proxy-7c9d8f6b5-abcde")
        == "otel-demo/Deployment/frontend-proxy"
    )
    assert owning_workload("otel-demo/ReplicaSet/checkout-6b8d9c7f54") == "otel-demo/Deployment/checkout"
    assert owning_workload("otel-demo/Pod/kafka-0") == "otel-demo/Pod/kafka-0"
    assert owning_workload("otel-demo/ConfigMap/flagd-config") == "otel-demo/ConfigMap/flagd-config"


def test_spec_changes_and_new_chaos_objects_are_candidates_and_derived_changes_are_not() -> None:
    evidence = Evidence()
    read_changes(
        "3 changed listings, 1 objects appeared/disappeared (2025-12-15T17:20:00Z .. 2025-12-15T17:40:00Z)\n"
        "2025-12-15T17:25:00Z  otel-demo/ConfigMap/flagd-config  changed since the listing at 2025-12-15T17:20:00Z:\n"
        "    data.demo.flagd.json/flags/adFailure/defaultVariant: off -> on\n"
        "2025-12-15T17:25:00Z  otel-demo/ReplicaSet/ad-5d9f7c6b8  changed since the listing at 2025-12-15T17:20:00Z:\n"
        "    spec.replicas: 1 -> 0\n"
        "2025-12-15T17:24:00Z  chaos-mesh/NetworkChaos/delay-cart  appeared (at 2025-12-15T17:24:00Z)\n",
        evidence,
    )

    assert [(c.entity, c.score) for c in evidence.ranked()] == [
        ("chaos-mesh/NetworkChaos/delay-cart", 7.0),
        ("otel-demo/ConfigMap/flagd-config", 6.0),
    ]


def test_failure_events_count_for_the_owning_workload_and_normal_events_do_not() -> None:
    evidence = Evidence()
    read_warning_events(
        "2 event groups (...); type reason xcount object first..last (source) latest message\n"
        "Warning  FailedCreate  x100  otel-demo/ReplicaSet/ad-5d9f7c6b8  2025-12-15T17:25:00Z..2025-12-15T17:39:00Z"
        "  (replicaset-controller) Error creating: pods is forbidden: exceeded quota\n"
        "Warning  BackOff  x10  otel-demo/Pod/ad-5d9f7c6b8-x2x9q  2025-12-15T17:26:00Z..2025-12-15T17:34:00Z  Back-off\n"
        "Normal  Pulled  x3  otel-demo/Pod/cart-5d9f7c6b8-aaaaa  2025-12-15T17:26:00Z..2025-12-15T17:34:00Z  pulled\n",
        evidence,
    )

    [candidate] = evidence.ranked()
    assert candidate.entity == "otel-demo/Deployment/ad"
    assert candidate.score == pytest.approx(4.0 + 2.0 + 3.0 + 1.0)
    assert candidate.evidence == ["100 FailedCreate Warning events", "10 BackOff Warning events"]


def test_a_quota_that_refuses_pods_is_blamed_instead_of_the_refused_workload() -> None:
    evidence = Evidence()
    read_changes(
        "2025-12-12T08:04:09Z  otel-demo/ResourceQuota/memory  appeared (at 2025-12-12T08:04:09Z)\n", evidence
    )
    read_warning_events(
        "Warning  FailedCreate  x10  otel-demo/ReplicaSet/ad-n8s4bjddts  2025-12-12T08:03:13Z..2025-12-12T08:18:07Z"
        '  (replicaset-controller) Error creating: pods "ad-n8s4bjddts-kmxhx" is forbidden: exceeded quota: memory,'
        " requested: limits.memory=300Mi\n",
        evidence,
    )

    assert [(c.entity, c.score, c.evidence) for c in evidence.ranked()] == [
        (
            "otel-demo/ResourceQuota/memory",
            10.0,
            ["a ResourceQuota appeared during the window", "10 FailedCreate (exceeded quota) Warning events"],
        )
    ]


def test_a_workload_that_was_only_scaled_or_restarted_weighs_less_than_a_real_change() -> None:
    evidence = Evidence()
    read_changes(
        "2025-12-06T20:04:36Z  otel-demo/HorizontalPodAutoscaler/frontend  changed since the listing at x:\n"
        "    spec.metrics[0].resource.target.averageUtilization: 80 -> 2\n"
        "2025-12-06T20:04:36Z  otel-demo/Deployment/frontend  changed since the listing at x:\n"
        "    spec.replicas: 1 -> 5\n"
        "2025-12-06T20:04:36Z  otel-demo/Deployment/cart  changed since the listing at x:\n"
        "    spec.replicas: 1 -> 2\n"
        "    spec.template.spec.containers[0].image: cart:1 -> cart:2\n"
        "2025-12-06T20:09:36Z  otel-demo/Deployment/otel-collector  changed since the listing at x:\n"
        '    metadata.annotations["deployment.kubernetes.io/revision"]: "1" -> "2"\n'
        '    spec.template.metadata.annotations: (absent) -> {"kubectl.kubernetes.io/restartedAt":"2025-12-06"}\n',
        evidence,
    )

    assert [(c.entity, c.score, c.evidence) for c in evidence.ranked()] == [
        ("otel-demo/Deployment/cart", 5.0, ["its Deployment spec changed during the window"]),
        (
            "otel-demo/HorizontalPodAutoscaler/frontend",
            4.0,
            ["its HorizontalPodAutoscaler spec changed during the window"],
        ),
        ("otel-demo/Deployment/frontend", 1.0, ["its Deployment was scaled during the window"]),
        ("otel-demo/Deployment/otel-collector", 1.0, ["its Deployment was restarted during the window"]),
    ]


def test_errors_begin_at_the_deepest_service_called_with_errors() -> None:
    calls = (
        "4 service call edges (...); caller -> callee\n"
        "frontend-proxy -> frontend  calls=900 errors=300 (33%)\n"
        "frontend -> checkout  calls=200 errors=150 (75%)\n"
        "checkout -> payment  calls=150 errors=150 (100%)\n"
        "frontend -> ad  calls=400 errors=0 (0%)\n"
    )

    assert deepest_erroring_services(calls) == ["payment"]


def test_the_runner_up_is_submitted_only_when_close_and_another_workload() -> None:
    best = Candidate("otel-demo/ConfigMap/flagd-config", 6.0)
    close = Candidate("chaos-mesh/NetworkChaos/delay-cart", 5.0)
    far = Candidate("otel-demo/Deployment/ad", 3.0)
    same_workload = Candidate("otel-demo/Pod/ad-5d9f7c6b8-x2x9q", 5.9)

    assert BaselineAgent._choose([best, close, far]) == [best, close]
    assert BaselineAgent._choose([best, far]) == [best]
    assert BaselineAgent._choose([Candidate("otel-demo/Deployment/ad", 6.0), same_workload]) == [
        Candidate("otel-demo/Deployment/ad", 6.0)
    ]
    assert BaselineAgent._choose([]) == []
    chaos = Candidate("chaos-mesh/NetworkChaos/shipping-partition-nx2hv", 7.0)
    schedule = Candidate("chaos-mesh/Schedule/shipping-partition", 7.0)
    assert BaselineAgent._choose([chaos, schedule]) == [chaos]


@pytest.mark.anyio
async def test_the_baseline_names_the_crash_looping_workload_through_the_tools(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path / "data")
    config = EvalSettings(agent="baseline", out_dir=tmp_path / "out", repeats=1, cache_dir=tmp_path / "cache")

    [row] = await run_evaluation(discover_tasks([scenario]), config, resolve_agent("baseline"))

    assert (row.error_class, row.submitted, row.turns) == ("ok", ["otel-demo/Deployment/ad"], 7)
    transcript = (tmp_path / "out" / row.run_dir / "transcript.jsonl").read_text(encoding="utf-8")
    calls = [
        event["tool"] for event in map(json.loads, transcript.splitlines()) if event["type"] == "tool_call"
    ]
    assert calls == [
        "get_alerts",
        "get_changes",
        "get_events",
        "get_topology",
        "search_logs",
        "query_metrics",
        "submit_diagnosis",
    ]
