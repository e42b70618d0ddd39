"""The recorded cluster as of a time T: objects, events, container logs and usage metrics.

How "as of T" is decided:

- Objects: as :mod:`itbench_server.analysis.cluster` decides for every tool. Objects are
  re-listed in rounds (every 5 minutes in the published recordings); listings less than a minute
  apart belong to the same round. The state of an object at T is its last row at or before T. It
  counts as present only if that row is not a ``DELETED`` watch record and is no older than the
  start of the last *complete* round at or before T: an object that the latest round no longer
  listed was gone by then. Before a kind's first complete round, that first round stands for the
  state, less the objects created after T. Kinds recorded only by watch records keep an object
  until its ``DELETED`` record.
- Events: the last record of each Event at or before T, unless it was a ``DELETED`` record.
- Logs: the lines a pod's container wrote up to T.
- Metrics (``kubectl top``): CPU is the rate of ``container_cpu_usage_seconds_total`` over the
  five minutes up to T; memory is the last ``container_memory_working_set_bytes`` sample in
  those five minutes. A node's usage is the sum over the pods scheduled on it at T.

Secrets are never served, whatever the recording holds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itbench_server.analysis.cluster import decode_body, objects_at
from itbench_server.kube.catalog import RecordedKind, ResourceType, build_catalog
from itbench_server.snapshot import Snapshot

__all__ = ["METRICS_WINDOW", "ClusterRecording", "LogLine", "resource_version_of", "rfc3339", "rfc3339_nano"]

Object = dict[str, Any]

METRICS_WINDOW = timedelta(minutes=5)
"""How far back ``kubectl top`` looks for usage samples."""

_CACHE_SIZE = 32

_RESTART_COUNT = "k8s.container.restart_count"


def rfc3339(moment: datetime) -> str:
    """``2025-12-15T17:25:19Z`` (or with microseconds when there are any)."""
    text = moment.isoformat()
    return text + "Z"


def rfc3339_nano(moment: datetime) -> str:
    """Go's RFC3339Nano of a naive UTC time: trailing zeros of the fraction dropped."""
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}000".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def resource_version_of(moment: datetime) -> str:
    """A list's resourceVersion: microseconds since the epoch of the viewed time."""
    return str(int((moment - datetime(1970, 1, 1)).total_seconds() * 1_000_000))


@dataclass(frozen=True)
class LogLine:
    ts: datetime
    body: str


