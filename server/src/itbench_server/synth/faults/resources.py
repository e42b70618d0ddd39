"""Faults of resources and their controllers: a namespace ResourceQuota at its limit, and
HorizontalPodAutoscalers set to a target far below normal usage."""

from __future__ import annotations

import copy
import json
import random

from itbench_server.synth.cluster import NODES, SECOND, Cluster, JsonObject, iso
from itbench_server.synth.faults.base import (
    Fault,
    Group,
    Incident,
    Propagation,
    RootCause,
    chain,
    workload_alias,
    workload_groups,
)
from itbench_server.synth.topology import NAMESPACE, WORKLOAD_BY_NAME
from itbench_server.synth.traffic import Disruption, Failure


class ResourceQuotaFault(Fault):
    name = "resource-quota"
    summary = "a namespace ResourceQuota at its limit blocks a workload's pods from being created"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.target = rng.choice(("ad", "recommendation", "email", "product-reviews"))
        self.quota = rng.choice(("memory", "namespace-quota", "mem-limits"))

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
            *workload_groups(t, "service", "deployment", "replicaset", "pod"),
        ]
        ids = [
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
        propagations = chain(ids, texts)
        return RootCause(
            groups=groups,
            aliases=[
                ["otel-demo-namespace-1", f"{self.quota}-resourcequota-1"],
                workload_alias(t, "service", "pod", "deployment", "replicaset"),
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

    def involved_workloads(self) -> set[str]:
        return set(self.targets)

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
