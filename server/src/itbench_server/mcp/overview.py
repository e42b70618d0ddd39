"""``get_overview``: the start-here summary of a recorded incident.

Text, not structured output: it is read by a model, and several hosts forward only one of the
two forms. It gives the incident window, the namespaces, the workloads with their readiness at
the end of the window, what data the recording holds, the alerts that fired, and which tools to
use next.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from itbench_server.analysis.overview import (
    NamespacePods,
    Workload,
    alert_entity,
    alert_pairs,
    cluster_summary,
    data_inventory,
)
from itbench_server.mcp.output import clip_text
from itbench_server.mcp.tooling import ToolContext
from itbench_server.snapshot import Snapshot

__all__ = ["alert_entity", "get_overview", "overview_text"]

_MAX_ALERT_LINES = 40
_MAX_WORKLOAD_LINES = 80
_MAX_SKIPPED_LINES = 5

# One step of the investigation per tool; a step is shown only when its tool is served.
_STEPS: tuple[tuple[str, str], ...] = (
    ("get_alerts", "get_alerts: the alert timeline; which services fired first and for how long"),
    (
        "get_timeline",
        "get_timeline: what happened in time order: changes, warnings, error onsets, alert activations",
    ),
    (
        "kubectl",
        "kubectl: `get pods -A`, `describe` and `logs` for the failing workloads, as of the window's end",
    ),
    ("get_events", "get_events: Warning events (failed scheduling, crash loops, failed mounts, quota)"),
    (
        "get_changes",
        "get_changes: what changed during the window (a rollout, an edited ConfigMap, a chaos object)",
    ),
    ("get_topology", "get_topology: who calls whom; walk upstream from the symptoms to the cause"),
    ("lookup_address", "lookup_address: the Pod, Service or Node behind an IP or host:port in an error"),
    ("search_logs", "search_logs: error lines and log patterns per service"),
    ("query_traces", "query_traces: error and latency summaries, and single traces"),
    ("query_metrics", "query_metrics: CPU, memory, restarts, request rates and latencies"),
    ("run_sql", "run_sql: read-only SQL over the normalized tables for anything else"),
    (
        "submit_diagnosis",
        "submit_diagnosis: the root causes as namespace/Kind/name, each with reasoning and evidence",
    ),
)


def _iso(moment: dt.datetime | None) -> str:
    return "-" if moment is None else moment.replace(microsecond=0).isoformat() + "Z"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def overview_text(snapshot: Snapshot, tool_names: Sequence[str], budget: int) -> str:
    """The overview of ``snapshot`` as text of at most ``budget`` characters."""
    window = snapshot.window
    namespaces, found = cluster_summary(snapshot, window.end)
    sections = [
        _window_section(snapshot),
        _namespace_section(namespaces),
        _workload_section(found),
        _alert_section(snapshot),
        _inventory_section(snapshot),
        _steps_section(tool_names),
    ]
    return clip_text("\n\n".join(sections), budget)


def _window_section(snapshot: Snapshot) -> str:
    window = snapshot.window
    length = (window.end - window.start).total_seconds()
    return (
        f"Incident window: {_iso(window.start)} to {_iso(window.end)} ({_duration(length)}), UTC.\n"
        "Entity names are namespace/Kind/name, e.g. otel-demo/Deployment/frontend; "
        "cluster-scoped objects use the namespace 'cluster', e.g. cluster/Node/worker-1."
    )


def _namespace_section(namespaces: list[NamespacePods]) -> str:
    if not namespaces:
        return "Namespaces: none listed in the recording."
    lines = ["Namespaces (pods at the window's end):"]
    lines += [
        f"  {item.namespace}: {item.pods} pods"
        + (f", {item.not_running} not Running" if item.not_running else "")
        for item in namespaces
    ]
    return "\n".join(lines)


def _workload_section(found: list[Workload]) -> str:
    if not found:
        return "Workloads: no Deployments, StatefulSets or DaemonSets listed."
    degraded = [w for w in found if w.degraded]
    lines = [
        f"Workloads at the window's end ({len(found)}; {len(degraded)} with fewer ready replicas "
        "than desired, marked !):"
    ]
    for workload in found[:_MAX_WORKLOAD_LINES]:
        mark = "!" if workload.degraded else " "
        lines.append(
            f" {mark}{workload.namespace}/{workload.kind}/{workload.name}  ready {workload.ready}/{workload.desired}"
        )
    if len(found) > _MAX_WORKLOAD_LINES:
        lines.append(
            f"  ... {len(found) - _MAX_WORKLOAD_LINES} more; `kubectl get deploy,sts,ds -A` lists all"
        )
    return "\n".join(lines)


def _alert_section(snapshot: Snapshot) -> str:
    pairs, samples = alert_pairs(snapshot)
    if not pairs:
        return "Alerts: none fired during the window."
    lines = [
        f"Firing alerts ({len(pairs)} alert/entity pairs over {samples} one-minute samples; "
        "first seen, minutes firing, severity):"
    ]
    lines += [
        f"  {_iso(pair.first_seen)}  {pair.alertname}  {pair.entity}  x{pair.samples}  {pair.severity}".rstrip()
        for pair in pairs[:_MAX_ALERT_LINES]
    ]
    if len(pairs) > _MAX_ALERT_LINES:
        lines.append(f"  ... {len(pairs) - _MAX_ALERT_LINES} more; get_alerts lists them all")
    return "\n".join(lines)


def _inventory_section(snapshot: Snapshot) -> str:
    tables, (unread, unread_size), skipped = data_inventory(snapshot)
    lines = ["Data in the recording (table: rows, from files):"]
    lines += [
        f"  {item.table}: {item.rows} rows from {item.files} files ({item.size / 1e6:.1f} MB)"
        for item in tables
    ]
    if unread:
        lines.append(f"  not read: {unread} files ({unread_size / 1e6:.1f} MB)")
    if skipped:
        lines.append(f"Skipped at ingest ({len(skipped)}):")
        for item in skipped[:_MAX_SKIPPED_LINES]:
            where = item.file if item.line is None else f"{item.file}:{item.line}"
            lines.append(f"  {where}: {item.reason}")
        if len(skipped) > _MAX_SKIPPED_LINES:
            lines.append(f"  ... {len(skipped) - _MAX_SKIPPED_LINES} more (run_sql: SELECT * FROM skipped)")
    return "\n".join(lines)


def _steps_section(tool_names: Sequence[str]) -> str:
    served = set(tool_names)
    steps = [text for tool, text in _STEPS if tool in served]
    return "How to investigate:\n" + "\n".join(f"  {number}. {text}" for number, text in enumerate(steps, 1))


def get_overview(context: ToolContext) -> str:
    """Start here: the incident window, the namespaces, the workloads and their readiness at the
    window's end, the alerts that fired, what data the recording holds, and which tools to use
    next."""
    return overview_text(context.snapshot, context.tool_names, context.budget)
