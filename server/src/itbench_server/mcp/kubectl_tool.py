"""The ``kubectl`` tool: the real kubectl binary against the recorded incident.

The command line is checked against an allowlist of verbs, flags and output formats
(:mod:`itbench_server.kube.kubectl_args`), then kubectl runs confined, against the read-only API
facade of the recording (:mod:`itbench_server.kube.kubectl`). The facade starts on the first
call and serves every viewed time: ``at`` picks the moment the recording is read at. This
module only words the result: the time header of ``describe``/``events`` and the paging.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Final

from pydantic import Field

from itbench_server.analysis.addresses import address_notes
from itbench_server.analysis.timeparse import check_in_recording, format_time, parse_time
from itbench_server.kube.kubectl import KubectlRunner
from itbench_server.kube.kubectl_args import ALLOWED_VERBS, MAX_COMMAND_CHARS, check_kubectl_args
from itbench_server.kube.printers import human_duration
from itbench_server.mcp.limits import TIME_CHARS
from itbench_server.mcp.output import page_lines
from itbench_server.mcp.tooling import ToolContext
from itbench_server.snapshot import Snapshot

__all__ = ["ALLOWED_VERBS", "EXPLAIN_ANSWER", "kubectl", "kubectl_command"]

EXPLAIN_ANSWER: Final = (
    "kubectl explain needs the API schemas (OpenAPI), which the recording does not hold. "
    "To see the fields an object really has, read it: kubectl get <resource> <name> -n <namespace> -o yaml"
)


def kubectl_command(
    runner: KubectlRunner, snapshot: Snapshot, command: str, at: str | None, offset: int, budget: int
) -> str:
    """Run ``command`` viewing the recording at ``at`` and page its output into ``budget``."""
    deadline = time.monotonic() + runner.timeout
    checked = check_kubectl_args(command)
    if checked.verb == "explain":
        return EXPLAIN_ANSWER
    moment = parse_time(at, snapshot.window, what="at") if at else snapshot.window.end
    check_in_recording(moment, snapshot.window, what="at")
    output = runner.run(checked, moment, deadline=deadline)
    header = ""
    if checked.verb in ("describe", "events"):
        lag = datetime.now(UTC).replace(tzinfo=None) - moment
        header = (
            f"[viewed at {format_time(moment)}. kubectl counts the ages below (Age, LAST SEEN, "
            f"'x4 over ...') from the current wall clock, {human_duration(lag.total_seconds())} later; "
            "the timestamps are exact. Ages in 'kubectl get' are counted from the viewed time.]"
        )
    lines = output.text.splitlines() or ["(no output)"]
    if checked.verb in ("logs", "events") or (checked.verb == "get" and "events" in checked.positionals[1:2]):
        notes = address_notes(snapshot, lines[offset:])
        if notes:
            header = f"{header}\n{notes}" if header else notes
    if output.cut:
        lines.append(
            "[kubectl printed more than the server keeps and was stopped here; narrow the command "
            "(a namespace, a name, -l SELECTOR, --tail=N, -o name)]"
        )
    return page_lines(lines, offset=offset, limit=len(lines), budget=budget, header=header)


def kubectl(
    context: ToolContext,
    command: Annotated[
        str,
        Field(
            max_length=MAX_COMMAND_CHARS,
            description="the kubectl command line without 'kubectl', e.g. 'get pods -n otel-demo -o wide', "
            "'describe deployment cart -n otel-demo', 'logs ad-5d9f7c6b8-x2x9q -n otel-demo --tail=50'",
        ),
    ],
    at: Annotated[
        str | None,
        Field(
            max_length=TIME_CHARS,
            description="view the cluster as it was at this time: RFC 3339 (2025-12-15T17:25:00Z) or "
            "relative (start+3m, end-10m); default: the end of the recording",
        ),
    ] = None,
    offset: Annotated[
        int,
        Field(ge=0, le=100_000_000, description="output lines to skip (the truncation marker gives it)"),
    ] = 0,
) -> str:
    """Run a read-only kubectl command against the recorded cluster, as it was at time `at`.

    Verbs: get, describe, logs, top, events, api-resources, api-versions, explain, version.
    Objects are the recorded listings (re-listed every few minutes), so `at` shows the state
    before or after a change: get configmap flagd-config -n otel-demo -o yaml, at="start".
    A pod deleted before `at` is not found; look at an earlier `at`.
    Logs are the recorded container logs up to `at` (--tail, --since, -c, --previous, --timestamps);
    top shows CPU and memory from the recorded metrics. Nothing can be changed.
    """
    runner = context.service(
        "kubectl", lambda: KubectlRunner(context.snapshot, timeout=context.settings.call_timeout)
    )
    return kubectl_command(runner, context.snapshot, command, at, offset, context.budget)
