"""Kubernetes events, grouped by object, reason, type and message template.

The recording holds one row per watch record, so one Event object appears several times as its
``count`` grows; an Event object counts as its largest ``count``, and a group sums its Event
objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from itbench_server.analysis.entities import EntityRef, canonical_kind, match_entities
from itbench_server.analysis.sqltext import member_of_sql, sql_literal
from itbench_server.analysis.timeparse import format_time
from itbench_server.errors import QueryError, quoted
from itbench_server.snapshot.snapshot import Snapshot

__all__ = [
    "WORKLOAD_KINDS",
    "EventGroup",
    "event_groups",
    "objects_named",
    "range_note",
    "render_event_groups",
]

WORKLOAD_KINDS: Final = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")

# Masks what differs between events about the same thing (generated pod names, quoted names,
# long ids) but keeps numbers, which here are quantities worth reading (memory=400Mi).
_EVENT_TEMPLATE_RULES: Final = (
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<UUID>"),
    (r'"[^"]*"', '"<*>"'),
    (r"\b[0-9a-fA-F]{12,}\b", "<HEX>"),
)


def _event_template_sql(expression: str) -> str:
    for pattern, replacement in _EVENT_TEMPLATE_RULES:
        expression = f"regexp_replace({expression}, {sql_literal(pattern)}, {sql_literal(replacement)}, 'g')"
    return expression


@dataclass(frozen=True)
class EventGroup:
    object: EntityRef
    reason: str
    type: str
    template: str
    count: int
    first_seen: datetime
    last_seen: datetime
    latest_message: str
    source: str


def objects_named(snapshot: Snapshot, text: str) -> list[EntityRef]:
    """The objects a filter on ``text`` means: short forms allowed, objects known only from events
    included (such as Chaos Mesh objects)."""
    return match_entities(snapshot, text, include_event_objects=True)


def event_groups(
    snapshot: Snapshot,
    *,
    since: datetime,
    until: datetime,
    objects: list[EntityRef] | None = None,
    with_children: bool = True,
    kind: str | None = None,
    reason: str | None = None,
    event_type: str | None = None,
    namespace: str | None = None,
) -> list[EventGroup]:
    """Events that happened or were recorded in [since, until], grouped, Warnings first, then by
    count and last seen. (A recording starts with the events the cluster still held, some of
    which happened before the window; they are kept, with their own first and last times.)

    ``objects`` keeps the events about those objects; with ``with_children`` a workload
    (Deployment, StatefulSet, ReplicaSet...) also brings the events of the ReplicaSets and Pods
    named after it (``ad`` -> ``ad-5d9f7c6b8``, ``ad-5d9f7c6b8-x2x9q``). ``reason`` matches as a
    case-insensitive substring (``Failed`` keeps FailedCreate and FailedScheduling); ``kind`` is
    the involved object's kind (aliases allowed); ``event_type`` is Normal or Warning.
    """
    conditions = ["((coalesce(last_seen, ts) >= ? AND coalesce(first_seen, ts) <= ?) OR ts BETWEEN ? AND ?)"]
    parameters: list[object] = [since, until, since, until]
    if objects:
        alternatives = []
        for ref in objects:
            alternatives.append(
                "(object_kind = ? AND coalesce(object_namespace, '') = ? AND object_name = ?)"
            )
            parameters += [ref.kind, ref.index_namespace, ref.name]
            if with_children and ref.kind in WORKLOAD_KINDS:
                alternatives.append(
                    "(object_kind IN ('ReplicaSet', 'Pod', 'Job') AND coalesce(object_namespace, '') = ?"
                    f" AND {member_of_sql('object_name', ref.name)})"
                )
                parameters.append(ref.index_namespace)
        conditions.append("(" + " OR ".join(alternatives) + ")")
    if kind:
        known = [
            k for (k,) in snapshot.query("SELECT DISTINCT object_kind FROM events WHERE object_kind <> ''")
        ]
        canonical = canonical_kind(kind, known)
        if canonical is None:
            raise QueryError(
                f"kind {quoted(kind)}: no events about that kind; kinds with events: {', '.join(sorted(known))}"
            )
        conditions.append("object_kind = ?")
        parameters.append(canonical)
    if reason:
        conditions.append("reason ILIKE ?")
        parameters.append(f"%{reason}%")
    if event_type:
        if event_type.strip().lower() not in ("normal", "warning"):
            raise QueryError(f"type {quoted(event_type)}: use Normal or Warning")
        conditions.append("lower(type) = ?")
        parameters.append(event_type.strip().lower())
    if namespace:
        conditions.append("(coalesce(object_namespace, '') = ? OR namespace = ?)")
        parameters += [namespace, namespace]
    template = _event_template_sql("coalesce(message, '')")
    rows = snapshot.query(
        f"""
        WITH scoped AS (
            SELECT * FROM events WHERE {" AND ".join(conditions)}
        ),
        per_event AS (
            SELECT coalesce(object_kind, '') AS object_kind, coalesce(object_namespace, '') AS object_namespace,
                   coalesce(object_name, '') AS object_name, coalesce(reason, '') AS reason,
                   coalesce(type, '') AS type, {template} AS template,
                   max(coalesce(count, 1)) AS n, min(coalesce(first_seen, ts)) AS first_seen,
                   max(coalesce(last_seen, ts)) AS last_seen, arg_max(coalesce(message, ''), ts) AS message,
                   arg_max(coalesce(source, ''), ts) AS source
            FROM scoped
            GROUP BY object_kind, object_namespace, object_name, reason, type, template, namespace, name
        )
        SELECT object_kind, object_namespace, object_name, reason, type, template, sum(n)::BIGINT,
               min(first_seen), max(last_seen), arg_max(message, last_seen), arg_max(source, last_seen)
        FROM per_event
        GROUP BY object_kind, object_namespace, object_name, reason, type, template
        ORDER BY type = 'Warning' DESC, sum(n) DESC, max(last_seen) DESC, object_kind, object_namespace,
                 object_name, reason, template
        """,
        parameters,
    )
    return [
        EventGroup(
            EntityRef.from_index(ns, kind_, name),
            reason_,
            type_,
            template_,
            count,
            first,
            last,
            message,
            source,
        )
        for kind_, ns, name, reason_, type_, template_, count, first, last, message, source in rows
    ]


def render_event_groups(groups: list[EventGroup], since: datetime | None = None) -> list[str]:
    """One line per group; a first time before ``since`` (an event the cluster still held when the
    recording began) is marked ``(before the range)``."""
    lines = []
    for group in groups:
        message = group.latest_message.replace("\n", " ")
        if len(message) > 400:
            message = message[:400] + " …[cut]"
        first = format_time(group.first_seen)
        if since is not None and group.first_seen < since:
            first += " (before the range)"
        lines.append(
            f"{group.type or '-'}  {group.reason}  x{group.count}  {group.object}  "
            f"{first}..{format_time(group.last_seen)}  "
            f"{'(' + group.source + ') ' if group.source else ''}{message}"
        )
    return lines


def range_note(groups: list[EventGroup], since: datetime) -> str:
    """What the header adds when some groups began before ``since``: how many, and when the
    earliest did."""
    early = [group for group in groups if group.first_seen < since]
    if not early:
        return ""
    earliest = min(group.first_seen for group in early)
    return f"; {len(early)} began before the range, the earliest at {format_time(earliest)} (marked)"
