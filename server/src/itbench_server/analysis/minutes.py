"""Counting per minute: the minutes of a range, and when a count became sustained."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

__all__ = ["SUSTAINED_MINUTES", "SUSTAINED_SHARE", "minute_of", "minutes_between", "onset_of"]

SUSTAINED_SHARE: Final = 0.8
"""An onset starts a run in which at least this share of the minutes count something..."""
SUSTAINED_MINUTES: Final = 5
"""...over the next this many minutes (or what is left of the range, at least two)."""


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def minutes_between(since: datetime, until: datetime) -> list[datetime]:
    """Every minute from the one holding ``since`` to the one holding ``until`` (not the minute
    that merely starts at ``until``: a range ending at 17:40:00 ends with the minute 17:39)."""
    first, last = minute_of(since), minute_of(until)
    if last == until and last > first:
        last -= timedelta(minutes=1)
    count = int((last - first).total_seconds() // 60) + 1
    return [first + timedelta(minutes=index) for index in range(count)]


def onset_of(counts: dict[datetime, int], last_minute: datetime) -> datetime | None:
    """The earliest minute with a count such that at least :data:`SUSTAINED_SHARE` of the
    :data:`SUSTAINED_MINUTES` minutes from it (fewer near ``last_minute``, but at least two) have
    one: where a run of counts begins, as opposed to a stray one. None if there is none."""
    counted = {minute for minute, count in counts.items() if count}
    for minute in sorted(counted):
        left = int((last_minute - minute).total_seconds() // 60) + 1
        length = min(SUSTAINED_MINUTES, left)
        if length < 2:
            return None
        run = sum(1 for step in range(length) if minute + timedelta(minutes=step) in counted)
        if run >= SUSTAINED_SHARE * length:
            return minute
    return None
