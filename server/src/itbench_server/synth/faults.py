"""The fault catalogue: what each fault changes in the cluster, how it disrupts traffic, and the
answer key it leaves.

Each fault picks its target from the seed, plants the evidence a real injection leaves (objects
that change between listings, events, pod states, log lines) and describes its root cause the way
ITBench's ground truths for the same fault type do. The symptoms downstream (errors, latency and
alerts in callers) are not planted: they follow from the traffic model.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from itbench_server.synth.cluster import (
    MINUTE,
    NODES,
    SECOND,
    Cluster,
    JsonObject,
    PodState,
    flagd_json,
    iso,
    iso_micro,
)
from itbench_server.synth.topology import (
    CHAOS_NAMESPACE,
    DEMO_VERSION,
    IMAGE_REPO,
    NAMESPACE,
    WORKLOAD_BY_NAME,
)
from itbench_server.synth.traffic import Disruption, Failure


@dataclass
class LogLine:
    """A log record a fault adds (besides the ones traffic produces)."""

    at: int
    service: str
    pod: str
    severity: str
    body: str


@dataclass
class Group:
    id: str
    kind: str
    filter: list[str] | None = None
    namespace: str | None = NAMESPACE
    name: str | None = None
    root_cause: bool = False

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.filter is not None:
            out["filter"] = self.filter
        out["id"] = self.id
        out["kind"] = self.kind
        if self.name is not None:
            out["name"] = self.name
        if self.namespace is not None:
            out["namespace"] = self.namespace
        if self.root_cause:
            out["root_cause"] = True
        return out


@dataclass
class RootCause:
    """The fault's part of the ground truth; symptom groups are added from the alerts that fired."""

    groups: list[Group]
    aliases: list[list[str]]
    propagations: list[dict[str, str]]
    origins: dict[str, str]  # traced service where symptoms start -> its group id
    fault: list[dict[str, Any]]
    actions: list[str]


@dataclass
class Incident:
    """What a fault works with: the cluster, the window, and where extra log lines go."""

    cluster: Cluster
    rng: random.Random
    start: int
    end: int
    fault_at: int
    logs: list[LogLine] = field(default_factory=list)


def _service_groups(
    name: str, *, pod: bool = True, deployment: bool = False, replicaset: bool = False
) -> list[Group]:
    groups = [Group(f"{name}-service-1", "Service", [rf"{name}\b"])]
    if deployment:
        groups.append(Group(f"{name}-deployment-1", "Deployment", [rf"{name}\b"]))
    if replicaset:
        groups.append(Group(f"{name}-replicaset-1", "ReplicaSet", [f"{name}-.*"]))
    if pod:
        groups.append(Group(f"{name}-pod-1", "Pod", [f"{name}-.*"]))
    return groups


class Fault:
    """Base of every fault. Subclasses set ``name`` and ``summary`` and override the hooks."""

    name: ClassVar[str]
    summary: ClassVar[str]

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def setup(self, cluster: Cluster) -> None:
        """Change the environment before the window (e.g. add autoscalers)."""

    def inject(self, incident: Incident) -> None:
        """Plant the fault at ``incident.fault_at``."""

    def disruption(self) -> Disruption:
        return Disruption()

    def root_cause(self, incident: Incident) -> RootCause:
        raise NotImplementedError


