"""Faults of resources and their controllers: a namespace ResourceQuota the namespace already
exceeds, HorizontalPodAutoscalers patched to targets below normal usage, container limits too
small to run or removed altogether, and a valkey that fills its memory until it is OOMKilled."""

from __future__ import annotations

import copy
import random
from typing import Any, ClassVar

from itbench_server.synth.cluster import SECOND, Cluster, JsonObject, Pod, PodState, iso
from itbench_server.synth.faults.base import (
    Fault,
    Group,
    Incident,
    LogLine,
    Propagation,
    RootCause,
    chain,
    workload_alias,
    workload_groups,
)
from itbench_server.synth.faults.chaos import StressFault
from itbench_server.synth.faults.lifecycle import Crash, CrashLoop, crash_events, crash_loop, name_pod
from itbench_server.synth.faults.workload import MANAGER, StatesOf, WorkloadFault
from itbench_server.synth.topology import NAMESPACE, WORKLOAD_BY_NAME
from itbench_server.synth.traffic import Disruption, Failure

__all__ = [
    "RESOURCE_FAULTS",
    "STORAGE_SCRIPT",
    "HpaFault",
    "InsufficientResourcesFault",
    "ResourceQuotaFault",
    "UnassignedLimitsFault",
    "ValkeyOomFault",
]


