"""Background noise: the harmless changes and warnings every real cluster has.

A recorded incident is never only the fault. Other teams roll out new images, someone edits a
ConfigMap, an autoscaler adds a replica, a node reports disk pressure for a few minutes, a
forgotten pod in another namespace has been crash-looping for hours. None of it caused the
incident, but all of it shows up in ``get_changes``, in Warning events and in alerts, so an
investigator that ranks whatever changed or warned most is misled, while one that follows the
alerts through the call graph to the change that explains them is not.

``plant_noise`` picks a few entries of ``NOISE_CATALOGUE`` from the seed, in every scenario
whatever the fault (so the presence of noise says nothing), and never touches a workload or
object the fault involves. Noise objects are never root causes and never enter the ground truth; the
alerts noise fires are returned so the answer key can leave them out.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from dataclasses import dataclass, field, replace
from typing import Final

from itbench_server.synth.application import DEMO, Application
from itbench_server.synth.cluster import (
    MINUTE,
    NODES,
    SECOND,
    Cluster,
    JsonObject,
    Pod,
    iso,
    node_ip,
)
from itbench_server.synth.faults import Fault, Incident
from itbench_server.synth.faults.flags import flagd_reload_lines
from itbench_server.synth.telemetry import Alert
from itbench_server.synth.topology import DEMO_VERSION, IMAGE_REPO, NAMESPACE
from itbench_server.synth.traffic import Disruption, Failure

__all__ = [
    "CHANGES",
    "NOISE_CATALOGUE",
    "WARNINGS",
    "Noise",
    "NoiseItem",
    "add_collector_config",
    "plant_noise",
]

# Entries that change an object during the window, and entries that only warn.
CHANGES: Final = ("image-bump", "resources-bump", "collector-config", "flag-variant")
WARNINGS: Final = ("crashlooping-pod", "probe-warnings", "node-pressure", "autoscaler", "slow-consumer")
# Planted in most scenarios on top of the entries drawn above: a rollout one call from the fault.
NEIGHBOUR: Final = "neighbour-rollout"
NOISE_CATALOGUE: Final = CHANGES + WARNINGS + (NEIGHBOUR,)

# Workloads a benign rollout or a normal autoscaler may touch (never the fault's own).
_ROLLED_OUT: Final = (
    "accounting",
    "ad",
    "currency",
    "email",
    "fraud-detection",
    "image-provider",
    "product-reviews",
    "quote",
    "recommendation",
    "shipping",
)
_AUTOSCALED: Final = (
    "ad",
    "cart",
    "checkout",
    "currency",
    "email",
    "fraud-detection",
    "image-provider",
    "payment",
    "product-catalog",
    "quote",
    "recommendation",
    "shipping",
)
_PROBED: Final = ("kafka", "postgresql", "product-reviews", "fraud-detection", "accounting", "email")
# BookInfo (no collector, flags, autoscalers or Kafka): rollouts, probes, nodes, a stray pod.
_BOOKINFO_CHANGES: Final = ("image-bump", "resources-bump")
_BOOKINFO_WARNINGS: Final = ("crashlooping-pod", "probe-warnings", "node-pressure")
_BOOKINFO_ROLLED_OUT: Final = ("details-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3")
_BOOKINFO_PROBED: Final = ("details-v1", "ratings-v1", "reviews-v1", "reviews-v2")
# Kafka consumers that may stall for a few minutes, and how much slower they get.
_CONSUMERS: Final = (("accounting", 1500.0), ("fraud-detection", 2000.0))
# Long-running pods outside the demo, crash-looping since before the window.
_CRASHLOOPING: Final = (
    (
        "default",
        "report-uploader",
        "curlimages/curl:8.11.0",
        "curl: (6) Could not resolve host: reports.internal.example",
    ),
    (
        "kube-system",
        "descheduler",
        "registry.k8s.io/descheduler/descheduler:v0.32.2",
        'Error: failed to read policy config file "/policy-dir/policy.yaml": open /policy-dir/policy.yaml: no such file or directory',
    ),
    (
        "default",
        "db-backup-agent",
        "postgres:17.2",
        'pg_dump: error: connection to server at "postgresql.otel-demo" (10.96.0.10), port 5432 failed: FATAL:  password authentication failed for user "backup"',
    ),
)
# The demo's collector configuration, and harmless edits of it.
_COLLECTOR_CONFIG: Final = """exporters:
  debug:
    verbosity: {verbosity}
  opensearch:
    http:
      endpoint: http://opensearch:9200
    logs_index: otel
  otlp:
    endpoint: jaeger-collector:4317
    tls:
      insecure: true
  otlphttp/prometheus:
    endpoint: http://prometheus:9090/api/v1/otlp
