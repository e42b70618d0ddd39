"""The Kubernetes side of a synthetic incident: objects over time, pod lifecycles and events.

A ``Cluster`` holds records (deployments, replica sets, pods, static objects) whose state is a
function of time, so that the same facts feed the 5-minute object listings, the event stream, the
pod metrics and the kube-state alerts. Times are integer nanoseconds since the epoch.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from itbench_server.synth.application import DEMO, Application
from itbench_server.synth.topology import (
    DEMO_VERSION,
    Workload,
)

__all__ = [
    "CONTROL_PLANE",
    "FLAGS",
    "MINUTE",
    "NODES",
    "NODE_CPU_CORES",
    "SECOND",
    "Cluster",
    "Deployment",
    "EventRecord",
    "Ids",
    "PlatformPod",
    "Pod",
    "PodState",
    "ReplicaSet",
    "StaticObject",
    "StaticPod",
    "chaos_crd",
    "custom_resource_definition",
    "flagd_json",
    "hpa_manifest",
    "iso",
    "iso_micro",
    "node_ip",
    "platform_pod_samples",
    "pod_cpu_request_m",
]

SECOND = 1_000_000_000
MINUTE = 60 * SECOND

JsonObject = dict[str, Any]

_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
NODES = ("worker-1", "worker-2", "worker-3")
NODE_CPU_CORES = 4  # each worker's CPU capacity
# A node condition: (its taint, the kubelet's reason and message when True, and when False).
_PRESSURE: dict[str, tuple[str, str, str, str, str]] = {
    "DiskPressure": (
        "node.kubernetes.io/disk-pressure",
        "KubeletHasDiskPressure",
        "kubelet has disk pressure",
        "KubeletHasNoDiskPressure",
        "kubelet has no disk pressure",
    ),
    "MemoryPressure": (
        "node.kubernetes.io/memory-pressure",
        "KubeletHasInsufficientMemory",
        "kubelet has insufficient memory available",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
}
_SYSTEM_CPU_CORES = 0.2  # what a node's kubelet and container runtime use
CONTROL_PLANE = "control-plane"


def iso(ns: int) -> str:
    """RFC 3339 at second precision, as Kubernetes metadata timestamps are."""
    return datetime.fromtimestamp(ns // SECOND, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_micro(ns: int) -> str:
    """RFC 3339 with microseconds (Kubernetes MicroTime)."""
    return datetime.fromtimestamp(ns // 1000 / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Ids:
    """Deterministic identifiers: uids, pod-name suffixes, IPs."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._pod_ips: dict[str, int] = {}
        self._cluster_ip = 20

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def suffix(self, length: int) -> str:
        return "".join(self.rng.choice(_HASH_ALPHABET) for _ in range(length))

    def pod_ip(self, node: str) -> str:
        """The next free address of ``node``'s pod CIDR (``10.244.<n>.0/24``), as the CNI's
        host-local allocator hands them out: in turn, never .0, .1 (the bridge) or .255."""
        used = self._pod_ips.get(node, 0) + 1
        self._pod_ips[node] = used
        return f"10.244.{_node_subnet(node)}.{(used - 1) % 253 + 2}"

    def cluster_ip(self) -> str:
        self._cluster_ip += 1
        return f"10.96.{self.rng.randrange(1, 250)}.{self._cluster_ip % 250 + 2}"

    def container_id(self) -> str:
        return "containerd://" + f"{self.rng.getrandbits(256):064x}"


@dataclass
class PodState:
    """What a pod looks like from ``at`` until the next state."""

    at: int
    phase: str = "Running"
    ready: bool = True
    scheduled: bool = True
    waiting: str = ""  # ContainerCreating ErrImagePull ImagePullBackOff CrashLoopBackOff
    waiting_message: str = ""
    restarts: int = 0
    running_since: int | None = None
    last_terminated: JsonObject | None = None
    unschedulable_message: str = ""
    memory_fraction: float | None = None  # working set as a share of the memory limit
    memory_per_minute: float = 0.75  # how fast that share grows while the state lasts
    cpu_factor: float = 1.0  # CPU use as a multiple of the workload's usual, from ``at`` on
    # Cores a CPU stressor in the container asks for: its runnable threads, which the node's
    # load average counts whether or not they get a core.
    cpu_demand: float = 0.0
    # Cores those stressors get: the node's, outside the container's cgroup (its CPU counter and
    # its CFS quota do not see them).
    stressor_cpu: float = 0.0
    # Init containers (when the template has any): "" once they completed, "running" while one
    # runs, else the waiting reason of the first one (CrashLoopBackOff ...).
    init: str = ""
    init_restarts: int = 0
    init_last_terminated: JsonObject | None = None
    # A Failed pod's status.reason and status.message (the kubelet's ``Evicted`` and its text).
    reason: str = ""
    message: str = ""


@dataclass
class Pod:
    name: str
    workload: str
    replicaset: str
    replicaset_uid: str
    template_hash: str
    uid: str
    node: str
    ip: str
    created: int
    template: JsonObject
    states: list[PodState]
    deleted: int | None = None
    container_ids: dict[str, str] = field(default_factory=dict)

    def exists(self, t: int) -> bool:
        return self.created <= t and (self.deleted is None or t < self.deleted)

    def state(self, t: int) -> PodState:
        current = self.states[0]
        for state in self.states:
            if state.at <= t:
                current = state
            else:
                break
        return current


@dataclass
class ReplicaSet:
    name: str
    uid: str
    deployment: str
    template_hash: str
    revision: int
    created: int
    template: JsonObject
    replicas: list[tuple[int, int]]  # (from time, desired replicas)
    failure: list[tuple[int, str]] = field(default_factory=list)  # (from time, FailedCreate message)

    def desired(self, t: int) -> int:
        value = self.replicas[0][1]
        for at, count in self.replicas:
            if at <= t:
                value = count
        return value

    def failure_at(self, t: int) -> str:
        message = ""
        for at, text in self.failure:
            if at <= t:
                message = text
        return message


@dataclass
class Deployment:
    workload: Workload
    uid: str
    created: int
    versions: list[tuple[int, JsonObject, int]]  # (from time, spec, generation)
    managed_fields: list[JsonObject] = field(default_factory=list)

    def spec(self, t: int) -> tuple[JsonObject, int]:
        spec, generation = self.versions[0][1], self.versions[0][2]
        for at, version_spec, version_generation in self.versions:
            if at <= t:
                spec, generation = version_spec, version_generation
        return spec, generation


@dataclass
class StaticObject:
    """An object whose whole body is given per version (Services, ConfigMaps, chaos objects...)."""

    resource: str
    versions: list[tuple[int, JsonObject]]
    deleted: int | None = None

    def at(self, t: int) -> JsonObject | None:
        if self.deleted is not None and t >= self.deleted:
            return None
        body = None
        for at, version in self.versions:
            if at <= t:
                body = version
        return body


@dataclass(frozen=True)
class StaticPod:
    """A pod of a listed-only Deployment (``Cluster.static_deployment``)."""

    name: str
    uid: str
    ref: JsonObject  # the pod as events name it
    created: int
    node: str | None  # None: waiting to be scheduled


@dataclass(frozen=True)
class PlatformPod:
    """A long-running pod outside the demo (control plane, Chaos Mesh, the platform's tools):
    listed as a static object, sampled for the usage metrics at a steady rate."""

    name: str
    namespace: str
    node: str
    container: str
    created: int
    cpu_cores: float
    memory_bytes: float


def platform_pod_samples(pod: PlatformPod, t: int) -> list[tuple[str, float, dict[str, str]]]:
    """``(metric, value, labels)`` of a platform pod at ``t``: kube-state-metrics' phase, ready
    and restarts, cAdvisor's CPU counter (since the pod started) and working set."""
    phase = {"namespace": pod.namespace, "phase": "Running", "pod": pod.name}
    container = {"container": pod.container, "namespace": pod.namespace, "pod": pod.name}
    # A slow wobble per pod, so usage is not flat, from a digest of the name (no shared RNG).
    shift = int(hashlib.sha256(pod.name.encode()).hexdigest()[:6], 16) / 0xFFFFFF * 6.28
    wobble = 1.0 + 0.06 * math.sin((t / SECOND) / 113.0 + shift)
    alive = max(0, t - pod.created) / SECOND
    return [
        ("kube_pod_status_phase", 1.0, phase),
        ("kube_pod_container_status_restarts_total", 0.0, container),
        ("kube_pod_container_status_ready", 1.0, container),
        (
            "container_cpu_usage_seconds_total",
            round(alive * pod.cpu_cores, 6),
            {**container, "node": pod.node},
        ),
        (
            "container_memory_working_set_bytes",
            float(int(pod.memory_bytes * wobble)),
            {**container, "node": pod.node},
        ),
    ]


@dataclass
class EventRecord:
    observed: int
    watch_type: str
    event: JsonObject


def _managed_fields(manager: str, operation: str, at: int, fields: JsonObject) -> JsonObject:
    return {
        "apiVersion": "apps/v1" if "spec" in fields else "v1",
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
        "manager": manager,
        "operation": operation,
        "time": iso(at),
    }


