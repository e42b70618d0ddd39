"""The cluster as of a time T: which recorded objects were present, and in which listing.

Every tool that shows the cluster at a moment uses this one notion (``kubectl get``, the
overview's pod counts, the object graph of ``get_topology``), so that they agree:

- Objects are re-listed in rounds (every 5 minutes in the published recordings). For each kind,
  the rows of a plain listing (``watch_type`` empty) are grouped into rounds: listings less than
  :data:`ROUND_GAP` apart belong to the same round.
- The state of an object at T is its last row at or before T. It is present only if that row is
  not a ``DELETED`` watch record and is no older than the start of the last *complete* round at
  or before T: an object that the latest round no longer listed was gone by then.
- Before a kind's first complete round, that first round stands for the state, less the objects
  created after T. Kinds recorded only by watch records keep an object until its ``DELETED``
  record.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from itbench_server.analysis.timeparse import parse_timestamp
from itbench_server.snapshot.snapshot import Snapshot

__all__ = [
    "ROUND_GAP",
    "ListingRound",
    "PresentObject",
    "decode_body",
    "listing_rounds",
    "objects_at",
    "present_rows",
    "round_start",
]

ROUND_GAP: Final = timedelta(seconds=60)
"""Listings of one kind closer than this belong to the same listing round."""


@dataclass(frozen=True)
class ListingRound:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class PresentObject:
    """One object present at T: its last listing at or before T, decoded."""

    api_version: str
    namespace: str
    """'' for cluster-scoped objects."""
    name: str
    listed_at: datetime
    body: dict[str, Any]


_ROUNDS: weakref.WeakKeyDictionary[Snapshot, dict[str, list[ListingRound]]] = weakref.WeakKeyDictionary()


def listing_rounds(snapshot: Snapshot) -> dict[str, list[ListingRound]]:
    """The listing rounds of every kind, oldest first."""
    cached = _ROUNDS.get(snapshot)
    if cached is not None:
        return cached
    rows = snapshot.query(
        f"""
        WITH listed AS (
            SELECT DISTINCT kind, listed_at FROM objects
            WHERE coalesce(watch_type, '') = '' AND listed_at IS NOT NULL
        ),
        marked AS (
            SELECT kind, listed_at,
                   CASE WHEN listed_at - lag(listed_at) OVER (PARTITION BY kind ORDER BY listed_at)
                             <= INTERVAL {int(ROUND_GAP.total_seconds())} SECOND THEN 0 ELSE 1 END AS starts_round
            FROM listed
        ),
        numbered AS (
            SELECT kind, listed_at,
                   sum(starts_round) OVER (PARTITION BY kind ORDER BY listed_at) AS round_number
            FROM marked
        )
        SELECT kind, min(listed_at), max(listed_at) FROM numbered
        GROUP BY kind, round_number ORDER BY kind, 2
        """
    )
    rounds: dict[str, list[ListingRound]] = {}
    for kind, start, end in rows:
        rounds.setdefault(kind, []).append(ListingRound(start, end))
    _ROUNDS[snapshot] = rounds
    return rounds


def round_start(rounds: list[ListingRound], at: datetime) -> datetime | None:
    """Start of the last complete listing round at or before ``at`` (None before the first)."""
    start = None
    for listing_round in rounds:
        if listing_round.end <= at:
            start = listing_round.start
        else:
            break
    return start


def objects_at(snapshot: Snapshot, kind: str, at: datetime) -> list[PresentObject]:
    """Every object of ``kind`` present at ``at`` (any API group), sorted by namespace and name."""
    rounds = listing_rounds(snapshot).get(kind, [])
    # Before the first complete listing the first listing stands for the state, less what was
    # created after ``at``.
    before_first = bool(rounds) and at < rounds[0].end
    listed_until = rounds[0].end if before_first else at
    rows = snapshot.query(
        """
        SELECT coalesce(api_version, ''), coalesce(namespace, ''), name, listed_at, coalesce(watch_type, ''), body
        FROM objects
        WHERE kind = ? AND listed_at <= ?
        QUALIFY row_number() OVER (PARTITION BY coalesce(namespace, ''), name ORDER BY listed_at DESC) = 1
        ORDER BY coalesce(namespace, ''), name
        """,
        [kind, listed_until],
    )
    cutoff = round_start(rounds, listed_until)
    present: list[PresentObject] = []
    for api_version, namespace, name, listed_at, watch_type, body in rows:
        if watch_type == "DELETED":
            continue
        if cutoff is not None and watch_type == "" and listed_at < cutoff:
            continue
        decoded = decode_body(body)
        if decoded is None:
            continue
        if before_first:
            created = parse_timestamp((decoded.get("metadata") or {}).get("creationTimestamp"))
            if created is not None and created > at:
                continue
        present.append(PresentObject(api_version, namespace, name, listed_at, decoded))
    return present


def present_rows(
    snapshot: Snapshot, kinds: Sequence[str], at: datetime, expressions: Sequence[str]
) -> list[tuple[Any, ...]]:
    """``(kind, namespace, name, *expressions)`` of every object of ``kinds`` present at ``at``, as
    :func:`objects_at` decides, with ``expressions`` (SQL over the JSON column ``body``) computed
    in the query: for summaries that need a few fields of many objects, not their bodies."""
    rounds = listing_rounds(snapshot)
    plan: list[object] = []
    created_check: set[str] = set()
    for kind in kinds:
        kind_rounds = rounds.get(kind, [])
        before_first = bool(kind_rounds) and at < kind_rounds[0].end
        listed_until = kind_rounds[0].end if before_first else at
        if before_first:
            created_check.add(kind)
        plan += [kind, listed_until, round_start(kind_rounds, listed_until)]
    scope = " OR ".join("(kind = ? AND listed_at <= ?)" for _ in kinds)
    cutoff = "CASE kind " + " ".join("WHEN ? THEN ?::TIMESTAMP" for _ in kinds) + " END"
    parameters: list[object] = []
    for index in range(0, len(plan), 3):
        parameters += plan[index : index + 2]
    for index in range(0, len(plan), 3):
        parameters += [plan[index], plan[index + 2]]
    selected = "".join(f", {expression}" for expression in expressions)
    rows = snapshot.query(
        f"""
        WITH latest AS (
            SELECT kind, coalesce(namespace, '') AS namespace, name, listed_at,
                   coalesce(watch_type, '') AS watch_type, body
            FROM objects WHERE {scope}
            QUALIFY row_number() OVER (PARTITION BY kind, coalesce(namespace, ''), name ORDER BY listed_at DESC) = 1
        )
        SELECT kind, namespace, name, json_extract_string(body, '$.metadata.creationTimestamp'){selected}
        FROM latest
        WHERE watch_type <> 'DELETED' AND NOT (watch_type = '' AND listed_at < coalesce({cutoff}, listed_at))
        ORDER BY kind, namespace, name
        """,
        parameters,
    )
    present = []
    for kind, namespace, name, created_text, *rest in rows:
        if kind in created_check:
            created = parse_timestamp(created_text)
            if created is not None and created > at:
                continue
        present.append((kind, namespace, name, *rest))
    return present


def decode_body(body: Any) -> dict[str, Any] | None:
    """An object body as recorded (JSON text, sometimes encoded twice) as a dict, or None."""
    if not isinstance(body, str):
        return None
    try:
        value = json.loads(body)
        if isinstance(value, str):  # JSON encoded twice
            value = json.loads(value)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
