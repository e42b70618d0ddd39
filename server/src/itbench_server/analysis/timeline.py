"""What happened, in time order: one list instead of four tools.

The timeline merges:

- ``change``: an object's listing that differs from its previous one (as ``get_changes``),
  dated by the listing that first shows it: the change happened after the previous listing;
- ``appeared`` / ``disappeared`` / ``deleted``: objects that came or went;
- ``warning``: each group of Warning events (as ``get_events``), at its first time;
- ``alert``: each alert episode (``Watchdog`` aside), at its activation;
- ``errors``: each service's first error and its error onset (:mod:`itbench_server.analysis.errors`).

At one time, causes come before effects: changes and appearances, then warnings, errors and
alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from itbench_server.analysis import alerts, changes, events
from itbench_server.analysis.entities import EntityRef
from itbench_server.analysis.errors import ServiceErrors, service_errors
from itbench_server.analysis.sqltext import member_of_sql
from itbench_server.analysis.timeparse import format_time
from itbench_server.errors import QueryError, quoted
from itbench_server.snapshot.snapshot import Snapshot

__all__ = ["ENTRY_KINDS", "TimelineEntry", "entry_kinds", "render_timeline", "timeline"]

EntryKind = Literal["change", "appeared", "disappeared", "deleted", "warning", "errors", "alert"]
ENTRY_KINDS: Final[tuple[EntryKind, ...]] = (
    "change",
    "appeared",
    "disappeared",
    "deleted",
    "warning",
    "errors",
    "alert",
)
MESSAGE_CUT: Final = 240


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: EntryKind
    subject: str
    """The object (namespace/Kind/name) or service the entry is about."""
    text: str
    details: tuple[str, ...] = ()


def entry_kinds(text: str) -> tuple[EntryKind, ...]:
    """The entry kinds a comma-separated ``text`` names; QueryError listing them when one is unknown."""
    chosen: list[EntryKind] = []
    for part in (part.strip().lower() for part in text.split(",")):
        matches: list[EntryKind] = [
            kind for kind in ENTRY_KINDS if part in (kind, kind + "s", kind.rstrip("s"))
        ]
        if not matches:
            raise QueryError(f"include: {quoted(part)} is not a kind of entry; use {', '.join(ENTRY_KINDS)}")
        chosen.append(matches[0])
    return tuple(dict.fromkeys(chosen))


def _cut(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= MESSAGE_CUT else text[:MESSAGE_CUT] + " …[cut]"


def timeline(
    snapshot: Snapshot,
    *,
    since: datetime,
    until: datetime,
    objects: list[EntityRef] | None = None,
    service: str | None = None,
    namespace: str | None = None,
    kinds: tuple[EntryKind, ...] = ENTRY_KINDS,
) -> list[TimelineEntry]:
    """The entries of [since, until] in time order.

    ``objects`` keeps what is about those objects (a workload's ReplicaSets and pods included);
    ``service`` the errors and alerts of that service (by default the names of ``objects``);
    ``namespace`` what is in that namespace.
    """
    entries: list[TimelineEntry] = []
    names = sorted({ref.name for ref in objects or []} | ({service} if service else set()))
    scoped = bool(objects) or bool(service)
    if {"change", "appeared", "disappeared", "deleted"} & set(kinds) and (objects or not scoped):
        entries += _object_entries(snapshot, since, until, objects, namespace, kinds)
    if "warning" in kinds and (objects or not scoped):
        groups = events.event_groups(
            snapshot,
            since=since,
            until=until,
            objects=objects or None,
            event_type="Warning",
            namespace=namespace,
        )
        for group in groups:
            began = max(group.first_seen, since)
            earlier = " (going on since before the range)" if group.first_seen < since else ""
            entries.append(
                TimelineEntry(
                    began,
                    "warning",
                    str(group.object),
                    f"{group.reason} x{group.count} until {format_time(group.last_seen)}{earlier}: "
                    + _cut(group.latest_message),
                )
            )
    if "alert" in kinds:
        for name in names or [None]:
            found = alerts.alert_timeline(
                snapshot, since=since, until=until, service=name, include_always_firing=False, strict=False
            )
            for episode in found.episodes:
                if namespace and not episode.entity.startswith(f"{namespace}/"):
                    continue
                entries.append(
                    TimelineEntry(
                        max(episode.began, since),
                        "alert",
                        episode.entity,
                        f"{episode.alertname} ({episode.severity or 'no severity'}) fires, seen "
                        f"{format_time(episode.first_seen)}..{format_time(episode.last_seen)}"
                        + (" (active since before the range)" if episode.began < since else ""),
                    )
                )
    if "errors" in kinds:
        erred = service_errors(snapshot, since=since, until=until, services=names or None)
        entries += [entry for item in erred for entry in _error_entries(item, namespace, snapshot)]
    order = {kind: index for index, kind in enumerate(ENTRY_KINDS)}
    unique = list(dict.fromkeys(entries))
    return sorted(unique, key=lambda entry: (entry.at, order[entry.kind], entry.subject, entry.text))


def _object_entries(
    snapshot: Snapshot,
    since: datetime,
    until: datetime,
    objects: list[EntityRef] | None,
    namespace: str | None,
    kinds: tuple[EntryKind, ...],
) -> list[TimelineEntry]:
    scope = list(objects or [])
    if objects:  # a workload's ReplicaSets and pods come and go with it
        for ref in objects:
            if ref.kind in events.WORKLOAD_KINDS:
                rows = snapshot.query(
                    "SELECT DISTINCT kind, coalesce(namespace, ''), name FROM objects "
                    f"WHERE kind IN ('ReplicaSet', 'Pod', 'Job') AND coalesce(namespace, '') = ? AND {member_of_sql('name', ref.name)}",
                    [ref.index_namespace],
                )
                scope += [EntityRef.from_index(ns, kind, name) for kind, ns, name in rows]
    found = changes.object_changes(
        snapshot, since=since, until=until, objects=scope or None, namespace=namespace
    )
    entries: list[TimelineEntry] = []
    if "change" in kinds:
        for change in found.changes:
            fields = [line for item in change.fields for line in changes.render_field(item, indent="    ")]
            if change.more_fields:
                fields.append(f"    … {change.more_fields} more fields changed")
            entries.append(
                TimelineEntry(
                    change.at,
                    "change",
                    str(change.entity),
                    f"changed since the listing at {format_time(change.previous_at)}:",
                    tuple(fields),
                )
            )
    entries += [
        TimelineEntry(presence.at, presence.change, str(presence.entity), "")
        for presence in found.presence
        if presence.change in kinds
    ]
    return entries


def _error_entries(item: ServiceErrors, namespace: str | None, snapshot: Snapshot) -> list[TimelineEntry]:
    if namespace and not snapshot.query(
        "SELECT 1 FROM logs WHERE service = ? AND namespace = ? UNION ALL "
        "SELECT 1 FROM spans WHERE service = ? AND namespace = ? LIMIT 1",
        [item.service, namespace, item.service, namespace],
    ):
        return []
    share = f"errors in {item.error_minutes} of {item.minutes} minutes, {item.errors} in all"
    message = _cut(item.first_message)
    if item.onset is None:
        return [
            TimelineEntry(
                item.first_error, "errors", item.service, f"first error, sporadic ({share}): {message}"
            )
        ]
    if item.from_start:
        text = f"erring from the start of the range on ({share}): {message}"
        return [TimelineEntry(item.first_error, "errors", item.service, text)]
    if item.first_error >= item.onset:
        text = f"error onset and first error ({share}): {message}"
        return [TimelineEntry(item.first_error, "errors", item.service, text)]
    return [
        TimelineEntry(item.first_error, "errors", item.service, f"first error ({share}): {message}"),
        TimelineEntry(item.onset, "errors", item.service, "error onset: errors in most minutes from here"),
    ]


def render_timeline(entries: list[TimelineEntry]) -> list[str]:
    """One entry per item (its detail lines under it): time, what, subject, text."""
    rendered = []
    for entry in entries:
        line = f"{format_time(entry.at)}  {entry.kind:<11}  {entry.subject}" + (
            f"  {entry.text}" if entry.text else ""
        )
        rendered.append("\n".join([line, *entry.details]))
    return rendered