class Cluster:
    """Every recorded object of the synthetic cluster, as functions of time."""

    def __init__(self, rng: random.Random, start: int, end: int, app: Application = DEMO) -> None:
        self.app = app
        # Whether the demo's containers carry the CPU requests and limits of ITBench's Helm
        # values (since 2026-03-24); the values before set none.
        self.cpu_limits = True
        self.rng = rng
        self.ids = Ids(rng)
        self.start = start
        self.end = end
        self.installed = start - rng.randrange(40, 70) * MINUTE
        self.deployments: dict[str, Deployment] = {}
        self.replicasets: dict[str, ReplicaSet] = {}
        self.pods: list[Pod] = []
        self.static: dict[tuple[str, str, str], StaticObject] = {}
        self.events: list[EventRecord] = []
        self.platform_pods: list[PlatformPod] = []
        self.pressured_nodes: set[str] = set()  # nodes whose pressure conditions something set
        # Workers a fault fills to their allocatable CPU with its own pods: the scheduler has no
        # room there for a new pod that requests CPU (see ``node_for``).
        self.filled_nodes: set[str] = set()
        self.cluster_ips: dict[str, str] = {}
        self.resource_version = 100_000 + rng.randrange(0, 900_000)
        self._pod_ready_cache: dict[tuple[str, int], list[Pod]] = {}
        self._versions: dict[tuple[str, str, str], tuple[str, str]] = {}

    # ---------------------------------------------------------------- helpers
    def release_annotations(self) -> dict[str, str]:
        """The Helm release annotations of the application's objects (none when applied with kubectl)."""
        if self.app.release is None:
            return {}
        return {
            "meta.helm.sh/release-name": self.app.release,
            "meta.helm.sh/release-namespace": self.app.namespace,
        }

    def next_version(self) -> str:
        self.resource_version += self.rng.randrange(1, 40)
        return str(self.resource_version)

    def metadata(
        self,
        name: str,
        namespace: str | None,
        created: int,
        *,
        uid: str | None = None,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        generation: int | None = None,
    ) -> JsonObject:
        meta: JsonObject = {"name": name}
        if namespace:
            meta["namespace"] = namespace
        meta["uid"] = uid or self.ids.uid()
        meta["resourceVersion"] = self.next_version()
        meta["creationTimestamp"] = iso(created)
        if generation is not None:
            meta["generation"] = generation
        if labels:
            meta["labels"] = labels
        if annotations:
            meta["annotations"] = annotations
        return meta

    def install_autoscaler(
        self,
        name: str,
        *,
        max_replicas: int,
        limited_condition: bool,
        helm_managed_fields: bool,
    ) -> None:
        """An HPA of Deployment ``name`` installed with the demo (CPU target 80%), and the CPU
        request it needs on every version of the Deployment and its ReplicaSets.

        Its status reports what the metrics server measures: the workload's usual CPU use (the
        rate its pods' ``container_cpu_usage_seconds_total`` grows at) as a share of that request.
        """
        request_millis = 100
        requests = {
            "cpu": f"{request_millis}m",
            "memory": f"{self.app.workload_by_name[name].memory_limit_mi}Mi",
        }
        for _at, spec, _generation in self.deployments[name].versions:
            spec["template"]["spec"]["containers"][0]["resources"]["requests"] = dict(requests)
        for replicaset in self.replicasets.values():
            if replicaset.deployment == name:
                replicaset.template["spec"]["containers"][0]["resources"]["requests"] = dict(requests)
        usage_millis = self.app.workload_by_name[name].cpu_millis
        meta = self.metadata(
            name,
            self.app.namespace,
            self.installed,
            generation=1,
            labels={"app.kubernetes.io/component": name, "app.kubernetes.io/managed-by": "Helm"},
            annotations=self.release_annotations(),
        )
        if helm_managed_fields:
            meta["managedFields"] = [
                {
                    "apiVersion": "autoscaling/v2",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:spec": {
                            "f:maxReplicas": {},
                            "f:metrics": {},
                            "f:minReplicas": {},
                            "f:scaleTargetRef": {},
                        }
                    },
                    "manager": "helm",
                    "operation": "Update",
                    "time": iso(self.installed),
                }
            ]
        manifest = hpa_manifest(
            meta,
            name,
            max_replicas=max_replicas,
            utilization=round(usage_millis * 100 / request_millis),
            usage_millis=usage_millis,
            since=self.installed,
            limited_condition=limited_condition,
        )
        self.add_static("horizontalpodautoscalers", self.installed, manifest)

    def add_static(self, resource: str, at: int, body: JsonObject) -> StaticObject:
        meta = body["metadata"]
        key = (resource, meta.get("namespace", ""), meta["name"])
        record = self.static.get(key)
        if record is None:
            record = StaticObject(resource, [(at, body)])
            self.static[key] = record
        else:
            record.versions.append((at, body))
        return record

    def static_body(self, resource: str, namespace: str, name: str) -> JsonObject:
        """The latest version of a static object."""
        return self.static[(resource, namespace, name)].versions[-1][1]

    def update_static(
        self, resource: str, namespace: str, name: str, at: int, change: Callable[[JsonObject], None]
    ) -> JsonObject:
        body = copy.deepcopy(self.static_body(resource, namespace, name))
        change(body)
        body["metadata"]["resourceVersion"] = self.next_version()
        if "generation" in body["metadata"]:
            body["metadata"]["generation"] += 1
        self.add_static(resource, at, body)
        return body

    def set_node_pressure(self, node: str, pressure: str, on: bool, at: int) -> None:
        """A new version of the Node from ``at``: its ``DiskPressure`` or ``MemoryPressure``
        condition as the kubelet reports it, and the ``NoSchedule`` taint the node lifecycle
        controller keeps on the node while it holds."""
        taint, true_reason, true_message, false_reason, false_message = _PRESSURE[pressure]
        self.pressured_nodes.add(node)

        def change(body: JsonObject) -> None:
            for condition in body["status"]["conditions"]:
                if condition["type"] == pressure:
                    condition["status"] = "True" if on else "False"
                    condition["reason"] = true_reason if on else false_reason
                    condition["message"] = true_message if on else false_message
                    condition["lastTransitionTime"] = iso(at)
            taints = [t for t in body["spec"].get("taints", []) if t["key"] != taint]
            if on:
                taints.append({"effect": "NoSchedule", "key": taint, "timeAdded": iso(at)})
            if taints:
                body["spec"]["taints"] = taints
            else:
                body["spec"].pop("taints", None)

        self.update_static("nodes", "", node, at, change)

    # ---------------------------------------------------------------- events
    def event(
        self,
        at: int,
        involved: JsonObject,
        reason: str,
        message: str,
        *,
        type_: str = "Normal",
        component: str = "",
        host: str = "",
        repeat_until: int | None = None,
        every: int = 0,
    ) -> None:
        """A core/v1 Event, observed at ``at``; repeated (count += 1, MODIFIED) every ``every`` ns."""
        namespace = involved.get("namespace") or "default"
        name = f"{involved['name']}.{self.rng.getrandbits(64):016x}"[:253]
        uid = self.ids.uid()
        source: JsonObject = {"component": component}
        if host:
            source["host"] = host
        count = 1
        observed = at
        while True:
            body: JsonObject = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "uid": uid,
                    "resourceVersion": self.next_version(),
                    "creationTimestamp": iso(at),
                },
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "source": source,
                "firstTimestamp": iso(at),
                "lastTimestamp": iso(observed),
                "count": count,
                "type": type_,
                "eventTime": None,
                "reportingComponent": component,
                "reportingInstance": host,
            }
            self.events.append(EventRecord(observed, "ADDED" if count == 1 else "MODIFIED", body))
            if repeat_until is None or every <= 0:
                break
            observed += every + self.rng.randrange(0, max(1, every // 4))
            if observed >= repeat_until:
                break
            count += 1

    def event_stream(self) -> list[EventRecord]:
        """Every event occurrence, aggregated the way the kubelet's and the controllers' event
        recorders do it, in the order observed.

        Occurrences with the same involved object (and container), reason, message, type and
        source are one Event object: the first is ``ADDED``, each later one a ``MODIFIED`` of the
        same object with ``count`` one higher and ``lastTimestamp`` advanced, however many calls
        of :meth:`event` planted them. An Event lives an hour (the API server's default event TTL):
        an occurrence more than an hour after the previous one starts a new object. The
        scheduler binds a pod once, so only a pod's first ``Scheduled`` is kept.
        """
        ordered = sorted(enumerate(self.events), key=lambda item: (item[1].observed, item[0]))
        series: dict[tuple[str, ...], tuple[JsonObject, int, int]] = {}  # key -> (first, count, last seen)
        scheduled: set[str] = set()
        out: list[EventRecord] = []
        own_versions: list[int] = []
        for _index, record in ordered:
            event = record.event
            involved = event["involvedObject"]
            if event["reason"] == "Scheduled":
                if involved.get("uid", "") in scheduled:
                    continue
                scheduled.add(involved.get("uid", ""))
            source = event.get("source") or {}
            key = (
                event["metadata"].get("namespace", ""),
                str(involved.get("kind", "")),
                str(involved.get("name", "")),
                str(involved.get("uid", "")),
                str(involved.get("fieldPath", "")),
                str(event["reason"]),
                str(event["message"]),
                str(event["type"]),
                str(source.get("component", "")),
                str(source.get("host", "")),
            )
            current = series.get(key)
            if current is None or record.observed - current[2] > 60 * MINUTE:
                first, count = event, 1
            else:
                first, count = current[0], current[1] + 1
            series[key] = (first, count, record.observed)
            body = {
                **event,
                "metadata": dict(first["metadata"]),
                "involvedObject": first["involvedObject"],
                "firstTimestamp": first["firstTimestamp"],
                "lastTimestamp": iso(record.observed),
                "count": count,
            }
            out.append(EventRecord(record.observed, "ADDED" if count == 1 else "MODIFIED", body))
            own_versions.append(int(event["metadata"]["resourceVersion"]))
        # An object's resourceVersion rises with each of its updates.
        per_object: dict[str, list[tuple[EventRecord, int]]] = {}
        for record, version in zip(out, own_versions, strict=True):
            per_object.setdefault(record.event["metadata"]["uid"], []).append((record, version))
        for pairs in per_object.values():
            numbers = sorted(version for _record, version in pairs)
            for (record, _version), number in zip(pairs, numbers, strict=True):
                record.event["metadata"]["resourceVersion"] = str(number)
        return out

    def pod_ref(self, pod: Pod, *, container: bool = True) -> JsonObject:
        """The involvedObject of an event about ``pod`` (or about its main container)."""
        ref: JsonObject = {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": pod.name,
            "namespace": self.app.namespace,
            "uid": pod.uid,
            "resourceVersion": str(self.resource_version),
        }
        if container:
            ref["fieldPath"] = f"spec.containers{{{self.app.container_of(pod.workload)}}}"
        return ref

    def ref(self, kind: str, name: str, namespace: str, uid: str, api_version: str) -> JsonObject:
        return {
            "apiVersion": api_version,
            "kind": kind,
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "resourceVersion": str(self.resource_version),
        }

    # ---------------------------------------------------------------- workloads
    def values_cpu_limit_m(self, workload: str) -> int | None:
        """The CPU limit ITBench's values give the workload's container, in millicores (None:
        none, or a scenario recorded before the values set any)."""
        if not self.cpu_limits:
            return None
        return self.app.workload_by_name[workload].cpu_limit_m

    @staticmethod
    def pod_cpu_limit_m(pod: Pod) -> int | None:
        """The CPU limit of the pod's container as its template says (a patched limit, a removed
        one), in millicores; None: no limit, so no CFS quota."""
        limit = pod.template["spec"]["containers"][0].get("resources", {}).get("limits", {}).get("cpu")
        if limit is None:
            return None
        text = str(limit)
        return int(text.removesuffix("m")) if text.endswith("m") else round(float(text) * 1000)

    def container_cores(self, pod: Pod, factor: float) -> float:
        """The cores the pod's container uses at ``factor`` times its usual CPU: what its
        processes ask for, up to its limit (the CFS quota holds it there)."""
        cores = self.app.workload_by_name[pod.workload].cpu_millis / 1000.0 * factor
        limit = self.pod_cpu_limit_m(pod)
        return cores if limit is None else min(cores, limit / 1000.0)

    def resources_of(self, workload: Workload) -> JsonObject:
        """The container's ``resources`` as the template writes them."""
        limits: JsonObject = {"memory": f"{workload.memory_limit_mi}Mi"}
        limit = self.values_cpu_limit_m(workload.name)
        if limit is None:
            return {"limits": limits}
        return {
            "limits": {"cpu": f"{limit}m", **limits},
            "requests": {"cpu": f"{workload.cpu_request_m}m"},
        }

    def container_spec(self, workload: Workload) -> list[JsonObject]:
        env: list[JsonObject] = [
            {
                "name": "OTEL_SERVICE_NAME",
                "valueFrom": {
                    "fieldRef": {
                        "apiVersion": "v1",
                        "fieldPath": "metadata.labels['app.kubernetes.io/component']",
                    }
                },
            },
        ]
        env.extend({"name": key, "value": value} for key, value in workload.env)
        env.append({"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector:4317"})
        if not self.app.instrumented:  # no OpenTelemetry SDK: only the workload's own variables
            env = [{"name": key, "value": value} for key, value in workload.env]
        container: JsonObject = {
            "name": self.app.container_of(workload.name),
            "image": workload.container_image,
            "imagePullPolicy": "IfNotPresent",
            "env": env,
            "resources": self.resources_of(workload),
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
        }
        if workload.port is not None:
            container["ports"] = [{"containerPort": workload.port, "name": "service", "protocol": "TCP"}]
        containers = [container]
        containers.extend(
            {
                "name": extra,
                "image": f"{workload.container_image.rsplit(':', 1)[0]}:{DEMO_VERSION}-{extra}",
                "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 4000, "name": "service", "protocol": "TCP"}],
                "resources": {"limits": {"memory": "250Mi"}},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }
            for extra in workload.extra_containers
        )
        return containers

    def template_for(self, workload: Workload) -> JsonObject:
        return {
            "metadata": {
                "labels": {
                    **self.app.selector(workload.name),
                    **self.app.pod_labels(workload.name),
                }
            },
            "spec": {
                "containers": self.container_spec(workload),
                "dnsPolicy": "ClusterFirst",
                "restartPolicy": "Always",
                "schedulerName": "default-scheduler",
                "securityContext": {},
                "serviceAccount": self.app.service_account(workload.name),
                "serviceAccountName": self.app.service_account(workload.name),
                "terminationGracePeriodSeconds": 30,
            },
        }

    def template_hash(self) -> str:
        return self.ids.suffix(self.rng.choice((9, 10)))

    def add_workload(self, workload: Workload) -> None:
        template = self.template_for(workload)
        spec: JsonObject = {
            "progressDeadlineSeconds": 600,
            "replicas": workload.replicas,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": self.app.selector(workload.name)},
            "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}, "type": "RollingUpdate"},
            "template": template,
        }
        created = self.installed + self.rng.randrange(0, 20) * SECOND
        deployment = Deployment(workload, self.ids.uid(), created, [(created, spec, 1)])
        deployment.managed_fields = [
            _managed_fields(
                self.app.manager,
                "Update",
                created,
                {
                    "f:metadata": {
                        "f:annotations": {
                            ".": {},
                            "f:meta.helm.sh/release-name": {},
                            "f:meta.helm.sh/release-namespace": {},
                        },
                        "f:labels": {
                            ".": {},
                            "f:app.kubernetes.io/component": {},
                            "f:app.kubernetes.io/name": {},
                        },
                    },
                    "f:spec": {
                        "f:replicas": {},
                        "f:selector": {},
                        "f:template": {
                            "f:spec": {
                                "f:containers": {
                                    f'k:{{"name":"{self.app.container_of(workload.name)}"}}': {
                                        ".": {},
                                        "f:image": {},
                                        "f:env": {},
                                    }
                                }
                            }
                        },
                    },
                },
            ),
            _managed_fields(
                "kube-controller-manager",
                "Update",
                created + 30 * SECOND,
                {
                    "f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}},
                    "f:status": {
                        "f:availableReplicas": {},
                        "f:conditions": {},
                        "f:readyReplicas": {},
                        "f:replicas": {},
                    },
                },
            )
            | {"subresource": "status"},
        ]
        self.deployments[workload.name] = deployment
        replicaset = self.new_replicaset(workload.name, created, template, workload.replicas, revision=1)
        for _ in range(workload.replicas):
            self.new_pod(
                replicaset, created + self.rng.randrange(1, 5) * SECOND, healthy=True, quiet_before=self.start
            )

    def new_replicaset(
        self, deployment: str, at: int, template: JsonObject, replicas: int, revision: int
    ) -> ReplicaSet:
        pod_hash = self.template_hash()
        name = f"{deployment}-{pod_hash}"
        replicaset = ReplicaSet(
            name,
            self.ids.uid(),
            deployment,
            pod_hash,
            revision,
            at,
            copy.deepcopy(template),
            [(at, replicas)],
        )
        self.replicasets[name] = replicaset
        return replicaset

    def new_pod(
        self,
        replicaset: ReplicaSet,
        at: int,
        *,
        healthy: bool = True,
        states: list[PodState] | None = None,
        node: str | None = None,
        quiet_before: int | None = None,
    ) -> Pod:
        """A pod of ``replicaset`` created at ``at``; healthy pods start within seconds."""
        workload = replicaset.deployment
        node = node or self.node_for(replicaset.template)
        name = f"{replicaset.name}-{self.ids.suffix(5)}"
        pod = Pod(
            name=name,
            workload=workload,
            replicaset=replicaset.name,
            replicaset_uid=replicaset.uid,
            template_hash=replicaset.template_hash,
            uid=self.ids.uid(),
            node=node,
            ip=self.ids.pod_ip(node),
            created=at,
            template=replicaset.template,
            states=[],
        )
        for container in replicaset.template["spec"]["containers"]:
            pod.container_ids[container["name"]] = self.ids.container_id()
        if states is None:
            started = at + self.rng.randrange(2, 6) * SECOND
            states = [
                PodState(at, phase="Pending", ready=False, waiting="ContainerCreating"),
                PodState(started, running_since=started, ready=False),
                PodState(started + self.rng.randrange(2, 9) * SECOND, running_since=started),
            ]
        pod.states = states
        self.pods.append(pod)
        self._pod_ready_cache.clear()
        if healthy and (quiet_before is None or at >= quiet_before - 60 * MINUTE):
            self.startup_events(pod, at)
        elif quiet_before is None and states[0].scheduled:
            self.scheduled_event(pod, at)
        return pod

    def create_pod(
        self,
        replicaset: ReplicaSet,
        at: int,
        *,
        healthy: bool = True,
        states: list[PodState] | None = None,
        node: str | None = None,
    ) -> Pod:
        """A pod its ReplicaSet's controller creates at ``at`` (``new_pod``), with the
        controller's ``SuccessfulCreate`` event."""
        pod = self.new_pod(replicaset, at, healthy=healthy, states=states, node=node)
        self.event(
            at,
            self.replicaset_ref(replicaset),
            "SuccessfulCreate",
            f"Created pod: {pod.name}",
            component="replicaset-controller",
        )
        return pod

    def node_for(self, template: JsonObject) -> str:
        """The worker the scheduler binds a new pod of ``template`` to: the one its node selector
        names, else any worker with room for its CPU request."""
        selected = template["spec"].get("nodeSelector", {}).get("kubernetes.io/hostname")
        if selected in NODES:
            return selected
        candidates = NODES
        if pod_cpu_request_m(template["spec"]) > 0 and self.filled_nodes:
            candidates = tuple(node for node in NODES if node not in self.filled_nodes)
        return self.rng.choice(candidates)

    def scheduled_event(self, pod: Pod, at: int) -> None:
        self.event(
            at,
            self.pod_ref(pod, container=False),
            "Scheduled",
            f"Successfully assigned {self.app.namespace}/{pod.name} to {pod.node}",
            component="default-scheduler",
        )

    def startup_events(self, pod: Pod, at: int) -> None:
        self.scheduled_event(pod, at)
        image = pod.template["spec"]["containers"][0]["image"]
        pulled = at + SECOND
        self.event(
            pulled,
            self.pod_ref(pod),
            "Pulled",
            f'Container image "{image}" already present on machine',
            component="kubelet",
            host=pod.node,
        )
        self.event(
            pulled,
            self.pod_ref(pod),
            "Created",
            f"Created container: {self.app.container_of(pod.workload)}",
            component="kubelet",
            host=pod.node,
        )
        self.event(
            pulled + SECOND,
            self.pod_ref(pod),
            "Started",
            f"Started container {self.app.container_of(pod.workload)}",
            component="kubelet",
            host=pod.node,
        )

    def delete_pod(self, pod: Pod, at: int, grace: int = 2 * SECOND) -> None:
        self.event(
            at,
            self.pod_ref(pod),
            "Killing",
            f"Stopping container {self.app.container_of(pod.workload)}",
            component="kubelet",
            host=pod.node,
        )
        pod.states.append(PodState(at, ready=False, running_since=pod.state(at).running_since))
        pod.deleted = at + grace
        self._pod_ready_cache.clear()

    def deployment_ref(self, name: str) -> JsonObject:
        return self.ref("Deployment", name, self.app.namespace, self.deployments[name].uid, "apps/v1")

    def replicaset_ref(self, replicaset: ReplicaSet) -> JsonObject:
        return self.ref("ReplicaSet", replicaset.name, self.app.namespace, replicaset.uid, "apps/v1")

    def current_replicaset(self, deployment: str, t: int) -> ReplicaSet:
        candidates = [
            rs for rs in self.replicasets.values() if rs.deployment == deployment and rs.created <= t
        ]
        return max(candidates, key=lambda rs: rs.revision)

    def rollout(
        self,
        deployment_name: str,
        at: int,
        change: Callable[[JsonObject], None],
        pod_states: Callable[[int], list[PodState]] | None = None,
        *,
        healthy: bool = True,
        manager: str = "kubectl-patch",
        fields: JsonObject | None = None,
        starts: bool | None = None,
    ) -> tuple[ReplicaSet, list[Pod]]:
        """Edit the pod template: a new ReplicaSet scales up, the old one scales down to zero.

        ``manager`` and ``fields`` are the managed-fields entry the edit leaves (who edited what);
        ``starts``: whether the new pods' start-up events are planted (by default only for pods
        with the usual healthy lifecycle).
        """
        deployment = self.deployments[deployment_name]
        spec, generation = deployment.spec(at)
        spec = copy.deepcopy(spec)
        change(spec["template"])
        deployment.versions.append((at, spec, generation + 1))
        deployment.managed_fields.append(
            _managed_fields(
                manager,
                "Update",
                at,
                fields or {"f:spec": {"f:template": {"f:spec": {"f:containers": {}}}}},
            )
        )
        old = self.current_replicaset(deployment_name, at)
        replicas = spec["replicas"]
        new = self.new_replicaset(
            deployment_name, at + SECOND, spec["template"], replicas, revision=old.revision + 1
        )
        self.event(
            at + SECOND,
            self.deployment_ref(deployment_name),
            "ScalingReplicaSet",
            f"Scaled up replica set {new.name} from 0 to {replicas}",
            component="deployment-controller",
        )
        pods = []
        for _ in range(replicas):
            created = at + 2 * SECOND
            states = pod_states(created) if pod_states else None
            started = healthy and pod_states is None if starts is None else starts
            pod = self.create_pod(new, created, healthy=started, states=states)
            pods.append(pod)
        down = at + 3 * SECOND
        old.replicas.append((down, 0))
        self.event(
            down,
            self.deployment_ref(deployment_name),
            "ScalingReplicaSet",
            f"Scaled down replica set {old.name} from {old.desired(at)} to 0",
            component="deployment-controller",
        )
        for pod in self.pods:
            if pod.replicaset == old.name and pod.exists(down):
                self.delete_pod(pod, down)
                self.event(
                    down,
                    self.replicaset_ref(old),
                    "SuccessfulDelete",
                    f"Deleted pod: {pod.name}",
                    component="replicaset-controller",
                )
        return new, pods

    def restart(
        self, deployment_name: str, at: int, pod_states: Callable[[int], list[PodState]] | None = None
    ) -> tuple[ReplicaSet, list[Pod]]:
        """``kubectl rollout restart``: the restartedAt annotation on the pod template, a rollout."""
        stamp = datetime.fromtimestamp(at // SECOND, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        def restarted(template: JsonObject) -> None:
            template["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = stamp

        fields = {
            "f:spec": {
                "f:template": {
                    "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/restartedAt": {}}}
                }
            }
        }
        return self.rollout(
            deployment_name, at, restarted, pod_states, manager="kubectl-rollout", fields=fields, starts=True
        )

    def scale(
        self,
        deployment_name: str,
        at: int,
        replicas: int,
        pod_states: Callable[[int], list[PodState]] | None = None,
    ) -> list[Pod]:
        """Scale a Deployment (its current ReplicaSet) to ``replicas``; returns the new pods."""
        deployment = self.deployments[deployment_name]
        spec, generation = deployment.spec(at)
        before = spec["replicas"]
        deployment.versions.append((at, {**copy.deepcopy(spec), "replicas": replicas}, generation + 1))
        replicaset = self.current_replicaset(deployment_name, at)
        replicaset.replicas.append((at + SECOND, replicas))
        verb = "up" if replicas > before else "down"
        self.event(
            at + SECOND,
            self.deployment_ref(deployment_name),
            "ScalingReplicaSet",
            f"Scaled {verb} replica set {replicaset.name} from {before} to {replicas}",
            component="deployment-controller",
        )
        created: list[Pod] = []
        if replicas > before:
            for _ in range(replicas - before):
                when = at + 2 * SECOND
                states = pod_states(when) if pod_states else None
                pod = self.create_pod(replicaset, when, healthy=pod_states is None, states=states)
                created.append(pod)
        else:
            current = sorted(self.pods_of(deployment_name, at), key=lambda p: (p.created, p.name))
            for pod in reversed(current[replicas:]):
                self.delete_pod(pod, at + 2 * SECOND)
                self.event(
                    at + 2 * SECOND,
                    self.replicaset_ref(replicaset),
                    "SuccessfulDelete",
                    f"Deleted pod: {pod.name}",
                    component="replicaset-controller",
                )
        return created

    def invalidate(self) -> None:
        """Forget cached pod readiness (after a fault changed pod states)."""
        self._pod_ready_cache.clear()

    def chaos_definition(self, kind: str, plural: str) -> None:
        """The CustomResourceDefinition of a Chaos Mesh kind (installed with Chaos Mesh)."""
        if ("customresourcedefinitions", "", f"{plural}.chaos-mesh.org") not in self.static:
            at = self.installed - 3 * 60 * MINUTE
            self.add_static("customresourcedefinitions", at, chaos_crd(self, kind, plural, at))

    def control_plane_pods(self) -> None:
        """The control plane's static pods in kube-system (apiserver, etcd, controller manager,
        scheduler), listed like any pod."""
        if ("pods", "kube-system", f"kube-apiserver-{CONTROL_PLANE}") in self.static:
            return
        at = self.installed - 3 * 60 * MINUTE
        # kubeadm's CPU requests (etcd also asks for memory); typical use of a small cluster.
        for component, image, requests, cpu_use_m, memory_use_mi in (
            ("etcd", "registry.k8s.io/etcd:3.5.21-0", {"cpu": "100m", "memory": "100Mi"}, 28, 72),
            ("kube-apiserver", "registry.k8s.io/kube-apiserver:v1.33.1", {"cpu": "250m"}, 65, 430),
            (
                "kube-controller-manager",
                "registry.k8s.io/kube-controller-manager:v1.33.1",
                {"cpu": "200m"},
                16,
                66,
            ),
            ("kube-scheduler", "registry.k8s.io/kube-scheduler:v1.33.1", {"cpu": "100m"}, 4, 29),
        ):
            name = f"{component}-{CONTROL_PLANE}"
            self.platform_pods.append(
                PlatformPod(
                    name,
                    "kube-system",
                    CONTROL_PLANE,
                    component,
                    at,
                    cpu_use_m / 1000,
                    memory_use_mi * 1048576.0,
                )
            )
            meta = self.metadata(
                name, "kube-system", at, labels={"component": component, "tier": "control-plane"}
            )
            meta["ownerReferences"] = [
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "name": CONTROL_PLANE,
                    "uid": self.ids.uid(),
                    "controller": True,
                }
            ]
            started = iso(at + 10 * SECOND)
            self.add_static(
                "pods",
                at,
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": meta,
                    "spec": {
                        "containers": [
                            {"name": component, "image": image, "resources": {"requests": requests}}
                        ],
                        "hostNetwork": True,
                        "nodeName": CONTROL_PLANE,
                        "priorityClassName": "system-node-critical",
                    },
                    "status": {
                        "phase": "Running",
                        "conditions": [
                            {
                                "type": "Ready",
                                "status": "True",
                                "lastProbeTime": None,
                                "lastTransitionTime": started,
                            }
                        ],
                        "containerStatuses": [
                            {
                                "name": component,
                                "image": image,
                                "imageID": f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
                                "containerID": self.ids.container_id(),
                                "ready": True,
                                "restartCount": 0,
                                "started": True,
                                "state": {"running": {"startedAt": started}},
                                "lastState": {},
                            }
                        ],
                        "hostIP": node_ip(CONTROL_PLANE),
                        "podIP": node_ip(CONTROL_PLANE),
                        "podIPs": [{"ip": node_ip(CONTROL_PLANE)}],
                        "qosClass": "Burstable",
                        "startTime": iso(at),
                    },
                },
            )

    def daemon_pods(
        self,
        name: str,
        namespace: str,
        owner_uid: str,
        labels: dict[str, str],
        container: JsonObject,
        at: int,
    ) -> None:
        """The pods of a DaemonSet outside the demo, one per worker, running from ``at``."""
        for node in NODES:
            self._static_pod(
                name, "DaemonSet", name, owner_uid, node, container["image"], labels, at,
                container=container["name"], namespace=namespace,
            )  # fmt: skip

    def static_deployment(
        self,
        name: str,
        namespace: str,
        at: int,
        template: JsonObject,
        replicas: int,
        *,
        ready: int,
        scheduled: Sequence[int] = (),
        pending_message: str = "",
    ) -> list[StaticPod]:
        """A Deployment outside the demo created at ``at`` (listed, not simulated): its
        ReplicaSet and pods, ``ready`` of them running (bound at the times ``scheduled`` gives,
        else a second after their creation) and the rest waiting to be scheduled, with
        ``pending_message`` (the scheduler's, required then) as their reason."""
        if ready < replicas and not pending_message:
            raise ValueError(f"{name}: waiting pods need the scheduler's message")
        labels = template["metadata"]["labels"]
        template_hash = self.template_hash()
        deployment_meta = self.metadata(name, namespace, at, labels=labels, generation=1)
        self.add_static(
            "deployments",
            at,
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": deployment_meta,
                "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template},
                "status": {
                    "observedGeneration": 1,
                    "replicas": replicas,
                    "readyReplicas": ready,
                    "availableReplicas": ready,
                    "updatedReplicas": replicas,
                    **({"unavailableReplicas": replicas - ready} if ready < replicas else {}),
                },
            },
        )
        replicaset_name = f"{name}-{template_hash}"
        replicaset_meta = self.metadata(
            replicaset_name,
            namespace,
            at,
            labels={**labels, "pod-template-hash": template_hash},
            generation=1,
        )
        replicaset_meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": name,
                "uid": deployment_meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        self.add_static(
            "replicasets",
            at + SECOND,
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": replicaset_meta,
                "spec": {"replicas": replicas, "selector": {"matchLabels": replicaset_meta["labels"]}},
                "status": {
                    "replicas": replicas,
                    "readyReplicas": ready,
                    "availableReplicas": ready,
                    "observedGeneration": 1,
                },
            },
        )
        deployment_ref = self.ref("Deployment", name, namespace, deployment_meta["uid"], "apps/v1")
        replicaset_ref = self.ref("ReplicaSet", replicaset_name, namespace, replicaset_meta["uid"], "apps/v1")
        self.event(at + SECOND, deployment_ref, "ScalingReplicaSet",
                   f"Scaled up replica set {replicaset_name} from 0 to {replicas}", component="deployment-controller")  # fmt: skip
        node = template["spec"].get("nodeSelector", {}).get("kubernetes.io/hostname")
        container = template["spec"]["containers"][0]
        pods: list[StaticPod] = []
        for index in range(replicas):
            pod_name = f"{replicaset_name}-{self.ids.suffix(5)}"
            created = at + 2 * SECOND
            pod_meta = self.metadata(pod_name, namespace, created, labels=replicaset_meta["labels"])
            pod_meta["generateName"] = f"{replicaset_name}-"
            pod_meta["ownerReferences"] = [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": replicaset_name,
                    "uid": replicaset_meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
            running = index < ready
            host = node or self.rng.choice(NODES)
            bound = scheduled[index] if index < len(scheduled) else created + SECOND
            spec = copy.deepcopy(template["spec"])
            _default_requests(spec)
            status: JsonObject
            if running:
                spec["nodeName"] = host
                started = iso(bound + 3 * SECOND)
                status = {
                    "phase": "Running",
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "lastProbeTime": None,
                            "lastTransitionTime": started,
                        }
                    ],
                    "containerStatuses": [
                        {
                            "name": container["name"],
                            "image": container["image"],
                            "imageID": f"{container['image'].split(':')[0]}@sha256:"
                            + hashlib.sha256(container["image"].encode()).hexdigest(),
                            "containerID": self.ids.container_id(),
                            "ready": True,
                            "restartCount": 0,
                            "started": True,
                            "state": {"running": {"startedAt": started}},
                            "lastState": {},
                        }
                    ],
                    "hostIP": node_ip(host),
                    "hostIPs": [{"ip": node_ip(host)}],
                    **_pod_ips(self.ids.pod_ip(host)),
                    "qosClass": "Burstable",
                    "startTime": iso(created),
                }
            else:
                status = {
                    "phase": "Pending",
                    "conditions": [
                        {
                            "type": "PodScheduled",
                            "status": "False",
                            "reason": "Unschedulable",
                            "message": pending_message,
                            "lastProbeTime": None,
                            "lastTransitionTime": iso(created),
                        }
                    ],
                    "qosClass": "Burstable",
                }
            self.add_static(
                "pods",
                created,
                {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec, "status": status},
            )
            self.event(created, replicaset_ref, "SuccessfulCreate", f"Created pod: {pod_name}",
                       component="replicaset-controller")  # fmt: skip
            pod_ref = self.ref("Pod", pod_name, namespace, pod_meta["uid"], "v1")
            if running:
                self.event(bound, pod_ref, "Scheduled", f"Successfully assigned {namespace}/{pod_name} to {host}",
                           component="default-scheduler")  # fmt: skip
            pods.append(
                StaticPod(pod_name, str(pod_meta["uid"]), pod_ref, created, host if running else None)
            )
        return pods

    # ---------------------------------------------------------------- queries
    def pods_of(self, workload: str, t: int) -> list[Pod]:
        return [pod for pod in self.pods if pod.workload == workload and pod.exists(t)]

    def host_cpu(self, t: int) -> tuple[float, float]:
        """(cores used, cores asked for) on the host at ``t``. The cluster is kind's: its nodes
        are containers on one machine, whose cores each node reports as its capacity, and the
        ``/proc/stat`` and ``/proc/loadavg`` every node's node-exporter reads are the host's (they
        are not namespaced). So: the demo's running pods at their usual CPU times their factor
        (up to their limits) and the stressors beside them, every platform pod, and each node's
        system share (kubelet, container runtime). What is asked for beyond the host's cores
        waits in the run queue (the load average counts it)."""
        used = asked = _SYSTEM_CPU_CORES * (len(NODES) + 1)
        for pod in self.pods:
            if not pod.exists(t):
                continue
            state = pod.state(t)
            if state.running_since is None or not state.scheduled or state.phase == "Failed":
                continue
            cores = self.container_cores(pod, state.cpu_factor)
            used += cores + state.stressor_cpu
            asked += max(cores + state.stressor_cpu, state.cpu_demand)
        for platform in self.platform_pods:
            if platform.created <= t:
                used += platform.cpu_cores
                asked += platform.cpu_cores
        return min(used, float(NODE_CPU_CORES)), asked

    def ready_pods(self, workload: str, t: int) -> list[Pod]:
        key = (workload, t // SECOND)
        cached = self._pod_ready_cache.get(key)
        if cached is None:
            cached = [pod for pod in self.pods_of(workload, t) if pod.state(t).ready]
            self._pod_ready_cache[key] = cached
        return cached

    # ---------------------------------------------------------------- listing
    def listing(self, t: int) -> list[tuple[str, JsonObject]]:
        """Every object that exists at ``t``, as (resource, body), in a fixed order."""
        out: list[tuple[str, JsonObject]] = []
        for (resource, _ns, _name), record in sorted(self.static.items(), key=lambda item: item[0]):
            body = record.at(t)
            if body is not None:
                out.append((resource, body))
        out.extend(("deployments", self.deployment_body(name, t)) for name in sorted(self.deployments))
        for name in sorted(self.replicasets):
            replicaset = self.replicasets[name]
            if replicaset.created <= t:
                out.append(("replicasets", self.replicaset_body(replicaset, t)))
        out.extend(
            ("pods", self.pod_body(pod, t))
            for pod in sorted(self.pods, key=lambda p: p.name)
            if pod.exists(t)
        )
        out.extend(self.endpoints(t))
        # ITBench's recorder lists no chaos-mesh.org kind: chaos is seen through its controller's
        # events and its effects only (the CustomResourceDefinitions are listed).
        out = [(resource, body) for resource, body in out if not _is_chaos(body)]
        for resource, body in out:
            self._stable_version(resource, body)
        return out

    def _stable_version(self, resource: str, body: JsonObject) -> None:
        """Keep an object's resourceVersion unless its content changed since the last listing."""
        meta = body["metadata"]
        meta.pop("resourceVersion", None)
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        key = (resource, meta.get("namespace", ""), meta["name"])
        previous = self._versions.get(key)
        if previous is None or previous[0] != digest:
            previous = (digest, self.next_version())
            self._versions[key] = previous
        meta["resourceVersion"] = previous[1]

    def deployment_body(self, name: str, t: int) -> JsonObject:
        deployment = self.deployments[name]
        spec, generation = deployment.spec(t)
        revision = self.current_replicaset(name, t).revision
        pods = self.pods_of(name, t)
        current = self.current_replicaset(name, t)
        ready = sum(1 for pod in pods if pod.state(t).ready)
        desired = spec["replicas"]
        status: JsonObject = {"observedGeneration": generation, "replicas": len(pods)}
        updated = sum(1 for pod in pods if pod.replicaset == current.name)
        if updated:
            status["updatedReplicas"] = updated
        if ready:
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
        if desired - ready > 0:
            status["unavailableReplicas"] = desired - ready
        available = ready >= desired
        last_change = max(at for at, _spec, _gen in deployment.versions if at <= t)
        conditions: list[JsonObject] = [
            {
                "type": "Available",
                "status": "True" if available else "False",
                "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
                "lastTransitionTime": iso(last_change if not available else deployment.created),
                "lastUpdateTime": iso(last_change),
            },
        ]
        if current.failure_at(t):
            conditions.append(
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "reason": "FailedCreate",
                    "message": current.failure_at(t),
                    "lastTransitionTime": iso(current.failure[0][0]),
                    "lastUpdateTime": iso(current.failure[0][0]),
                }
            )
        progressing_ok = available and updated == desired
        stuck = not progressing_ok and t - last_change > spec["progressDeadlineSeconds"] * SECOND
        conditions.append(
            {
                "type": "Progressing",
                "status": "False" if stuck else "True",
                "reason": "ProgressDeadlineExceeded"
                if stuck
                else ("NewReplicaSetAvailable" if progressing_ok else "ReplicaSetUpdated"),
                "message": (
                    f'ReplicaSet "{current.name}" has timed out progressing.'
                    if stuck
                    else f'ReplicaSet "{current.name}" has successfully progressed.'
                    if progressing_ok
                    else f'ReplicaSet "{current.name}" is progressing.'
                ),
                "lastTransitionTime": iso(last_change),
                "lastUpdateTime": iso(last_change),
            }
        )
        status["conditions"] = conditions
        meta = self.metadata(
            name,
            self.app.namespace,
            deployment.created,
            uid=deployment.uid,
            labels=self.app.labels(name),
            generation=generation,
            annotations={"deployment.kubernetes.io/revision": str(revision), **self.release_annotations()},
        )
        managed = [m for m in deployment.managed_fields if m["time"] <= iso(t)]
        if len(deployment.managed_fields) > 2 or name in ("checkout", "frontend"):
            meta["managedFields"] = managed
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": spec,
            "status": status,
        }

    def replicaset_body(self, replicaset: ReplicaSet, t: int) -> JsonObject:
        desired = replicaset.desired(t)
        pods = [pod for pod in self.pods_of(replicaset.deployment, t) if pod.replicaset == replicaset.name]
        ready = sum(1 for pod in pods if pod.state(t).ready)
        labels = {**replicaset.template["metadata"]["labels"], "pod-template-hash": replicaset.template_hash}
        meta = self.metadata(
            replicaset.name,
            self.app.namespace,
            replicaset.created,
            uid=replicaset.uid,
            labels=labels,
            generation=len([r for r in replicaset.replicas if r[0] <= t]),
            annotations={
                "deployment.kubernetes.io/desired-replicas": str(desired),
                "deployment.kubernetes.io/max-replicas": str(desired + 1),
                "deployment.kubernetes.io/revision": str(replicaset.revision),
                **self.release_annotations(),
            },
        )
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": replicaset.deployment,
                "uid": self.deployments[replicaset.deployment].uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        template = copy.deepcopy(replicaset.template)
        template["metadata"]["labels"]["pod-template-hash"] = replicaset.template_hash
        status: JsonObject = {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "observedGeneration": meta["generation"],
        }
        if ready:
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
        failure = replicaset.failure_at(t)
        if failure:
            status["conditions"] = [
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "reason": "FailedCreate",
                    "message": failure,
                    "lastTransitionTime": iso(replicaset.failure[0][0]),
                }
            ]
        spec = {
            "replicas": desired,
            "selector": {
                "matchLabels": {
                    **self.app.selector(replicaset.deployment),
                    "pod-template-hash": replicaset.template_hash,
                }
            },
            "template": template,
        }
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": meta,
            "spec": spec,
            "status": status,
        }

    def pod_body(self, pod: Pod, t: int) -> JsonObject:
        state = pod.state(t)
        labels = {**pod.template["metadata"]["labels"], "pod-template-hash": pod.template_hash}
        meta = self.metadata(pod.name, self.app.namespace, pod.created, uid=pod.uid, labels=labels)
        meta["generateName"] = f"{pod.replicaset}-"
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": pod.replicaset,
                "uid": pod.replicaset_uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        if pod.deleted is not None and t >= pod.deleted - 30 * SECOND and not state.ready:
            meta["deletionTimestamp"] = iso(pod.deleted)
            meta["deletionGracePeriodSeconds"] = 30
        spec = copy.deepcopy(pod.template["spec"])
        _default_requests(spec)
        if state.scheduled:
            spec["nodeName"] = pod.node
        since = iso(state.at)
        created = iso(pod.created)
        if not state.scheduled:
            status: JsonObject = {
                "phase": "Pending",
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": state.unschedulable_message,
                        "lastProbeTime": None,
                        "lastTransitionTime": created,
                    }
                ],
                "qosClass": "Burstable",
            }
            return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}
        ready = "True" if state.ready else "False"
        init_containers = pod.template["spec"].get("initContainers", [])
        initialized: JsonObject = {
            "type": "Initialized",
            "status": "False" if state.init else "True",
            "lastProbeTime": None,
            "lastTransitionTime": created,
        }
        if state.init:
            initialized["reason"] = "ContainersNotInitialized"
            initialized["message"] = f"containers with incomplete status: [{init_containers[0]['name']}]"
        conditions = [
            initialized,
            {"type": "Ready", "status": ready, "lastProbeTime": None, "lastTransitionTime": since},
            {"type": "ContainersReady", "status": ready, "lastProbeTime": None, "lastTransitionTime": since},
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": created},
        ]
        if not state.ready:
            for condition in conditions[1:3]:
                condition["reason"] = "ContainersNotReady"
                condition["message"] = (
                    f"containers with unready status: [{self.app.container_of(pod.workload)}]"
                )
        statuses = []
        for container in pod.template["spec"]["containers"]:
            main = container["name"] == self.app.container_of(pod.workload)
            container_state: JsonObject
            if main and state.waiting:
                waiting: JsonObject = {"reason": state.waiting}
                if state.waiting_message:
                    waiting["message"] = state.waiting_message
                container_state = {"waiting": waiting}
            elif state.phase == "Failed":
                # An evicted pod's containers were killed by the kubelet and are not restarted.
                container_state = {
                    "terminated": {
                        "containerID": pod.container_ids[container["name"]],
                        "exitCode": 137,
                        "finishedAt": since,
                        "reason": "Error",
                        "startedAt": iso(pod.state(state.at - 1).running_since or pod.created),
                    }
                }
            else:
                container_state = {"running": {"startedAt": iso(state.running_since or pod.created)}}
            entry: JsonObject = {
                "name": container["name"],
                "image": container["image"],
                "imageID": ""
                if (main and state.waiting in ("ErrImagePull", "ImagePullBackOff", "ContainerCreating"))
                else f"{container['image'].split(':')[0]}@sha256:{hashlib.sha256(container['image'].encode()).hexdigest()}",
                "ready": (state.ready or not main) and state.phase != "Failed",
                "restartCount": state.restarts if main else 0,
                "started": bool(state.running_since)
                and not (main and state.waiting)
                and state.phase != "Failed",
                "state": container_state,
                "lastState": {"terminated": state.last_terminated}
                if (main and state.last_terminated)
                else {},
            }
            if entry.get("imageID"):
                entry["containerID"] = pod.container_ids[container["name"]]
            statuses.append(entry)
        phase = state.phase
        if phase == "Failed" and state.reason:
            # The kubelet marks a pod it evicts (Kubernetes 1.26 and later) with this condition.
            conditions.insert(
                0,
                {
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "TerminationByKubelet",
                    "message": state.message,
                    "lastProbeTime": None,
                    "lastTransitionTime": since,
                },
            )
            for condition in conditions:
                if condition["type"] in ("Ready", "ContainersReady"):
                    condition["reason"] = "PodFailed"
                    condition.pop("message", None)
        status = {
            "phase": phase,
            "conditions": conditions,
            "hostIP": node_ip(pod.node),
            "hostIPs": [{"ip": node_ip(pod.node)}],
            **_pod_ips(pod.ip),
            "startTime": created,
        }
        if init_containers:
            status["initContainerStatuses"] = [
                _init_status(container, state, pod.created) for container in init_containers
            ]
        status["containerStatuses"] = statuses
        if phase == "Failed" and state.reason:
            status["reason"] = state.reason
            status["message"] = state.message
        status["qosClass"] = "Burstable"
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}

    def endpoints(self, t: int) -> list[tuple[str, JsonObject]]:
        """The Endpoints of every demo Service that exists at ``t``: the ready and not-ready pods
        its selector picks, on the Service's target port."""
        out: list[tuple[str, JsonObject]] = []
        namespace = self.app.namespace
        for spec in self.app.services:
            record = self.static.get(("services", namespace, spec.name))
            service = record.at(t) if record is not None else None
            if service is None:
                continue
            port = service["spec"]["ports"][0].get("targetPort", spec.port)
            selected = service["spec"].get("selector") == spec.selector_map
            ready: list[JsonObject] = []
            not_ready: list[JsonObject] = []
            behind = [pod for workload in spec.workloads for pod in self.pods_of(workload, t)]
            for pod in sorted(behind, key=lambda p: p.ip):
                if not pod.state(t).scheduled or not selected:
                    continue
                address = {
                    "ip": pod.ip,
                    "nodeName": pod.node,
                    "targetRef": {"kind": "Pod", "name": pod.name, "namespace": namespace, "uid": pod.uid},
                }
                (ready if pod.state(t).ready else not_ready).append(address)
            subset: JsonObject = {"ports": [{"name": "tcp-service", "port": port, "protocol": "TCP"}]}
            if ready:
                subset["addresses"] = ready
            if not_ready:
                subset["notReadyAddresses"] = not_ready
            body: JsonObject = {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": self.metadata(
                    spec.name, namespace, self.installed, labels=self.app.labels(spec.name)
                ),
            }
            if ready or not_ready:
                body["subsets"] = [subset]
            out.append(("endpoints", body))
        return out

    # ---------------------------------------------------------------- static objects
    def build_static(self) -> None:
        """Namespaces, Nodes, Services, ConfigMaps, ServiceAccounts, CRDs and Chaos Mesh."""
        at = self.installed - 3 * 60 * MINUTE
        app_namespace = self.app.namespace
        for namespace in (*self.app.system_namespaces, app_namespace):
            labels = {"kubernetes.io/metadata.name": namespace}
            if namespace == app_namespace:
                labels.update(self.app.namespace_labels)
            meta = self.metadata(namespace, None, at, labels=labels)
            if namespace == app_namespace:
                meta["annotations"] = {
                    "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                        {
                            "apiVersion": "v1",
                            "kind": "Namespace",
                            "metadata": {"annotations": {}, "name": app_namespace},
                        },
                        separators=(",", ":"),
                    )
                    + "\n"
                }
                meta["managedFields"] = [
                    _managed_fields(
                        "kubectl-client-side-apply",
                        "Update",
                        self.installed,
                        {
                            "f:metadata": {
                                "f:annotations": {
                                    ".": {},
                                    "f:kubectl.kubernetes.io/last-applied-configuration": {},
                                },
                                "f:labels": {".": {}, "f:kubernetes.io/metadata.name": {}},
                            }
                        },
                    )
                ]
            self.add_static(
                "namespaces",
                at,
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": meta,
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                },
            )
        for node in (CONTROL_PLANE, *NODES):
            labels = {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": node,
                "kubernetes.io/os": "linux",
            }
            taints = []
            if node == CONTROL_PLANE:
                labels["node-role.kubernetes.io/control-plane"] = ""
                taints = [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]
            capacity = {
                "cpu": str(NODE_CPU_CORES),
                "ephemeral-storage": "102626232Ki",
                "memory": "16365628Ki",
                "pods": "110",
            }
            body: JsonObject = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": self.metadata(
                    node,
                    None,
                    at,
                    labels=labels,
                    annotations={
                        "node.alpha.kubernetes.io/ttl": "0",
                        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                    },
                ),
                "spec": {
                    "podCIDR": f"10.244.{_node_subnet(node)}.0/24",
                    "podCIDRs": [f"10.244.{_node_subnet(node)}.0/24"],
                    "providerID": f"kind://docker/itbench/{node}",
                    **({"taints": taints} if taints else {}),
                },
                "status": {
                    "addresses": [
                        {"address": node_ip(node), "type": "InternalIP"},
                        {"address": node, "type": "Hostname"},
                    ],
                    "allocatable": capacity,
                    "capacity": capacity,
                    "conditions": [
                        {
                            "type": "MemoryPressure",
                            "status": "False",
                            "reason": "KubeletHasSufficientMemory",
                            "message": "kubelet has sufficient memory available",
                            "lastHeartbeatTime": iso(self.start),
                            "lastTransitionTime": iso(at),
                        },
                        {
                            "type": "DiskPressure",
                            "status": "False",
                            "reason": "KubeletHasNoDiskPressure",
                            "message": "kubelet has no disk pressure",
                            "lastHeartbeatTime": iso(self.start),
                            "lastTransitionTime": iso(at),
                        },
                        {
                            "type": "PIDPressure",
                            "status": "False",
                            "reason": "KubeletHasSufficientPID",
                            "message": "kubelet has sufficient PID available",
                            "lastHeartbeatTime": iso(self.start),
                            "lastTransitionTime": iso(at),
                        },
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "KubeletReady",
                            "message": "kubelet is posting ready status",
                            "lastHeartbeatTime": iso(self.start),
                            "lastTransitionTime": iso(at),
                        },
                    ],
                    "nodeInfo": {
                        "architecture": "amd64",
                        "containerRuntimeVersion": "containerd://2.1.3",
                        "kernelVersion": "6.8.0-1031-aws",
                        "kubeProxyVersion": "",
                        "kubeletVersion": "v1.33.1",
                        "operatingSystem": "linux",
                        "osImage": "Debian GNU/Linux 12 (bookworm)",
                    },
                },
            }
            self.add_static("nodes", at, body)
        for spec in self.app.services:
            cluster_ip = self.ids.cluster_ip()
            self.cluster_ips[spec.name] = cluster_ip
            ports = [{"name": spec.port_name, "port": spec.port, "protocol": "TCP", "targetPort": spec.port}]
            if spec.name == "flagd":
                ports.append({"name": "tcp-service-0", "port": 4000, "protocol": "TCP", "targetPort": 4000})
            meta = self.metadata(
                spec.name,
                app_namespace,
                self.installed,
                labels=self.app.labels(spec.name),
                annotations=self.release_annotations(),
            )
            if spec.name == "frontend" and self.app is DEMO:
                meta["managedFields"] = [
                    _managed_fields(
                        "helm",
                        "Update",
                        self.installed,
                        {"f:spec": {"f:ports": {}, "f:selector": {}, "f:type": {}}},
                    )
                ]
            self.add_static(
                "services",
                self.installed,
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": meta,
                    "spec": {
                        "clusterIP": cluster_ip,
                        "clusterIPs": [cluster_ip],
                        "internalTrafficPolicy": "Cluster",
                        "ipFamilies": ["IPv4"],
                        "ipFamilyPolicy": "SingleStack",
                        "ports": ports,
                        "selector": spec.selector_map,
                        "sessionAffinity": "None",
                        "type": "ClusterIP",
                    },
                    "status": {"loadBalancer": {}},
                },
            )
        if self.app.install is not None:
            self.app.install(self, at)
            return
        for namespace, name in (
            (app_namespace, "otel-demo"),
            (app_namespace, "default"),
            ("chaos-mesh", "chaos-controller-manager"),
            ("chaos-mesh", "chaos-daemon"),
        ):
            self.add_static(
                "serviceaccounts",
                self.installed,
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": self.metadata(
                        name, namespace, self.installed, labels={"app.kubernetes.io/instance": name}
                    ),
                },
            )
        self.add_static("configmaps", self.installed, self.flagd_configmap(flagd_json({})))
        for name, data in (
            (
                "kube-root-ca.crt",
                {
                    "ca.crt": "-----BEGIN CERTIFICATE-----\nMIIC/jCCAeagAwIBAgIBADANBgkqhkiG9w0BAQsFADAVMRMwEQYDVQQDEwprdWJl\n-----END CERTIFICATE-----\n"
                },
            ),
            (
                "product-catalog-products",
                {
                    "products.json": json.dumps(
                        {
                            "products": [
                                {
                                    "id": "OLJCESPC7Z",
                                    "name": "National Park Foundation Explorascope",
                                    "priceUsd": {"currencyCode": "USD", "units": 101, "nanos": 960000000},
                                }
                            ]
                        },
                        indent=2,
                    )
                },
            ),
        ):
            self.add_static(
                "configmaps",
                self.installed,
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": self.metadata(name, app_namespace, self.installed),
                    "data": data,
                },
            )
        for kind, plural in (
            ("NetworkChaos", "networkchaos"),
            ("PodChaos", "podchaos"),
            ("StressChaos", "stresschaos"),
            ("HTTPChaos", "httpchaos"),
            ("Schedule", "schedules"),
        ):
            self.add_static("customresourcedefinitions", at, chaos_crd(self, kind, plural, at))
        self.chaos_mesh_workloads(at)

    def flagd_configmap(self, content: str) -> JsonObject:
        meta = self.metadata(
            "flagd-config",
            self.app.namespace,
            self.installed,
            labels=self.app.labels("flagd"),
            annotations=self.release_annotations(),
        )
        meta["managedFields"] = [
            _managed_fields("helm", "Update", self.installed, {"f:data": {".": {}, "f:demo.flagd.json": {}}})
        ]
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta,
            "data": {"demo.flagd.json": content},
        }

    def chaos_mesh_workloads(self, at: int) -> None:
        for name, replicas in (("chaos-controller-manager", 1), ("chaos-dashboard", 1)):
            labels = {
                "app.kubernetes.io/component": name.removeprefix("chaos-"),
                "app.kubernetes.io/instance": "chaos-mesh",
                "app.kubernetes.io/name": "chaos-mesh",
            }
            self.add_static(
                "deployments",
                at,
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": self.metadata(name, "chaos-mesh", at, labels=labels, generation=1),
                    "spec": {
                        "replicas": replicas,
                        "selector": {"matchLabels": labels},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {
                                "containers": [{"name": name, "image": f"ghcr.io/chaos-mesh/{name}:v2.7.2"}],
                                "serviceAccountName": "chaos-controller-manager",
                            },
                        },
                    },
                    "status": {
                        "availableReplicas": replicas,
                        "readyReplicas": replicas,
                        "replicas": replicas,
                        "updatedReplicas": replicas,
                        "observedGeneration": 1,
                    },
                },
            )
        labels = {
            "app.kubernetes.io/component": "chaos-daemon",
            "app.kubernetes.io/instance": "chaos-mesh",
            "app.kubernetes.io/name": "chaos-mesh",
        }
        self.add_static(
            "daemonsets",
            at,
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": self.metadata("chaos-daemon", "chaos-mesh", at, labels=labels, generation=1),
                "spec": {
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [
                                {
                                    "name": "chaos-daemon",
                                    "image": "ghcr.io/chaos-mesh/chaos-daemon:v2.7.2",
                                    "securityContext": {"privileged": True},
                                }
                            ],
                            "hostPID": True,
                        },
                    },
                },
                "status": {
                    "currentNumberScheduled": 3,
                    "desiredNumberScheduled": 3,
                    "numberAvailable": 3,
                    "numberReady": 3,
                    "observedGeneration": 1,
                    "updatedNumberScheduled": 3,
                },
            },
        )

        daemon_uid = self.static_body("daemonsets", "chaos-mesh", "chaos-daemon")["metadata"]["uid"]
        for node in NODES:
            self._static_pod(
                "chaos-daemon",
                "DaemonSet",
                "chaos-daemon",
                daemon_uid,
                node,
                "ghcr.io/chaos-mesh/chaos-daemon:v2.7.2",
                labels,
                at,
            )
        for name in ("chaos-controller-manager", "chaos-dashboard"):
            template_hash = self.template_hash()
            deployment = self.static_body("deployments", "chaos-mesh", name)
            labels = {**deployment["spec"]["selector"]["matchLabels"], "pod-template-hash": template_hash}
            replicaset_meta = self.metadata(
                f"{name}-{template_hash}", "chaos-mesh", at, labels=labels, generation=1
            )
            replicaset_meta["ownerReferences"] = [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": name,
                    "uid": deployment["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
            self.add_static(
                "replicasets",
                at,
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": replicaset_meta,
                    "spec": {"replicas": 1, "selector": {"matchLabels": labels}},
                    "status": {
                        "replicas": 1,
                        "readyReplicas": 1,
                        "availableReplicas": 1,
                        "observedGeneration": 1,
                    },
                },
            )
            image = f"ghcr.io/chaos-mesh/{name}:v2.7.2"
            self._static_pod(
                replicaset_meta["name"],
                "ReplicaSet",
                replicaset_meta["name"],
                replicaset_meta["uid"],
                self.rng.choice(NODES),
                image,
                labels,
                at,
                container=name,
            )

    def _static_pod(
        self,
        prefix: str,
        owner_kind: str,
        owner: str,
        owner_uid: str,
        node: str,
        image: str,
        labels: dict[str, str],
        at: int,
        container: str = "",
        namespace: str = "chaos-mesh",
    ) -> None:
        """A long-running, healthy infrastructure pod (listed, not simulated; its usage sampled)."""
        container = container or prefix
        name = f"{prefix}-{self.ids.suffix(5)}"
        self.platform_pods.append(PlatformPod(name, namespace, node, container, at, 0.002, 30 * 1048576.0))
        meta = self.metadata(name, namespace, at, labels=labels)
        meta["generateName"] = f"{prefix}-"
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": owner_kind,
                "name": owner,
                "uid": owner_uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        started = iso(at + 20 * SECOND)
        self.add_static(
            "pods",
            at,
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": meta,
                "spec": {
                    "containers": [{"name": container, "image": image}],
                    "nodeName": node,
                    "serviceAccountName": "chaos-controller-manager",
                },
                "status": {
                    "phase": "Running",
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "lastProbeTime": None,
                            "lastTransitionTime": started,
                        }
                    ],
                    "containerStatuses": [
                        {
                            "name": container,
                            "image": image,
                            "imageID": f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
                            "containerID": self.ids.container_id(),
                            "ready": True,
                            "restartCount": 0,
                            "started": True,
                            "state": {"running": {"startedAt": started}},
                            "lastState": {},
                        }
                    ],
                    "hostIP": node_ip(node),
                    "hostIPs": [{"ip": node_ip(node)}],
                    **_pod_ips(self.ids.pod_ip(node)),
                    "qosClass": "BestEffort",
                    "startTime": iso(at),
                },
            },
        )


