"""The start-here summary of a recorded incident: namespaces, workloads, alerts and the data held.

The cluster at the window's end is the one ``kubectl`` shows there
(:func:`itbench_server.analysis.cluster.objects_at`), so the counts agree with its listings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from itbench_server.analysis.cluster import present_rows
from itbench_server.snapshot import EVIDENCE_TABLES, SkippedInput, Snapshot

__all__ = [
    "AlertPair",
    "NamespacePods",
    "TableData",
    "Workload",
    "alert_entity",
    "alert_pairs",
    "cluster_summary",
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


def cluster_summary(snapshot: Snapshot, at: datetime) -> tuple[list[NamespacePods], list[Workload]]:
    """The namespaces with their pods, and the workloads, present at ``at`` (one query)."""
    rows = present_rows(
        snapshot,
        ("Namespace", "Pod", *WORKLOAD_KINDS),
        at,
        [
            "CASE kind WHEN 'Pod' THEN json_extract_string(body, '$.status.phase') END",
            """CASE kind WHEN 'DaemonSet'
                THEN coalesce(TRY_CAST(json_extract(body, '$.status.desiredNumberScheduled') AS BIGINT), 0)
                ELSE coalesce(TRY_CAST(json_extract(body, '$.spec.replicas') AS BIGINT), 1) END""",
            """CASE kind WHEN 'DaemonSet'
                THEN coalesce(TRY_CAST(json_extract(body, '$.status.numberReady') AS BIGINT), 0)
                ELSE coalesce(TRY_CAST(json_extract(body, '$.status.readyReplicas') AS BIGINT), 0) END""",
        ],
    )
    names = {name for kind, _, name, *_ in rows if kind == "Namespace"}
    names |= {
        namespace
        for (namespace,) in snapshot.query("SELECT DISTINCT namespace FROM objects WHERE namespace <> ''")
    }
    counts: dict[str, list[int]] = {name: [0, 0] for name in names}
    found: list[Workload] = []
    for kind, namespace, name, phase, desired, ready in rows:
        if kind == "Pod":
            count = counts.setdefault(namespace, [0, 0])
            count[0] += 1
            if phase not in ("Running", "Succeeded"):
                count[1] += 1
        elif kind in WORKLOAD_KINDS:
            found.append(Workload(namespace, kind, name, desired, ready))
    namespaces = [NamespacePods(name, *counts[name]) for name in sorted(counts)]
    return namespaces, sorted(found, key=lambda w: (w.namespace, w.kind, w.name))


def namespace_pods(snapshot: Snapshot, at: datetime) -> list[NamespacePods]:
    """Every namespace listed (or holding an object) with its pods present at ``at``."""
    return cluster_summary(snapshot, at)[0]


def workloads(snapshot: Snapshot, at: datetime) -> list[Workload]:
    """The Deployments, StatefulSets and DaemonSets present at ``at`` with ready and desired replicas."""
    return cluster_summary(snapshot, at)[1]


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
