"""The service graph from the calls joined at index time is the one the spans give, for any range."""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from incident_index import WINDOW_END, WINDOW_START, at, build_index, incident_rows

from itbench_server.analysis.topology import service_calls
from itbench_server.snapshot.servicegraph import build_service_calls
from itbench_server.snapshot.snapshot import Snapshot


def _span(
    moment: datetime | None,
    trace: str,
    span: str,
    parent: str,
    kind: str,
    service: str | None,
    *,
    status: str = "Unset",
    attributes: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "ts": moment,
        "trace_id": trace,
        "span_id": span,
        "parent_span_id": parent,
        "name": f"{service} {kind}",
        "kind": kind,
        "service": service,
        "namespace": "otel-demo",
        "duration_ms": 5.0,
        "status": status,
        "span_attributes": attributes or {},
        "resource_attributes": {},
    }


def _rows_with_far_children() -> dict[str, list[dict[str, Any]]]:
    """The incident's rows, and calls whose children start far from them (or at no recorded time)."""
    rows = incident_rows()
    rows["spans"] += [
        # A message consumed three minutes after it was sent, and failing there.
        _span(at(10), "queue", "send", "", "Producer", "checkout", attributes={"messaging.system": "kafka"}),
        _span(at(13), "queue", "take", "send", "Consumer", "accounting", status="Error"),
        # A call with two children: one at once, one five minutes later.
        _span(at(12), "twice", "call", "", "Client", "checkout", attributes={"peer.service": "cart"}),
        _span(at(12) + timedelta(milliseconds=10), "twice", "now", "call", "Server", "cart"),
        _span(at(17), "twice", "later", "call", "Server", "cart-replica", status="Error"),
        # A failed call whose child has no start time, with an IP address as its server.address.
        _span(
            at(6),
            "untimed",
            "call",
            "",
            "Client",
            "frontend",
            status="Error",
            attributes={"server.address": "10.96.0.12:8080"},
        ),
        _span(None, "untimed", "child", "call", "Server", "email"),
        # A call whose only child recorded no service: its attributes name the callee.
        _span(
            at(8), "anonymous", "call", "", "Client", "frontend", attributes={"net.peer.name": "quote.otel"}
        ),
        _span(at(8) + timedelta(seconds=2), "anonymous", "child", "call", "Server", None),
    ]
    return rows


def _with_calls_joined(snapshot: Snapshot) -> Snapshot:
    snapshot.close()
    connection = duckdb.connect(str(snapshot.index_path))
    build_service_calls(connection)
    connection.close()
    return Snapshot(snapshot.scenario_dir, snapshot.index_path)


def test_the_calls_joined_at_index_time_give_the_graph_of_the_spans_for_any_range(tmp_path: Path) -> None:
    ranges = [
        (WINDOW_START, WINDOW_END),
        (WINDOW_START, at(4)),
        (at(9), at(11)),  # the message is sent, its consumer starts more than a minute later
        (at(9), at(12)),  # ... and now at most a minute after
        (at(5.5), at(12) + timedelta(seconds=30)),
        (at(12), at(12)),
        (at(11) + timedelta(seconds=59, microseconds=999_999), at(16)),
        (at(16) + timedelta(seconds=1), WINDOW_END),
        (at(7.99), at(8.01)),
    ]
    rows = _rows_with_far_children()
    (tmp_path / "spans").mkdir()
    (tmp_path / "joined").mkdir()
    from_spans = build_index(tmp_path / "spans", rows)
    joined = _with_calls_joined(build_index(tmp_path / "joined", rows))
    try:
        assert joined.query("SELECT count(DISTINCT client_id) FROM service_calls_far") == [(3,)]
        for since, until in ranges:
            expected = service_calls(from_spans, since=since, until=until)
            assert service_calls(joined, since=since, until=until) == expected, (since, until)
        full = {
            (edge.caller, edge.callee, edge.via)
            for edge in service_calls(joined, since=WINDOW_START, until=WINDOW_END)
        }
        assert {
            ("checkout", "accounting", "spans"),
            ("checkout", "cart", "spans"),
            ("frontend", "10.96.0.12:8080", "attributes"),
            ("frontend", "quote", "attributes"),
        } <= full
    finally:
        from_spans.close()
        joined.close()