def hpa_manifest(
    meta: JsonObject,
    target: str,
    *,
    max_replicas: int,
    utilization: int,
    usage_millis: int,
    since: int,
    limited_condition: bool,
) -> JsonObject:
    """A settled CPU HorizontalPodAutoscaler of Deployment ``target`` at one replica, its pods
    using ``usage_millis`` of CPU on average (``utilization`` percent of their request).

    ``limited_condition`` adds the ``ScalingLimited`` condition that a controller reports once it
    has compared the recommendation with the bounds.
    """
    conditions: list[JsonObject] = [
        {
            "type": "AbleToScale",
            "status": "True",
            "reason": "ReadyForNewScale",
            "message": "recommended size matches current size",
            "lastTransitionTime": iso(since),
        },
        {
            "type": "ScalingActive",
            "status": "True",
            "reason": "ValidMetricFound",
            "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)",
            "lastTransitionTime": iso(since),
        },
    ]
    if limited_condition:
        conditions.append(
            {
                "type": "ScalingLimited",
                "status": "False",
                "reason": "DesiredWithinRange",
                "message": "the desired count is within the acceptable range",
                "lastTransitionTime": iso(since),
            }
        )
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta,
        "spec": {
            "maxReplicas": max_replicas,
            "minReplicas": 1,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                }
            ],
        },
        "status": {
            "currentReplicas": 1,
            "desiredReplicas": 1,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {"averageUtilization": utilization, "averageValue": f"{usage_millis}m"},
                    },
                }
            ],
            "conditions": conditions,
        },
    }