# ------------------------------------------------------------------------------------ quota
class ResourceQuotaFault(Fault):
    name = "resource-quota"
    summary = "a namespace ResourceQuota at its limit blocks a workload's pods from being created"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.target = rng.choice(("ad", "recommendation", "email", "product-reviews"))
        self.quota = rng.choice(("memory", "namespace-quota", "mem-limits"))

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        used = sum(
            WORKLOAD_BY_NAME[pod.workload].memory_limit_mi + (250 if pod.workload == "flagd" else 0)
            for pod in cluster.pods
            if pod.exists(at)
        )
        # Just below what runs now: pods already running stay, but the target's pod cannot come back.
        limit_mi = WORKLOAD_BY_NAME[self.target].memory_limit_mi
        hard = f"{used - limit_mi}Mi"
        last_applied = {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"annotations": {}, "name": self.quota, "namespace": NAMESPACE},
            "spec": {"hard": {"limits.memory": hard, "requests.memory": hard}},
        }
        meta = cluster.metadata(
            self.quota,
            NAMESPACE,
            at,
            annotations={
                "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                    last_applied, separators=(",", ":")
                )
                + "\n"
            },
        )
        meta["managedFields"] = [
            {
                "apiVersion": "v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {
                    "f:metadata": {
                        "f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}
                    },
                    "f:spec": {"f:hard": {".": {}, "f:limits.memory": {}, "f:requests.memory": {}}},
                },
                "manager": "kubectl-client-side-apply",
                "operation": "Update",
                "time": iso(at),
            },
            {
                "apiVersion": "v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {
                    "f:status": {
                        "f:hard": {".": {}, "f:limits.memory": {}, "f:requests.memory": {}},
                        "f:used": {".": {}, "f:limits.memory": {}, "f:requests.memory": {}},
                    }
                },
                "manager": "kube-controller-manager",
                "operation": "Update",
                "subresource": "status",
                "time": iso(at + SECOND),
            },
        ]
        body = {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": meta,
            "spec": {"hard": {"limits.memory": hard, "requests.memory": hard}},
            "status": {
                "hard": {"limits.memory": hard, "requests.memory": hard},
                "used": {"limits.memory": f"{used}Mi", "requests.memory": f"{used}Mi"},
            },
        }
        cluster.add_static("resourcequotas", at, body)

        deployment = cluster.deployments[self.target]
        spec, generation = deployment.spec(at)
        down, up = at + 25 * SECOND, at + 50 * SECOND

        def released(quota: JsonObject) -> None:
            quota["status"]["used"] = {"limits.memory": hard, "requests.memory": hard}

        cluster.update_static("resourcequotas", NAMESPACE, self.quota, down + 2 * SECOND, released)
        deployment.versions.append((down, {**copy.deepcopy(spec), "replicas": 0}, generation + 1))
        deployment.versions.append((up, copy.deepcopy(spec), generation + 2))
        replicaset = cluster.current_replicaset(self.target, at)
        replicaset.replicas += [(down, 0), (up, spec["replicas"])]
        cluster.event(
            down,
            cluster.deployment_ref(self.target),
            "ScalingReplicaSet",
            f"Scaled down replica set {replicaset.name} from 1 to 0",
            component="deployment-controller",
        )
        for pod in cluster.pods_of(self.target, down):
            cluster.delete_pod(pod, down)
            cluster.event(
                down,
                cluster.replicaset_ref(replicaset),
                "SuccessfulDelete",
                f"Deleted pod: {pod.name}",
                component="replicaset-controller",
            )
        cluster.event(
            up,
            cluster.deployment_ref(self.target),
            "ScalingReplicaSet",
            f"Scaled up replica set {replicaset.name} from 0 to 1",
            component="deployment-controller",
        )
        limit = f"{limit_mi}Mi"
        message = (
            f'Error creating: pods "{replicaset.name}-{cluster.ids.suffix(5)}" is forbidden: exceeded quota: {self.quota}, '
            f"requested: limits.memory={limit},requests.memory={limit}, used: limits.memory={hard},requests.memory={hard}, "
            f"limited: limits.memory={hard},requests.memory={hard}"
        )
        replicaset.failure.append((up + SECOND, message))
        cluster.event(
            up + SECOND,
            cluster.replicaset_ref(replicaset),
            "FailedCreate",
            message,
            type_="Warning",
            component="replicaset-controller",
            repeat_until=incident.end,
            every=90 * SECOND,
        )

    def root_cause(self, incident: Incident) -> RootCause:
        t = self.target
        groups = [
            Group("otel-demo-namespace-1", "Namespace", ["otel-demo"], namespace=None, root_cause=True),
            Group(f"{self.quota}-resourcequota-1", "ResourceQuota", [rf"^{self.quota}$"], root_cause=True),
            *_service_groups(t, deployment=True, replicaset=True),
        ]
        chain = [
            "otel-demo-namespace-1",
            f"{t}-deployment-1",
            f"{t}-replicaset-1",
            f"{t}-pod-1",
            f"{t}-service-1",
        ]
        texts = [
            (
                f"Memory quota {self.quota} in the namespace is fully used",
                f"{t} deployment cannot bring its pods back after scaling up",
            ),
            (
                "The deployment's ReplicaSet must create a pod that would exceed the quota",
                "ReplicaSet reports FailedCreate: exceeded quota",
            ),
            ("No pod can be created for the ReplicaSet", f"{t} has no running pods"),
            ("No ready pods behind the service", f"{t} service has no endpoints and receives no requests"),
        ]
        propagations = [
            {"condition": c, "effect": e, "source": s, "target": d}
            for (c, e), s, d in zip(texts, chain[:-1], chain[1:], strict=True)
        ]
        return RootCause(
            groups=groups,
            aliases=[
                ["otel-demo-namespace-1", f"{self.quota}-resourcequota-1"],
                [f"{t}-service-1", f"{t}-pod-1", f"{t}-deployment-1", f"{t}-replicaset-1"],
            ],
            propagations=propagations,
            origins={t: f"{t}-service-1"},
            fault=[
                {
                    "category": "Resource Quota",
                    "condition": f"Memory quota {self.quota} imposed on the namespace prevents pods from being created",
                    "entity": {"group_id": "otel-demo-namespace-1", "kind": "Namespace", "name": NAMESPACE},
                    "fault_mechanism": "resource_quota_enforcement",
                }
            ],
            actions=[
                f"Raise or delete the ResourceQuota {self.quota} in namespace {NAMESPACE}",
                f"Check that {t} pods are created again",
            ],
        )


# ------------------------------------------------------------------------------------ flags
class _FlagDisruption(Disruption):
    def __init__(self, flag: str, since: int) -> None:
        self.flag = flag
        self.since = since

    def server_failure(self, t: int, service: str, operation: str, rng: random.Random) -> Failure | None:
        if t < self.since:
            return None
        if self.flag == "paymentFailure" and operation == "oteldemo.PaymentService/Charge":
            return Failure("Payment request failed. Invalid token. app.loyalty.level=gold", 2.0, "13")
        if self.flag == "adFailure" and operation == "oteldemo.AdService/GetAds" and rng.random() < 0.4:
            return Failure("io.grpc.StatusRuntimeException: UNAVAILABLE", 1.0)
        if self.flag == "cartFailure" and operation == "oteldemo.CartService/EmptyCart":
            return Failure(
                "Can't access cart storage. System.ApplicationException: Wasn't able to connect to redis",
                1.0,
                "FAILED_PRECONDITION",
            )
        if (
            self.flag == "productCatalogFailure"
            and operation == "oteldemo.ProductCatalogService/GetProduct"
            and rng.random() < 0.3
        ):
            return Failure("Error: Product Catalog Fail Feature Flag Enabled", 0.5, "INTERNAL")
        return None


