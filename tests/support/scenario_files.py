"""Hand-written scenario files for loader tests: each test writes exactly the bytes it needs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

LOG_COLUMNS = [
    "Timestamp", "TimestampTime", "TraceId", "SpanId", "TraceFlags", "SeverityText", "SeverityNumber",
    "ServiceName", "Body", "ResourceSchemaUrl", "ResourceAttributes", "ScopeSchemaUrl", "ScopeName",
    "ScopeVersion", "ScopeAttributes", "LogAttributes",
]  # fmt: skip
SPAN_COLUMNS = [
    "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind", "ServiceName",
    "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes", "Duration", "StatusCode",
    "StatusMessage",
]  # fmt: skip
POD_METRIC_COLUMNS = ["metric_name", "timestamp", "value", "pod_name", "namespace", "tags"]
SERVICE_METRIC_COLUMNS = [
    "metric_name", "timestamp", "value", "service_name", "namespace", "bucket_le", "tags", "metric_type",
    "status_code",
]  # fmt: skip


def tsv_text(columns: list[str], rows: list[dict[str, str]]) -> str:
    """Rows as Go's encoding/csv would write them with a tab delimiter."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    return buffer.getvalue()


def write_tsv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tsv_text(columns, rows), encoding="utf-8")
    return path


def log_row(
    ts: str, body: str, *, pod: str = "ad-6b7d9-abcde", service: str = "ad", **extra: str
) -> dict[str, str]:
    attributes = {"k8s.pod.name": pod, "k8s.namespace.name": "otel-demo", "k8s.container.name": service}
    return {
        "Timestamp": ts,
        "ServiceName": service,
        "Body": body,
        "SeverityText": "INFO",
        "SeverityNumber": "9",
        "ResourceAttributes": repr(attributes),
        **extra,
    }


def watch_record(obj: dict[str, Any], watch_type: str = "ADDED") -> str:
    return json.dumps({"type": watch_type, "object": obj})


def object_row(ts: str, obj: dict[str, Any], resource: str, *, twice_encoded: bool = False) -> dict[str, str]:
    body = json.dumps(obj)
    return {
        "Timestamp": ts,
        "Body": json.dumps(body) if twice_encoded else body,
        "LogAttributes": repr({"k8s.resource.name": resource}),
    }


def minimal_scenario(root: Path) -> Path:
    """A scenario with one line of logs: enough to be read."""
    write_tsv(root / "otel_logs_raw.tsv", LOG_COLUMNS, [log_row("2025-12-15 17:25:19.123456789", "started")])
    return root