class ClusterRecording:
    """Read access to the recorded cluster at any time; safe to share between threads."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.window = snapshot.window
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self.catalog = self._read_catalog()

    # --- catalogue ---------------------------------------------------------------------

    def _read_catalog(self) -> list[ResourceType]:
        crds = [
            body
            for (body,) in self.snapshot.query(
                """
                SELECT body FROM objects WHERE kind = 'CustomResourceDefinition'
                QUALIFY row_number() OVER (PARTITION BY name ORDER BY listed_at DESC) = 1
                ORDER BY name
                """
            )
        ]
        recorded = [
            RecordedKind(api_version or "", kind or "", resource or "", bool(namespaced))
            for api_version, kind, resource, namespaced in self.snapshot.query(
                """
                SELECT api_version, kind, any_value(resource), bool_or(coalesce(namespace, '') <> '')
                FROM objects WHERE kind IS NOT NULL GROUP BY api_version, kind ORDER BY api_version, kind
                """
            )
        ]
        return build_catalog(crds, recorded)

    # --- objects ---------------------------------------------------------------------------

    def _cached(self, key: tuple[Any, ...], compute: Any) -> Any:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = compute()
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return value

    def objects(self, resource_type: ResourceType, at: datetime) -> list[Object]:
        """Every object of the type present at ``at``, sorted by namespace and name."""
        if resource_type.kind == "Secret":
            return []
        return self._cached(
            ("objects", resource_type.group, resource_type.kind, at), lambda: self._load(resource_type, at)
        )

    def _load(self, resource_type: ResourceType, at: datetime) -> list[Object]:
        objects: list[Object] = []
        for present in objects_at(self.snapshot, resource_type.kind, at):
            if not _same_group(present.api_version, resource_type):
                continue
            obj = present.body
            obj.setdefault("apiVersion", present.api_version or resource_type.group_version)
            obj.setdefault("kind", resource_type.kind)
            metadata = obj.setdefault("metadata", {})
            metadata.setdefault("resourceVersion", resource_version_of(present.listed_at))
            objects.append(obj)
        return objects

    # --- events ----------------------------------------------------------------------------

    def events(self, at: datetime) -> list[Object]:
        """Every Event (as recorded, core or events.k8s.io form) present at ``at``."""
        return self._cached(("events", at), lambda: self._load_events(at))

    def _load_events(self, at: datetime) -> list[Object]:
        rows = self.snapshot.query(
            """
            SELECT namespace, name, ts, coalesce(watch_type, ''), body, object_kind, object_namespace,
                   object_name, reason, message, type, count, first_seen, last_seen, source
            FROM events WHERE ts <= ?
            QUALIFY row_number() OVER (
                PARTITION BY coalesce(namespace, ''), coalesce(name, body) ORDER BY ts DESC
            ) = 1
            ORDER BY coalesce(namespace, ''), name, ts
            """,
            [at],
        )
        events: list[Object] = []
        for index, row in enumerate(rows):
            (namespace, name, ts, watch_type, body, object_kind, object_namespace, object_name,
             reason, message, event_type, count, first_seen, last_seen, source) = row  # fmt: skip
            if watch_type == "DELETED":
                continue
            event = decode_body(body) or {}
            if "involvedObject" not in event and "regarding" not in event:
                # Rebuild a core Event from the normalized columns.
                event = {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": name or f"event-{index}", "namespace": namespace or "default"},
                    "involvedObject": {
                        "kind": object_kind,
                        "namespace": object_namespace,
                        "name": object_name,
                    },
                    "reason": reason,
                    "message": message,
                    "type": event_type,
                    "count": count or 1,
                    "firstTimestamp": rfc3339(first_seen) if first_seen else None,
                    "lastTimestamp": rfc3339(last_seen) if last_seen else None,
                    "source": {"component": source} if source else {},
                }
            metadata = event.setdefault("metadata", {})
            metadata.setdefault("name", name or f"event-{index}")
            metadata.setdefault("namespace", namespace or "default")
            metadata.setdefault("resourceVersion", resource_version_of(ts))
            events.append(event)
        events.sort(key=lambda e: (e["metadata"].get("namespace", ""), e["metadata"].get("name", "")))
        return events

    # --- logs ------------------------------------------------------------------------------

    def log_lines(
        self,
        namespace: str,
        pod: str,
        container: str,
        *,
        default_container: bool,
        since: datetime | None,
        at: datetime,
        restart_count: int | None = None,
        last: int | None = None,
    ) -> list[LogLine]:
        """Lines of one container up to ``at``, in time order (then table order); lines recorded
        without a container name belong to the pod's first container (``default_container``).
        ``restart_count`` picks one container instance when the recording carries
        ``k8s.container.restart_count``; ``last`` keeps only the last so many records."""
        conditions = ["namespace = ?", "pod = ?", "ts <= ?"]
        parameters: list[Any] = [namespace, pod, at]
        if default_container:
            conditions.append("(container = ? OR coalesce(container, '') = '')")
        else:
            conditions.append("container = ?")
        parameters.append(container)
        if since is not None:
            conditions.append("ts >= ?")
            parameters.append(since)
        if restart_count is not None:
            conditions.append(
                "json_extract_string(resource_attributes, '$.\"k8s.container.restart_count\"') = ?"
            )
            parameters.append(str(restart_count))
        where = " AND ".join(conditions)
        if last is None:
            rows = self.snapshot.query(
                f"SELECT ts, body FROM logs WHERE {where} ORDER BY ts, rowid", parameters
            )
        else:  # the newest records only: a busy pod has tens of thousands
            rows = self.snapshot.query(
                f"SELECT ts, body FROM logs WHERE {where} ORDER BY ts DESC, rowid DESC LIMIT ?",
                [*parameters, last],
            )
            rows.reverse()
        return [LogLine(ts, body or "") for ts, body in rows]

    def container_restart_counts(self, namespace: str, pod: str, container: str, at: datetime) -> list[int]:
        """The container instances (``k8s.container.restart_count``) with lines up to ``at``."""
        if not self._logs_carry_restart_counts():
            return []
        # The literal test first: JSON is parsed only in the records that name the attribute.
        rows = self.snapshot.query(
            f"""
            SELECT DISTINCT TRY_CAST(json_extract_string(resource_attributes, '$."{_RESTART_COUNT}"') AS INTEGER) AS n
            FROM logs WHERE namespace = ? AND pod = ? AND (container = ? OR coalesce(container, '') = '') AND ts <= ?
            AND contains(resource_attributes, '"{_RESTART_COUNT}"') AND n IS NOT NULL ORDER BY n
            """,
            [namespace, pod, container, at],
        )
        return [n for (n,) in rows]

    def _logs_carry_restart_counts(self) -> bool:
        """Whether any log record names its container instance (most recordings do not); asked once."""
        return self._cached(
            ("logs carry restart counts",),
            lambda: bool(
                self.snapshot.query(
                    f"SELECT count(*) FROM (SELECT 1 FROM logs WHERE contains(resource_attributes, "
                    f"'\"{_RESTART_COUNT}\"') LIMIT 1)"
                )[0][0]
            ),
        )

    # --- metrics ---------------------------------------------------------------------------

    def container_usage(self, at: datetime) -> dict[tuple[str, str], dict[str, tuple[float, float]]]:
        """``(namespace, pod) -> container -> (cpu cores, memory bytes)`` near ``at``."""
        return self._cached(("usage", at), lambda: self._load_usage(at))

    def _load_usage(self, at: datetime) -> dict[tuple[str, str], dict[str, tuple[float, float]]]:
        since = at - METRICS_WINDOW
        cpu_rows = self.snapshot.query(
            """
            WITH series AS (
                SELECT namespace, entity, container, ts, value,
                       value - lag(value) OVER (PARTITION BY namespace, entity, container, labels ORDER BY ts) AS delta,
                       labels
                FROM samples
                WHERE metric = 'container_cpu_usage_seconds_total' AND source = 'pod'
                  AND ts > ? AND ts <= ? AND coalesce(container, '') NOT IN ('', 'POD')
            )
            SELECT namespace, entity, container,
                   sum(CASE WHEN delta IS NULL THEN 0 WHEN delta < 0 THEN value ELSE delta END),
                   epoch(max(ts)) - epoch(min(ts))
            FROM series GROUP BY namespace, entity, container, labels
            ORDER BY namespace, entity, container
            """,
            [since, at],
        )
        memory_rows = self.snapshot.query(
            """
            SELECT namespace, entity, container, arg_max(value, ts) FROM samples
            WHERE metric = 'container_memory_working_set_bytes' AND source = 'pod'
              AND ts > ? AND ts <= ? AND coalesce(container, '') NOT IN ('', 'POD')
            GROUP BY namespace, entity, container ORDER BY namespace, entity, container
            """,
            [since, at],
        )
        usage: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
        for namespace, pod, container, increase, seconds in cpu_rows:
            cores = increase / seconds if seconds and seconds > 0 else 0.0
            containers = usage.setdefault((namespace or "", pod or ""), {})
            previous = containers.get(container, (0.0, 0.0))
            containers[container] = (previous[0] + cores, previous[1])
        for namespace, pod, container, memory in memory_rows:
            containers = usage.setdefault((namespace or "", pod or ""), {})
            previous = containers.get(container, (0.0, 0.0))
            containers[container] = (previous[0], float(memory or 0.0))
        return usage


def _same_group(api_version: str, resource_type: ResourceType) -> bool:
    if not api_version:
        return True
    group = api_version.rpartition("/")[0]
    if group == resource_type.group:
        return True
    # Old group names of the same kinds (extensions/v1beta1 Deployments and Ingresses).
    return group == "extensions" and resource_type.group in ("apps", "networking.k8s.io")
