"""What changed in the cluster's objects between consecutive listings.

Objects are re-listed every few minutes; a listing whose content differs from the same object's
previous listing is a change. Compared is everything but ``status`` and the bookkeeping of
``metadata`` (resourceVersion, generation, uid, creationTimestamp, managedFields, leader-election
and replica-count annotations). Changes are field-level: ``path: before -> after``. A string holding JSON (such as
the flag file in ``otel-demo/ConfigMap/flagd-config``) is compared inside, down to the leaf that
changed (``data["demo.flagd.json"].flags.adFailure.defaultVariant: "off" -> "on"``).

Objects first listed after the recording's first listing, or missing from its later listings,
are reported as appeared or disappeared; a DELETED watch record as deleted.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from itbench_server.analysis.cluster import objects_at
from itbench_server.analysis.entities import EntityRef, canonical_kind
from itbench_server.analysis.timeparse import format_time
from itbench_server.errors import QueryError, quoted
from itbench_server.snapshot.snapshot import Snapshot

__all__ = [
    "CHANGE_LIMIT",
    "FIELD_LIMIT",
    "NOISY_KINDS",
    "TEXT_DIFF_LINES",
    "Changes",
    "FieldChange",
    "ObjectChange",
    "PresenceChange",
    "StateComparison",
    "compare_states",
    "diff",
    "normalized",
    "object_changes",
    "render_changes",
    "render_comparison",
    "render_field",
    "resolve_kinds",
]

NOISY_KINDS: Final = ("Endpoints", "EndpointSlice", "Lease", "Event")
"""Kinds that change all the time as a side effect; left out unless asked for by kind."""

CHANGE_LIMIT: Final = 1000
"""Most changed listings read in one call (the oldest first)."""

FIELD_LIMIT: Final = 40
"""Most field differences reported for one changed listing."""

TEXT_DIFF_LINES: Final = 60
"""Most lines of the diff of one multi-line string."""

_LISTING_TOLERANCE: Final = timedelta(seconds=90)

_IGNORED_METADATA: Final = (
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "managedFields",
    "selfLink",
)
_IGNORED_ANNOTATIONS: Final = (
    "control-plane.alpha.kubernetes.io/leader",
    "kubectl.kubernetes.io/last-applied-configuration",
    # kept in step with spec.replicas by the Deployment controller
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
)
# An RFC 7386 merge patch: null removes a key.
_NORMALIZING_PATCH: Final = json.dumps(
    {
        "status": None,
        "metadata": {
            **dict.fromkeys(_IGNORED_METADATA),
            "annotations": dict.fromkeys(_IGNORED_ANNOTATIONS),
        },
    }
)
_PLAIN_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_VALUE_CUT: Final = 200


@dataclass(frozen=True)
class FieldChange:
    path: str
    before: str
    after: str
    text_diff: tuple[str, ...] = ()
    """For a multi-line string: its changed lines as a unified diff (``@@`` hunks, one line of
    context); ``before`` and ``after`` then give its size."""


@dataclass(frozen=True)
class ObjectChange:
    entity: EntityRef
    at: datetime
    previous_at: datetime
    fields: list[FieldChange]
    more_fields: int = 0


@dataclass(frozen=True)
class PresenceChange:
    entity: EntityRef
    at: datetime
    change: Literal["appeared", "disappeared", "deleted"]


@dataclass(frozen=True)
class Changes:
    changes: list[ObjectChange] = field(default_factory=list)
    presence: list[PresenceChange] = field(default_factory=list)
    more_changes: bool = False


def normalized(body: Any, *, keep_status: bool = False) -> Any:
    """``body`` without status (unless ``keep_status``) and metadata bookkeeping (the parts a change
    is not about)."""
    if not isinstance(body, dict):
        return body
    result = {key: value for key, value in body.items() if keep_status or key != "status"}
    metadata = result.get("metadata")
    if isinstance(metadata, dict):
        metadata = {key: value for key, value in metadata.items() if key not in _IGNORED_METADATA}
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            metadata["annotations"] = {k: v for k, v in annotations.items() if k not in _IGNORED_ANNOTATIONS}
        result["metadata"] = metadata
    return result


_ABSENT: Final = object()


def _key_path(path: str, key: str) -> str:
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= _VALUE_CUT else text[:_VALUE_CUT] + "…"


def _embedded_json(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return _ABSENT
    return _ABSENT


def _named_items(items: list[Any]) -> dict[str, Any] | None:
    if items and all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in items):
        named = {item["name"]: item for item in items}
        if len(named) == len(items):
            return named
    return None


def diff(before: Any, after: Any, path: str = "") -> list[FieldChange]:
    """Field-level differences from ``before`` to ``after``, in path order.

    Dicts are compared key by key; lists of items with a ``name`` (containers, env, volumes,
    ports) by name (``containers[ad].image``), other lists of equal length by index, others as
    wholes; strings that both hold JSON are compared inside.
    """
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[FieldChange] = []
        for key in sorted(set(before) | set(after)):
            changes += diff(before.get(key, _ABSENT), after.get(key, _ABSENT), _key_path(path, str(key)))
        return changes
    if isinstance(before, list) and isinstance(after, list):
        named_before, named_after = _named_items(before), _named_items(after)
        if named_before is not None and named_after is not None:
            changes = []
            for name in sorted(set(named_before) | set(named_after)):
                changes += diff(
                    named_before.get(name, _ABSENT), named_after.get(name, _ABSENT), f"{path}[{name}]"
                )
            return changes
        if len(before) == len(after) and any(isinstance(item, dict | list) for item in before + after):
            changes = []
            for index, (old, new) in enumerate(zip(before, after, strict=True)):
                changes += diff(old, new, f"{path}[{index}]")
            return changes
    inner_before, inner_after = _embedded_json(before), _embedded_json(after)
    if inner_before is not _ABSENT and inner_after is not _ABSENT:
        return diff(inner_before, inner_after, path)
    if isinstance(before, str) and isinstance(after, str) and ("\n" in before or "\n" in after):
        return [_text_change(path or "(object)", before, after)]
    return [FieldChange(path or "(object)", _show(before), _show(after))]


def _text_change(path: str, before: str, after: str) -> FieldChange:
    """A change of a multi-line string, as the lines that changed."""
    old, new = before.splitlines(), after.splitlines()
    hunks = [
        line.rstrip("\n")
        for line in difflib.unified_diff(old, new, n=1, lineterm="")
        if not line.startswith(("---", "+++"))
    ]
    if len(hunks) > TEXT_DIFF_LINES:
        hunks = [*hunks[:TEXT_DIFF_LINES], f"… {len(hunks) - TEXT_DIFF_LINES} more diff lines"]
    return FieldChange(path, f"{len(old)} lines", f"{len(new)} lines", tuple(hunks))


def object_changes(
    snapshot: Snapshot,
    *,
    since: datetime,
    until: datetime,
    kinds: list[str] | None = None,
    objects: list[EntityRef] | None = None,
    namespace: str | None = None,
) -> Changes:
    """Spec changes and appearances in [since, until], oldest first.

    ``kinds`` limits the kinds (by default every kind but ``NOISY_KINDS``), ``objects`` the
    objects, ``namespace`` the namespace (``cluster`` for cluster-scoped objects).
    """
    conditions: list[str] = []
    parameters: list[object] = []
    if kinds:
        conditions.append(f"kind IN ({', '.join('?' for _ in kinds)})")
        parameters += kinds
    else:
        conditions.append(f"kind NOT IN ({', '.join('?' for _ in NOISY_KINDS)})")
        parameters += list(NOISY_KINDS)
    if objects:
        conditions.append(
            "("
            + " OR ".join("(kind = ? AND coalesce(namespace, '') = ? AND name = ?)" for _ in objects)
            + ")"
        )
        for ref in objects:
            parameters += [ref.kind, ref.index_namespace, ref.name]
    if namespace:
        conditions.append("coalesce(namespace, '') = ?")
        parameters.append("" if namespace == "cluster" else namespace)
    where = " AND ".join(conditions)
    changed = snapshot.query(
        f"""
        WITH fingerprinted AS (
            SELECT kind, coalesce(namespace, '') AS namespace, name, listed_at,
                   md5(json_merge_patch(body, ?)::VARCHAR) AS fingerprint
            FROM objects WHERE {where} AND coalesce(watch_type, '') <> 'DELETED'
        ),
        sequenced AS (
            SELECT *, lag(fingerprint) OVER listing AS previous_fingerprint,
                   lag(listed_at) OVER listing AS previous_at
            FROM fingerprinted
            WINDOW listing AS (PARTITION BY kind, namespace, name ORDER BY listed_at)
        )
        SELECT kind, namespace, name, previous_at, listed_at FROM sequenced
        WHERE previous_fingerprint IS NOT NULL AND fingerprint <> previous_fingerprint
          AND listed_at BETWEEN ? AND ?
        ORDER BY listed_at, kind, namespace, name
        LIMIT ?
        """,
        [_NORMALIZING_PATCH, *parameters, since, until, CHANGE_LIMIT + 1],
    )
    more = len(changed) > CHANGE_LIMIT
    changed = changed[:CHANGE_LIMIT]
    bodies: dict[tuple[str, str, str, datetime], Any] = {}
    if changed:
        keys = [
            (kind, ns, name, at)
            for kind, ns, name, previous, current in changed
            for at in (previous, current)
        ]
        rows = snapshot.query(
            """
            SELECT o.kind, coalesce(o.namespace, ''), o.name, o.listed_at, any_value(o.body)
            FROM objects o JOIN (SELECT unnest(?) AS k) wanted
              ON o.kind = k.kind AND coalesce(o.namespace, '') = k.namespace AND o.name = k.name AND o.listed_at = k.at
            GROUP BY ALL
            """,
            [[{"kind": kind, "namespace": ns, "name": name, "at": at} for kind, ns, name, at in keys]],
        )
        bodies = {(kind, ns, name, at): json.loads(body) for kind, ns, name, at, body in rows}
    changes = []
    for kind, ns, name, previous, current in changed:
        before = normalized(bodies.get((kind, ns, name, previous)))
        after = normalized(bodies.get((kind, ns, name, current)))
        fields = diff(before, after)
        if fields:
            changes.append(
                ObjectChange(
                    EntityRef.from_index(ns, kind, name),
                    current,
                    previous,
                    fields[:FIELD_LIMIT],
                    max(len(fields) - FIELD_LIMIT, 0),
                )
            )
    return Changes(changes, _presence_changes(snapshot, where, parameters, since, until), more)


def _presence_changes(
    snapshot: Snapshot, where: str, parameters: list[object], since: datetime, until: datetime
) -> list[PresenceChange]:
    tolerance = int(_LISTING_TOLERANCE.total_seconds())
    rows = snapshot.query(
        f"""
        WITH scoped AS (SELECT * FROM objects WHERE {where}),
        rounds AS (SELECT min(listed_at) AS first_round, max(listed_at) AS last_round FROM objects),
        per_object AS (
            SELECT kind, coalesce(namespace, '') AS namespace, name, min(listed_at) AS first_listed,
                   max(listed_at) AS last_listed, min(listed_at) FILTER (WHERE watch_type = 'DELETED') AS deleted_at
            FROM scoped GROUP BY kind, coalesce(namespace, ''), name
        )
        SELECT p.kind, p.namespace, p.name, p.first_listed, 'appeared' FROM per_object p, rounds r
        WHERE p.first_listed > r.first_round + INTERVAL {tolerance} SECOND AND p.first_listed BETWEEN ? AND ?
        UNION ALL
        SELECT p.kind, p.namespace, p.name, p.deleted_at, 'deleted' FROM per_object p
        WHERE p.deleted_at BETWEEN ? AND ?
        UNION ALL
        SELECT p.kind, p.namespace, p.name, p.last_listed, 'disappeared' FROM per_object p, rounds r
        WHERE p.deleted_at IS NULL AND p.last_listed < r.last_round - INTERVAL {tolerance} SECOND
          AND p.last_listed BETWEEN ? AND ?
        ORDER BY 4, 1, 2, 3
        """,
        [*parameters, since, until, since, until, since, until],
    )
    return [
        PresenceChange(EntityRef.from_index(ns, kind, name), at, change)
        for kind, ns, name, at, change in rows
    ]


def render_field(item: FieldChange, indent: str = "    ") -> list[str]:
    """``path: before -> after``; a multi-line string as its changed lines."""
    if not item.text_diff:
        return [f"{indent}{item.path}: {item.before} -> {item.after}"]
    return [
        f"{indent}{item.path}: text changed ({item.before} -> {item.after}); changed lines:",
        *(f"{indent}  {line}" for line in item.text_diff),
    ]


def render_changes(changes: Changes) -> list[str]:
    """Changed listings (each with its field lines) and appearances, in time order."""
    blocks: list[tuple[datetime, int, list[str]]] = []
    for change in changes.changes:
        lines = [
            f"{format_time(change.at)}  {change.entity}  changed since the listing at {format_time(change.previous_at)}:"
        ]
        for item in change.fields:
            lines += render_field(item)
        if change.more_fields:
            lines.append(
                f"    … {change.more_fields} more fields changed; ask for this object alone with kubectl"
            )
        blocks.append((change.at, 0, lines))
    for presence in changes.presence:
        when = "last listed" if presence.change == "disappeared" else "at"
        blocks.append(
            (
                presence.at,
                1,
                [
                    f"{format_time(presence.at)}  {presence.entity}  {presence.change} ({when} {format_time(presence.at)})"
                ],
            )
        )
    lines = [line for _, _, block in sorted(blocks, key=lambda item: (item[0], item[1])) for line in block]
    if changes.more_changes:
        lines.append(
            f"[only the first {CHANGE_LIMIT} changed listings were compared; narrow by kind, object or time]"
        )
    return lines


@dataclass(frozen=True)
class StateComparison:
    """One object as it was at two times: the listings that stood for it, and their differences."""

    entity: EntityRef
    since: datetime
    until: datetime
    before_listed: datetime | None
    """The listing that was the object at ``since``; None when it was not present then."""
    after_listed: datetime | None
    fields: list[FieldChange]


def compare_states(
    snapshot: Snapshot, entity: EntityRef, *, since: datetime, until: datetime
) -> StateComparison:
    """``entity`` at ``since`` against ``entity`` at ``until`` (as ``kubectl get`` shows it at each
    time), every field that differs, status included (metadata bookkeeping excepted)."""

    def state(at: datetime) -> tuple[datetime | None, Any]:
        for present in objects_at(snapshot, entity.kind, at):
            if present.namespace == entity.index_namespace and present.name == entity.name:
                return present.listed_at, normalized(present.body, keep_status=True)
        return None, _ABSENT

    before_listed, before = state(since)
    after_listed, after = state(until)
    fields = [] if before is _ABSENT and after is _ABSENT else diff(before, after)
    return StateComparison(entity, since, until, before_listed, after_listed, fields)


def render_comparison(comparison: StateComparison) -> tuple[str, list[str]]:
    """A header saying which listings were compared, and the field lines."""

    def side(moment: datetime, listed: datetime | None) -> str:
        if listed is None:
            return f"absent at {format_time(moment)}"
        return f"at {format_time(moment)} (its listing of {format_time(listed)})"

    header = (
        f"{comparison.entity}: {side(comparison.since, comparison.before_listed)} -> "
        f"{side(comparison.until, comparison.after_listed)}; {len(comparison.fields)} fields differ"
    )
    if comparison.before_listed is None and comparison.after_listed is None:
        header += "\n(the object is present at neither time; kubectl get at another time, or get_changes, say when it was)"
    elif comparison.before_listed == comparison.after_listed:
        header += "\n(the same listing stands for both times: objects are re-listed every few minutes)"
    return header, [line for item in comparison.fields for line in render_field(item)]


def resolve_kinds(snapshot: Snapshot, text: str) -> list[str]:
    """The kinds a comma-separated ``text`` names (aliases allowed); QueryError naming the
    recorded kinds when one is unknown."""
    known = [kind for (kind,) in snapshot.query("SELECT DISTINCT kind FROM objects ORDER BY 1")]
    kinds = []
    for part in (part.strip() for part in text.split(",")):
        kind = canonical_kind(part, known) if part else None
        if kind is None:
            raise QueryError(
                f"kind {quoted(part)} is unknown; kinds listed in this recording: {', '.join(known)}"
            )
        kinds.append(kind)
    return kinds
