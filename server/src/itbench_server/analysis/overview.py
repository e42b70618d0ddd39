"""The start-here summary of a recorded incident: namespaces, workloads, alerts and the data held.

The cluster at the window's end is the one ``kubectl`` shows there
(:func:`itbench_server.analysis.cluster.objects_at`), so the counts agree with its listings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from itbench_server.analysis.cluster import objects_at
from itbench_server.snapshot import EVIDENCE_TABLES, SkippedInput, Snapshot

__all__ = [
    "AlertPair",
    "NamespacePods",
    "TableData",
    "Workload",
    "alert_entity",
    "alert_pairs",
    "data_inventory",
    "namespace_pods",
    "workloads",
]

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


@dataclass(frozen=True)
class NamespacePods:
    namespace: str
    pods: int
    not_running: int


@dataclass(frozen=True)
class Workload:
    namespace: str
    kind: str
    name: str
    desired: int
    ready: int

    @property
    def degraded(self) -> bool:
        return self.ready < self.desired


@dataclass(frozen=True)
class AlertPair:
    """One alert on one entity over the recording: first seen, samples, severity."""

    alertname: str
    entity: str
    first_seen: datetime
    samples: int
    severity: str


@dataclass(frozen=True)
class TableData:
    table: str
    rows: int
    files: int
    size: int


def namespace_pods(snapshot: Snapshot, at: datetime) -> list[NamespacePods]:
    """Every namespace listed (or holding an object) with its pods present at ``at``."""
    pods = objects_at(snapshot, "Pod", at)
    names = {present.name for present in objects_at(snapshot, "Namespace", at)}
    names |= {
        namespace
        for (namespace,) in snapshot.query("SELECT DISTINCT namespace FROM objects WHERE namespace <> ''")
    }
    counts: dict[str, list[int]] = {name: [0, 0] for name in names}
    for pod in pods:
        count = counts.setdefault(pod.namespace, [0, 0])
        count[0] += 1
        phase = (pod.body.get("status") or {}).get("phase")
        if phase not in ("Running", "Succeeded"):
            count[1] += 1
    return [NamespacePods(name, *counts[name]) for name in sorted(counts)]


def _integer(value: object, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float | str):
        try:
            return int(value)
        except ValueError:
            return default
    return default


def workloads(snapshot: Snapshot, at: datetime) -> list[Workload]:
    """The Deployments, StatefulSets and DaemonSets present at ``at`` with ready and desired replicas."""
    found: list[Workload] = []
    for kind in WORKLOAD_KINDS:
        for present in objects_at(snapshot, kind, at):
            spec = present.body.get("spec") or {}
            status = present.body.get("status") or {}
            if kind == "DaemonSet":
                desired = _integer(status.get("desiredNumberScheduled"), 0)
                ready = _integer(status.get("numberReady"), 0)
            else:
                desired = _integer(spec.get("replicas"), 1)
                ready = _integer(status.get("readyReplicas"), 0)
            found.append(Workload(present.namespace, kind, present.name, desired, ready))
    return sorted(found, key=lambda w: (w.namespace, w.kind, w.name))


def alert_pairs(snapshot: Snapshot) -> tuple[list[AlertPair], int]:
    """Every alert/entity pair, first seen first, and the number of distinct sampling times."""
    rows = snapshot.query(
        """
        SELECT alertname, coalesce(namespace, ''), coalesce(labels, '{}'),
               min(sampled_at), count(DISTINCT sampled_at), coalesce(max(severity), '')
        FROM alerts
        GROUP BY ALL
        ORDER BY min(sampled_at), alertname, 2, 3
        """
    )
    (samples,) = snapshot.query("SELECT count(DISTINCT sampled_at) FROM alerts")[0]
    pairs = [
        AlertPair(alertname, alert_entity(namespace, json.loads(labels)), first_seen, count, severity)
        for alertname, namespace, labels, first_seen, count, severity in rows
    ]
    return pairs, samples


# Alert labels that name an object, most specific first.
_ENTITY_LABELS: tuple[tuple[str, str], ...] = (
    ("pod", "Pod"),
    ("deployment", "Deployment"),
    ("statefulset", "StatefulSet"),
    ("daemonset", "DaemonSet"),
    ("horizontalpodautoscaler", "HorizontalPodAutoscaler"),
    ("persistentvolumeclaim", "PersistentVolumeClaim"),
    ("job_name", "Job"),
    ("service_name", "Service"),
    ("service", "Service"),
)


def alert_entity(namespace: str, labels: dict[str, object]) -> str:
    """The object an alert's labels point at, as namespace/Kind/name (or what is known of it)."""
    for label, kind in _ENTITY_LABELS:
        value = labels.get(label)
        if isinstance(value, str) and value:
            return f"{namespace or '?'}/{kind}/{value}"
    node = labels.get("node")
    if isinstance(node, str) and node:
        return f"cluster/Node/{node}"
    return namespace or "-"


def data_inventory(snapshot: Snapshot) -> tuple[list[TableData], tuple[int, int], list[SkippedInput]]:
    """Rows, files and bytes of every evidence table; the files not read (count, bytes); what
    ingest skipped."""
    counts = {table: snapshot.query(f"SELECT count(*) FROM {table}")[0][0] for table in EVIDENCE_TABLES}
    files = {
        table: (count, size)
        for table, count, size in snapshot.query(
            "SELECT table_name, count(*), coalesce(sum(bytes), 0) FROM inventory GROUP BY table_name"
        )
    }
    tables = [TableData(table, counts[table], *files.get(table, (0, 0))) for table in EVIDENCE_TABLES]
    return tables, files.get("", (0, 0)), snapshot.skipped()
