"""When each service began to fail: its first error and its error onset.

A service's errors are its log records of severity ERROR or worse and its spans with status
Error that serve a request (Server or Consumer spans, and root spans), counted per minute.

- The *first error* is the earliest of them in the range.
- The *error onset* is the first minute from which the service fails in earnest: the earliest
  minute with errors such that errors occur in at least 4 of the 5 minutes from it
  (:func:`~itbench_server.analysis.minutes.onset_of`). Sporadic errors have no onset; errors that
  run from the range's start have it at the start (``from_start``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from itbench_server.analysis.logs import SEVERITY_NUMBER_SQL
from itbench_server.analysis.minutes import minutes_between, onset_of
from itbench_server.snapshot.snapshot import Snapshot

__all__ = ["ServiceErrors", "service_errors"]

MESSAGE_CUT: Final = 200


@dataclass(frozen=True)
class ServiceErrors:
    service: str
    errors: int
    first_error: datetime
    first_message: str
    onset: datetime | None
    """The first minute of sustained errors, or None when they are sporadic."""
    from_start: bool
    """The errors run from the first minute of the range: it shows no onset, only that they go on."""
    error_minutes: int
    minutes: int
    per_minute: dict[datetime, int]


def service_errors(
    snapshot: Snapshot, *, since: datetime, until: datetime, services: list[str] | None = None
) -> list[ServiceErrors]:
    """Every service that erred in [since, until], the earliest first error first."""
    service_filter = ""
    parameters: list[object] = []
    if services:
        service_filter = f" AND lower(service) IN ({', '.join('lower(?)' for _ in services)})"
        parameters = list(services)
    rows = snapshot.query(
        f"""
        WITH errs AS (
            SELECT service, ts, left(body, {MESSAGE_CUT}) AS message FROM logs
            WHERE ts BETWEEN ? AND ? AND {SEVERITY_NUMBER_SQL} >= 17 AND coalesce(service, '') <> ''{service_filter}
            UNION ALL
            SELECT service, ts, left(coalesce(nullif(status_message, ''), name || ' failed'), {MESSAGE_CUT}) FROM spans
            WHERE ts BETWEEN ? AND ? AND status = 'Error' AND coalesce(service, '') <> ''
              AND (kind IN ('Server', 'Consumer') OR coalesce(parent_span_id, '') = ''){service_filter}
        )
        SELECT service, date_trunc('minute', ts) AS minute, count(*), min(ts), arg_min(message, ts)
        FROM errs GROUP BY service, minute ORDER BY service, minute
        """,
        [since, until, *parameters, since, until, *parameters],
    )
    per_service: dict[str, list[tuple[datetime, int, datetime, str]]] = defaultdict(list)
    for service, minute, count, first, message in rows:
        per_service[service].append((minute, count, first, message))
    minutes = minutes_between(since, until)
    first_minute, last_minute = minutes[0], minutes[-1]
    span = len(minutes)
    found = []
    for service, erred in per_service.items():
        counts: dict[datetime, int] = {}
        for minute, count, _, _ in erred:  # a record at the range's very end counts in its last minute
            counts[min(minute, last_minute)] = counts.get(min(minute, last_minute), 0) + count
        _, _, first_error, first_message = min(erred, key=lambda item: item[2])
        onset = onset_of(counts, last_minute)
        found.append(
            ServiceErrors(
                service=service,
                errors=sum(counts.values()),
                first_error=first_error,
                first_message=first_message.replace("\n", " "),
                onset=onset,
                from_start=onset is not None and onset <= first_minute,
                error_minutes=len(counts),
                minutes=span,
                per_minute=counts,
            )
        )
    return sorted(found, key=lambda item: (item.first_error, item.service))