# ------------------------------------------------------------------------------------ quota
class ResourceQuotaFault(Fault):
    name = "resource-quota"
    summary = "a ResourceQuota below what the namespace uses; the target is scaled down and cannot come back"
    itbench_id = "insufficient-kubernetes-resource-quota"
    QUOTA = "memory"
    HARD = "1Gi"

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        self.target: str = self.param(
            "target", lambda: rng.choice(("ad", "recommendation", "email", "product-reviews", "checkout"))
        )

    def involved_workloads(self) -> set[str]:
        return {self.target}

    def blocks_new_pods_from(self, incident: Incident) -> int | None:
        return incident.fault_at

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        used = sum(
            WORKLOAD_BY_NAME[pod.workload].memory_limit_mi + (250 if pod.workload == "flagd" else 0)
            for pod in cluster.pods
            if pod.exists(at)
        )
        limit_mi = WORKLOAD_BY_NAME[self.target].memory_limit_mi
        meta = cluster.metadata(self.QUOTA, NAMESPACE, at)
        meta["managedFields"] = [
            {
                "apiVersion": "v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:hard": {".": {}, "f:memory": {}}}},
                "manager": MANAGER,
                "operation": "Update",
                "time": iso(at),
            },
            {
                "apiVersion": "v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {
                    "f:status": {"f:hard": {".": {}, "f:memory": {}}, "f:used": {".": {}, "f:memory": {}}}
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
            "spec": {"hard": {"memory": self.HARD}},
            "status": {"hard": {"memory": self.HARD}, "used": {"memory": f"{used}Mi"}},
        }
        cluster.add_static("resourcequotas", at, body)
        # ITBench then scales the workload to zero (waiting for its pods to go) and back up.
        down, up = at + 3 * SECOND, at + 40 * SECOND
        after = used - limit_mi

        def released(quota: JsonObject) -> None:
            quota["status"]["used"] = {"memory": f"{after}Mi"}

        cluster.update_static("resourcequotas", NAMESPACE, self.QUOTA, down + 32 * SECOND, released)
        replicas = cluster.deployments[self.target].spec(at)[0]["replicas"]
        cluster.scale(self.target, down, 0)
        deployment = cluster.deployments[self.target]
        spec, generation = deployment.spec(up)
        deployment.versions.append((up, {**copy.deepcopy(spec), "replicas": replicas}, generation + 1))
        replicaset = cluster.current_replicaset(self.target, at)
        replicaset.replicas.append((up, replicas))
        cluster.event(
            up + SECOND,
            cluster.deployment_ref(self.target),
            "ScalingReplicaSet",
            f"Scaled up replica set {replicaset.name} from 0 to {replicas}",
            component="deployment-controller",
        )
        message = (
            f'Error creating: pods "{replicaset.name}-{cluster.ids.suffix(5)}" is forbidden: exceeded quota: '
            f"{self.QUOTA}, requested: memory={limit_mi}Mi, used: memory={after}Mi, limited: memory={self.HARD}"
        )
        replicaset.failure.append((up + 2 * SECOND, message))
        cluster.event(
            up + 2 * SECOND,
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
        namespace_group = "otel-demo-namespace-1"
        groups = [
            Group(namespace_group, "Namespace", ["otel-demo"], namespace=None, root_cause=True),
            *workload_groups(t, "service", "deployment", "replicaset", "pod"),
        ]
        ids = [namespace_group, f"{t}-deployment-1", f"{t}-replicaset-1", f"{t}-pod-1", f"{t}-service-1"]
        texts = [
            (
                f"A memory quota of {self.HARD} is imposed on the namespace, below what it already uses",
                f"{t} deployment cannot bring its pods back after scaling up",
            ),
            (
                "The deployment's ReplicaSet must create a pod the quota refuses",
                "ReplicaSet reports FailedCreate: exceeded quota",
            ),
            ("No pod can be created for the ReplicaSet", f"{t} has no running pods"),
            ("No ready pods behind the service", f"{t} service has no endpoints and receives no requests"),
        ]
        return RootCause(
            groups=groups,
            aliases=[workload_alias(t, "service", "pod", "deployment", "replicaset")],
            propagations=chain(ids, texts),
            origins={t: f"{t}-service-1"},
            fault=[
                {
                    "category": "custom",
                    "condition": "Memory quota imposed on the namespace prevents pods from being created",
                    "entity": {"group_id": namespace_group, "kind": "Namespace", "name": NAMESPACE},
                    "fault_mechanism": "resource_quota_enforcement",
                }
            ],
            actions=[
                f"Raise the memory quota of namespace {NAMESPACE} (ResourceQuota {self.QUOTA}) or remove it",
                f"Check that {t} pods are created again",
            ],
        )


# ------------------------------------------------------------------------------------ limits
class InsufficientResourcesFault(WorkloadFault):
    name = "insufficient-resources"
    summary = "a container's CPU and memory limits set far too low (5m, 5Mi): OOMKilled, CrashLoopBackOff"
    itbench_id = "insufficient-kubernetes-workload-container-resources"
    default_targets = ("postgresql", "product-catalog", "currency", "cart", "email")
    category = "Configuration"
    root_part, aliased, separate = "pod", ("service",), ()
    patched_fields: ClassVar[JsonObject] = {"f:spec": {"f:template": {"f:spec": {"f:containers": {}}}}}

    def configure(self, rng: random.Random) -> None:
        self._loops: dict[int, CrashLoop] = {}

    def change(self, template: JsonObject) -> None:
        template["spec"]["containers"][0]["resources"] = {
            "limits": {"cpu": "5m", "memory": "5Mi"},
            "requests": {"cpu": "5m", "memory": "5Mi"},
        }

    def pod_states(self, incident: Incident) -> StatesOf | None:
        def states(created: int) -> list[PodState]:
            loop = crash_loop(
                self.rng,
                created,
                incident.end + 60 * SECOND,
                Crash("OOMKilled", 137, run=(1, 3), ready=False),
            )
            self._loops[created] = loop
            return loop.states

        return states

    def planted(self, incident: Incident, pods: list[Pod]) -> None:
        for pod in pods:
            name_pod(pod, self.container)
            crash_events(
                incident.cluster,
                pod,
                self._loops[pod.created],
                incident.end,
                container=self.container,
                image=self.image,
            )

    def texts(self) -> tuple[str, str, str, list[str]]:
        t = self.target
        return (
            f"{t} containers are limited to 5m CPU and 5Mi memory, too little to run",
            f"{t} containers are OOMKilled at start and crash-loop",
            "insufficient-resources",
            [f"Give the {t} deployment's container its usual CPU and memory limits back"],
        )


class UnassignedLimitsFault(WorkloadFault):
    name = "unassigned-limits"
    summary = "a container's resource limits removed, then a StressChaos fills its memory: OOMKilled, CrashLoopBackOff"
    itbench_id = "unassigned-kubernetes-workload-container-resource-limits"
    default_targets = ("cart", "ad", "recommendation", "checkout")
    category = "Chaos"
    root_part, aliased, separate = "pod", ("service",), ()

    def configure(self, rng: random.Random) -> None:
        self.stress = StressFault(
            rng,
            {
                "target": self.target,
                "stressor": "memory",
                "size": "85%",
                "workers": 10,
                "schedule": self.param("schedule", lambda: f"{self.target}-stress-chaos-memory"),
            },
        )

    def setup(self, cluster: Cluster) -> None:
        self.stress.setup(cluster)

    def change(self, template: JsonObject) -> None:
        template["spec"]["containers"][0]["resources"].pop("limits", None)

    def inject(self, incident: Incident) -> None:
        super().inject(incident)
        self.stress.inject(incident)

    def involved_workloads(self) -> set[str]:
        return {self.target}

    def texts(self) -> tuple[str, str, str, list[str]]:
        t = self.target
        return (
            f"{t} runs without memory limits while a memory stress fills the node's memory",
            f"{t} containers are OOMKilled and crash-loop",
            "custom",
            [
                f"Give the {t} container its memory limits back",
                f"Delete the Chaos Mesh Schedule {self.stress.schedule}",
            ],
        )


# ------------------------------------------------------------------------------------ valkey OOM
STORAGE_SCRIPT = """#!/bin/sh
# Write one mebibyte of random data under a new key every second, beside the server.
set -eu
(
    sleep 20
    while true; do
        n=$(( $(od -An -N2 -tu2 /dev/urandom) % 10000 + 1 ))
        head -c 1048576 /dev/urandom | valkey-cli -x SET "largekey$n"
        sleep 1
    done
) &
exec valkey-server
"""


class ValkeyOomFault(WorkloadFault):
    name = "valkey-oom"
    summary = "valkey-cart runs a script that fills its memory: OOMKilled, CrashLoopBackOff"
    itbench_id = "valkey-workload-out-of-memory"
    default_targets = ("valkey-cart",)
    category = "Resource"
    root_part, aliased, separate = "pod", ("service",), ()
    patched_fields: ClassVar[JsonObject] = {
        "f:spec": {"f:template": {"f:spec": {"f:containers": {}, "f:securityContext": {}, "f:volumes": {}}}}
    }

    def configure(self, rng: random.Random) -> None:
        self._loops: dict[int, CrashLoop] = {}

    def involved_workloads(self) -> set[str]:
        return {"valkey-cart", "cart"}

    def involved_objects(self) -> set[str]:
        return {f"{NAMESPACE}/ConfigMap/valkey-storage-script"}

    def change(self, template: JsonObject) -> None:
        container = template["spec"]["containers"][0]
        container["command"] = ["/bin/sh", "-c", "'/data/scripts/fill_storage.sh'"]
        container["volumeMounts"] = [{"name": "scripts", "mountPath": "/data/scripts"}]
        template["spec"]["securityContext"] = {"fsGroup": 1000}
        template["spec"]["volumes"] = [
            {
                "name": "scripts",
                "configMap": {
                    "name": "valkey-storage-script",
                    "defaultMode": 493,
                    "items": [{"key": "script", "path": "fill_storage.sh"}],
                },
            }
        ]

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        meta = cluster.metadata("valkey-storage-script", NAMESPACE, at - 2 * SECOND)
        meta["managedFields"] = [
            {
                "apiVersion": "v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}, "f:script": {}}},
                "manager": MANAGER,
                "operation": "Update",
                "time": iso(at - 2 * SECOND),
            }
        ]
        cluster.add_static(
            "configmaps",
            at - 2 * SECOND,
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"script": STORAGE_SCRIPT}},
        )
        super().inject(incident)

    def pod_states(self, incident: Incident) -> StatesOf | None:
        def states(created: int) -> list[PodState]:
            loop = crash_loop(
                self.rng,
                created,
                incident.end + 60 * SECOND,
                Crash("OOMKilled", 137, run=(24, 32), memory=True),
            )
            self._loops[created] = loop
            return loop.states

        return states

    def planted(self, incident: Incident, pods: list[Pod]) -> None:
        for pod in pods:
            name_pod(pod, "valkey-cart")

            def started(start: int, pod: Pod = pod) -> None:
                incident.logs.append(
                    LogLine(
                        start,
                        "valkey-cart",
                        pod.name,
                        "INFO",
                        f"1:C {_valkey_stamp(start)} * oO0OoO0OoO0Oo Valkey is starting oO0OoO0OoO0Oo",
                    )
                )
                incident.logs.append(
                    LogLine(start + SECOND // 2, "valkey-cart", pod.name, "INFO",
                            f"1:M {_valkey_stamp(start + SECOND // 2)} * Ready to accept connections tcp")
                )  # fmt: skip
                for second in range(21, 24):
                    incident.logs.append(
                        LogLine(start + second * SECOND, "valkey-cart", pod.name, "INFO", "OK")
                    )

            crash_events(
                incident.cluster, pod, self._loops[pod.created], incident.end, container="valkey-cart",
                image=self.image, on_start=started,
            )  # fmt: skip

    def texts(self) -> tuple[str, str, str, list[str]]:
        return (
            "A script in the valkey-cart container writes data until the container runs out of memory",
            "valkey-cart is OOMKilled and restarts in CrashLoopBackOff",
            "valkey-workload-out-of-memory",
            [
                "Remove the storage-filling script from the valkey-cart deployment's command",
                "Check that valkey-cart stops restarting",
            ],
        )

    def root_cause(self, incident: Incident) -> RootCause:
        cause = super().root_cause(incident)
        cause.groups += workload_groups("cart", "pod")
        cause.aliases.append(workload_alias("cart", "service", "pod"))
        return cause


