"""``get_overview``: the start-here summary of a recorded incident.

Text, not structured output: it is read by a model, and several hosts forward only one of the
two forms. It gives the incident window, the namespaces, the workloads with their readiness at
the end of the window, what data the recording holds, the alerts that fired, and which tools to
use next.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
from mcp.server import MCPServer

from itbench_server.mcp.calls import READ_ONLY, tool_errors
from itbench_server.mcp.output import clip_text
from itbench_server.mcp.settings import ServerSettings
from itbench_server.snapshot import EVIDENCE_TABLES, Snapshot

__all__ = ["overview_text", "register_overview_tool"]

_MAX_ALERT_LINES = 40
_MAX_WORKLOAD_LINES = 80
_MAX_SKIPPED_LINES = 5

# One step of the investigation per tool; a step is shown only when its tool is served.
_STEPS: tuple[tuple[str, str], ...] = (
    ("get_alerts", "get_alerts: the alert timeline; which services fired first and for how long"),
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
    ("search_logs", "search_logs: error lines and log patterns per service"),
    ("query_traces", "query_traces: error and latency summaries, and single traces"),
    ("query_metrics", "query_metrics: CPU, memory, restarts, request rates and latencies"),
    ("run_sql", "run_sql: read-only SQL over the normalized tables for anything else"),
    (
        "submit_diagnosis",
        "submit_diagnosis: the root causes as namespace/Kind/name, each with reasoning and evidence",
    ),
)


@dataclass(frozen=True)
class _Workload:
    namespace: str
    kind: str
    name: str
    desired: int
    ready: int


def _iso(moment: dt.datetime | None) -> str:
    return "-" if moment is None else moment.replace(microsecond=0).isoformat() + "Z"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def overview_text(snapshot: Snapshot, tool_names: Sequence[str], budget: int) -> str:
    """The overview of ``snapshot`` as text of at most ``budget`` characters."""
    window = snapshot.window
    sections = [
        _window_section(snapshot),
        _namespace_section(snapshot, window.end),
        _workload_section(snapshot, window.end),
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


def _latest_objects_sql(kinds: str) -> str:
    """The last listing at or before ``?`` of every object whose kind is in ``kinds``."""
    return f"""
        SELECT namespace, kind, name, body FROM (
            SELECT namespace, kind, name, body, watch_type,
                   row_number() OVER (PARTITION BY kind, namespace, name ORDER BY listed_at DESC) AS latest
            FROM objects WHERE kind IN ({kinds}) AND listed_at <= ?
        ) WHERE latest = 1 AND watch_type <> 'DELETED'
    """


def _namespace_section(snapshot: Snapshot, end: dt.datetime) -> str:
    rows = snapshot.query(
        f"""
        WITH listed AS ({_latest_objects_sql("'Namespace'")}),
        pods AS ({_latest_objects_sql("'Pod'")}),
        names AS (
            SELECT name AS namespace FROM listed
            UNION SELECT DISTINCT namespace FROM objects WHERE namespace <> ''
        )
        SELECT names.namespace,
               count(pods.name) AS pods,
               count(pods.name) FILTER (
                   WHERE coalesce(json_extract_string(pods.body, '$.status.phase'), '') NOT IN ('Running', 'Succeeded')
               ) AS not_running
        FROM names LEFT JOIN pods ON pods.namespace = names.namespace
        GROUP BY names.namespace ORDER BY names.namespace
        """,
        [end, end],
    )
    if not rows:
        return "Namespaces: none listed in the recording."
    lines = ["Namespaces (pods at the window's end):"]
    for namespace, pods, not_running in rows:
        note = f", {not_running} not Running" if not_running else ""
        lines.append(f"  {namespace}: {pods} pods{note}")
    return "\n".join(lines)


def _workload_section(snapshot: Snapshot, end: dt.datetime) -> str:
    rows = snapshot.query(
        f"""
        SELECT namespace, kind, name,
            CASE kind WHEN 'DaemonSet'
                THEN coalesce(TRY_CAST(json_extract(body, '$.status.desiredNumberScheduled') AS BIGINT), 0)
                ELSE coalesce(TRY_CAST(json_extract(body, '$.spec.replicas') AS BIGINT), 1) END,
            CASE kind WHEN 'DaemonSet'
                THEN coalesce(TRY_CAST(json_extract(body, '$.status.numberReady') AS BIGINT), 0)
                ELSE coalesce(TRY_CAST(json_extract(body, '$.status.readyReplicas') AS BIGINT), 0) END
        FROM ({_latest_objects_sql("'Deployment', 'StatefulSet', 'DaemonSet'")})
        ORDER BY namespace, kind, name
        """,
        [end],
    )
    workloads = [_Workload(*row) for row in rows]
    if not workloads:
        return "Workloads: no Deployments, StatefulSets or DaemonSets listed."
    degraded = [w for w in workloads if w.ready < w.desired]
    lines = [
        f"Workloads at the window's end ({len(workloads)}; {len(degraded)} with fewer ready replicas "
        "than desired, marked !):"
    ]
    for workload in workloads[:_MAX_WORKLOAD_LINES]:
        mark = "!" if workload.ready < workload.desired else " "
        lines.append(
            f" {mark}{workload.namespace}/{workload.kind}/{workload.name}  ready {workload.ready}/{workload.desired}"
        )
    if len(workloads) > _MAX_WORKLOAD_LINES:
        lines.append(
            f"  ... {len(workloads) - _MAX_WORKLOAD_LINES} more; `kubectl get deploy,sts,ds -A` lists all"
        )
    return "\n".join(lines)


def _alert_section(snapshot: Snapshot) -> str:
    rows = snapshot.query(
        """
        SELECT alertname, coalesce(namespace, ''), coalesce(labels, '{}'),
               min(sampled_at), count(DISTINCT sampled_at), coalesce(max(severity), '')
        FROM alerts
        GROUP BY ALL
        ORDER BY min(sampled_at), alertname, 2, 3
        """
    )
    if not rows:
        return "Alerts: none fired during the window."
    samples = snapshot.query("SELECT count(DISTINCT sampled_at) FROM alerts")[0][0]
    lines = [
        f"Firing alerts ({len(rows)} alert/entity pairs over {samples} one-minute samples; "
        "first seen, minutes firing, severity):"
    ]
    for alertname, namespace, labels, first_seen, count, severity in rows[:_MAX_ALERT_LINES]:
        entity = alert_entity(namespace, json.loads(labels))
        lines.append(f"  {_iso(first_seen)}  {alertname}  {entity}  x{count}  {severity}".rstrip())
    if len(rows) > _MAX_ALERT_LINES:
        lines.append(f"  ... {len(rows) - _MAX_ALERT_LINES} more; get_alerts lists them all")
    return "\n".join(lines)


# Alert labels that name an object, most specific first.
_ENTITY_LABELS: tuple[tuple[str, str], ...] = (
    ("pod", "Pod"),
    ("deployment", "Deployment"),
    ("statefulset", "StatefulSet"),
    ("daemonset", "DaemonSet"),
    ("horizontalpodautoscaler", "HorizontalPodAutoscaler"),
    ("persistentvolumeclaim", "PersistentVolumeClaim"),
    ("job_name", "Job"),
    ("service_name", "Service"),
    ("service", "Service"),
)


def alert_entity(namespace: str, labels: dict[str, object]) -> str:
    """The object an alert's labels point at, as namespace/Kind/name (or what is known of it)."""
    for label, kind in _ENTITY_LABELS:
        value = labels.get(label)
        if isinstance(value, str) and value:
            return f"{namespace or '?'}/{kind}/{value}"
    node = labels.get("node")
    if isinstance(node, str) and node:
        return f"cluster/Node/{node}"
    return namespace or "-"