def _init_status(container: JsonObject, state: PodState, created: int) -> JsonObject:
    """The status of an init container: completed, running (hanging) or waiting (crash-looping)."""
    image = container["image"]
    entry: JsonObject = {
        "name": container["name"],
        "image": image,
        "imageID": f"{image.split(':')[0].split('@')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
        "containerID": "containerd://" + hashlib.sha256(f"{container['name']}{created}".encode()).hexdigest(),
        "ready": False,
        "restartCount": state.init_restarts,
        "started": state.init == "running",
        "lastState": {"terminated": state.init_last_terminated} if state.init_last_terminated else {},
    }
    if state.init == "running":
        entry["state"] = {"running": {"startedAt": iso(created + 2 * SECOND)}}
    elif state.init:
        entry["state"] = {"waiting": {"reason": state.init}}
    else:
        entry["state"] = {
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": iso(created + 2 * SECOND),
                "finishedAt": iso(created + 3 * SECOND),
            }
        }
    return entry


def pod_cpu_request_m(pod_spec: JsonObject) -> int:
    """The CPU a pod requests, in millicores, as the scheduler counts it: the sum of its
    containers' requests (a limit without a request is requested at the limit)."""
    total = 0
    for container in pod_spec.get("containers", ()):
        resources = container.get("resources") or {}
        quantity = (resources.get("requests") or {}).get("cpu", (resources.get("limits") or {}).get("cpu"))
        if quantity is not None:
            text = str(quantity)
            total += int(text.removesuffix("m")) if text.endswith("m") else round(float(text) * 1000)
    return total


