"""Traces: per-operation error and latency summaries, error traces, and one trace as a tree."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from itbench_server.analysis.timeparse import format_time
from itbench_server.errors import QueryError, quoted
from itbench_server.snapshot.snapshot import Snapshot

__all__ = [
    "TRACE_SPAN_LIMIT",
    "ErrorSignature",
    "ErrorTrace",
    "OperationSummary",
    "PhaseStats",
    "SpanNode",
    "TraceErrors",
    "TraceSummary",
    "TraceTree",
    "check_trace_service",
    "error_traces",
    "render_error_signatures",
    "render_error_traces",
    "render_summary",
    "render_tree",
    "summarize_operations",
    "trace_tree",
]

SummarySort = Literal["errors", "latency", "calls"]
SpanKinds = Literal["server", "client", "all"]

TRACE_SPAN_LIMIT: Final = 2000
"""Most spans of one trace read to draw it."""

_KIND_SQL: Final[dict[str, str]] = {
    "server": "kind IN ('Server', 'Consumer') OR coalesce(parent_span_id, '') = ''",
    "client": "kind IN ('Client', 'Producer')",
    "all": "TRUE",
}


def _service_sql(service: str | None) -> tuple[str, list[object]]:
    if not service:
        return "TRUE", []
    return "lower(service) = lower(?)", [service]


def check_trace_service(snapshot: Snapshot, service: str | None) -> None:
    """Raise ``QueryError`` naming the traced services when ``service`` has no spans."""
    if service and not snapshot.query(
        "SELECT 1 FROM spans WHERE lower(service) = lower(?) LIMIT 1", [service]
    ):
        known = [name for (name,) in snapshot.query("SELECT DISTINCT service FROM spans ORDER BY 1")]
        raise QueryError(
            f"service {quoted(service)} has no spans; traced services: {', '.join(map(str, known))}"
        )


@dataclass(frozen=True)
class PhaseStats:
    calls: int = 0
    errors: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class OperationSummary:
    service: str
    operation: str
    before: PhaseStats
    after: PhaseStats


@dataclass(frozen=True)
class TraceSummary:
    pivot: datetime
    pivot_reason: str
    operations: list[OperationSummary]


def summarize_operations(
    snapshot: Snapshot,
    *,
    since: datetime,
    until: datetime,
    pivot: datetime,
    pivot_reason: str,
    service: str | None = None,
    kinds: SpanKinds = "server",
    sort: SummarySort = "errors",
) -> TraceSummary:
    """Calls, errors and latency percentiles per (service, operation), before and after ``pivot``.

    ``kinds='server'`` counts the spans that serve a request (Server, Consumer and root spans),
    so a call is not counted twice (once by the caller's client span); ``client`` counts the
    outgoing calls, ``all`` every span. ``sort``: ``errors`` (most errors after the pivot first),
    ``latency`` (largest p95 growth first) or ``calls``.
    """
    where, parameters = _service_sql(service)
    rows = snapshot.query(
        f"""
        SELECT coalesce(service, ''), coalesce(name, ''), ts >= ? AS after, count(*),
               count(*) FILTER (WHERE status = 'Error'),
               quantile_cont(duration_ms, 0.5), quantile_cont(duration_ms, 0.95), quantile_cont(duration_ms, 0.99)
        FROM spans
        WHERE ts BETWEEN ? AND ? AND ({_KIND_SQL[kinds]}) AND {where}
        GROUP BY ALL
        """,
        [pivot, since, until, *parameters],
    )
    phases: dict[tuple[str, str], dict[bool, PhaseStats]] = defaultdict(dict)
    for service_name, operation, after, calls, errors, p50, p95, p99 in rows:
        phases[(service_name, operation)][bool(after)] = PhaseStats(calls, errors, p50, p95, p99)
    operations = [
        OperationSummary(
            service_name, operation, by_phase.get(False, PhaseStats()), by_phase.get(True, PhaseStats())
        )
        for (service_name, operation), by_phase in phases.items()
    ]
    operations.sort(key=lambda op: (op.service, op.operation))
    if sort == "errors":
        operations.sort(key=lambda op: (-op.after.errors, -(op.after.error_rate - op.before.error_rate)))
    elif sort == "latency":
        operations.sort(key=lambda op: -_growth(op.before.p95, op.after.p95))
    else:
        operations.sort(key=lambda op: -(op.before.calls + op.after.calls))
    return TraceSummary(pivot, pivot_reason, operations)


def _growth(before: float | None, after: float | None) -> float:
    if after is None:
        return 0.0
    return after / before if before else after


@dataclass(frozen=True)
class ErrorSignature:
    service: str
    operation: str
    message: str
    spans: int
    traces: int
    first_seen: datetime
    last_seen: datetime
    example_trace: str


@dataclass(frozen=True)
class ErrorTrace:
    trace_id: str
    start: datetime
    root: str
    erroring_services: list[str]
    messages: list[str]


@dataclass(frozen=True)
class TraceErrors:
    error_traces: int
    signatures: list[ErrorSignature]
    traces: list[ErrorTrace] = field(default_factory=list)


def error_traces(
    snapshot: Snapshot,
    *,
    since: datetime,
    until: datetime,
    service: str | None = None,
    offset: int = 0,
    limit: int = 20,
) -> TraceErrors:
    """Spans with status Error in [since, until], grouped and per trace.

    Signatures group the *deepest* error spans (those with no erroring child: where the error
    began) by service, operation and message. Then one page of error traces, oldest first, each
    with its root operation, the services that erred and their messages. ``service`` keeps the
    traces in which that service erred.
    """
    where, parameters = _service_sql(service)
    signature_rows = snapshot.query(
        f"""
        WITH errors AS (
            SELECT trace_id, span_id, parent_span_id, ts, coalesce(service, '') AS service,
                   coalesce(name, '') AS name, coalesce(status_message, '') AS message
            FROM spans WHERE status = 'Error' AND ts BETWEEN ? AND ?
        ),
        deepest AS (
            SELECT e.* FROM errors e
            WHERE NOT EXISTS (
                SELECT 1 FROM errors c WHERE c.trace_id = e.trace_id AND c.parent_span_id = e.span_id
            )
        )
        SELECT service, name, left(message, 300), count(*), count(DISTINCT trace_id), min(ts), max(ts),
               min(trace_id)
        FROM deepest WHERE {where}
        GROUP BY ALL ORDER BY count(*) DESC, service, name LIMIT 30
        """,
        [since, until, *parameters],
    )
    scope = (
        f"SELECT trace_id, min(ts) AS start FROM spans WHERE status = 'Error' AND ts BETWEEN ? AND ? AND {where}"
        " GROUP BY trace_id"
    )
    (count,) = snapshot.query(f"SELECT count(*) FROM ({scope})", [since, until, *parameters])[0]
    trace_rows = snapshot.query(
        f"""
        WITH page AS ({scope} ORDER BY start, trace_id LIMIT ? OFFSET ?)
        SELECT p.trace_id, p.start,
               coalesce(arg_min(s.service || ' ' || s.name, s.ts) FILTER (WHERE coalesce(s.parent_span_id, '') = ''),
                        '(root span not recorded)'),
               list(DISTINCT s.service ORDER BY s.service) FILTER (WHERE s.status = 'Error'),
               list(DISTINCT left(s.status_message, 200)) FILTER (WHERE s.status = 'Error' AND s.status_message <> '')
        FROM page p JOIN spans s ON s.trace_id = p.trace_id
        GROUP BY p.trace_id, p.start ORDER BY p.start, p.trace_id
        """,
        [since, until, *parameters, limit, offset],
    )
    return TraceErrors(
        count,
        [ErrorSignature(*row) for row in signature_rows],
        [
            ErrorTrace(trace_id, start, root, list(services or []), sorted(messages or []))
            for trace_id, start, root, services, messages in trace_rows
        ],
    )


@dataclass(frozen=True)
class SpanNode:
    span_id: str
    parent_span_id: str
    ts: datetime
    service: str
    name: str
    kind: str
    duration_ms: float
    status: str
    status_message: str
    children: list[SpanNode] = field(default_factory=list)


@dataclass(frozen=True)
class TraceTree:
    trace_id: str
    spans: int
    roots: list[SpanNode]
    truncated: bool


def trace_tree(snapshot: Snapshot, trace_id: str) -> TraceTree:
    """One trace as a forest of spans (a span whose parent was not recorded becomes a root)."""
    trace_id = trace_id.strip()
    rows = snapshot.query(
        """
        SELECT span_id, coalesce(parent_span_id, ''), ts, coalesce(service, ''), coalesce(name, ''),
               coalesce(kind, ''), coalesce(duration_ms, 0), coalesce(status, ''), coalesce(status_message, '')
        FROM spans WHERE trace_id = ? ORDER BY ts, span_id LIMIT ?
        """,
        [trace_id, TRACE_SPAN_LIMIT + 1],
    )
    if not rows:
        raise QueryError(f"no trace {quoted(trace_id)}; find trace ids with mode='errors'")
    truncated = len(rows) > TRACE_SPAN_LIMIT
    nodes = {row[0]: SpanNode(*row) for row in rows[:TRACE_SPAN_LIMIT]}
    roots = []
    for node in nodes.values():
        parent = nodes.get(node.parent_span_id)
        if parent is None or parent is node:
            roots.append(node)
        else:
            parent.children.append(node)
    return TraceTree(trace_id, len(nodes), roots, truncated)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render_summary(summary: TraceSummary) -> list[str]:
    lines = []
    for op in summary.operations:
        before, after = op.before, op.after
        lines.append(
            f"{op.service}  {op.operation}  | before: {before.calls} calls, {before.errors} err "
            f"({before.error_rate:.0%}), p50/p95/p99 {_ms(before.p50)}/{_ms(before.p95)}/{_ms(before.p99)} ms"
            f" | after: {after.calls} calls, {after.errors} err ({after.error_rate:.0%}), "
            f"p50/p95/p99 {_ms(after.p50)}/{_ms(after.p95)}/{_ms(after.p99)} ms"
        )
    return lines


def render_error_signatures(errors: TraceErrors) -> list[str]:
    """Where errors began: the deepest error spans grouped, most frequent first."""
    if not errors.signatures:
        return ["No span has status Error in this range."]
    return [
        "Where errors began (deepest error spans: spans, traces, service, operation, first..last, message):"
    ] + [
        f"  {sig.spans:>6} spans {sig.traces:>6} traces  {sig.service}  {sig.operation}  "
        f"{format_time(sig.first_seen)}..{format_time(sig.last_seen)}  {sig.message or '(no message)'}"
        f"  e.g. trace {sig.example_trace}"
        for sig in errors.signatures
    ]


def render_error_traces(errors: TraceErrors) -> list[str]:
    return [
        f"  {trace.trace_id}  {format_time(trace.start)}  root: {trace.root}  erroring: "
        f"{', '.join(trace.erroring_services)}"
        + (f"  messages: {' | '.join(trace.messages)}" if trace.messages else "")
        for trace in errors.traces
    ]


def render_tree(tree: TraceTree) -> list[str]:
    start = min(root.ts for root in tree.roots)
    lines: list[str] = []

    def walk(node: SpanNode, depth: int) -> None:
        offset_ms = (node.ts - start).total_seconds() * 1000
        status = node.status if node.status in ("Error", "Ok") else ""
        message = f" {node.status_message[:200]}" if node.status_message else ""
        lines.append(
            f"{'  ' * depth}{node.service} {node.name} [{node.kind}] +{offset_ms:.0f}ms {node.duration_ms:.1f}ms"
            f"{' ' + status if status else ''}{message}"
        )
        for child in sorted(node.children, key=lambda child: (child.ts, child.span_id)):
            walk(child, depth + 1)

    for root in sorted(tree.roots, key=lambda root: (root.ts, root.span_id)):
        walk(root, 0)
    return lines
