"""Times as users write them, turned into the naive UTC datetimes the index stores.

Accepted forms (``parse_time``):

- RFC 3339 / ISO 8601 with a zone: ``2025-12-15T17:25:19Z``, ``2025-12-15T18:25:19+01:00``
  (converted to UTC);
- a naive ISO time, taken as UTC: ``2025-12-15T17:25:19``, ``2025-12-15 17:25:19.5``;
- relative to the incident window: ``start``, ``end``, ``start+3m``, ``end-10m``, ``-5m``
  (= ``end-5m``), ``+2m`` (= ``start+2m``); ``now`` is an alias of ``end``.

Durations (``parse_duration``) are a number and a unit, ``s``, ``m`` or ``h``, possibly chained:
``90s``, ``5m``, ``1.5h``, ``1h30m``.

Both are bounded: a duration is at most :data:`MAX_DURATION` (366 days), and a time must lie
within :data:`MAX_DISTANCE` (366 days) of the incident window. Anything further is a
``QueryError`` naming the argument and the allowed range, never an overflow deeper down: a
recording lasts minutes, and every later ``time ± duration`` stays representable.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from itbench_server.errors import QueryError, quoted
from itbench_server.snapshot.snapshot import TimeWindow

__all__ = [
    "ACCEPTED_TIME_FORMS",
    "MAX_DISTANCE",
    "MAX_DURATION",
    "check_in_recording",
    "format_duration",
    "format_time",
    "parse_duration",
    "parse_time",
    "parse_time_range",
    "parse_timestamp",
    "time_bounds",
]

ACCEPTED_TIME_FORMS = (
    "RFC 3339 like 2025-12-15T17:25:19Z, a naive ISO time (UTC) like 2025-12-15T17:25:19, "
    "or relative to the incident window: start, end, start+3m, end-10m, -5m (= end-5m), "
    "+2m (= start+2m); units s, m, h"
)

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smh])")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smh])+")
_RELATIVE = re.compile(r"(start|end|now)?\s*(?:([+-])\s*(" + _DURATION.pattern + r"))?")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}

MAX_DURATION = timedelta(days=366)
"""The longest duration ``parse_duration`` accepts (8784h)."""
MAX_DISTANCE = timedelta(days=366)
"""How far before the window's start or after its end a time may lie."""


def parse_duration(text: str, *, what: str = "duration") -> timedelta:
    """Parse ``90s``, ``5m``, ``1.5h`` or ``1h30m`` into a ``timedelta``.

    Raises ``QueryError`` naming ``what`` when the text is not a duration.
    """
    compact = text.strip().lower().replace(" ", "")
    if not _DURATION.fullmatch(compact):
        raise QueryError(
            f"{what}: cannot read {quoted(text)} as a duration; "
            "write a number and a unit s, m or h, like 30s, 5m, 1h30m"
        )
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(compact))
    if not math.isfinite(seconds) or seconds > MAX_DURATION.total_seconds():
        raise QueryError(
            f"{what}: the duration {quoted(text)} is too long; "
            f"at most {_hours(MAX_DURATION)}h ({MAX_DURATION.days} days)"
        )
    return timedelta(seconds=seconds)


def _hours(delta: timedelta) -> int:
    return round(delta.total_seconds() / 3600)


def parse_time(text: str, window: TimeWindow, *, what: str = "time") -> datetime:
    """Parse a user time into a naive UTC datetime.

    ``window`` anchors the relative forms (``start``, ``end-10m``, ``-5m``, ``+2m``). Times
    outside the window are returned as given (callers clamp or filter as they need), as long as
    they lie within :data:`MAX_DISTANCE` of it. Raises ``QueryError`` whose message names
    ``what`` and lists the accepted forms or the allowed range.
    """
    stripped = text.strip()
    if not stripped:
        raise QueryError(f"{what}: empty time; use {ACCEPTED_TIME_FORMS}")
    relative = _RELATIVE.fullmatch(stripped.lower())
    if relative and (relative.group(1) or relative.group(2)):
        anchor_name, sign, duration_text = relative.groups()
        if anchor_name is None:
            anchor_name = "end" if sign == "-" else "start"
        anchor = window.start if anchor_name == "start" else window.end
        if sign is None:
            return anchor
        offset = parse_duration(duration_text, what=what)
        return anchor + offset if sign == "+" else anchor - offset
    try:
        parsed = datetime.fromisoformat(stripped.replace("z", "Z"))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise QueryError(f"{what}: cannot read {quoted(text)} as a time; use {ACCEPTED_TIME_FORMS}") from None
    earliest, latest = time_bounds(window)
    if not earliest <= parsed <= latest:
        raise QueryError(
            f"{what}: {format_time(parsed)} is more than {MAX_DISTANCE.days} days from the recording "
            f"({format_time(window.start)} .. {format_time(window.end)}); give a time between "
            f"{format_time(earliest)} and {format_time(latest)}"
        )
    return parsed


def check_in_recording(moment: datetime, window: TimeWindow, *, what: str = "time") -> datetime:
    """``moment`` when it lies in the recording's window; otherwise a ``QueryError`` saying that it
    is outside and giving the window (a view of the cluster before or after the recording would
    show nothing, or its last state, as if it were recorded)."""
    if window.start <= moment <= window.end:
        return moment
    side = "before" if moment < window.start else "after"
    distance = format_duration((window.start - moment) if side == "before" else (moment - window.end))
    raise QueryError(
        f"{what}: {format_time(moment)} is outside the recording, {distance} {side} its "
        f"{'start' if side == 'before' else 'end'}; the recording covers {format_time(window.start)} .. "
        f"{format_time(window.end)} (start .. end); give a time inside it"
    )


def time_bounds(window: TimeWindow) -> tuple[datetime, datetime]:
    """The earliest and latest times ``parse_time`` accepts for ``window``."""
    return window.start - MAX_DISTANCE, window.end + MAX_DISTANCE


def parse_time_range(since: str | None, until: str | None, window: TimeWindow) -> tuple[datetime, datetime]:
    """The ``[since, until]`` interval, each end defaulting to the window's; raises if reversed."""
    start = parse_time(since, window, what="since") if since else window.start
    end = parse_time(until, window, what="until") if until else window.end
    if start > end:
        raise QueryError(
            f"since ({format_time(start)}) is after until ({format_time(end)}); "
            f"the window is {format_time(window.start)} .. {format_time(window.end)}"
        )
    return start, end


def format_time(moment: datetime) -> str:
    """RFC 3339 text of a naive UTC datetime, seconds precision: ``2025-12-15T17:25:19Z``."""
    return moment.replace(microsecond=0).isoformat() + "Z"


def format_duration(delta: timedelta) -> str:
    """Short human text of a duration: ``45s``, ``12m05s``, ``1h02m``."""
    seconds = round(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m{secs:02d}s"
    return f"{sign}{secs}s"


def parse_timestamp(text: object) -> datetime | None:
    """A Kubernetes timestamp (RFC 3339, maybe with fractions) as a naive UTC datetime."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        # Nanosecond fractions are longer than fromisoformat accepts: keep microseconds.
        match = re.match(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)", text)
        if not match:
            return None
        fraction = (match.group(2) or "")[:7]
        try:
            parsed = datetime.fromisoformat(match.group(1) + fraction + match.group(3).replace("Z", "+00:00"))
        except ValueError:
            return None
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
            return None
    return parsed