def _inventory_section(snapshot: Snapshot) -> str:
    counts = {table: snapshot.query(f"SELECT count(*) FROM {table}")[0][0] for table in EVIDENCE_TABLES}
    files = {
        table: (count, size)
        for table, count, size in snapshot.query(
            "SELECT table_name, count(*), coalesce(sum(bytes), 0) FROM inventory GROUP BY table_name"
        )
    }
    lines = ["Data in the recording (table: rows, from files):"]
    for table in EVIDENCE_TABLES:
        file_count, size = files.get(table, (0, 0))
        lines.append(f"  {table}: {counts[table]} rows from {file_count} files ({size / 1e6:.1f} MB)")
    unread, unread_size = files.get("", (0, 0))
    if unread:
        lines.append(f"  not read: {unread} files ({unread_size / 1e6:.1f} MB)")
    skipped = snapshot.skipped()
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


def register_overview_tool(server: MCPServer, snapshot: Snapshot, settings: ServerSettings) -> None:
    """Add ``get_overview`` to ``server``."""

    @tool_errors
    async def get_overview() -> str:
        tool_names = [tool.name for tool in await server.list_tools()]
        return await anyio.to_thread.run_sync(overview_text, snapshot, tool_names, settings.output_budget)

    server.add_tool(
        get_overview,
        title="Incident overview",
        description=(
            "Start here: the incident window, the namespaces, the workloads and their readiness at "
            "the window's end, the alerts that fired, what data the recording holds, and which "
            "tools to use next."
        ),
        annotations=READ_ONLY,
        structured_output=False,
    )