processors:
  batch:
    send_batch_size: {batch}
    timeout: {timeout}
  memory_limiter:
    check_interval: 5s
    limit_percentage: 80
    spike_limit_percentage: 25
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${{env:MY_POD_IP}}:4317
      http:
        endpoint: ${{env:MY_POD_IP}}:4318
service:
  telemetry:
    logs:
      level: {level}
"""
_COLLECTOR_DEFAULTS: Final = {"verbosity": "basic", "batch": "8192", "timeout": "1s", "level": "info"}
_COLLECTOR_EDITS: Final = (
    {"verbosity": "detailed"},
    {"batch": "4096", "timeout": "2s"},
    {"level": "debug"},
)
_FLAGD_CONFIG: Final = f"{NAMESPACE}/ConfigMap/flagd-config"
# Variants added to a flag whose default stays "off": the flag's behaviour does not change.
_FLAG_VARIANTS: Final = (
    ("paymentFailure", "75%", 0.75),
    ("imageSlowLoad", "2sec", 2000),
    ("kafkaQueueProblems", "low", 20),
)


@dataclass
class NoiseItem:
    """One planted piece of noise: its catalogue entry and the objects it changes or warns about."""

    kind: str
    objects: list[str]  # "namespace/Kind/name"
    at: int


@dataclass
class Noise:
    """Everything planted, and the alerts that come from it rather than from the fault."""

    items: list[NoiseItem] = field(default_factory=list)
    # (from, until, alert): alerts of objects the rules do not model, added to the evaluation
    alerts: list[tuple[int, int, Alert]] = field(default_factory=list)
    # alerts the rules fire on their own because of the noise (a stalled consumer's latency)
    symptoms: list[Alert] = field(default_factory=list)
    # (from, until, service, factor): services that answer ``factor`` times slower
    slow: list[tuple[int, int, str, float]] = field(default_factory=list)

    @property
    def alert_keys(self) -> set[tuple[str, ...]]:
        return {alert.key for _from, _until, alert in self.alerts} | {alert.key for alert in self.symptoms}

    def disrupt(self, fault: Disruption) -> Disruption:
        """The fault's disruption, with the noise's slow services on top."""
        return _SlowServices(fault, self.slow) if self.slow else fault


class _SlowServices(Disruption):
    def __init__(self, inner: Disruption, slow: list[tuple[int, int, str, float]]) -> None:
        self.inner = inner
        self.slow = slow

    def client_failure(self, t: int, caller: str, callee: str, operation: str) -> Failure | None:
        return self.inner.client_failure(t, caller, callee, operation)

    def server_failure(
        self, t: int, service: str, operation: str, rng: random.Random, product: str = ""
    ) -> Failure | None:
        return self.inner.server_failure(t, service, operation, rng, product)

    def consumes(self, t: int, service: str) -> bool:
        return self.inner.consumes(t, service)

    def flood(self, t: int) -> float:
        return self.inner.flood(t)

    def latency_factor(self, t: int, service: str) -> float:
        factor = self.inner.latency_factor(t, service)
        for since, until, name, extra in self.slow:
            if name == service and since <= t < until:
                factor *= extra
        return factor


def add_collector_config(cluster: Cluster) -> None:
    """The collector's ConfigMap, installed with the demo (present in every scenario)."""
    meta = cluster.metadata(
        "otel-collector",
        NAMESPACE,
        cluster.installed,
        labels={
            "app.kubernetes.io/instance": "otel-demo",
            "app.kubernetes.io/managed-by": "Helm",
            "app.kubernetes.io/name": "opentelemetry-collector",
        },
        annotations={"meta.helm.sh/release-name": "otel-demo", "meta.helm.sh/release-namespace": NAMESPACE},
    )
    meta["managedFields"] = [
        {
            "apiVersion": "v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}, "f:relay": {}}},
            "manager": "helm",
            "operation": "Update",
            "time": iso(cluster.installed),
        }
    ]
    cluster.add_static(
        "configmaps",
        cluster.installed,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta,
            "data": {"relay": _COLLECTOR_CONFIG.format(**_COLLECTOR_DEFAULTS)},
        },
    )


