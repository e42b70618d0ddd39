import pytest
from incident_index import WINDOW_END, WINDOW_START, at

from itbench_server.analysis.logs import (
    LogCount,
    LogScope,
    check_log_filters,
    log_counts,
    log_templates,
    render_lines,
    search_lines,
    severity_threshold,
)
from itbench_server.errors import QueryError
from itbench_server.snapshot.snapshot import Snapshot

WHOLE_WINDOW = LogScope(WINDOW_START, WINDOW_END)


def test_lines_report_scope_and_match_counts_and_page_in_time_order(incident: Snapshot) -> None:
    scope = LogScope(WINDOW_START, WINDOW_END, pattern="ADFAILURE", ignore_case=True)

    result = search_lines(incident, scope, offset=1, limit=2)

    assert (result.in_scope, result.matched, result.offset) == (70, 30, 1)
    assert render_lines(result) == [
        "2025-12-15T17:25:30Z ad ad-5d9f7c6b8-x2x9q ERROR GetAds failed: flag adFailure is on, request id 0000014a-aaaa",
        "2025-12-15T17:26:00Z ad ad-5d9f7c6b8-x2x9q ERROR GetAds failed: flag adFailure is on, request id 00000168-aaaa",
    ]


def test_matching_is_case_sensitive_unless_asked(incident: Snapshot) -> None:
    scope = LogScope(WINDOW_START, WINDOW_END, pattern="ADFAILURE")

    assert search_lines(incident, scope, offset=0, limit=1).matched == 0


def test_newest_first_reverses_the_order(incident: Snapshot) -> None:
    result = search_lines(
        incident, LogScope(WINDOW_START, WINDOW_END, service="ad"), offset=0, limit=1, newest_first=True
    )

    assert [line.ts for line in result.lines] == [at(19.5)]


def test_min_severity_exclude_and_pod_prefix_narrow_the_scope(incident: Snapshot) -> None:
    errors = LogScope(WINDOW_START, WINDOW_END, min_severity="warning")
    assert search_lines(incident, errors, offset=0, limit=1).in_scope == 30
    by_pod = LogScope(WINDOW_START, WINDOW_END, pod="frontend", exclude=r"took [0-5]ms")
    assert search_lines(incident, by_pod, offset=0, limit=1).in_scope == 22


def test_patterns_mask_numbers_and_ids_and_count_lines(incident: Snapshot) -> None:
    templates = log_templates(incident, WHOLE_WINDOW)

    assert [(t.service, t.template, t.count, t.severity, t.first_seen) for t in templates] == [
        ("frontend", "GET /api/products <NUM> took <NUM>ms", 40, "INFO", at(0)),
        ("ad", "GetAds failed: flag adFailure is on, request id <HEX>-aaaa", 30, "ERROR", at(5)),
    ]


def test_counts_per_service_split_warnings_and_errors(incident: Snapshot) -> None:
    assert log_counts(incident, WHOLE_WINDOW, by="service") == [
        LogCount("frontend", 40, 0, 0),
        LogCount("ad", 30, 0, 30),
    ]
    per_minute = log_counts(incident, LogScope(WINDOW_START, at(6.5), service="ad"), by="minute")
    assert per_minute == [
        *(LogCount(f"2025-12-15T17:2{minute}Z", 0, 0, 0) for minute in range(5)),  # silent minutes too
        LogCount("2025-12-15T17:25Z", 2, 0, 2),
        LogCount("2025-12-15T17:26Z", 2, 0, 2),
    ]


def test_bad_filters_say_how_to_fix_them(incident: Snapshot) -> None:
    with pytest.raises(QueryError, match="use one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL"):
        severity_threshold("loud")
    with pytest.raises(QueryError, match=r"not a valid regular expression .*missing \)"):
        search_lines(incident, LogScope(WINDOW_START, WINDOW_END, pattern="a(b"), offset=0, limit=1)
    with pytest.raises(QueryError, match="services with logs: ad, frontend"):
        check_log_filters(incident, LogScope(WINDOW_START, WINDOW_END, service="adservice"))
    with pytest.raises(QueryError, match="pod 'cart' has no logs"):
        check_log_filters(incident, LogScope(WINDOW_START, WINDOW_END, pod="cart"))
