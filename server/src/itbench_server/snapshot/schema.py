"""The normalized tables of a scenario index: the contract between ingest and every query.

All timestamps are UTC ``TIMESTAMP`` (microseconds). Attribute maps are kept as JSON text
(``VARCHAR``) whatever form the source used (Python dict literal, JSON or Go ``map[...]``), so
``json_extract_string(resource_attributes, '$."k8s.pod.name"')`` works on every table. Columns
that a source file lacks are NULL, never missing.

Every table is filled at ingest and never changed afterwards; queries open the index read-only.
"""

from __future__ import annotations

from typing import Final

__all__ = ["EVIDENCE_TABLES", "SCHEMA_VERSION", "TABLE_DDL"]

SCHEMA_VERSION: Final = 1

TABLE_DDL: Final[dict[str, str]] = {
    # otel_logs_raw.tsv: application logs.
    "logs": """
        CREATE TABLE logs (
            ts TIMESTAMP,                 -- Timestamp of the record
            service VARCHAR,              -- ServiceName
            namespace VARCHAR,            -- k8s.namespace.name
            pod VARCHAR,                  -- k8s.pod.name
            container VARCHAR,            -- k8s.container.name
            severity VARCHAR,             -- normalized: TRACE DEBUG INFO WARN ERROR FATAL, '' if unknown
            severity_number INTEGER,      -- SeverityNumber (13+ is WARN or worse); NULL if absent
            body VARCHAR,                 -- the log line
            trace_id VARCHAR,
            span_id VARCHAR,
            resource_attributes VARCHAR,  -- JSON object text
            log_attributes VARCHAR        -- JSON object text
        )""",
    # otel_traces_raw.tsv: one row per span.
    "spans": """
        CREATE TABLE spans (
            ts TIMESTAMP,                 -- span start
            trace_id VARCHAR,
            span_id VARCHAR,
            parent_span_id VARCHAR,       -- '' for a root span
            name VARCHAR,                 -- SpanName
            kind VARCHAR,                 -- normalized: Server Client Internal Producer Consumer Unspecified
            service VARCHAR,              -- ServiceName
            namespace VARCHAR,
            pod VARCHAR,
            duration_ms DOUBLE,           -- Duration (ns in the source) / 1e6
            status VARCHAR,               -- normalized: Unset Ok Error
            status_message VARCHAR,
            span_attributes VARCHAR,      -- JSON object text
            resource_attributes VARCHAR   -- JSON object text
        )""",
    # k8s_events_raw.tsv: core v1 and events.k8s.io/v1 events, one row per watch record.
    "events": """
        CREATE TABLE events (
            ts TIMESTAMP,                 -- when the record was observed (Timestamp column)
            watch_type VARCHAR,           -- ADDED MODIFIED DELETED ('' when the body was a bare Event)
            namespace VARCHAR,            -- the event's own namespace
            name VARCHAR,                 -- the Event object's name
            object_kind VARCHAR,          -- involvedObject.kind / regarding.kind
            object_namespace VARCHAR,
            object_name VARCHAR,
            reason VARCHAR,
            message VARCHAR,              -- message / note
            type VARCHAR,                 -- Normal Warning
            count INTEGER,                -- count / series.count, 1 when absent
            first_seen TIMESTAMP,         -- firstTimestamp / eventTime / ts
            last_seen TIMESTAMP,          -- lastTimestamp / series.lastObservedTime / eventTime / ts
            source VARCHAR,               -- source.component / reportingController
            body VARCHAR                  -- the Event object as JSON text
        )""",
    # k8s_objects_raw.tsv: every listing of every object; "as of T" = last listing at or before T.
    "objects": """
        CREATE TABLE objects (
            listed_at TIMESTAMP,          -- Timestamp of the listing row
            resource VARCHAR,             -- k8s.resource.name (pods, deployments, ...), derived from kind if absent
            api_version VARCHAR,
            kind VARCHAR,
            namespace VARCHAR,            -- '' for cluster-scoped objects
            name VARCHAR,
            uid VARCHAR,
            watch_type VARCHAR,           -- ADDED MODIFIED DELETED or '' for a plain listing
            body VARCHAR                  -- the object as JSON text; Secret data, managedFields and
                                          -- last-applied-configuration stripped at ingest
        )""",
    # metrics/pod_*_raw.tsv and metrics/service_*_raw.tsv.
    "samples": """
        CREATE TABLE samples (
            metric VARCHAR,               -- metric_name
            ts TIMESTAMP,
            value DOUBLE,
            source VARCHAR,               -- 'pod' or 'service': which kind of file it came from
            entity VARCHAR,               -- pod_name or service_name
            namespace VARCHAR,
            container VARCHAR,            -- tags.container when present
            bucket_le VARCHAR,            -- histogram bucket upper bound ('+Inf' included), NULL otherwise
            status_code VARCHAR,
            metric_type VARCHAR,
            labels VARCHAR                -- JSON object text of the whole label set (tags)
        )""",
    # alerts/alerts_*.json: one row per firing alert per sampling minute.
    "alerts": """
        CREATE TABLE alerts (
            sampled_at TIMESTAMP,         -- the minute of the file (from its name, else its timestamp)
            alertname VARCHAR,
            severity VARCHAR,
            state VARCHAR,
            active_at TIMESTAMP,
            namespace VARCHAR,
            service VARCHAR,              -- labels.service_name / service / job, best effort
            pod VARCHAR,
            value VARCHAR,
            labels VARCHAR,               -- JSON object text
            annotations VARCHAR           -- JSON object text
        )""",
    # What ingest found and what it skipped: the answer to "what is in this snapshot?".
    "inventory": """
        CREATE TABLE inventory (
            file VARCHAR,                 -- path relative to the scenario directory
            table_name VARCHAR,           -- the table it went to ('' when it was not read)
            rows BIGINT,
            bytes BIGINT
        )""",
    "skipped": """
        CREATE TABLE skipped (
            file VARCHAR,                 -- path relative to the scenario directory
            line BIGINT,                  -- 1-based line in the file, NULL when the whole file
            reason VARCHAR
        )""",
    "meta": """
        CREATE TABLE meta (
            key VARCHAR,
            value VARCHAR
        )""",
}

EVIDENCE_TABLES: Final = ("logs", "spans", "events", "objects", "samples", "alerts")