def plant_noise(incident: Incident, fault: Fault, rng: random.Random) -> Noise:
    """Plant a few catalogue entries chosen by ``rng``; returns what was planted."""
    planter = _Planter(incident, fault, rng)
    demo = incident.cluster.app is DEMO
    changes = [c for c in CHANGES if not (c == "flag-variant" and _FLAGD_CONFIG in fault.involved_objects())]
    if not demo:
        changes = list(_BOOKINFO_CHANGES)
    warnings = WARNINGS if demo else _BOOKINFO_WARNINGS
    chosen = rng.sample(changes, rng.choice((1, 2, 2))) + rng.sample(warnings, rng.choice((2, 3)))
    # Autoscalers first: they add CPU requests to a pod template before any rollout copies it.
    for kind in sorted(chosen, key=lambda k: (k != "autoscaler", NOISE_CATALOGUE.index(k))):
        planter.plant(kind)
    planter.neighbour_rollout()
    return planter.noise


def _neighbours(workloads: set[str], app: Application) -> list[str]:
    """Workloads one call away from ``workloads`` (callers and callees), in a fixed order."""
    found: set[str] = set()
    callers_of = app.callers_of
    for workload in sorted(workloads):
        found.update(callers_of(workload))
        found.update(service for service in app.workload_by_name if workload in callers_of(service))
    return sorted(found - workloads)