def _valkey_stamp(ns: int) -> str:
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(ns // 1000 / 1_000_000, UTC)
    return moment.strftime("%d %b %Y %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


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
    summary = (
        "HorizontalPodAutoscalers patched to CPU and memory targets below normal usage scale to the maximum"
    )
    itbench_id = "misconfigured-kubernetes-horizontal-pod-autoscaler"

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

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        choices = (
            "frontend",
            "fraud-detection",
            "image-provider",
            "recommendation",
            "product-catalog",
            "checkout",
        )
        self.targets: list[str] = sorted(
            self.param("targets", lambda: rng.sample(choices, rng.choice((2, 2, 3))))
        )
        self.max_replicas = 5
        self.windows: list[tuple[int, int, str]] = []

    def involved_workloads(self) -> set[str]:
        return set(self.targets)

    def setup(self, cluster: Cluster) -> None:
        for name in self._AUTOSCALED:
            cluster.install_autoscaler(
                name,
                max_replicas=self.max_replicas,
                limited_condition=True,
                helm_managed_fields=True,
            )

    def inject(self, incident: Incident) -> None:
        cluster = incident.cluster
        for index, name in enumerate(self.targets):
            at = incident.fault_at + index * 20 * SECOND

            def change(body: JsonObject, at: int = at) -> None:
                # ITBench's patch: a CPU target of 20% and a memory target of 30%.
                body["spec"]["metrics"] = [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 20},
                        },
                    },
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "memory",
                            "target": {"type": "Utilization", "averageUtilization": 30},
                        },
                    },
                ]
                body["metadata"]["managedFields"].append(
                    {
                        "apiVersion": "autoscaling/v2",
                        "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:spec": {"f:metrics": {}}},
                        "manager": "OpenAPI-Generator",
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
            while replicas < self.max_replicas:
                new_size = min(self.max_replicas, max(replicas * 4, replicas + 4))
                cluster.event(
                    step_at,
                    hpa_ref,
                    "SuccessfulRescale",
                    f"New size: {new_size}; reason: memory resource utilization (percentage of request) above target",
                    component="horizontal-pod-autoscaler",
                )
                cluster.scale(name, step_at, new_size)
                self.windows.append((step_at + 5 * SECOND, step_at + 95 * SECOND, name))
                replicas = new_size
                step_at += 15 * SECOND

            # What the metrics server measures of the pods (their usual CPU and working set, as
            # the pod metrics write them) against their requests; memory stays above the patched
            # 30% target, which is why the autoscaler keeps asking for more than its maximum.
            workload = cluster.app.workload_by_name[name]
            requests = cluster.deployments[name].spec(step_at)[0]["template"]["spec"]["containers"][0][
                "resources"
            ]["requests"]
            cpu_request = int(str(requests["cpu"]).removesuffix("m"))
            memory_request = int(str(requests["memory"]).removesuffix("Mi"))
            current_metrics = [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {
                            "averageUtilization": round(workload.cpu_millis * 100 / cpu_request),
                            "averageValue": f"{workload.cpu_millis}m",
                        },
                    },
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "current": {
                            "averageUtilization": round(workload.memory_mi * 100 / memory_request),
                            "averageValue": f"{workload.memory_mi}Mi",
                        },
                    },
                },
            ]

            def maxed(
                body: JsonObject, step_at: int = step_at, current_metrics: list[JsonObject] = current_metrics
            ) -> None:
                body["status"] = {
                    "currentReplicas": self.max_replicas,
                    "desiredReplicas": self.max_replicas,
                    "lastScaleTime": iso(step_at - 15 * SECOND),
                    "currentMetrics": current_metrics,
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
            Propagation(
                f"{name}-horizontal-pod-autoscaler-1",
                f"{name}-deployment-1",
                f"{name} autoscaler targets a CPU utilization far below normal usage",
                f"{name} deployment is scaled to {self.max_replicas} replicas",
            )
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
                    "condition": f"{name} HorizontalPodAutoscaler targets 20% CPU and 30% memory, below normal usage",
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
                f"Set the utilization targets of the {name} HorizontalPodAutoscaler back to 80% CPU (and drop the memory target)"
                for name in self.targets
            ],
        )


RESOURCE_FAULTS: tuple[type[Fault], ...] = (
    ResourceQuotaFault,
    HpaFault,
    InsufficientResourcesFault,
    UnassignedLimitsFault,
    ValkeyOomFault,
)