class FeatureFlagFault(Fault):
    name = "feature-flag"
    summary = "a failure feature flag switched on in the flagd-config ConfigMap"

    _SERVICE: ClassVar[dict[str, str]] = {
        "paymentFailure": "payment",
        "adFailure": "ad",
        "cartFailure": "cart",
        "productCatalogFailure": "product-catalog",
    }

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.flag = rng.choice(sorted(self._SERVICE))
        self.variant = "100%" if self.flag == "paymentFailure" else "on"
        self.since = 0

    def inject(self, incident: Incident) -> None:
        cluster = incident.cluster
        self.before = flagd_json({})
        self.after = flagd_json({self.flag: self.variant})

        def change(body: JsonObject) -> None:
            body["data"]["demo.flagd.json"] = self.after
            body["metadata"]["managedFields"].append(
                {
                    "apiVersion": "v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {"f:demo.flagd.json": {}}},
                    "manager": "kubectl-edit",
                    "operation": "Update",
                    "time": iso(incident.fault_at),
                }
            )

        cluster.update_static("configmaps", NAMESPACE, "flagd-config", incident.fault_at, change)
        self.since = incident.fault_at + 8 * SECOND
        flagd = cluster.pods_of("flagd", incident.fault_at)[0]
        stamp = iso_micro(incident.fault_at + 6 * SECOND)
        incident.logs.append(
            LogLine(
                incident.fault_at + 6 * SECOND,
                "flagd",
                flagd.name,
                "INFO",
                json.dumps(
                    {
                        "level": "info",
                        "ts": stamp,
                        "logger": "flagd",
                        "component": "sync",
                        "sync": "filepath",
                        "msg": "data sync received",
                        "source": "/etc/flagd/demo.flagd.json",
                    }
                ),
            )
        )
        incident.logs.append(
            LogLine(
                incident.fault_at + 6 * SECOND,
                "flagd",
                flagd.name,
                "INFO",
                json.dumps(
                    {
                        "level": "info",
                        "ts": stamp,
                        "logger": "flagd",
                        "component": "store",
                        "msg": "configuration change (write) for flagSource /etc/flagd/demo.flagd.json",
                    }
                ),
            )
        )

    def disruption(self) -> Disruption:
        return _FlagDisruption(self.flag, self.since)

    def root_cause(self, incident: Incident) -> RootCause:
        service = self._SERVICE[self.flag]
        groups = [
            Group("flagd-config-1", "ConfigMap", ["flagd-config"], root_cause=True),
            Group("flagd-service-1", "Service", [r"flagd\b"]),
            Group("flagd-pod-1", "Pod", ["flagd-.*"]),
            *_service_groups(service),
        ]
        return RootCause(
            groups=groups,
            aliases=[["flagd-service-1", "flagd-pod-1"], [f"{service}-service-1", f"{service}-pod-1"]],
            propagations=[
                {
                    "condition": f"flagd-config ConfigMap sets the {self.flag} feature flag",
                    "effect": "flagd serves the flag to the services",
                    "source": "flagd-config-1",
                    "target": "flagd-service-1",
                },
                {
                    "condition": f"flagd evaluates {self.flag} to {self.variant}",
                    "effect": f"{service} fails the requests the flag targets",
                    "source": "flagd-service-1",
                    "target": f"{service}-service-1",
                },
            ],
            origins={service: f"{service}-service-1"},
            fault=[
                {
                    "category": "Configuration Setting",
                    "condition": f"{self.flag} feature flag set",
                    "entity": {"group_id": "flagd-config-1", "kind": "ConfigMap", "name": "flagd-config"},
                    "changed": {"element": r"data.demo\.flagd\.json", "from": self.before, "to": self.after},
                    "fault_mechanism": "custom(flagd)",
                }
            ],
            actions=[f"Set the defaultVariant of {self.flag} back to off in the flagd-config ConfigMap"],
        )


# ------------------------------------------------------------------------------------ chaos
class _PartitionDisruption(Disruption):
    _TIMEOUT: ClassVar[dict[str, tuple[str, float, str]]] = {
        "shipping": (
            "error sending request for url (http://quote:8080/getquote): operation timed out",
            10_000.0,
            "500",
        ),
        "checkout": (
            "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
            5_000.0,
            "DEADLINE_EXCEEDED",
        ),
        "recommendation": (
            '<_InactiveRpcError of RPC that terminated with: status = StatusCode.DEADLINE_EXCEEDED details = "Deadline Exceeded">',
            4_000.0,
            "DEADLINE_EXCEEDED",
        ),
    }

    def __init__(self, source: str, target: str, since: int) -> None:
        self.source, self.target, self.since = source, target, since

    def client_failure(self, t: int, caller: str, callee: str, operation: str) -> Failure | None:
        if t >= self.since and caller == self.source and callee == self.target:
            message, ms, code = self._TIMEOUT[self.source]
            return Failure(message, ms, code)
        return None