class _Planter:
    def __init__(self, incident: Incident, fault: Fault, rng: random.Random) -> None:
        self.incident = incident
        self.cluster = incident.cluster
        self.rng = rng
        self.noise = Noise()
        self.app = incident.cluster.app
        # a Service the fault involves stands for the Deployments behind it (BookInfo's details)
        self.busy = {w for name in fault.involved_workloads() for w in (name, *self.app.workloads_of(name))}
        self.busy_by_fault = set(self.busy)
        demo = self.app is DEMO
        self.rolled_out = _ROLLED_OUT if demo else _BOOKINFO_ROLLED_OUT
        self.probed = _PROBED if demo else _BOOKINFO_PROBED
        self.crashlooping = _CRASHLOOPING if demo else _CRASHLOOPING[:2]
        # Under a namespace quota at its limit, a pod that adds memory could not be created:
        # rollouts and scale-ups happen before the quota is applied.
        blocked = fault.blocks_new_pods_from(incident)
        self.grows_until = incident.end if blocked is None else blocked

    def plant(self, kind: str) -> None:
        {
            "image-bump": self._image_bump,
            "resources-bump": self._resources_bump,
            "collector-config": self._collector_config,
            "flag-variant": self._flag_variant,
            "crashlooping-pod": self._crashlooping_pod,
            "probe-warnings": self._probe_warnings,
            "node-pressure": self._node_pressure,
            "autoscaler": self._autoscaler,
            "slow-consumer": self._slow_consumer,
        }[kind]()

    def neighbour_rollout(self) -> None:
        """A routine rollout of a workload one call away from the fault, shortly before it (another
        team's release, as real incidents often have next to the culprit): the first change of the
        window is then often not the fault's."""
        if self.rng.random() < 0.25:
            return
        neighbours = [name for name in _neighbours(self.busy_by_fault, self.app) if name in self.rolled_out]
        name = self._free(tuple(neighbours) or self.rolled_out)
        if name is None:
            return
        incident = self.incident
        earliest = incident.start + 40 * SECOND
        at = max(earliest, incident.fault_at - self.rng.randrange(25, 150) * SECOND)
        at = min(at, self.grows_until - 10 * SECOND)
        if at < earliest:
            return
        self._rollout(NEIGHBOUR, change_image=True, name=name, at=at)

    # -- helpers
    def _when(self, latest: int = 17 * MINUTE, *, grows: bool = False) -> int:
        """A moment in the window, at most ``latest`` in and away from the fault; one that adds
        memory comes before a quota does."""
        incident = self.incident
        if grows:
            latest = min(latest, self.grows_until - incident.start)
        while True:
            at = incident.start + self.rng.randrange(40, latest // SECOND) * SECOND
            if abs(at - incident.fault_at) > 45 * SECOND:
                return at

    def _free(self, candidates: tuple[str, ...]) -> str | None:
        free = [name for name in candidates if name not in self.busy]
        if not free:
            return None
        name = self.rng.choice(free)
        self.busy.add(name)
        return name

    def _record(self, kind: str, objects: list[str], at: int) -> None:
        self.noise.items.append(NoiseItem(kind, objects, at))

    def _pulled_new_image(self, pod: Pod, image: str) -> None:
        """The kubelet pulls an image it has not seen: ``Pulling``, then a ``Pulled`` with timings."""
        seconds = f"{self.rng.randrange(800, 4500) / 1000:.3f}s"
        size = self.rng.randrange(40_000_000, 180_000_000)
        for record in self.cluster.events:
            event = record.event
            if event["reason"] == "Pulled" and event["involvedObject"]["name"] == pod.name:
                event["message"] = (
                    f'Successfully pulled image "{image}" in {seconds} ({seconds} including waiting). '
                    f"Image size: {size} bytes."
                )
        self.cluster.event(
            pod.created,
            self.cluster.pod_ref(pod),
            "Pulling",
            f'Pulling image "{image}"',
            component="kubelet",
            host=pod.node,
        )

    # -- changes
    def _rollout(
        self, kind: str, change_image: bool, *, name: str | None = None, at: int | None = None
    ) -> None:
        name = name or self._free(self.rolled_out)
        if name is None:
            return
        cluster = self.cluster
        namespace = self.app.namespace
        at = self._when(grows=True) if at is None else at
        workload = self.app.workload_by_name[name]
        if self.app is DEMO:
            major, minor, patch = (int(x) for x in DEMO_VERSION.split("."))
            image = f"{IMAGE_REPO}:{major}.{minor}.{patch + 1}-{name}"
        else:  # the next patch release of the workload's own image
            repository, _, tag = workload.container_image.rpartition(":")
            major, minor, patch = (int(x) for x in tag.split("."))
            image = f"{repository}:{major}.{minor}.{patch + 1}"
        limit = f"{workload.memory_limit_mi * 3 // 2}Mi"

        def change(template: JsonObject) -> None:
            container = template["spec"]["containers"][0]
            if change_image:
                container["image"] = image
            else:
                container["resources"]["limits"]["memory"] = limit

        # The workers have room for the raised limit (requested at the limit): the new pod is
        # scheduled at once, as a real cluster's would be.
        _replicaset, pods = cluster.rollout(name, at, change)
        objects = [f"{namespace}/Deployment/{name}"]
        for pod in pods:
            if change_image:
                self._pulled_new_image(pod, image)
            objects.append(f"{namespace}/Pod/{pod.name}")
        self._record(kind, objects, at)

    def _image_bump(self) -> None:
        self._rollout("image-bump", change_image=True)

    def _resources_bump(self) -> None:
        self._rollout("resources-bump", change_image=False)

    def _collector_config(self) -> None:
        at = self._when()
        edit = self.rng.choice(_COLLECTOR_EDITS)

        def change(body: JsonObject) -> None:
            body["data"]["relay"] = _COLLECTOR_CONFIG.format(**{**_COLLECTOR_DEFAULTS, **edit})
            body["metadata"]["managedFields"].append(
                {
                    "apiVersion": "v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {"f:relay": {}}},
                    "manager": "kubectl-edit",
                    "operation": "Update",
                    "time": iso(at),
                }
            )

        self.cluster.update_static("configmaps", NAMESPACE, "otel-collector", at, change)
        self._record("collector-config", [f"{NAMESPACE}/ConfigMap/otel-collector"], at)

    def _flag_variant(self) -> None:
        cluster, at = self.cluster, self._when()
        flag, variant, value = self.rng.choice(_FLAG_VARIANTS)

        def change(body: JsonObject) -> None:
            document = json.loads(body["data"]["demo.flagd.json"])
            document["flags"][flag]["variants"][variant] = value
            body["data"]["demo.flagd.json"] = json.dumps(document, indent=2) + "\n"
            body["metadata"]["managedFields"].append(
                {
                    "apiVersion": "v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {"f:demo.flagd.json": {}}},
                    "manager": "kubectl-edit",
                    "operation": "Update",
                    "time": iso(at),
                }
            )

        cluster.update_static("configmaps", NAMESPACE, "flagd-config", at, change)
        for pod in cluster.pods_of("flagd", at)[:1]:
            self.incident.logs += flagd_reload_lines(pod.name, at + 6 * SECOND)
        self._record("flag-variant", [f"{NAMESPACE}/ConfigMap/flagd-config"], at)

    # -- warnings
    def _crashlooping_pod(self) -> None:
        cluster, incident = self.cluster, self.incident
        namespace, name, image, error = self.rng.choice(self.crashlooping)
        since = incident.start - self.rng.randrange(90, 300) * MINUTE
        labels = {"app": name}
        template_hash = cluster.template_hash()
        deployment_meta = cluster.metadata(name, namespace, since, labels=labels, generation=1)
        replicaset_name = f"{name}-{template_hash}"
        replicaset_meta = cluster.metadata(
            replicaset_name,
            namespace,
            since,
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
        container = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent"}
        selector = {"matchLabels": labels}
        cluster.add_static(
            "deployments",
            since,
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": deployment_meta,
                "spec": {
                    "replicas": 1,
                    "selector": selector,
                    "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
                },
                "status": {
                    "observedGeneration": 1,
                    "replicas": 1,
                    "unavailableReplicas": 1,
                    "updatedReplicas": 1,
                    "conditions": [
                        {
                            "type": "Available",
                            "status": "False",
                            "reason": "MinimumReplicasUnavailable",
                            "message": "Deployment does not have minimum availability.",
                            "lastTransitionTime": iso(since),
                            "lastUpdateTime": iso(since),
                        }
                    ],
                },
            },
        )
        cluster.add_static(
            "replicasets",
            since,
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": replicaset_meta,
                "spec": {"replicas": 1, "selector": {"matchLabels": replicaset_meta["labels"]}},
                "status": {"replicas": 1, "fullyLabeledReplicas": 1, "observedGeneration": 1},
            },
        )
        pod_name = f"{replicaset_name}-{cluster.ids.suffix(5)}"
        node = self.rng.choice(NODES)
        pod_meta = cluster.metadata(pod_name, namespace, since, labels=replicaset_meta["labels"])
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
        container_id = cluster.ids.container_id()
        pod_uid = pod_meta["uid"]
        pod_ip, host_ip = cluster.ids.pod_ip(node), node_ip(node)  # a pod keeps its address while it lives
        # Back-off is capped at 5 minutes: one restart every ~5.5 minutes once it has grown.
        every = 330 * SECOND
        t = incident.start - 60 * MINUTE
        while t < incident.end:
            restarts = 8 + (t - since) // every
            body = copy.deepcopy(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": pod_meta,
                    "spec": {"containers": [container], "nodeName": node, "restartPolicy": "Always"},
                    "status": {
                        "phase": "Running",
                        "conditions": [
                            {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                             "message": f"containers with unready status: [{name}]",
                             "lastProbeTime": None, "lastTransitionTime": iso(since)},
                        ],
                        "containerStatuses": [
                            {
                                "name": name,
                                "image": image,
                                "imageID": f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
                                "containerID": container_id,
                                "ready": False,
                                "restartCount": restarts,
                                "started": False,
                                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": (
                                    f"back-off 5m0s restarting failed container={name} pod={pod_name}_{namespace}({pod_uid})"
                                )}},
                                "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                                             "message": error, "containerID": container_id,
                                                             "startedAt": iso(t - 40 * SECOND),
                                                             "finishedAt": iso(t - 38 * SECOND)}},
                            }
                        ],
                        "hostIP": host_ip,
                        "hostIPs": [{"ip": host_ip}],
                        "podIP": pod_ip,
                        "podIPs": [{"ip": pod_ip}],
                        "qosClass": "BestEffort",
                        "startTime": iso(since),
                    },
                }
            )  # fmt: skip
            body["metadata"]["resourceVersion"] = cluster.next_version()
            cluster.add_static("pods", t, body)
            t += every
        ref = cluster.ref("Pod", pod_name, namespace, pod_uid, "v1") | {
            "fieldPath": f"spec.containers{{{name}}}"
        }
        first = incident.start - 58 * MINUTE
        cluster.event(
            first,
            ref,
            "BackOff",
            f"Back-off restarting failed container {name} in pod {pod_name}_{namespace}({pod_uid})",
            type_="Warning",
            component="kubelet",
            host=node,
            repeat_until=incident.end,
            every=every,
        )
        cluster.event(
            first + 20 * SECOND,
            ref,
            "Pulled",
            f'Container image "{image}" already present on machine',
            component="kubelet",
            host=node,
            repeat_until=incident.end,
            every=every,
        )
        base = {"job": "kube-state-metrics", "namespace": namespace, "severity": "warning"}
        until = incident.end + MINUTE
        self.noise.alerts.append(
            (
                incident.start - 6 * MINUTE,
                until,
                Alert(
                    "KubePodCrashLooping",
                    {
                        "alertname": "KubePodCrashLooping",
                        **base,
                        "pod": pod_name,
                        "container": name,
                        "reason": "CrashLoopBackOff",
                    },
                    f'Pod {namespace}/{pod_name} ({name}) is in waiting state (reason: "CrashLoopBackOff").',
                    since + 15 * MINUTE,
                    1.0,
                    "warning",
                ),
            )
        )
        self.noise.alerts.append(
            (
                incident.start - 6 * MINUTE,
                until,
                Alert(
                    "KubeDeploymentReplicasMismatch",
                    {"alertname": "KubeDeploymentReplicasMismatch", **base, "deployment": name},
                    f"Deployment {namespace}/{name} has not matched the expected number of replicas for longer than 15 minutes.",
                    since + 15 * MINUTE,
                    1.0,
                    "warning",
                ),
            )
        )
        self._record(
            "crashlooping-pod", [f"{namespace}/Deployment/{name}", f"{namespace}/Pod/{pod_name}"], first
        )

    def _probe_warnings(self) -> None:
        name = self._free(self.probed)
        if name is None:
            return
        cluster, at = self.cluster, self._when()
        pods = cluster.ready_pods(name, at)
        if not pods:
            return
        pod = pods[0]
        port = self.app.workload_by_name[name].port or 8080
        kind = self.rng.choice(("Readiness", "Liveness"))
        cluster.event(
            at,
            cluster.pod_ref(pod),
            "Unhealthy",
            f'{kind} probe failed: Get "http://{pod.ip}:{port}/health": context deadline exceeded '
            "(Client.Timeout exceeded while awaiting headers)",
            type_="Warning",
            component="kubelet",
            host=pod.node,
            repeat_until=at + 25 * SECOND,
            every=10 * SECOND,
        )
        self._record("probe-warnings", [f"{self.app.namespace}/Pod/{pod.name}"], at)

    def _node_pressure(self) -> None:
        cluster, at = self.cluster, self._when()
        # Not a node whose conditions the fault sets (an eviction's memory pressure).
        node = self.rng.choice([node for node in NODES if node not in cluster.pressured_nodes] or NODES)
        pressure, resource = self.rng.choice(
            (("DiskPressure", "ephemeral-storage"), ("MemoryPressure", "memory"))
        )
        cleared = at + self.rng.randrange(90, 240) * SECOND
        cluster.set_node_pressure(node, pressure, True, at)
        cluster.set_node_pressure(node, pressure, False, cleared)
        node_uid = cluster.static_body("nodes", "", node)["metadata"]["uid"]
        ref = {"kind": "Node", "name": node, "uid": node_uid}
        state = {"DiskPressure": "NodeHasDiskPressure", "MemoryPressure": "NodeHasInsufficientMemory"}[
            pressure
        ]
        recovered = {"DiskPressure": "NodeHasNoDiskPressure", "MemoryPressure": "NodeHasSufficientMemory"}[
            pressure
        ]
        cluster.event(at, ref, state, f"Node {node} status is now: {state}", component="kubelet", host=node)
        cluster.event(
            at + 5 * SECOND,
            ref,
            "EvictionThresholdMet",
            f"Attempting to reclaim {resource}",
            type_="Warning",
            component="kubelet",
            host=node,
        )
        cluster.event(
            cleared, ref, recovered, f"Node {node} status is now: {recovered}", component="kubelet", host=node
        )
        self._record("node-pressure", [f"cluster/Node/{node}"], at)

    def _slow_consumer(self) -> None:
        """A Kafka consumer stalls for a few minutes (its latency alert fires, then clears)."""
        free = [(name, factor) for name, factor in _CONSUMERS if name not in self.busy]
        if not free:
            return
        name, factor = self.rng.choice(free)
        self.busy.add(name)
        # Early enough that the alert fires (3 minutes of latency) and clears before the window
        # ends (the lag delays the last slow messages by up to 2 minutes more).
        at = self._when(latest=10 * MINUTE)
        until = min(at + self.rng.randrange(150, 300) * SECOND, self.incident.start + 14 * MINUTE)
        self.noise.slow.append((at, until, name, factor))
        labels = {"namespace": NAMESPACE, "service_name": name, "severity": "critical"}
        self.noise.symptoms.append(
            Alert("HighRequestLatency", {"alertname": "HighRequestLatency", **labels}, "", 0, 0.0, "critical")
        )
        self._record("slow-consumer", [f"{NAMESPACE}/Service/{name}"], at)

    def _autoscaler(self) -> None:
        name = self._free(_AUTOSCALED)
        if name is None:
            return
        cluster, incident = self.cluster, self.incident
        key = ("horizontalpodautoscalers", NAMESPACE, name)
        if key not in cluster.static:
            self._install_autoscaler(name)
        hpa = cluster.static_body("horizontalpodautoscalers", NAMESPACE, name)
        hpa_ref = cluster.ref(
            "HorizontalPodAutoscaler", name, NAMESPACE, hpa["metadata"]["uid"], "autoscaling/v2"
        )
        up = self._when(grows=True)
        down = up + self.rng.randrange(300, 420) * SECOND
        objects = [f"{NAMESPACE}/HorizontalPodAutoscaler/{name}"]
        # A burst of work takes the one pod above the 80% target (to 90-120% of its 100m request)
        # for a minute and a half before the scale-out, shared by both pods after it, and ends
        # early enough (scale-down's 5-minute stabilization) for the scale-in at ``down``.
        burst_millis = self.rng.randrange(90, 121)
        usual = self.app.workload_by_name[name].cpu_millis
        burst_from, burst_to = up - 90 * SECOND, max(up + 30 * SECOND, down - 300 * SECOND)
        for pod in cluster.pods_of(name, burst_from):
            self._cpu_at(pod, burst_from, burst_millis / usual)
        self._hpa_cpu(name, burst_from + 15 * SECOND, burst_millis)
        for at, size, reason in (
            (up, 2, "cpu resource utilization (percentage of request) above target"),
            (down, 1, "All metrics below target"),
        ):
            if at >= incident.end:
                break
            cluster.event(at, hpa_ref, "SuccessfulRescale", f"New size: {size}; reason: {reason}",
                          component="horizontal-pod-autoscaler")  # fmt: skip
            created = cluster.scale(name, at, size)
            objects += [f"{NAMESPACE}/Pod/{pod.name}" for pod in created]
            if size == 2:
                for pod in cluster.pods_of(name, at + 20 * SECOND):
                    self._cpu_at(pod, max(pod.created, at) + 10 * SECOND, burst_millis / 2 / usual)
                    self._cpu_at(pod, burst_to, 1.0)
                self._hpa_cpu(name, at + 30 * SECOND, burst_millis // 2)
                self._hpa_cpu(name, burst_to + 15 * SECOND, usual)

            def status(body: JsonObject, size: int = size, at: int = at) -> None:
                body["status"]["currentReplicas"] = size
                body["status"]["desiredReplicas"] = size
                body["status"]["lastScaleTime"] = iso(at)

            cluster.update_static("horizontalpodautoscalers", NAMESPACE, name, at + 15 * SECOND, status)
        self._record("autoscaler", objects, up)

    @staticmethod
    def _cpu_at(pod: Pod, at: int, factor: float) -> None:
        """From ``at`` on, the pod uses ``factor`` times its usual CPU."""
        state = pod.state(at)
        later = [s for s in pod.states if s.at > at]
        pod.states = [s for s in pod.states if s.at <= at]
        pod.states.append(replace(state, at=at, cpu_factor=factor))
        pod.states.extend(replace(s, cpu_factor=factor) for s in later)

    def _hpa_cpu(self, name: str, at: int, millis: int) -> None:
        """The autoscaler's status reports ``millis`` per pod from ``at`` (its request is 100m)."""

        def current(body: JsonObject) -> None:
            body["status"]["currentMetrics"][0]["resource"]["current"] = {
                "averageUtilization": millis,
                "averageValue": f"{millis}m",
            }

        if at < self.incident.end:
            self.cluster.update_static("horizontalpodautoscalers", NAMESPACE, name, at, current)

    def _install_autoscaler(self, name: str) -> None:
        """An HPA installed with the demo (CPU target 80%), and the CPU request it needs."""
        self.cluster.install_autoscaler(
            name,
            max_replicas=5,
            limited_condition=False,
            helm_managed_fields=False,
        )
