from datetime import timedelta

import pytest
from incident_index import FAULT_AT, WINDOW_END, WINDOW_START, at

from itbench_server.analysis.traces import (
    PhaseStats,
    check_trace_service,
    error_traces,
    render_error_traces,
    render_tree,
    summarize_operations,
    trace_tree,
)
from itbench_server.errors import QueryError
from itbench_server.snapshot.snapshot import Snapshot


def test_summary_compares_server_operations_before_and_after_the_pivot(incident: Snapshot) -> None:
    summary = summarize_operations(
        incident, since=WINDOW_START, until=WINDOW_END, pivot=FAULT_AT, pivot_reason="fault"
    )

    assert [(op.service, op.operation, op.before, op.after) for op in summary.operations] == [
        (
            "ad",
            "oteldemo.AdService/GetAds",
            PhaseStats(10, 0, 20.0, 20.0, 20.0),
            PhaseStats(30, 30, 100.0, 100.0, 100.0),
        ),
        (
            "frontend",
            "GET /api/data",
            PhaseStats(10, 0, 40.0, 40.0, 40.0),
            PhaseStats(30, 30, 120.0, 120.0, 120.0),
        ),
    ]


def test_summary_of_client_spans_counts_outgoing_calls(incident: Snapshot) -> None:
    summary = summarize_operations(
        incident,
        since=WINDOW_START,
        until=WINDOW_END,
        pivot=FAULT_AT,
        pivot_reason="fault",
        kinds="client",
        sort="calls",
        service="FRONTEND",
    )

    assert [(op.operation, op.before.calls + op.after.calls) for op in summary.operations] == [
        ("HTTP GET", 40),
        ("oteldemo.AdService/GetAds", 40),
    ]


def test_errors_point_at_the_deepest_erroring_span(incident: Snapshot) -> None:
    found = error_traces(incident, since=WINDOW_START, until=WINDOW_END, limit=2, offset=1)

    assert found.error_traces == 30
    ((signature),) = found.signatures
    assert (
        signature.service,
        signature.operation,
        signature.message,
        signature.spans,
        signature.first_seen,
    ) == (
        "ad",
        "oteldemo.AdService/GetAds",
        "flag adFailure is on",
        30,
        FAULT_AT + timedelta(milliseconds=2),
    )
    assert render_error_traces(found) == [
        "  trace00330  2025-12-15T17:25:30Z  root: frontend GET /api/data  erroring: ad, frontend"
        "  messages: flag adFailure is on",
        "  trace00360  2025-12-15T17:26:00Z  root: frontend GET /api/data  erroring: ad, frontend"
        "  messages: flag adFailure is on",
    ]
    assert error_traces(incident, since=WINDOW_START, until=at(4), service="ad").error_traces == 0


def test_a_trace_renders_as_an_indented_tree(incident: Snapshot) -> None:
    assert render_tree(trace_tree(incident, "trace00300")) == [
        "frontend GET /api/data [Server] +0ms 120.0ms Error",
        "  frontend oteldemo.AdService/GetAds [Client] +1ms 110.0ms Error",
        "    ad oteldemo.AdService/GetAds [Server] +2ms 100.0ms Error flag adFailure is on",
        "  frontend HTTP GET [Client] +3ms 5.0ms",
    ]


def test_unknown_traces_and_services_say_where_to_look(incident: Snapshot) -> None:
    with pytest.raises(QueryError, match="find trace ids with mode='errors'"):
        trace_tree(incident, "nope")
    with pytest.raises(QueryError, match="traced services: ad, frontend"):
        check_trace_service(incident, "adservice")