class NetworkPartitionFault(Fault):
    name = "network-partition"
    summary = "a Chaos Mesh Schedule spawning a NetworkChaos partition between two services"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.source, self.target = rng.choice(
            (("shipping", "quote"), ("checkout", "payment"), ("recommendation", "product-catalog"))
        )
        self.schedule = f"otel-demo-{self.source}-{self.target}-network-partition"
        self.since = 0

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        chaos_spec = {
            "action": "partition",
            "direction": "to",
            "mode": "all",
            "duration": "30m",
            "selector": {
                "namespaces": [NAMESPACE],
                "labelSelectors": {"app.kubernetes.io/component": self.source},
            },
            "target": {
                "mode": "all",
                "selector": {
                    "namespaces": [NAMESPACE],
                    "labelSelectors": {"app.kubernetes.io/component": self.target},
                },
            },
        }
        schedule_spec = {
            "schedule": "@every 1h",
            "concurrencyPolicy": "Forbid",
            "historyLimit": 1,
            "startingDeadlineSeconds": None,
            "type": "NetworkChaos",
            "networkChaos": chaos_spec,
        }
        last_applied = {
            "apiVersion": "chaos-mesh.org/v1alpha1",
            "kind": "Schedule",
            "metadata": {"annotations": {}, "name": self.schedule, "namespace": CHAOS_NAMESPACE},
            "spec": schedule_spec,
        }
        schedule_meta = cluster.metadata(
            self.schedule,
            CHAOS_NAMESPACE,
            at,
            generation=1,
            annotations={
                "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                    last_applied, separators=(",", ":")
                )
                + "\n"
            },
        )
        schedule_meta["managedFields"] = [
            {
                "apiVersion": "chaos-mesh.org/v1alpha1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {".": {}, "f:networkChaos": {}, "f:schedule": {}, "f:type": {}}},
                "manager": "kubectl-client-side-apply",
                "operation": "Update",
                "time": iso(at),
            }
        ]
        chaos_name = f"{self.schedule}-{cluster.ids.suffix(5)}"
        spawned = at + 2 * SECOND
        chaos_meta = cluster.metadata(
            chaos_name,
            CHAOS_NAMESPACE,
            spawned,
            generation=1,
            labels={"chaos-mesh.org/controlled-by": self.schedule},
            annotations={"chaos-mesh.org/type": "NetworkChaos"},
        )
        chaos_meta["ownerReferences"] = [
            {
                "apiVersion": "chaos-mesh.org/v1alpha1",
                "kind": "Schedule",
                "name": self.schedule,
                "uid": schedule_meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        chaos_meta["finalizers"] = ["chaos-mesh/records"]
        schedule_body = {
            "apiVersion": "chaos-mesh.org/v1alpha1",
            "kind": "Schedule",
            "metadata": schedule_meta,
            "spec": schedule_spec,
            "status": {
                "active": [
                    {
                        "apiVersion": "chaos-mesh.org/v1alpha1",
                        "kind": "NetworkChaos",
                        "name": chaos_name,
                        "namespace": CHAOS_NAMESPACE,
                        "uid": chaos_meta["uid"],
                    }
                ],
                "time": iso(spawned),
            },
        }
        cluster.add_static("schedules", at, schedule_body)
        sources = cluster.pods_of(self.source, spawned)
        records = [
            {
                "id": f"{NAMESPACE}/{pod.name}",
                "injectedCount": 1,
                "phase": "Injected",
                "recoveredCount": 0,
                "selectorKey": ".",
            }
            for pod in sources
        ]
        chaos_body = {
            "apiVersion": "chaos-mesh.org/v1alpha1",
            "kind": "NetworkChaos",
            "metadata": chaos_meta,
            "spec": chaos_spec,
            "status": {
                "conditions": [
                    {"type": "Selected", "status": "True"},
                    {"type": "AllInjected", "status": "True"},
                    {"type": "AllRecovered", "status": "False"},
                    {"type": "Paused", "status": "False"},
                ],
                "experiment": {"containerRecords": records, "desiredPhase": "Run"},
                "instances": {f"{NAMESPACE}/{pod.name}": 1 for pod in sources},
            },
        }
        cluster.add_static("networkchaos", spawned, chaos_body)
        schedule_ref = cluster.ref(
            "Schedule", self.schedule, CHAOS_NAMESPACE, schedule_meta["uid"], "chaos-mesh.org/v1alpha1"
        )
        chaos_ref = cluster.ref(
            "NetworkChaos", chaos_name, CHAOS_NAMESPACE, chaos_meta["uid"], "chaos-mesh.org/v1alpha1"
        )
        component = "chaos-controller-manager"
        cluster.event(
            spawned, schedule_ref, "Spawned", f"Create new object: {chaos_name}", component=component
        )
        cluster.event(spawned, chaos_ref, "FinalizerInited", "Finalizer has been inited", component=component)
        cluster.event(
            spawned + SECOND,
            chaos_ref,
            "Updated",
            "Successfully update finalizer of resource",
            component=component,
        )
        cluster.event(spawned + SECOND, chaos_ref, "Started", "Experiment has started", component=component)
        for pod in sources:
            cluster.event(
                spawned + 2 * SECOND,
                chaos_ref,
                "Applied",
                f"Successfully apply chaos for {NAMESPACE}/{pod.name}",
                component=component,
            )
        cluster.event(
            spawned + 3 * SECOND,
            chaos_ref,
            "Updated",
            "Successfully update records of resource",
            component=component,
        )
        self.since = spawned + 3 * SECOND

    def disruption(self) -> Disruption:
        return _PartitionDisruption(self.source, self.target, self.since)

    def root_cause(self, incident: Incident) -> RootCause:
        s, d = self.source, self.target
        root = f"{self.schedule}-1"
        groups = [
            Group(root, "NetworkChaos", [self.schedule], namespace=CHAOS_NAMESPACE, root_cause=True),
            Group(f"{self.schedule}-schedule-1", "Schedule", [self.schedule], namespace=CHAOS_NAMESPACE),
            *_service_groups(s),
            Group(f"{d}-service-1", "Service", [rf"{d}\b"]),
        ]
        return RootCause(
            groups=groups,
            aliases=[[root, f"{self.schedule}-schedule-1"], [f"{s}-service-1", f"{s}-pod-1"]],
            propagations=[
                {
                    "condition": f"NetworkChaos partitions {s} pods from {d}",
                    "effect": f"{s} pods cannot reach {d}",
                    "source": root,
                    "target": f"{s}-pod-1",
                },
                {
                    "condition": f"{s} calls to {d} time out",
                    "effect": f"{s} requests fail and slow down",
                    "source": f"{s}-pod-1",
                    "target": f"{s}-service-1",
                },
                {
                    "condition": f"{d} is unreachable from {s}",
                    "effect": f"{d} stops receiving requests from {s}",
                    "source": f"{s}-service-1",
                    "target": f"{d}-service-1",
                },
            ],
            origins={s: f"{s}-service-1"},
            fault=[
                {
                    "category": "Network",
                    "condition": f"Chaos Mesh network partition blocking {s} pods from reaching {d}",
                    "entity": {"group_id": root, "kind": "NetworkChaos", "name": self.schedule},
                    "fault_mechanism": "network_partition",
                }
            ],
            actions=[
                f"Delete the Chaos Mesh Schedule {self.schedule} and its NetworkChaos in namespace {CHAOS_NAMESPACE}"
            ],
        )


# ------------------------------------------------------------------------------------ image
def _backoff_states(
    start: int, end: int, first: str, second: str, first_message: str, second_message: str
) -> list[PodState]:
    states = [PodState(start, phase="Pending", ready=False, waiting="ContainerCreating")]
    t, delay = start + 3 * SECOND, 10 * SECOND
    while t < end:
        states.append(PodState(t, phase="Pending", ready=False, waiting=first, waiting_message=first_message))
        states.append(
            PodState(
                t + 2 * SECOND, phase="Pending", ready=False, waiting=second, waiting_message=second_message
            )
        )
        t += 2 * SECOND + delay
        delay = min(delay * 2, 300 * SECOND)
    return states


class BadImageFault(Fault):
    name = "bad-image"
    summary = "a Deployment rolled out with a container image that does not exist"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.target = rng.choice(("product-catalog", "ad", "recommendation", "currency"))
        major, minor, patch = (int(x) for x in DEMO_VERSION.split("."))
        self.image = f"{IMAGE_REPO}:{rng.choice((f'{major}.{minor}.{patch + 17}', f'{major}.{minor + 4}.0', f'v{DEMO_VERSION}'))}-{self.target}"

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        reference = self.image
        pull_error = (
            f'rpc error: code = NotFound desc = failed to pull and unpack image "{reference}": failed to resolve reference '
            f'"{reference}": {reference}: not found'
        )
        backoff = f'Back-off pulling image "{self.image}"'

        def change(template: JsonObject) -> None:
            template["spec"]["containers"][0]["image"] = self.image

        _replicaset, pods = cluster.rollout(
            self.target,
            at,
            change,
            lambda created: _backoff_states(
                created, incident.end + MINUTE, "ErrImagePull", "ImagePullBackOff", pull_error, backoff
            ),
        )
        for pod in pods:
            cluster.scheduled_event(pod, pod.created)
            ref = cluster.pod_ref(pod)
            first = pod.created + 3 * SECOND
            cluster.event(
                first,
                ref,
                "Pulling",
                f'Pulling image "{self.image}"',
                component="kubelet",
                host=pod.node,
                repeat_until=incident.end,
                every=75 * SECOND,
            )
            cluster.event(
                first + SECOND,
                ref,
                "Failed",
                f'Failed to pull image "{self.image}": {pull_error}',
                type_="Warning",
                component="kubelet",
                host=pod.node,
                repeat_until=incident.end,
                every=75 * SECOND,
            )
            cluster.event(
                first + SECOND,
                ref,
                "Failed",
                "Error: ErrImagePull",
                type_="Warning",
                component="kubelet",
                host=pod.node,
                repeat_until=incident.end,
                every=75 * SECOND,
            )
            cluster.event(
                first + 3 * SECOND,
                ref,
                "BackOff",
                backoff,
                component="kubelet",
                host=pod.node,
                repeat_until=incident.end,
                every=60 * SECOND,
            )
            cluster.event(
                first + 3 * SECOND,
                ref,
                "Failed",
                "Error: ImagePullBackOff",
                type_="Warning",
                component="kubelet",
                host=pod.node,
                repeat_until=incident.end,
                every=60 * SECOND,
            )

    def root_cause(self, incident: Incident) -> RootCause:
        t = self.target
        groups = [
            Group(f"{t}-deployment-1", "Deployment", [rf"{t}\b"], root_cause=True),
            Group(f"{t}-replicaset-1", "ReplicaSet", [f"{t}-.*"]),
            Group(f"{t}-pod-1", "Pod", [f"{t}-.*"]),
            Group(f"{t}-service-1", "Service", [rf"{t}\b"]),
        ]
        return RootCause(
            groups=groups,
            aliases=[[f"{t}-deployment-1", f"{t}-replicaset-1", f"{t}-pod-1"]],
            propagations=[
                {
                    "condition": f"{t} deployment updated to an image that does not exist",
                    "effect": f"{t} pod stays in ImagePullBackOff",
                    "source": f"{t}-deployment-1",
                    "target": f"{t}-pod-1",
                },
                {
                    "condition": f"{t} has no ready pod after the rollout",
                    "effect": f"{t} service has no endpoints",
                    "source": f"{t}-pod-1",
                    "target": f"{t}-service-1",
                },
            ],
            origins={t: f"{t}-service-1"},
            fault=[
                {
                    "category": "Change",
                    "condition": "Invalid image specified in deployment",
                    "entity": {"group_id": f"{t}-deployment-1", "kind": "Deployment", "name": t},
                    "fault_mechanism": "modify-kubernetes-workload-container-image",
                }
            ],
            actions=[f"Set the image of the {t} deployment back to {IMAGE_REPO}:{DEMO_VERSION}-{t}"],
        )


# ------------------------------------------------------------------------------------ env
class _EnvDisruption(Disruption):
    def __init__(self, caller: str, callee: str, since: int, message: str) -> None:
        self.caller, self.callee, self.since, self.message = caller, callee, since, message

    def client_failure(self, t: int, caller: str, callee: str, operation: str) -> Failure | None:
        if t >= self.since and caller == self.caller and callee == self.callee:
            return Failure(self.message, 1.5, "500" if caller == "shipping" else "UNAVAILABLE")
        return None


class BadEnvFault(Fault):
    name = "bad-env"
    summary = "a Deployment's address environment variable changed to a port nothing listens on"

    _CHOICES = (
        ("shipping", "QUOTE_ADDR", "quote", "http://quote:8000"),
        ("checkout", "PAYMENT_ADDR", "payment", "payment:8000"),
        ("frontend", "AD_ADDR", "ad", "ad:8000"),
    )

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.target, self.variable, self.callee, self.value = rng.choice(self._CHOICES)
        self.since = 0
        self.message = ""

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at

        def change(template: JsonObject) -> None:
            for entry in template["spec"]["containers"][0]["env"]:
                if entry["name"] == self.variable:
                    entry["value"] = self.value

        _replicaset, pods = cluster.rollout(self.target, at, change)
        self.since = min(pod.states[-1].at for pod in pods)
        ip = cluster.cluster_ips[self.callee]
        self.message = {
            "shipping": "error sending request for url (http://quote:8000/getquote): error trying to connect: tcp connect error: Connection refused (os error 111)",
            "checkout": f'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp {ip}:8000: connect: connection refused"',
            "frontend": f"14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED {ip}:8000",
        }[self.target]

    def disruption(self) -> Disruption:
        return _EnvDisruption(self.target, self.callee, self.since, self.message)

    def root_cause(self, incident: Incident) -> RootCause:
        t = self.target
        groups = [Group(f"{t}-deployment-1", "Deployment", [rf"{t}\b"], root_cause=True), *_service_groups(t)]
        return RootCause(
            groups=groups,
            aliases=[[f"{t}-service-1", f"{t}-pod-1", f"{t}-deployment-1"]],
            propagations=[
                {
                    "condition": f"{self.variable} in the {t} deployment points at {self.value}",
                    "effect": f"{t} cannot connect to {self.callee} and its requests fail",
                    "source": f"{t}-deployment-1",
                    "target": f"{t}-service-1",
                }
            ],
            origins={t: f"{t}-service-1"},
            fault=[
                {
                    "category": "Change",
                    "condition": f"{self.variable} environment variable set to an address where nothing listens",
                    "entity": {"group_id": f"{t}-deployment-1", "kind": "Deployment", "name": t},
                    "fault_mechanism": "modify-kubernetes-workload-container-environment-variable",
                }
            ],
            actions=[
                f"Set {self.variable} in the {t} deployment back to the {self.callee} service's address"
            ],
        )


# ------------------------------------------------------------------------------------ HPA
class _HpaDisruption(Disruption):
    def __init__(self, windows: list[tuple[int, int, str]]) -> None:
        self.windows = windows  # (from, to, service whose new pods are warming up)

    def client_failure(self, t: int, caller: str, callee: str, operation: str) -> Failure | None:
        for start, end, service in self.windows:
            if start <= t < end and callee == service and (t // 1_000_000) % 4 == 0:
                return Failure(
                    "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
                    3.0,
                    "503",
                )
        return None

    def latency_factor(self, t: int, service: str) -> float:
        for start, end, target in self.windows:
            if start <= t < end and service == target:
                return 2.5
        return 1.0


class HpaFault(Fault):
    name = "hpa-misconfig"
    summary = "two HorizontalPodAutoscalers set to a tiny CPU target scale their workloads to the maximum"

    _AUTOSCALED = (
        "ad",
        "cart",
        "checkout",
        "currency",
        "email",
        "fraud-detection",
        "frontend",
        "image-provider",
        "payment",
        "product-catalog",
        "quote",
        "recommendation",
        "shipping",
    )

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        first, second = rng.sample(
            (
                "frontend",
                "fraud-detection",
                "image-provider",
                "recommendation",
                "product-catalog",
                "checkout",
            ),
            2,
        )
        self.targets = sorted((first, second))
        self.max_replicas = 5
        self.windows: list[tuple[int, int, str]] = []

    def setup(self, cluster: Cluster) -> None:
        for name in self._AUTOSCALED:
            cluster.install_autoscaler(
                name,
                max_replicas=self.max_replicas,
                draw_utilization=lambda: 20 + cluster.rng.randrange(0, 40),
                limited_condition=True,
                helm_managed_fields=True,
            )

    def inject(self, incident: Incident) -> None:
        cluster = incident.cluster
        for index, name in enumerate(self.targets):
            at = incident.fault_at + index * 40 * SECOND
            target = self.rng.choice((1, 2, 5))

            def change(body: JsonObject, target: int = target, at: int = at) -> None:
                body["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] = target
                body["metadata"]["managedFields"].append(
                    {
                        "apiVersion": "autoscaling/v2",
                        "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:spec": {"f:metrics": {}}},
                        "manager": "kubectl-patch",
                        "operation": "Update",
                        "time": iso(at),
                    }
                )

            cluster.update_static("horizontalpodautoscalers", NAMESPACE, name, at, change)
            hpa = cluster.static_body("horizontalpodautoscalers", NAMESPACE, name)
            hpa_ref = cluster.ref(
                "HorizontalPodAutoscaler", name, NAMESPACE, hpa["metadata"]["uid"], "autoscaling/v2"
            )
            replicas = 1
            step_at = at + 15 * SECOND
            deployment = cluster.deployments[name]
            replicaset = cluster.current_replicaset(name, step_at)
            while replicas < self.max_replicas:
                new_size = min(
                    self.max_replicas, replicas * 4 if replicas * 4 > replicas + 4 else replicas + 4
                )
                cluster.event(
                    step_at,
                    hpa_ref,
                    "SuccessfulRescale",
                    f"New size: {new_size}; reason: cpu resource utilization (percentage of request) above target",
                    component="horizontal-pod-autoscaler",
                )
                spec, generation = deployment.spec(step_at)
                deployment.versions.append(
                    (step_at, {**copy.deepcopy(spec), "replicas": new_size}, generation + 1)
                )
                replicaset.replicas.append((step_at + SECOND, new_size))
                cluster.event(
                    step_at + SECOND,
                    cluster.deployment_ref(name),
                    "ScalingReplicaSet",
                    f"Scaled up replica set {replicaset.name} from {replicas} to {new_size}",
                    component="deployment-controller",
                )
                for _ in range(new_size - replicas):
                    pod = cluster.new_pod(replicaset, step_at + 2 * SECOND, node=self.rng.choice(NODES))
                    cluster.event(
                        step_at + 2 * SECOND,
                        cluster.replicaset_ref(replicaset),
                        "SuccessfulCreate",
                        f"Created pod: {pod.name}",
                        component="replicaset-controller",
                    )
                self.windows.append((step_at + 5 * SECOND, step_at + 95 * SECOND, name))
                replicas = new_size
                step_at += 15 * SECOND

            def maxed(body: JsonObject, step_at: int = step_at) -> None:
                body["status"] = {
                    "currentReplicas": self.max_replicas,
                    "desiredReplicas": self.max_replicas,
                    "lastScaleTime": iso(step_at - 15 * SECOND),
                    "currentMetrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "current": {"averageUtilization": 18, "averageValue": "18m"},
                            },
                        }
                    ],
                    "conditions": [
                        {
                            "type": "AbleToScale",
                            "status": "True",
                            "reason": "ReadyForNewScale",
                            "message": "recommended size matches current size",
                            "lastTransitionTime": iso(step_at),
                        },
                        {
                            "type": "ScalingActive",
                            "status": "True",
                            "reason": "ValidMetricFound",
                            "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)",
                            "lastTransitionTime": iso(cluster.installed),
                        },
                        {
                            "type": "ScalingLimited",
                            "status": "True",
                            "reason": "TooManyReplicas",
                            "message": "the desired replica count is more than the maximum replica count",
                            "lastTransitionTime": iso(step_at),
                        },
                    ],
                }

            cluster.update_static("horizontalpodautoscalers", NAMESPACE, name, step_at, maxed)

    def disruption(self) -> Disruption:
        return _HpaDisruption([w for w in self.windows if w[2] in ("frontend", "image-provider")])

    def root_cause(self, incident: Incident) -> RootCause:
        groups = [
            Group(
                f"{name}-horizontal-pod-autoscaler-1",
                "HorizontalPodAutoscaler",
                [rf"^{name}$"],
                root_cause=True,
            )
            for name in self.targets
        ]
        groups += [Group(f"{name}-deployment-1", "Deployment", [rf"{name}\b"]) for name in self.targets]
        propagations = [
            {
                "condition": f"{name} autoscaler targets a CPU utilization far below normal usage",
                "effect": f"{name} deployment is scaled to {self.max_replicas} replicas",
                "source": f"{name}-horizontal-pod-autoscaler-1",
                "target": f"{name}-deployment-1",
            }
            for name in self.targets
        ]
        return RootCause(
            groups=groups,
            aliases=[],
            propagations=propagations,
            origins={name: f"{name}-deployment-1" for name in self.targets},
            fault=[
                {
                    "category": "Configuration",
                    "condition": f"{name} HorizontalPodAutoscaler reacts to very low CPU usage",
                    "entity": {
                        "group_id": f"{name}-horizontal-pod-autoscaler-1",
                        "kind": "HorizontalPodAutoscaler",
                        "name": name,
                    },
                    "fault_mechanism": "misconfigured-kubernetes-horizontal-pod-autoscaler",
                }
                for name in self.targets
            ],
            actions=[
                f"Set the CPU utilization target of the {name} HorizontalPodAutoscaler back to 80"
                for name in self.targets
            ],
        )


