"""Table cells computed the way the Kubernetes API server computes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from itbench_server.kube.printers import (
    PrinterColumn,
    build_table,
    custom_columns,
    human_duration,
    pod_status_reason,
    printer_for,
)

NOW = datetime(2025, 12, 15, 17, 40)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-0.5, "0s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (200, "3m20s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (5 * 3600 + 7 * 60, "5h7m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (100 * 86400, "100d"),
        (3 * 365 * 86400 + 5 * 86400, "3y5d"),
        (10 * 365 * 86400, "10y"),
    ],
)
def test_ages_read_like_kubernetes_ages(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def pod(
    statuses: list[dict[str, Any]],
    *,
    phase: str = "Running",
    init: list[dict[str, Any]] | None = None,
    init_specs: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "p", "creationTimestamp": "2025-12-15T17:00:00Z"}
    if deleting:
        metadata["deletionTimestamp"] = "2025-12-15T17:39:00Z"
    return {
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": [{"name": s["name"]} for s in statuses], "initContainers": init_specs or []},
        "status": {
            "phase": phase,
            "containerStatuses": statuses,
            "initContainerStatuses": init or [],
            "conditions": conditions or [],
        },
    }


def waiting(reason: str, name: str = "app") -> dict[str, Any]:
    return {"name": name, "ready": False, "restartCount": 4, "state": {"waiting": {"reason": reason}}}


def running(name: str = "app", ready: bool = True) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": 0, "state": {"running": {}}}


def test_a_waiting_reason_is_the_pod_status() -> None:
    assert pod_status_reason(pod([waiting("CrashLoopBackOff")]))[:4] == ("CrashLoopBackOff", 0, 1, 4)


def test_a_terminated_container_without_reason_shows_its_exit_code_or_signal() -> None:
    exited = {"name": "app", "ready": False, "state": {"terminated": {"exitCode": 3}}}
    killed = {"name": "app", "ready": False, "state": {"terminated": {"exitCode": 137, "signal": 9}}}
    assert pod_status_reason(pod([exited]))[0] == "ExitCode:3"
    assert pod_status_reason(pod([killed]))[0] == "Signal:9"


def test_a_completed_container_beside_a_running_one_shows_running_or_not_ready() -> None:
    done = {"name": "job", "ready": False, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    ready = [{"type": "Ready", "status": "True"}]
    assert pod_status_reason(pod([running("app"), done], conditions=ready))[0] == "Running"
    assert pod_status_reason(pod([running("app"), done]))[0] == "NotReady"


def test_init_containers_show_their_progress_and_failures() -> None:
    specs = [{"name": "init-db"}, {"name": "init-cache"}]
    first_done = {"name": "init-db", "state": {"terminated": {"exitCode": 0}}}
    second_waiting = {"name": "init-cache", "state": {"waiting": {"reason": "PodInitializing"}}}
    crashing = {"name": "init-cache", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
    assert pod_status_reason(
        pod([waiting("PodInitializing")], init=[first_done, second_waiting], init_specs=specs)
    )[0] == ("Init:1/2")
    assert pod_status_reason(
        pod([waiting("PodInitializing")], init=[first_done, crashing], init_specs=specs)
    )[0] == ("Init:CrashLoopBackOff")


def test_a_pod_being_deleted_is_terminating() -> None:
    assert pod_status_reason(pod([running()], deleting=True))[0] == "Terminating"


def test_a_scheduling_gated_pod_says_so() -> None:
    gated = [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]
    assert pod_status_reason(pod([], phase="Pending", conditions=gated))[0] == "SchedulingGated"


def test_a_succeeded_pod_row_carries_the_completed_condition() -> None:
    columns, printer = printer_for("Pod", None)
    done = pod(
        [{"name": "app", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}], phase="Succeeded"
    )
    table = build_table([done], columns, printer, NOW, include_object="None", resource_version="1")
    assert table["rows"] == [
        {
            "cells": ["p", "0/1", "Completed", "0", "40m", "<none>", "<none>", "<none>", "<none>"],
            "conditions": [
                {
                    "type": "Completed",
                    "status": "True",
                    "reason": "Succeeded",
                    "message": "The pod has completed successfully.",
                }
            ],
        }
    ]


def test_crd_printer_columns_follow_json_paths_and_types() -> None:
    columns, printer = custom_columns(
        [
            PrinterColumn("Action", "string", ".spec.action"),
            PrinterColumn("Targets", "string", ".spec.selector.labelSelectors"),
            PrinterColumn("Paused", "boolean", ".spec.paused"),
            PrinterColumn("Started", "date", ".status.startTime"),
            PrinterColumn("Missing", "integer", ".status.nothing[0].here"),
        ]
    )
    obj = {
        "metadata": {"name": "partition"},
        "spec": {"action": "partition", "selector": {"labelSelectors": {"app": "ad"}}, "paused": False},
        "status": {"startTime": "2025-12-15T17:25:00Z"},
    }
    assert [column.name for column in columns] == [
        "Name",
        "Action",
        "Targets",
        "Paused",
        "Started",
        "Missing",
    ]
    assert printer(obj, NOW) == ["partition", "partition", '{"app":"ad"}', False, "15m", None]


def test_kinds_without_a_printer_get_name_and_created_at() -> None:
    columns, printer = printer_for("Role", None)
    assert [column.name for column in columns] == ["Name", "Created At"]
    assert printer({"metadata": {"name": "reader", "creationTimestamp": "2025-12-15T16:00:00Z"}}, NOW) == [
        "reader",
        "2025-12-15T16:00:00Z",
    ]
