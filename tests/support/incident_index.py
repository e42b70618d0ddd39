"""A small hand-made index for the analysis and investigation tool tests: an ad feature-flag
incident in a 20-minute window.

Story: at 17:25 the ``adFailure`` flag of ``otel-demo/ConfigMap/flagd-config`` flips to ``on``;
``ad`` then fails its gRPC calls, ``frontend`` sees errors, and an alert fires. A ResourceQuota
also blocks a ReplicaSet, and the ``cart`` Deployment is rolled to a new image.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from itbench_server.snapshot.logtemplates import mine_log_templates
from itbench_server.snapshot.schema import SCHEMA_VERSION, TABLE_DDL
from itbench_server.snapshot.snapshot import Snapshot

WINDOW_START = datetime(2025, 12, 15, 17, 20)
WINDOW_END = datetime(2025, 12, 15, 17, 40)
FAULT_AT = datetime(2025, 12, 15, 17, 25)


def at(minute: float) -> datetime:
    """The time ``minute`` minutes after 17:20."""
    return WINDOW_START + timedelta(minutes=minute)


def build_index(directory: Path, tables: dict[str, list[dict[str, Any]]]) -> Snapshot:
    """Write the given rows (missing columns are NULL) as a DuckDB index of the window and open it."""
    index_path = directory / "index.duckdb"
    connection = duckdb.connect(str(index_path))
    for ddl in TABLE_DDL.values():
        connection.execute(ddl)
    for table, rows in tables.items():
        by_columns: dict[tuple[str, ...], list[list[Any]]] = {}
        for row in rows:
            values = [json.dumps(v) if isinstance(v, dict) else v for v in row.values()]
            by_columns.setdefault(tuple(row), []).append(values)
        for columns, values in by_columns.items():
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                values,
            )
    mine_log_templates(connection)
    connection.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [
            ["window_start", WINDOW_START.isoformat()],
            ["window_end", WINDOW_END.isoformat()],
            ["schema_version", str(SCHEMA_VERSION)],
        ],
    )
    connection.close()
    return Snapshot(directory, index_path)


def _object(
    minute: float, kind: str, namespace: str, name: str, body: dict[str, Any], resource: str
) -> dict[str, Any]:
    metadata = {"name": name, "uid": f"uid-{kind}-{name}", **body.pop("metadata", {})}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "listed_at": at(minute),
        "resource": resource,
        "api_version": body.pop("apiVersion", "v1"),
        "kind": kind,
        "namespace": namespace,
        "name": name,
        "uid": f"uid-{kind}-{name}",
        "watch_type": "",
        "body": {"kind": kind, "metadata": metadata, **body},
    }


def _flags(ad_failure: str) -> str:
    return json.dumps(
        {
            "flags": {
                "adFailure": {
                    "state": "ENABLED",
                    "variants": {"on": True, "off": False},
                    "defaultVariant": ad_failure,
                },
                "cartFailure": {
                    "state": "ENABLED",
                    "variants": {"on": True, "off": False},
                    "defaultVariant": "off",
                },
            }
        },
        indent=2,
    )


def incident_objects() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for minute in (0, 5, 10, 15):
        after_fault = minute >= 5
        rows.append(
            _object(
                minute,
                "ConfigMap",
                "otel-demo",
                "flagd-config",
                {"data": {"demo.flagd.json": _flags("on" if after_fault else "off")}},
                "configmaps",
            )
        )
        rows.append(
            _object(
                minute,
                "Deployment",
                "otel-demo",
                "ad",
                {
                    "apiVersion": "apps/v1",
                    "metadata": {
                        "labels": {"app": "ad"},
                        "resourceVersion": str(100 + minute),
                        "generation": 1,
                    },
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": {"app": "ad"}},
                        "template": {
                            "metadata": {"labels": {"app": "ad"}},
                            "spec": {
                                "containers": [
                                    {
                                        "name": "ad",
                                        "image": "ghcr.io/open-telemetry/demo:2.0.2-ad",
                                        "env": [{"name": "FLAGD_HOST", "value": "flagd"}],
                                    }
                                ]
                            },
                        },
                    },
                    "status": {"readyReplicas": 1 if minute < 10 else 0},
                },
                "deployments",
            )
        )
        rows.append(
            _object(
                minute,
                "Deployment",
                "otel-demo",
                "cart",
                {
                    "apiVersion": "apps/v1",
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": {"app": "cart"}},
                        "template": {
                            "metadata": {"labels": {"app": "cart"}},
                            "spec": {
                                "containers": [
                                    {
                                        "name": "cart",
                                        "image": "demo:2.0.2-cart" if minute < 10 else "demo:9.9.9-cart",
                                    }
                                ]
                            },
                        },
                    },
                },
                "deployments",
            )
        )
        rows.append(
            _object(
                minute,
                "ReplicaSet",
                "otel-demo",
                "ad-5d9f7c6b8",
                {
                    "apiVersion": "apps/v1",
                    "metadata": {
                        "ownerReferences": [{"kind": "Deployment", "name": "ad", "uid": "uid-Deployment-ad"}]
                    },
                    "spec": {"replicas": 1},
                },
                "replicasets",
            )
        )
        rows.append(
            _object(
                minute,
                "Pod",
                "otel-demo",
                "ad-5d9f7c6b8-x2x9q",
                {
                    "metadata": {
                        "labels": {"app": "ad"},
                        "ownerReferences": [
                            {
                                "kind": "ReplicaSet",
                                "name": "ad-5d9f7c6b8",
                                "uid": "uid-ReplicaSet-ad-5d9f7c6b8",
                            }
                        ],
                    },
                    "spec": {
                        "nodeName": "worker-1",
                        "containers": [
                            {
                                "name": "ad",
                                "envFrom": [{"configMapRef": {"name": "ad-env"}}],
                                "env": [
                                    {
                                        "name": "TOKEN",
                                        "valueFrom": {"secretKeyRef": {"name": "ad-secret", "key": "t"}},
                                    }
                                ],
                            }
                        ],
                        "volumes": [{"name": "flags", "configMap": {"name": "flagd-config"}}],
                    },
                    "status": {"phase": "Running"},
                },
                "pods",
            )
        )
        rows.append(
            _object(
                minute,
                "Service",
                "otel-demo",
                "ad",
                {"spec": {"selector": {"app": "ad"}, "ports": [{"port": 8080}]}},
                "services",
            )
        )
        rows.append(
            _object(
                minute,
                "HorizontalPodAutoscaler",
                "otel-demo",
                "ad",
                {
                    "apiVersion": "autoscaling/v2",
                    "spec": {
                        "minReplicas": 1,
                        "maxReplicas": 3,
                        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ad"},
                    },
                },
                "horizontalpodautoscalers",
            )
        )
        rows.append(_object(minute, "Node", "", "worker-1", {"spec": {}}, "nodes"))
        rows.append(_object(minute, "Namespace", "", "otel-demo", {"spec": {}}, "namespaces"))
        if minute >= 5:
            rows.append(
                _object(
                    minute,
                    "ResourceQuota",
                    "otel-demo",
                    "strict-resource-quota",
                    {"spec": {"hard": {"memory": "100Mi"}}},
                    "resourcequotas",
                )
            )
    return rows


def incident_rows() -> dict[str, list[dict[str, Any]]]:
    logs: list[dict[str, Any]] = []
    spans: list[dict[str, Any]] = []
    for second in range(0, 20 * 60, 30):
        moment = WINDOW_START + timedelta(seconds=second)
        failing = moment >= FAULT_AT
        trace_id = f"trace{second:05d}"
        resource = {"k8s.pod.name": "ad-5d9f7c6b8-x2x9q", "k8s.namespace.name": "otel-demo"}
        logs.append(
            {
                "ts": moment,
                "service": "frontend",
                "namespace": "otel-demo",
                "pod": "frontend-7c9f8d6b5-kq2zx",
                "container": "frontend",
                "severity": "INFO",
                "severity_number": 9,
                "body": f"GET /api/products 200 took {second % 7 + 3}ms",
                "resource_attributes": {"k8s.pod.name": "frontend-7c9f8d6b5-kq2zx"},
                "log_attributes": {},
            }
        )
        if failing:
            logs.append(
                {
                    "ts": moment,
                    "service": "ad",
                    "namespace": "otel-demo",
                    "pod": "ad-5d9f7c6b8-x2x9q",
                    "container": "ad",
                    "severity": "ERROR",
                    "severity_number": 17,
                    "body": f"GetAds failed: flag adFailure is on, request id {second:08x}-aaaa",
                    "trace_id": trace_id,
                    "resource_attributes": resource,
                    "log_attributes": {},
                }
            )
        spans.append(
            {
                "ts": moment,
                "trace_id": trace_id,
                "span_id": f"{trace_id}-1",
                "parent_span_id": "",
                "name": "GET /api/data",
                "kind": "Server",
                "service": "frontend",
                "namespace": "otel-demo",
                "pod": "frontend-7c9f8d6b5-kq2zx",
                "duration_ms": 40.0 if not failing else 120.0,
                "status": "Error" if failing else "Unset",
                "status_message": "",
                "span_attributes": {},
                "resource_attributes": {},
            }
        )
        spans.append(
            {
                "ts": moment + timedelta(milliseconds=1),
                "trace_id": trace_id,
                "span_id": f"{trace_id}-2",
                "parent_span_id": f"{trace_id}-1",
                "name": "oteldemo.AdService/GetAds",
                "kind": "Client",
                "service": "frontend",
                "namespace": "otel-demo",
                "pod": "frontend-7c9f8d6b5-kq2zx",
                "duration_ms": 30.0 if not failing else 110.0,
                "status": "Error" if failing else "Unset",
                "status_message": "",
                "span_attributes": {"rpc.service": "oteldemo.AdService"},
                "resource_attributes": {},
            }
        )
        spans.append(
            {
                "ts": moment + timedelta(milliseconds=2),
                "trace_id": trace_id,
                "span_id": f"{trace_id}-3",
                "parent_span_id": f"{trace_id}-2",
                "name": "oteldemo.AdService/GetAds",
                "kind": "Server",
                "service": "ad",
                "namespace": "otel-demo",
                "pod": "ad-5d9f7c6b8-x2x9q",
                "duration_ms": 20.0 if not failing else 100.0,
                "status": "Error" if failing else "Unset",
                "status_message": "flag adFailure is on" if failing else "",
                "span_attributes": {},
                "resource_attributes": resource,
            }
        )
        spans.append(
            {
                "ts": moment + timedelta(milliseconds=3),
                "trace_id": trace_id,
                "span_id": f"{trace_id}-4",
                "parent_span_id": f"{trace_id}-1",
                "name": "HTTP GET",
                "kind": "Client",
                "service": "frontend",
                "namespace": "otel-demo",
                "pod": "frontend-7c9f8d6b5-kq2zx",
                "duration_ms": 5.0,
                "status": "Unset",
                "status_message": "",
                "span_attributes": {"server.address": "product-catalog"},
                "resource_attributes": {},
            }
        )

    samples: list[dict[str, Any]] = []
    for minute in range(21):
        moment = at(minute)
        errors = max(0, minute - 5) * 60.0
        samples.append(
            {
                "metric": "traces_span_metrics_calls_total",
                "ts": moment,
                "value": errors,
                "source": "service",
                "entity": "ad",
                "namespace": "otel-demo",
                "status_code": "STATUS_CODE_ERROR",
                "labels": {"service_name": "ad", "status_code": "STATUS_CODE_ERROR"},
            }
        )
        samples.append(
            {
                "metric": "traces_span_metrics_calls_total",
                "ts": moment,
                "value": minute * 120.0,
                "source": "service",
                "entity": "ad",
                "namespace": "otel-demo",
                "status_code": "STATUS_CODE_UNSET",
                "labels": {"service_name": "ad", "status_code": "STATUS_CODE_UNSET"},
            }
        )
        slow = minute >= 5
        for le, fast_share, slow_share in (
            ("10", 0.5, 0.0),
            ("100", 0.9, 0.2),
            ("1000", 1.0, 1.0),
            ("+Inf", 1.0, 1.0),
        ):
            samples.append(
                {
                    "metric": "traces_span_metrics_duration_milliseconds_bucket",
                    "ts": moment,
                    "value": minute * 100.0 * (slow_share if slow else fast_share),
                    "source": "service",
                    "entity": "ad",
                    "namespace": "otel-demo",
                    "bucket_le": le,
                    "labels": {"service_name": "ad", "le": le},
                }
            )
        samples.append(
            {
                "metric": "container_memory_working_set_bytes",
                "ts": moment,
                "value": 100e6 if minute < 5 else 400e6,
                "source": "pod",
                "entity": "ad-5d9f7c6b8-x2x9q",
                "namespace": "otel-demo",
                "container": "ad",
                "labels": {"container": "ad", "pod": "ad-5d9f7c6b8-x2x9q"},
            }
        )
        samples.append(
            {
                "metric": "container_memory_working_set_bytes",
                "ts": moment,
                "value": 50e6 + (minute % 2) * 1e6,
                "source": "pod",
                "entity": "frontend-7c9f8d6b5-kq2zx",
                "namespace": "otel-demo",
                "container": "frontend",
                "labels": {"container": "frontend", "pod": "frontend-7c9f8d6b5-kq2zx"},
            }
        )

    alerts: list[dict[str, Any]] = []
    for minute in range(21):
        alerts.append(
            {
                "sampled_at": at(minute),
                "alertname": "Watchdog",
                "severity": "none",
                "state": "firing",
                "active_at": WINDOW_START - timedelta(hours=1),
                "namespace": "monitoring",
                "labels": {"alertname": "Watchdog", "severity": "none"},
                "annotations": {},
            }
        )
        if minute >= 7:
            alerts.append(
                {
                    "sampled_at": at(minute),
                    "alertname": "HighRequestErrorRate",
                    "severity": "critical",
                    "state": "firing",
                    "active_at": at(6.5),
                    "namespace": "otel-demo",
                    "service": "frontend",
                    "value": "0.4",
                    "labels": {"alertname": "HighRequestErrorRate", "service_name": "frontend"},
                    "annotations": {"description": "Request error rate in service frontend is above 0"},
                }
            )

    events: list[dict[str, Any]] = []
    for index, minute in enumerate((6, 7, 9)):
        events.append(
            {
                "ts": at(minute),
                "watch_type": "ADDED" if index == 0 else "MODIFIED",
                "namespace": "otel-demo",
                "name": "ad-5d9f7c6b8.1",
                "object_kind": "ReplicaSet",
                "object_namespace": "otel-demo",
                "object_name": "ad-5d9f7c6b8",
                "reason": "FailedCreate",
                "message": f'Error creating: pods "ad-5d9f7c6b8-{"abcde"[index]}zzz9" is forbidden: '
                "exceeded quota: strict-resource-quota, requested: memory=400Mi, used: memory=0, "
                "limited: memory=100Mi",
                "type": "Warning",
                "count": index + 1,
                "first_seen": at(6),
                "last_seen": at(minute),
                "source": "replicaset-controller",
                "body": {},
            }
        )
    events.append(
        {
            "ts": at(1),
            "watch_type": "ADDED",
            "namespace": "otel-demo",
            "name": "ad-5d9f7c6b8-x2x9q.1",
            "object_kind": "Pod",
            "object_namespace": "otel-demo",
            "object_name": "ad-5d9f7c6b8-x2x9q",
            "reason": "Pulled",
            "message": 'Container image "ghcr.io/open-telemetry/demo:2.0.2-ad" already present on machine',
            "type": "Normal",
            "count": 1,
            "first_seen": at(1),
            "last_seen": at(1),
            "source": "kubelet",
            "body": {},
        }
    )
    events.append(
        {
            "ts": at(4),
            "watch_type": "ADDED",
            "namespace": "chaos-mesh",
            "name": "ad-delay.1",
            "object_kind": "NetworkChaos",
            "object_namespace": "chaos-mesh",
            "object_name": "ad-delay",
            "reason": "Applied",
            "message": "Successfully apply chaos for otel-demo/ad-5d9f7c6b8-x2x9q",
            "type": "Normal",
            "count": 1,
            "first_seen": at(4),
            "last_seen": at(4),
            "source": "chaos-controller-manager",
            "body": {},
        }
    )
    return {
        "logs": logs,
        "spans": spans,
        "samples": samples,
        "alerts": alerts,
        "events": events,
        "objects": incident_objects(),
    }