# ------------------------------------------------------------------------------------ node selector
class NodeSelectorFault(Fault):
    name = "node-selector"
    summary = "a Deployment's pods require a node that does not exist and stay Pending"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.target = rng.choice(("ad", "cart", "email", "recommendation", "currency"))
        self.node = rng.choice(("worker-4", "worker-7", "worker-12"))

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        message = (
            "0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 3 node(s) didn't match "
            "Pod's node affinity/selector. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
        )

        def change(template: JsonObject) -> None:
            template["spec"]["nodeSelector"] = {"kubernetes.io/hostname": self.node}

        def states(created: int) -> list[PodState]:
            return [
                PodState(
                    created, phase="Pending", ready=False, scheduled=False, unschedulable_message=message
                )
            ]

        _replicaset, pods = cluster.rollout(self.target, at, change, states)
        for pod in pods:
            cluster.event(
                pod.created + SECOND,
                cluster.pod_ref(pod, container=False),
                "FailedScheduling",
                message,
                type_="Warning",
                component="default-scheduler",
                repeat_until=incident.end,
                every=150 * SECOND,
            )

    def root_cause(self, incident: Incident) -> RootCause:
        t = self.target
        groups = [
            Group(f"{t}-pod-1", "Pod", [f"{t}-.*"], root_cause=True),
            Group(f"{t}-deployment-1", "Deployment", [rf"{t}\b"]),
            Group(f"{t}-service-1", "Service", [rf"{t}\b"]),
        ]
        return RootCause(
            groups=groups,
            aliases=[[f"{t}-service-1", f"{t}-pod-1", f"{t}-deployment-1"]],
            propagations=[
                {
                    "condition": f"{t} pods cannot be scheduled: no node matches the node selector",
                    "effect": f"{t} service has no healthy endpoints",
                    "source": f"{t}-pod-1",
                    "target": f"{t}-service-1",
                }
            ],
            origins={t: f"{t}-service-1"},
            fault=[
                {
                    "category": "Configuration",
                    "condition": f"{t} pods cannot be scheduled due to a node selector no node satisfies",
                    "entity": {"group_id": f"{t}-pod-1", "kind": "Pod", "name": f"{t}-pod-1"},
                    "fault_mechanism": "invalid-node-selector",
                }
            ],
            actions=[f"Remove the nodeSelector kubernetes.io/hostname={self.node} from the {t} deployment"],
        )