def _default_requests(pod_spec: JsonObject) -> None:
    """What the API server does to a new Pod: a resource with a limit and no request is requested
    at its limit (templates keep only what was written; the Pod shows both)."""
    for container in (*pod_spec.get("initContainers", ()), *pod_spec.get("containers", ())):
        resources = container.get("resources")
        if not resources or not resources.get("limits"):
            continue
        requests = resources.setdefault("requests", {})
        for resource, limit in resources["limits"].items():
            requests.setdefault(resource, limit)


def _pod_ips(ip: str) -> JsonObject:
    return {"podIP": ip, "podIPs": [{"ip": ip}]}


def _node_subnet(node: str) -> int:
    """The third octet of ``node``'s pod CIDR (the control plane's is 0)."""
    return (NODES.index(node) + 1) if node in NODES else 0


def node_ip(node: str) -> str:
    return f"172.18.0.{(NODES.index(node) + 3) if node in NODES else 2}"


def custom_resource_definition(
    cluster: Cluster, group: str, kind: str, plural: str, version: str, at: int
) -> JsonObject:
    """A namespaced CRD of ``kind`` with one served ``version``, any schema and the ``Age`` column."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": cluster.metadata(f"{plural}.{group}", None, at, generation=1),
        "spec": {
            "group": group,
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "additionalPrinterColumns": [
                        {"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"}
                    ],
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                    "subresources": {"status": {}},
                }
            ],
        },
        "status": {"acceptedNames": {"kind": kind, "plural": plural}, "storedVersions": [version]},
    }


def chaos_crd(cluster: Cluster, kind: str, plural: str, at: int) -> JsonObject:
    columns = [{"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"}]
    if kind != "Schedule":
        columns = [
            {"jsonPath": ".spec.action", "name": "action", "type": "string"},
            {"jsonPath": ".spec.duration", "name": "duration", "type": "string"},
            *columns,
        ]
    else:
        columns = [{"jsonPath": ".spec.type", "name": "type", "type": "string"}, *columns]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": cluster.metadata(
            f"{plural}.chaos-mesh.org",
            None,
            at,
            labels={"app.kubernetes.io/component": "crd", "app.kubernetes.io/name": "chaos-mesh"},
            generation=1,
        ),
        "spec": {
            "group": "chaos-mesh.org",
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                    "subresources": {"status": {}},
                }
            ],
        },
        "status": {"acceptedNames": {"kind": kind, "plural": plural}, "storedVersions": ["v1alpha1"]},
    }


FLAGS: tuple[tuple[str, str, dict[str, Any], str], ...] = (
    (
        "productCatalogFailure",
        "Make product catalog requests for one product fail",
        {"on": True, "off": False},
        "off",
    ),
    ("recommendationCacheFailure", "Make the recommendation cache fail", {"on": True, "off": False}, "off"),
    (
        "adManualGc",
        "Run full manual garbage collections in the ad service",
        {"on": True, "off": False},
        "off",
    ),
    ("adHighCpu", "Drive the ad service to high CPU usage", {"on": True, "off": False}, "off"),
    ("adFailure", "Make ad requests fail", {"on": True, "off": False}, "off"),
    ("kafkaQueueProblems", "Flood the Kafka queue and slow its consumers down", {"on": 100, "off": 0}, "off"),
    ("cartFailure", "Make cart requests fail", {"on": True, "off": False}, "off"),
    (
        "paymentFailure",
        "Fail a share of payment charge requests",
        {"100%": 1, "50%": 0.5, "25%": 0.25, "off": 0},
        "off",
    ),
    ("paymentUnreachable", "Make the payment service unreachable", {"on": True, "off": False}, "off"),
    ("loadGeneratorFloodHomepage", "Send a flood of home page requests", {"on": 100, "off": 0}, "off"),
    ("imageSlowLoad", "Slow down product image loading", {"10sec": 10000, "5sec": 5000, "off": 0}, "off"),
)


def flagd_json(overrides: dict[str, str]) -> str:
    """The demo's flagd configuration, with ``overrides`` (flag -> default variant) applied."""
    flags: dict[str, Any] = {}
    for name, description, variants, default in FLAGS:
        flags[name] = {
            "description": description,
            "state": "ENABLED",
            "variants": variants,
            "defaultVariant": overrides.get(name, default),
        }
    return json.dumps({"$schema": "https://flagd.dev/schema/v0/flags.json", "flags": flags}, indent=2) + "\n"


def _is_chaos(body: JsonObject) -> bool:
    """A Chaos Mesh object (a Schedule or an experiment), which the recorder does not list."""
    return str(body.get("apiVersion", "")).startswith("chaos-mesh.org/")
