"""Service calls, joined once at index time: the client spans with the server spans they led to.

The service graph of ``get_topology`` counts, for a time range, each client (or producer) span
of a service with its server (or consumer) child spans, or with the callee its attributes name
when no child was recorded. Joining the 1.2 M spans of a large incident for it took 0.3 s on
a quiet machine; the join does not depend on the range but for two bounds (the client span
starts in the range; a child counts when it starts at most a minute outside it), so it is done
here once and a range is a scan of these rows.

Two tables beside ``spans`` (not part of the ``run_sql`` contract, :data:`TABLE_DDL`):

* ``service_calls (ts, caller, callee, via, failed)``: one row per (client span, child) pair, or
  per client span without a child, as the range query counts them, for every client span whose
  children all start within a minute of it (in any range that holds the client span, the range
  query finds all of them); rows that never count (no callee, or a call to itself) are left out;
* ``service_calls_far``: the rare client spans with a child that starts more than a minute from
  it (a message consumed later, say) or at no recorded time, one row per child with the
  child's start, so that the range query's bound on children is applied when the range is known.

:func:`~itbench_server.analysis.topology.service_calls` reads them when the index has them and
joins the spans otherwise (an index built before them); both give the same graph.
"""

from __future__ import annotations

from typing import Final

import duckdb

__all__ = ["SERVICE_CALL_TABLES", "build_service_calls", "callee_sql"]

SERVICE_CALL_TABLES: Final = ("service_calls", "service_calls_far")


def callee_sql(attributes: str) -> str:
    """SQL for the callee a client span's attributes name (``attributes``: its ``span_attributes``
    column), used when no server span of the callee was recorded for the call."""
    address = f"json_extract_string({attributes}, '$.\"server.address\"')"
    return f"""coalesce(
        json_extract_string({attributes}, '$."peer.service"'),
        CASE WHEN regexp_matches({address}, '^[0-9.:]+$') THEN {address} ELSE split_part({address}, '.', 1) END,
        split_part(json_extract_string({attributes}, '$."net.peer.name"'), '.', 1),
        json_extract_string({attributes}, '$."db.system"'),
        json_extract_string({attributes}, '$."messaging.system"')
    )"""


def build_service_calls(db: duckdb.DuckDBPyConnection) -> None:
    """Fill ``service_calls`` and ``service_calls_far`` from ``spans`` (see the module's doc)."""
    # A far client's attribute callee is kept even where a child named the callee: in a range
    # that leaves that child out, the attributes are all there is.
    db.execute(
        f"""
        CREATE TEMP TABLE service_call_pairs AS
        WITH clients AS (
            SELECT rowid AS client_id, trace_id, span_id, ts, service, status, span_attributes FROM spans
            WHERE kind IN ('Client', 'Producer') AND ts IS NOT NULL
        ),
        servers AS (
            SELECT trace_id, parent_span_id, ts, service, status FROM spans
            WHERE kind IN ('Server', 'Consumer') AND coalesce(parent_span_id, '') <> ''
        ),
        pairs AS (
            SELECT c.client_id, c.ts, c.service AS caller, c.status = 'Error' AS client_failed,
                   s.parent_span_id IS NOT NULL AS has_server, s.ts AS server_ts,
                   s.service AS server_service, s.status AS server_status, c.span_attributes,
                   s.parent_span_id IS NOT NULL AND (
                       s.ts IS NULL OR s.ts NOT BETWEEN c.ts - INTERVAL 1 MINUTE AND c.ts + INTERVAL 1 MINUTE
                   ) AS far
            FROM clients c LEFT JOIN servers s ON s.trace_id = c.trace_id AND s.parent_span_id = c.span_id
        )
        SELECT * EXCLUDE (span_attributes),
               CASE WHEN server_service IS NULL OR far THEN {callee_sql("span_attributes")} END AS attribute_callee
        FROM pairs
        """
    )
    far_clients = "SELECT client_id FROM service_call_pairs WHERE far"
    db.execute(
        f"""
        CREATE TABLE service_calls AS
        SELECT ts, caller, callee, via, failed FROM (
            SELECT ts, caller, coalesce(server_service, attribute_callee) AS callee,
                   CASE WHEN server_service IS NULL THEN 'attributes' ELSE 'spans' END AS via,
                   client_failed OR coalesce(server_status, '') = 'Error' AS failed
            FROM service_call_pairs
            WHERE client_id NOT IN ({far_clients})
        )
        WHERE callee IS NOT NULL AND callee <> '' AND callee <> caller
        """
    )
    db.execute(
        f"""
        CREATE TABLE service_calls_far AS
        SELECT * EXCLUDE (far) FROM service_call_pairs WHERE client_id IN ({far_clients})
        """
    )
    db.execute("DROP TABLE service_call_pairs")