# ------------------------------------------------------------------------------------ valkey OOM
class ValkeyOomFault(Fault):
    name = "valkey-oom"
    summary = "valkey-cart runs a process that exhausts its memory limit: OOMKilled, CrashLoopBackOff"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.runs: list[tuple[int, int]] = []

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        runs = self.runs

        def change(template: JsonObject) -> None:
            container = template["spec"]["containers"][0]
            container["command"] = ["/bin/sh", "-c"]
            container["args"] = ["valkey-server --save '' --appendonly no & exec tail /dev/zero"]

        def states(created: int) -> list[PodState]:
            out = [PodState(created, phase="Pending", ready=False, waiting="ContainerCreating")]
            t = created + 3 * SECOND
            restarts, delay = 0, 10 * SECOND
            while t < incident.end + MINUTE:
                run = 18 * SECOND + self.rng.randrange(0, 8) * SECOND
                last = out[-1].last_terminated
                out.append(
                    PodState(
                        t,
                        ready=True,
                        restarts=restarts,
                        running_since=t,
                        last_terminated=last,
                        memory_fraction=0.3,
                    )
                )
                out.append(
                    PodState(
                        t + run // 2,
                        ready=True,
                        restarts=restarts,
                        running_since=t,
                        last_terminated=last,
                        memory_fraction=0.75,
                    )
                )
                runs.append((t, t + run))
                finished = t + run
                restarts += 1
                terminated = {
                    "containerID": "containerd://" + f"{self.rng.getrandbits(256):064x}",
                    "exitCode": 137,
                    "finishedAt": iso(finished),
                    "reason": "OOMKilled",
                    "startedAt": iso(t),
                }
                waiting_message = (
                    f"back-off {delay // SECOND}s restarting failed container=valkey-cart pod=POD"
                )
                out.append(
                    PodState(
                        finished,
                        ready=False,
                        restarts=restarts,
                        waiting="CrashLoopBackOff",
                        waiting_message=waiting_message,
                        last_terminated=terminated,
                        running_since=None,
                        memory_fraction=0.0,
                    )
                )
                t = finished + delay
                delay = min(delay * 2, 300 * SECOND)
            return out

        _replicaset, pods = cluster.rollout("valkey-cart", at, change, states)
        for pod in pods:
            for state in pod.states:
                state.waiting_message = state.waiting_message.replace(
                    "POD", f"{pod.name}_{NAMESPACE}({pod.uid})"
                )
            ref = cluster.pod_ref(pod)
            cluster.scheduled_event(pod, pod.created)
            image = pod.template["spec"]["containers"][0]["image"]
            for index, (start, finished) in enumerate(self.runs):
                if start >= incident.end:
                    break
                cluster.event(
                    start - SECOND,
                    ref,
                    "Pulled",
                    f'Container image "{image}" already present on machine',
                    component="kubelet",
                    host=pod.node,
                )
                cluster.event(
                    start - SECOND,
                    ref,
                    "Created",
                    "Created container: valkey-cart",
                    component="kubelet",
                    host=pod.node,
                )
                cluster.event(
                    start, ref, "Started", "Started container valkey-cart", component="kubelet", host=pod.node
                )
                stamp = _valkey_stamp(start)
                incident.logs.append(
                    LogLine(
                        start,
                        "valkey-cart",
                        pod.name,
                        "INFO",
                        f"1:C {stamp} * oO0OoO0OoO0Oo Valkey is starting oO0OoO0OoO0Oo",
                    )
                )
                incident.logs.append(
                    LogLine(
                        start + SECOND // 2,
                        "valkey-cart",
                        pod.name,
                        "INFO",
                        f"1:M {_valkey_stamp(start + SECOND // 2)} * Ready to accept connections tcp",
                    )
                )
                if index >= 1 and finished < incident.end:
                    cluster.event(
                        finished + SECOND,
                        ref,
                        "BackOff",
                        f"Back-off restarting failed container valkey-cart in pod {pod.name}_{NAMESPACE}({pod.uid})",
                        type_="Warning",
                        component="kubelet",
                        host=pod.node,
                        repeat_until=min(
                            incident.end,
                            self.runs[index + 1][0] if index + 1 < len(self.runs) else incident.end,
                        ),
                        every=30 * SECOND,
                    )

    def root_cause(self, incident: Incident) -> RootCause:
        groups = [
            Group("valkey-cart-pod-1", "Pod", ["valkey-cart-.*"], root_cause=True),
            Group("valkey-cart-service-1", "Service", [r"valkey-cart\b"]),
            Group("valkey-cart-deployment-1", "Deployment", [r"valkey-cart\b"]),
            *_service_groups("cart"),
        ]
        return RootCause(
            groups=groups,
            aliases=[
                ["valkey-cart-service-1", "valkey-cart-pod-1", "valkey-cart-deployment-1"],
                ["cart-service-1", "cart-pod-1"],
            ],
            propagations=[
                {
                    "condition": "valkey-cart container exceeds its memory limit",
                    "effect": "valkey-cart is OOMKilled and restarts in CrashLoopBackOff",
                    "source": "valkey-cart-pod-1",
                    "target": "valkey-cart-service-1",
                },
                {
                    "condition": "valkey-cart is down most of the time",
                    "effect": "cart cannot read or write carts and returns errors",
                    "source": "valkey-cart-service-1",
                    "target": "cart-service-1",
                },
            ],
            origins={"cart": "cart-service-1"},
            fault=[
                {
                    "category": "Resource",
                    "condition": "A process in the valkey-cart container consumes memory until the container is OOMKilled",
                    "entity": {"group_id": "valkey-cart-pod-1", "kind": "Pod", "name": "valkey-cart"},
                    "fault_mechanism": "valkey-workload-out-of-memory",
                }
            ],
            actions=[
                "Remove the memory-consuming process from the valkey-cart deployment's container command",
                "Check that valkey-cart stops restarting",
            ],
        )


def _valkey_stamp(ns: int) -> str:
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(ns // 1000 / 1_000_000, UTC)
    return moment.strftime("%d %b %Y %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


FAULT_TYPES: tuple[type[Fault], ...] = (
    ResourceQuotaFault,
    FeatureFlagFault,
    NetworkPartitionFault,
    BadImageFault,
    BadEnvFault,
    HpaFault,
    NodeSelectorFault,
    ValkeyOomFault,
)
