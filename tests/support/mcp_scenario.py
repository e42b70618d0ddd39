"""A small scenario directory in the published layout, for the MCP server's tests.

Story: at 17:25 the ``ad`` Deployment's pod starts crash-looping; ``frontend`` logs errors and
an alert fires. The directory also holds a ``ground_truth.yaml`` whose marker must never reach
a client, and symlinks to it dressed up as evidence files.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

GROUND_TRUTH_MARKER = "gt-marker-5f1c0ae9-ad-is-the-answer"
START = datetime(2025, 12, 15, 17, 20)


def at(minute: float) -> datetime:
    return START + timedelta(minutes=minute)


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f000")


def _tsv(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _deployment(name: str, ready: int, desired: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "otel-demo", "uid": f"uid-deploy-{name}"},
        "spec": {"replicas": desired, "selector": {"matchLabels": {"app": name}}},
        "status": {"replicas": desired, "readyReplicas": ready},
    }


def _pod(name: str, app: str, phase: str, ready: bool) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "otel-demo",
            "uid": f"uid-pod-{name}",
            "labels": {"app": app},
        },
        "spec": {"nodeName": "worker-1", "containers": [{"name": app, "image": f"ghcr.io/demo/{app}:1.0"}]},
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": str(ready)}]},
    }


def _objects() -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "otel-demo", "uid": "uid-ns"}},
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1", "uid": "uid-node"}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "flagd-config", "namespace": "otel-demo", "uid": "uid-cm"},
            "data": {"demo.flagd.json": "{}"},
        },
    ]


def write_scenario(root: Path) -> Path:
    """Write the scenario under ``root/Scenario-1`` and return its directory."""
    scenario = root / "Scenario-1"
    (scenario / "alerts").mkdir(parents=True)
    (scenario / "metrics").mkdir()
    (root / "outside-secret.txt").write_text("outside the scenario\n", encoding="utf-8")
    (scenario / "ground_truth.yaml").write_text(
        f"groups:\n- id: ad-1\n  kind: Deployment\n  namespace: otel-demo\n  filter: ['{GROUND_TRUTH_MARKER}']\n"
        "  root_cause: true\n",
        encoding="utf-8",
    )
    # Symlinks named like evidence, pointing at the answer key: ingest must refuse them.
    (scenario / "otel_logs.tsv").symlink_to(scenario / "ground_truth.yaml")
    (scenario / "metrics" / "pod_answer_raw.tsv").symlink_to("../ground_truth.yaml")
    (scenario / "alerts" / "alerts_at_2025-12-15T17-19-00.000000.json").symlink_to("../ground_truth.yaml")

    log_header = ["Timestamp", "SeverityText", "SeverityNumber", "ServiceName", "Body", "ResourceAttributes"]
    logs = []
    for minute in range(20):
        for service, pod in (("frontend", "frontend-7d9f8-abcde"), ("ad", "ad-5d9f7c6b8-x2x9q")):
            attributes = json.dumps({"k8s.pod.name": pod, "k8s.namespace.name": "otel-demo"})
            failing = minute >= 5
            if service == "ad" and failing:
                logs.append(
                    [_ts(at(minute)), "ERROR", 17, service, "java.lang.OutOfMemoryError: heap", attributes]
                )
            elif service == "frontend" and failing:
                logs.append(
                    [_ts(at(minute)), "ERROR", 17, service, "failed to get ads: rpc error", attributes]
                )
            else:
                logs.append([_ts(at(minute)), "INFO", 9, service, f"served request {minute}", attributes])
    (scenario / "otel_logs_raw.tsv").write_text(_tsv(log_header, logs), encoding="utf-8")

    span_header = [
        "Timestamp",
        "TraceId",
        "SpanId",
        "ParentSpanId",
        "SpanName",
        "SpanKind",
        "ServiceName",
        "Duration",
        "StatusCode",
    ]
    spans = [
        [
            _ts(at(minute)),
            f"t{minute}",
            f"s{minute}",
            "",
            "GET /",
            "Server",
            "frontend",
            12_000_000,
            "Error" if minute >= 5 else "Unset",
        ]
        for minute in range(20)
    ]
    (scenario / "otel_traces_raw.tsv").write_text(_tsv(span_header, spans), encoding="utf-8")

    listing_header = ["Timestamp", "Body", "LogAttributes"]
    listings = []
    for minute, ad_ready in ((0, 1), (5, 0), (10, 0), (15, 0)):
        resources = [
            *_objects(),
            _deployment("ad", ad_ready),
            _deployment("frontend", 1),
            _pod("ad-5d9f7c6b8-x2x9q", "ad", "Running", bool(ad_ready)),
            _pod("frontend-7d9f8-abcde", "frontend", "Running", True),
        ]
        listings += [[_ts(at(minute)), json.dumps(body), "{}"] for body in resources]
    (scenario / "k8s_objects_raw.tsv").write_text(_tsv(listing_header, listings), encoding="utf-8")

    event = {
        "type": "ADDED",
        "object": {
            "metadata": {"name": "ad.1", "namespace": "otel-demo"},
            "involvedObject": {"kind": "Pod", "name": "ad-5d9f7c6b8-x2x9q", "namespace": "otel-demo"},
            "reason": "BackOff",
            "message": "Back-off restarting failed container ad",
            "type": "Warning",
            "count": 4,
            "firstTimestamp": "2025-12-15T17:26:00Z",
            "lastTimestamp": "2025-12-15T17:34:00Z",
        },
    }
    (scenario / "k8s_events_raw.tsv").write_text(
        _tsv(["Timestamp", "Body"], [[_ts(at(6)), json.dumps(event)]]), encoding="utf-8"
    )

    metric_header = ["metric_name", "timestamp", "value", "pod_name", "namespace", "tags"]
    samples = [
        [
            "kube_pod_container_status_restarts_total",
            _ts(at(minute)),
            max(0, minute - 5),
            "ad-5d9f7c6b8-x2x9q",
            "otel-demo",
            json.dumps({"container": "ad"}),
        ]
        for minute in range(20)
    ]
    (scenario / "metrics" / "pod_ad-5d9f7c6b8-x2x9q_raw.tsv").write_text(
        _tsv(metric_header, samples), encoding="utf-8"
    )

    for minute in range(6, 20):
        alerts = [
            {
                "labels": {
                    "alertname": "HighRequestErrorRate",
                    "service_name": "frontend",
                    "namespace": "otel-demo",
                    "severity": "critical",
                },
                "annotations": {"description": "Request error rate in service frontend is high"},
                "state": "firing",
                "activeAt": "2025-12-15T17:26:00Z",
                "value": "0.4",
            }
        ]
        stamp = at(minute).strftime("%Y-%m-%dT%H-%M-%S.%f")
        (scenario / "alerts" / f"alerts_at_{stamp}.json").write_text(json.dumps(alerts), encoding="utf-8")
    return scenario


def text_of(result: Any) -> str:
    """The text a tool result carries (all text blocks joined)."""
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")
