from datetime import datetime, timedelta

import pytest

from itbench_server.analysis.timeparse import (
    format_duration,
    format_time,
    parse_duration,
    parse_time,
    parse_time_range,
)
from itbench_server.errors import QueryError
from itbench_server.snapshot.snapshot import TimeWindow

WINDOW = TimeWindow(datetime(2025, 12, 15, 17, 20), datetime(2025, 12, 15, 17, 40))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-12-15T17:25:19Z", datetime(2025, 12, 15, 17, 25, 19)),
        ("2025-12-15T18:25:19+01:00", datetime(2025, 12, 15, 17, 25, 19)),
        ("2025-12-15T17:25:19", datetime(2025, 12, 15, 17, 25, 19)),
        ("2025-12-15 17:25:19.5", datetime(2025, 12, 15, 17, 25, 19, 500000)),
        ("start", WINDOW.start),
        ("end", WINDOW.end),
        ("now", WINDOW.end),
        ("start+3m", datetime(2025, 12, 15, 17, 23)),
        ("end-10m", datetime(2025, 12, 15, 17, 30)),
        ("END - 90s", datetime(2025, 12, 15, 17, 38, 30)),
        ("-5m", datetime(2025, 12, 15, 17, 35)),
        ("+2m", datetime(2025, 12, 15, 17, 22)),
        ("+1h30m", datetime(2025, 12, 15, 18, 50)),
    ],
)
def test_user_times_become_naive_utc(text: str, expected: datetime) -> None:
    assert parse_time(text, WINDOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "start+3", "end-5x", "", "17h"])
def test_unreadable_times_name_the_accepted_forms(text: str) -> None:
    with pytest.raises(QueryError, match=r"since: .*(RFC 3339|unit)"):
        parse_time(text, WINDOW, what="since")


def test_durations_chain_units() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("1.5m") == timedelta(seconds=90)
    with pytest.raises(QueryError, match="30s, 5m, 1h30m"):
        parse_duration("5 minutes")


def test_time_range_defaults_to_the_window_and_rejects_reversed_bounds() -> None:
    assert parse_time_range(None, None, WINDOW) == (WINDOW.start, WINDOW.end)
    assert parse_time_range("-5m", None, WINDOW) == (datetime(2025, 12, 15, 17, 35), WINDOW.end)
    with pytest.raises(QueryError, match=r"since .* is after until"):
        parse_time_range("end", "start", WINDOW)


def test_times_and_durations_format_compactly() -> None:
    assert format_time(datetime(2025, 12, 15, 17, 25, 19, 999)) == "2025-12-15T17:25:19Z"
    assert [format_duration(timedelta(seconds=s)) for s in (45, 725, 3720)] == ["45s", "12m05s", "1h02m"]
