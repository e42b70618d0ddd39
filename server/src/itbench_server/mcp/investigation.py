"""The investigation tools: alerts, the timeline, logs, metrics, traces, events, topology,
addresses and changes.

Each tool is a module-level function over the server's :class:`~itbench_server.mcp.tooling.ToolContext`
and a thin wrapper over ``itbench_server.analysis``: it reads the arguments, runs the analysis and
renders a bounded text result (``limit``/``offset`` paging and an explicit truncation marker,
through ``ToolContext.page``). :func:`register_investigation_tools` registers them in order with
their titles. The results are text only, since several hosts show a model only one of the text
and structured forms.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from pydantic import Field

from itbench_server.analysis import (
    addresses,
    alerts,
    changes,
    events,
    logs,
    metrics,
    timeline,
    topology,
    traces,
)
from itbench_server.analysis.entities import EntityRef, known_service, match_entities, resolve_entity
from itbench_server.analysis.timeparse import check_in_recording, format_time, parse_duration, parse_time
from itbench_server.errors import EntityNotFoundError, QueryError
from itbench_server.mcp.limits import (
    DURATION_CHARS,
    KEYS_CHARS,
    MAX_LABELS,
    NAME_CHARS,
    PATTERN_CHARS,
    TIME_CHARS,
    VALUE_CHARS,
)
from itbench_server.mcp.settings import ServerSettings
from itbench_server.mcp.tooling import FetchedPage, Limit, Offset, Since, ToolContext, Until, add_tool
from itbench_server.snapshot import Snapshot

__all__ = [
    "FetchedPage",
    "get_alerts",
    "get_changes",
    "get_events",
    "get_timeline",
    "get_topology",
    "lookup_address",
    "query_metrics",
    "query_traces",
    "register_investigation_tools",
    "search_logs",
]


def _pivot(context: ToolContext, text: str | None) -> tuple[datetime, str]:
    if text:
        return parse_time(text, context.snapshot.window, what="pivot"), "given"
    return alerts.default_pivot(context.snapshot)


def get_alerts(
    context: ToolContext,
    name: Annotated[
        str | None,
        Field(max_length=NAME_CHARS, description="alert name, case-insensitive substring (HighRequest)"),
    ] = None,
    severity: Annotated[
        str | None, Field(max_length=NAME_CHARS, description="critical, warning, info or none")
    ] = None,
    service: Annotated[
        str | None,
        Field(max_length=NAME_CHARS, description="service name; also matches its pods (ad -> ad-5d9f...)"),
    ] = None,
    since: Since = None,
    until: Until = None,
    include_watchdog: Annotated[bool, Field(description="also show Watchdog, which always fires")] = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> str:
    """The alert timeline: one line per alert episode (an alert on one service, pod or namespace
    firing over consecutive one-minute samples), sorted by first seen: first and last seen,
    duration, number of samples, severity, name, entity, value and description.

    Example: get_alerts(severity="critical") or get_alerts(service="frontend", since="start+5m").
    """
    span = context.time_range(since, until)
    start, end = span.start, span.end
    timeline = alerts.alert_timeline(
        context.snapshot,
        since=start,
        until=end,
        name=name,
        severity=severity,
        service=service,
        include_always_firing=include_watchdog,
    )
    header, lines = alerts.render_alert_timeline(timeline)
    if not lines:
        header += "\n(no alert matches; drop a filter or widen the time range)"
    return context.page(lines, offset=offset, limit=limit, header=header)


def search_logs(
    context: ToolContext,
    pattern: Annotated[
        str | None,
        Field(
            max_length=PATTERN_CHARS,
            description="regular expression (RE2, searched anywhere in the line), e.g. 'error|timeout'",
        ),
    ] = None,
    service: Annotated[
        str | None, Field(max_length=NAME_CHARS, description="service name, e.g. checkout")
    ] = None,
    pod: Annotated[
        str | None,
        Field(
            max_length=NAME_CHARS,
            description="pod, or a workload or ReplicaSet name for its pods (ad matches ad-5d9f7c6b8-x2x9q)",
        ),
    ] = None,
    container: Annotated[str | None, Field(max_length=NAME_CHARS, description="container name")] = None,
    min_severity: Annotated[
        str | None,
        Field(
            max_length=NAME_CHARS,
            description="lowest level kept: TRACE, DEBUG, INFO, WARN, ERROR or FATAL",
        ),
    ] = None,
    since: Since = None,
    until: Until = None,
    mode: Annotated[
        Literal["lines", "patterns", "counts"],
        Field(
            description="lines: the matching lines; patterns: log templates (numbers, ids, quoted "
            "text masked) with counts; counts: matching lines per count_by"
        ),
    ] = "lines",
    count_by: Annotated[
        Literal["service", "pod", "minute", "severity", "service_minute"],
        Field(
            description="grouping of mode=counts; minute counts every minute of the range (zeros too); "
            "service_minute gives each service's count per minute, its error onset and when its lines stopped"
        ),
    ] = "service",
    ignore_case: Annotated[bool, Field(description="match pattern and exclude ignoring case")] = True,
    exclude: Annotated[
        str | None,
        Field(max_length=PATTERN_CHARS, description="regular expression of lines to leave out"),
    ] = None,
    newest_first: Annotated[bool, Field(description="mode=lines: newest lines first")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> str:
    """Search the application logs by service, pod, container, severity, time and a regular
    expression. mode=lines gives the matching lines (oldest first) with the count of lines in
    scope and matched; mode=patterns groups them into templates with counts (the quickest way
    to see what a service is saying); mode=counts counts them per service, pod, minute or
    severity.

    Example: search_logs(service="checkout", min_severity="error", mode="patterns") or
    search_logs(pattern="timeout|refused", since="-10m").
    """
    span = context.time_range(since, until)
    start, end = span.start, span.end
    scope = logs.LogScope(
        start,
        end,
        service=service,
        pod=pod,
        container=container,
        min_severity=min_severity,
        pattern=pattern,
        exclude=exclude,
        ignore_case=ignore_case,
    )
    logs.check_log_filters(context.snapshot, scope)
    window = span.text
    if mode == "lines":
        result = logs.search_lines(
            context.snapshot, scope, offset=offset, limit=limit, newest_first=newest_first
        )
        header = f"{result.matched} of {result.in_scope} log lines in scope match ({window})"
        if result.in_scope == 0:
            header += "\n(no log lines in scope; widen the time range or drop a filter)"
        elif result.matched == 0:
            header += "\n(no line matches; try a broader pattern, or mode='patterns' to see what is logged)"
        page = FetchedPage(logs.render_lines(result), offset=offset, total=result.matched)
        return context.page(page, offset=offset, limit=limit, header=header, addresses=True)
    if mode == "patterns":
        templates = logs.log_templates(context.snapshot, scope)
        header = (
            f"{len(templates)} log templates of {sum(t.count for t in templates)} matching lines ({window})\n"
            "count  service  max severity  first..last seen  template (then one line it stands for)"
        )
        return context.page(
            logs.render_templates(templates), offset=offset, limit=limit, header=header, addresses=True
        )
    if count_by == "service_minute":
        found = logs.service_minutes(context.snapshot, scope)
        minutes = logs.minutes_between(start, end)
        header = (
            f"matching log lines per service and minute ({window}); {len(found)} services; one count per "
            f"minute from {format_time(minutes[0])} to {format_time(minutes[-1])}"
        )
        return context.page(logs.render_service_minutes(found), offset=offset, limit=limit, header=header)
    counts = logs.log_counts(context.snapshot, scope, by=count_by)
    header = f"matching log lines per {count_by} ({window})"
    return context.page(logs.render_counts(counts), offset=offset, limit=limit, header=header)


def query_metrics(
    context: ToolContext,
    mode: Annotated[
        Literal["list", "series", "anomalies"],
        Field(
            description="list: the metrics of an entity; series: one metric over time; anomalies: "
            "series ranked by how much they changed at the pivot"
        ),
    ] = "list",
    entity: Annotated[
        str | None,
        Field(
            max_length=NAME_CHARS,
            description="service or pod name, or a workload name for its pods (ad matches ad-5d9f7c6b8-x2x9q)",
        ),
    ] = None,
    metric: Annotated[
        str | None,
        Field(
            max_length=PATTERN_CHARS,
            description="series: the metric name; list/anomalies: a regular expression over names",
        ),
    ] = None,
    since: Since = None,
    until: Until = None,
    step: Annotated[
        str | None,
        Field(
            max_length=DURATION_CHARS,
            description="series: step like 30s, 1m, 5m (default: 1m or coarser)",
        ),
    ] = None,
    aggregate: Annotated[
        Literal["sum", "avg", "max", "min"],
        Field(description="series: how the series of a group combine"),
    ] = "sum",
    by: Annotated[
        str,
        Field(
            max_length=KEYS_CHARS,
            description="series: group key: entity, container, status_code, any label, several with commas, or none",
        ),
    ] = "entity",
    quantile: Annotated[
        float | None,
        Field(gt=0, lt=1, description="series of a *_bucket histogram: the quantile, default 0.95"),
    ] = None,
    labels: Annotated[
        dict[Annotated[str, Field(max_length=NAME_CHARS)], Annotated[str, Field(max_length=VALUE_CHARS)]]
        | None,
        Field(max_length=MAX_LABELS, description="series: keep samples whose labels have these values"),
    ] = None,
    pivot: Annotated[
        str | None,
        Field(
            max_length=TIME_CHARS,
            description="anomalies: the time to compare before and after; default: the first alert's activation",
        ),
    ] = None,
    method: Annotated[
        Literal["zscore", "relative"],
        Field(description="anomalies: zscore = change / baseline spread; relative = change / baseline"),
    ] = "zscore",
    limit: Limit = 50,
    offset: Offset = 0,
) -> str:
    """Metrics (Prometheus samples of pods and services). Counters (*_total, *_count, *_sum,
    *_bucket) are shown as per-second rates; *_bucket histograms as a percentile
    (histogram_quantile). mode=list shows what is recorded; mode=series one metric per group
    and step; mode=anomalies ranks every series by its change between before and after the
    pivot.

    Example: query_metrics(mode="anomalies", entity="ad"), query_metrics(mode="series",
    metric="container_memory_working_set_bytes", entity="ad", by="container"),
    query_metrics(mode="series", metric="traces_span_metrics_duration_milliseconds_bucket",
    entity="frontend", quantile=0.99).
    """
    span = context.time_range(since, until)
    start, end = span.start, span.end
    window = span.text
    if mode == "list":
        found = metrics.list_metrics(context.snapshot, entity=entity, metric_pattern=metric)
        header = (
            f"{len(found)} metrics{' of ' + entity if entity else ''}; name [file kind] counts, time span"
        )
        return context.page(metrics.render_metric_list(found), offset=offset, limit=limit, header=header)
    if mode == "series":
        if not metric:
            raise QueryError("mode='series' needs metric; find names with mode='list'")
        step_delta = parse_duration(step, what="step") if step else None
        result = metrics.metric_series(
            context.snapshot,
            metric,
            since=start,
            until=end,
            entity=entity,
            step=step_delta,
            aggregate=aggregate,
            by=by,
            quantile=quantile,
            label_filter=labels,
        )
        header = f"{result.metric}: {result.description} ({window}); {len(result.series)} series"
        return context.page(metrics.render_series(result), offset=offset, limit=limit, header=header)
    moment, reason = _pivot(context, pivot)
    ranking = metrics.rank_anomalies(
        context.snapshot,
        pivot=moment,
        pivot_reason=reason,
        since=start,
        until=end,
        entity=entity,
        metric_pattern=metric,
        method=method,
    )
    header = (
        f"{ranking.series_compared} series compared before/after the pivot {format_time(moment)} ({reason}), "
        f"ranked by {method} score; values are means (rates/s for counters)"
    )
    return context.page(metrics.render_anomalies(ranking), offset=offset, limit=limit, header=header)


def query_traces(
    context: ToolContext,
    mode: Annotated[
        Literal["summary", "errors", "trace"],
        Field(
            description="summary: calls, errors and latency per service and operation, before vs after "
            "the pivot; errors: where errors began and the error traces; trace: one trace as a tree"
        ),
    ] = "summary",
    service: Annotated[
        str | None, Field(max_length=NAME_CHARS, description="service name (summary, errors)")
    ] = None,
    trace_id: Annotated[
        str | None, Field(max_length=NAME_CHARS, description="mode=trace: the trace id")
    ] = None,
    since: Since = None,
    until: Until = None,
    pivot: Annotated[
        str | None,
        Field(
            max_length=TIME_CHARS,
            description="summary: the time splitting before/after; default: the first alert's activation",
        ),
    ] = None,
    span_kinds: Annotated[
        Literal["server", "client", "all"],
        Field(description="summary: server = spans serving requests (default), client = outgoing calls"),
    ] = "server",
    sort: Annotated[
        Literal["errors", "latency", "calls"], Field(description="summary: order of the operations")
    ] = "errors",
    limit: Limit = 40,
    offset: Offset = 0,
) -> str:
    """Traces (OpenTelemetry spans). mode=summary: per service and operation, calls, errors,
    error rate and p50/p95/p99 latency before and after the pivot; mode=errors: the deepest
    error spans grouped (where errors began), then the error traces with their root
    operation, erroring services and messages; mode=trace: one trace as an indented tree
    with offsets, durations and statuses.

    Example: query_traces(mode="errors", service="checkout"), query_traces(mode="trace",
    trace_id="4bf92f3577b34da6a3ce929d0e0e4736").
    """
    if mode == "trace":
        if not trace_id:
            raise QueryError("mode='trace' needs trace_id; find ids with mode='errors'")
        tree = traces.trace_tree(context.snapshot, trace_id)
        header = f"trace {tree.trace_id}: {tree.spans} spans" + (
            f" (only the first {traces.TRACE_SPAN_LIMIT} read)" if tree.truncated else ""
        )
        return context.page(
            traces.render_tree(tree), offset=offset, limit=limit, header=header, addresses=True
        )
    span = context.time_range(since, until)
    start, end = span.start, span.end
    traces.check_trace_service(context.snapshot, service)
    if mode == "errors":
        found = traces.error_traces(
            context.snapshot, since=start, until=end, service=service, offset=offset, limit=limit
        )
        header = "\n".join(
            [
                f"{found.error_traces} traces with errors ({span.text})",
                *traces.render_error_signatures(found),
                "Error traces, oldest first:",
            ]
        )
        page = FetchedPage(traces.render_error_traces(found), offset=offset, total=found.error_traces)
        return context.page(page, offset=offset, limit=limit, header=header, addresses=True)
    moment, reason = _pivot(context, pivot)
    summary = traces.summarize_operations(
        context.snapshot,
        since=start,
        until=end,
        pivot=moment,
        pivot_reason=reason,
        service=service,
        kinds=span_kinds,
        sort=sort,
    )
    header = (
        f"{len(summary.operations)} operations ({span.text}); before/after the pivot "
        f"{format_time(moment)} ({reason}); latency in ms"
    )
    return context.page(traces.render_summary(summary), offset=offset, limit=limit, header=header)


def get_events(
    context: ToolContext,
    object: Annotated[
        str | None,
        Field(
            max_length=NAME_CHARS,
            description="involved object: otel-demo/Deployment/ad, Deployment/ad, otel-demo/ad or ad",
        ),
    ] = None,
    kind: Annotated[
        str | None,
        Field(max_length=KEYS_CHARS, description="involved object's kind: Pod, po, ReplicaSet, rs..."),
    ] = None,
    reason: Annotated[
        str | None,
        Field(max_length=NAME_CHARS, description="reason, case-insensitive substring: Failed, BackOff..."),
    ] = None,
    type: Annotated[Literal["Normal", "Warning"] | None, Field(description="event type")] = None,
    namespace: Annotated[
        str | None, Field(max_length=NAME_CHARS, description="namespace of the involved object")
    ] = None,
    include_children: Annotated[
        bool, Field(description="with a workload object, also its ReplicaSets' and Pods' events")
    ] = True,
    since: Since = None,
    until: Until = None,
    limit: Limit = 60,
    offset: Offset = 0,
) -> str:
    """Kubernetes events, grouped by involved object, reason, type and message template, with
    counts, first and last seen and the latest message; Warnings first, then the most
    frequent.

    Example: get_events(type="Warning"), get_events(object="otel-demo/Deployment/ad"),
    get_events(reason="FailedScheduling").
    """
    span = context.time_range(since, until)
    start, end = span.start, span.end
    objects = match_entities(context.snapshot, object, include_event_objects=True) if object else None
    groups = events.event_groups(
        context.snapshot,
        since=start,
        until=end,
        objects=objects,
        with_children=include_children,
        kind=kind,
        reason=reason,
        event_type=type,
        namespace=namespace,
    )
    header = (
        f"{len(groups)} event groups ({span.text}){events.range_note(groups, start)}; type reason xcount object "
        "first..last (source) latest message"
    )
    if not groups:
        header += "\n(no event matches; drop a filter or widen the time range)"
    return context.page(
        events.render_event_groups(groups, start), offset=offset, limit=limit, header=header, addresses=True
    )


def get_topology(
    context: ToolContext,
    entity: Annotated[
        str | None,
        Field(
            max_length=NAME_CHARS,
            description="show this object's neighbours: otel-demo/Deployment/ad, svc/frontend...",
        ),
    ] = None,
    direction: Annotated[
        Literal["up", "down", "both"],
        Field(description="up: what it depends on (causes); down: what depends on it (impact)"),
    ] = "both",
    depth: Annotated[int, Field(ge=1, le=6, description="most edges away from entity")] = 2,
    view: Annotated[
        Literal["services", "kubernetes"],
        Field(description="without entity: services = call graph from traces; kubernetes = object graph"),
    ] = "services",
    namespace: Annotated[
        str | None,
        Field(max_length=NAME_CHARS, description="view=kubernetes: only edges from this namespace"),
    ] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 150,
    offset: Offset = 0,
) -> str:
    """Dependencies. The service call graph from traces (A -> B when a client span of A has a
    server span of B as child, or names B in peer.service/server.address) with call and error
    counts; the Kubernetes object graph (ownerReferences, Service selectors, ConfigMaps,
    Secrets and PVCs used by Pods, Nodes, HPA targets, namespace quotas) as of the end of the
    range; or the neighbours of one object, walking up (dependencies) or down (dependents).

    Example: get_topology(), get_topology(view="kubernetes", namespace="otel-demo"),
    get_topology(entity="otel-demo/Service/frontend", direction="up", depth=3).
    """
    span = context.time_range(since, until)
    start, end = span.start, span.end
    if entity:
        ref = resolve_entity(context.snapshot, entity)
        found = topology.neighbours(
            context.snapshot, ref, since=start, until=end, direction=direction, depth=depth
        )
        lines = topology.render_neighbours(ref, found, end)
        if not found:
            lines.append(topology.no_neighbours_hint(direction, depth))
        return context.page(lines[1:], offset=offset, limit=limit, header=lines[0])
    if view == "services":
        calls = topology.service_calls(context.snapshot, since=start, until=end)
        header = f"{len(calls)} service call edges ({span.text}); caller -> callee"
        return context.page(topology.render_calls(calls), offset=offset, limit=limit, header=header)
    edges = topology.object_edges(context.snapshot, at=end)
    if namespace:
        edges = [edge for edge in edges if edge.source.namespace == namespace]
    header = f"{len(edges)} object edges as of {format_time(end)}; source --relation--> target (source depends on target)"
    return context.page(topology.render_edges(edges), offset=offset, limit=limit, header=header)


def get_changes(
    context: ToolContext,
    kind: Annotated[
        str | None,
        Field(
            max_length=KEYS_CHARS,
            description="only this kind (aliases allowed: cm, deploy, hpa, quota...); several with commas",
        ),
    ] = None,
    object: Annotated[
        str | None,
        Field(
            max_length=NAME_CHARS,
            description="only this object: otel-demo/ConfigMap/flagd-config, cm/flagd-config...",
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        Field(max_length=NAME_CHARS, description="only this namespace ('cluster' for cluster-scoped)"),
    ] = None,
    mode: Annotated[
        Literal["changes", "compare"],
        Field(
            description="changes: every change between consecutive listings in the range; compare: one "
            "object at since against the same object at until, every field (status included)"
        ),
    ] = "changes",
    since: Since = None,
    until: Until = None,
    limit: Limit = 150,
    offset: Offset = 0,
) -> str:
    """What changed in the cluster's objects during the range: field-level differences between
    consecutive listings (path: before -> after; ConfigMap values holding JSON are compared
    inside, e.g. a feature flag's defaultVariant; multi-line values line by line), and objects
    that appeared, disappeared or were deleted, in time order. Status and metadata bookkeeping
    are ignored; Endpoints and EndpointSlices only when asked for by kind. mode=compare compares
    one object at any two times, every field. For a ConfigMap or Secret, who uses it (volumes,
    env, envFrom, args) comes first.

    Example: get_changes(), get_changes(kind="cm"), get_changes(object="otel-demo/Deployment/ad"),
    get_changes(object="deploy/cart", mode="compare", since="start", until="end").
    """
    span = context.time_range(since, until)
    start, end = span.start, span.end
    if mode == "compare":
        if not object:
            raise QueryError("mode='compare' needs object: the one object to compare at since and until")
        ref = resolve_entity(context.snapshot, object)
        comparison = changes.compare_states(context.snapshot, ref, since=start, until=end)
        header, lines = changes.render_comparison(comparison)
        header += _users_note(context, [ref], end)
        return context.page(lines, offset=offset, limit=limit, header=header)
    kinds = changes.resolve_kinds(context.snapshot, kind) if kind else None
    refs: list[EntityRef] | None = match_entities(context.snapshot, object) if object else None
    found = changes.object_changes(
        context.snapshot, since=start, until=end, kinds=kinds, objects=refs, namespace=namespace
    )
    header = (
        f"{len(found.changes)} changed listings, {len(found.presence)} objects appeared/disappeared "
        f"({span.text})"
    ) + _users_note(context, refs or [], end)
    if not found.changes and not found.presence:
        header += (
            "\n(nothing changed in that scope; objects are listed every few minutes, so widen the range)"
        )
    return context.page(changes.render_changes(found), offset=offset, limit=limit, header=header)


def _users_note(context: ToolContext, refs: list[EntityRef], at: datetime) -> str:
    """For each ConfigMap or Secret among ``refs``, a line naming what uses it at ``at``."""
    lines = []
    for ref in refs:
        if ref.kind not in ("ConfigMap", "Secret"):
            continue
        users = topology.users_of(context.snapshot, ref, at=at)
        described = [f"{edge.source} ({edge.detail})" for edge in users[:20]]
        more = f" and {len(users) - 20} more" if len(users) > 20 else ""
        who = (
            ", ".join(described) + more
            if users
            else "nothing that is recorded (no volume, env, envFrom or args names it)"
        )
        lines.append(f"\n{ref} is used by (as of {format_time(at)}): {who}")
    return "".join(lines)


def get_timeline(
    context: ToolContext,
    entity: Annotated[
        str | None,
        Field(
            max_length=NAME_CHARS,
            description="only what is about this object (a workload brings its ReplicaSets and pods) or "
            "service: otel-demo/Deployment/ad, deploy/ad, cm/flagd-config, checkout",
        ),
    ] = None,
    namespace: Annotated[
        str | None, Field(max_length=NAME_CHARS, description="only what is in this namespace")
    ] = None,
    include: Annotated[
        str | None,
        Field(
            max_length=KEYS_CHARS,
            description="only these kinds of entries, separated by commas: "
            + ", ".join(timeline.ENTRY_KINDS)
            + " (default: all)",
        ),
    ] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> str:
    """What happened, in one time-ordered list: object changes (field by field), objects that
    appeared, disappeared or were deleted, Warning events, alert activations, and each service's
    first error and error onset. A change is dated by the listing that first shows it (objects are
    re-listed every few minutes). Filter by entity, namespace, kind of entry and time.

    Example: get_timeline(), get_timeline(entity="otel-demo/Deployment/cart"),
    get_timeline(include="change,alert", since="start+5m").
    """
    span = context.time_range(since, until)
    kinds = timeline.entry_kinds(include) if include else timeline.ENTRY_KINDS
    refs, service = _entity_or_service(context, entity) if entity else (None, None)
    entries = timeline.timeline(
        context.snapshot,
        since=span.start,
        until=span.end,
        objects=refs,
        service=service,
        namespace=namespace,
        kinds=kinds,
    )
    header = (
        f"{len(entries)} timeline entries ({span.text}); time, what, object or service, details "
        "(at one time, changes come before their effects)"
    )
    if not entries:
        header += "\n(nothing happened in that scope; widen the range or drop a filter)"
    return context.page(
        timeline.render_timeline(entries), offset=offset, limit=limit, header=header, addresses=True
    )


def _entity_or_service(context: ToolContext, text: str) -> tuple[list[EntityRef] | None, str | None]:
    """The objects ``text`` names, or else the service of that name (one known only from logs,
    spans or alerts)."""
    try:
        return match_entities(context.snapshot, text, include_event_objects=True), None
    except EntityNotFoundError:
        if known_service(context.snapshot, text):
            return None, text
        raise


def lookup_address(
    context: ToolContext,
    address: Annotated[
        str,
        Field(
            max_length=NAME_CHARS,
            description="an IP, a host name or either with a port: 10.96.103.36:8081, 10.244.1.7, quote:8081, "
            "quote.otel-demo.svc.cluster.local",
        ),
    ],
    at: Annotated[
        str | None,
        Field(
            max_length=TIME_CHARS,
            description="for a Service, the time to list the pods it selects; default: the end of the recording",
        ),
    ] = None,
) -> str:
    """Who owns an address: the Pod (by pod IP, with when it held it: pod IPs are reused), the
    Service (by ClusterIP or name, with its ports; a port that is not one of them is said so, and
    the pods it selects are listed) or the Node. Tools that print addresses (search_logs,
    get_events, query_traces, get_timeline, kubectl logs) name their owners in their header.

    Example: lookup_address(address="10.96.103.36:8081"), lookup_address(address="quote:8081").
    """
    window = context.snapshot.window
    moment = check_in_recording(parse_time(at, window, what="at"), window, what="at") if at else window.end
    lines = addresses.lookup_address(context.snapshot, address, moment)
    return context.page(lines, offset=0, limit=len(lines))


def register_investigation_tools(
    server: MCPServer[Any], snapshot: Snapshot | ToolContext, settings: ServerSettings | None = None
) -> None:
    """Add get_alerts, search_logs, query_metrics, query_traces, get_events, get_topology and
    get_changes over ``snapshot`` to ``server``."""
    context = (
        snapshot if isinstance(snapshot, ToolContext) else ToolContext(snapshot, settings or ServerSettings())
    )
    for function, title in INVESTIGATION_TOOLS:
        add_tool(server, context, function, title=title)


INVESTIGATION_TOOLS: tuple[tuple[Any, str], ...] = (
    (get_alerts, "Alert timeline"),
    (get_timeline, "What happened, in time order"),
    (search_logs, "Search the logs"),
    (query_metrics, "Query metrics"),
    (query_traces, "Query traces"),
    (get_events, "Kubernetes events"),
    (get_topology, "Dependencies"),
    (lookup_address, "Who owns an address"),
    (get_changes, "Changes to the cluster's objects"),
)
