"""Faults in the cluster around the workloads and in their configuration: a NetworkPolicy that
blocks a workload's ingress, a Service whose target port, selector or very existence changed, a
Secret whose credentials were replaced, a cordoned node behind a strict PodDisruptionBudget, a
high-priority workload preempting the demo's pods, a flood of API requests, and the incident
with no injected fault at all (a FinOps scenario).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, ClassVar

from itbench_server.errors import GeneratorError
from itbench_server.synth.cluster import (
    NODE_CPU_CORES,
    NODES,
    SECOND,
    Cluster,
    JsonObject,
    Pod,
    iso,
    pod_cpu_request_m,
)
from itbench_server.synth.faults.base import (
    Fault,
    Group,
    Incident,
    Propagation,
    RootCause,
    workload_alias,
    workload_groups,
    workload_root_cause,
)
from itbench_server.synth.faults.lifecycle import unschedulable
from itbench_server.synth.faults.workload import MANAGER, SCHEDULER_TAINT
from itbench_server.synth.infrastructure import PLATFORM_WORKLOADS
from itbench_server.synth.topology import NAMESPACE, WORKLOAD_BY_NAME
from itbench_server.synth.traffic import Disruption, Failure

_INIT_IMAGE = "registry.access.redhat.com/ubi10-minimal:10.2-1786960640"
_PYTHON_IMAGE = "registry.access.redhat.com/ubi10/python-314-minimal:10.2-1784704196"


def _managed(at: int, fields: JsonObject, api_version: str = "v1") -> list[JsonObject]:
    return [
        {
            "apiVersion": api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields,
            "manager": MANAGER,
            "operation": "Update",
            "time": iso(at),
        }
    ]


class _Unreachable(Disruption):
    """Calls to ``callee`` fail from ``since`` on, each caller reporting it its own way."""

    def __init__(self, callee: str, since: int, how: str) -> None:
        self.callee, self.since, self.how = callee, since, how

    def client_failure(self, t: int, caller: str, callee: str, operation: str) -> Failure | None:
        if t < self.since or callee != self.callee:
            return None
        if callee not in WORKLOAD_BY_NAME:  # BookInfo (ambient): ztunnel has no endpoint to connect to
            return Failure(
                f"HTTPConnectionPool(host='{callee}', port=9080): Max retries exceeded with url: "
                f"{operation.partition(' ')[2] or '/'} (Caused by NewConnectionError('<urllib3.connection."
                "HTTPConnection object>: Failed to establish a new connection: [Errno 1] Operation not permitted'))",
                3.0,
                "503",
            )
        port = WORKLOAD_BY_NAME[callee].port or 8080
        language = WORKLOAD_BY_NAME[caller].language
        if self.how == "dns":
            if language == "nodejs":
                return Failure(f"14 UNAVAILABLE: Name resolution failed for target dns:{callee}:{port}", 15.0)
            if language == "envoy":
                return Failure("no healthy upstream", 0.5, "503")
            return Failure(
                f"rpc error: code = Unavailable desc = name resolver error: produced zero addresses (lookup {callee}: no such host)",
                15.0,
            )
        if self.how == "timeout":
            if language == "envoy":
                return Failure(
                    "upstream connect error or disconnect/reset before headers. reset reason: connection timeout",
                    1000.0,
                    "503",
                )
            return Failure("rpc error: code = DeadlineExceeded desc = context deadline exceeded", 5000.0)
        # refused: the Service routes to a port (or pods) where nothing answers
        if language == "nodejs":
            return Failure(
                f"14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED {self.how}", 2.5
            )
        if language == "envoy":
            return Failure(
                "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
                1.0,
                "503",
            )
        return Failure(
            f'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp {self.how}: connect: connection refused"',
            1.5,
        )


# ------------------------------------------------------------------------------------ network policy
class NetworkPolicyFault(Fault):
    name = "network-policy"
    summary = "a NetworkPolicy selecting a workload's pods and allowing no ingress"
    itbench_id = "ingress-port-blocking-network-policy"
    default_targets: ClassVar[tuple[str, ...]] = (
        "frontend",
        "cart",
        "product-catalog",
        "checkout",
        "currency",
    )

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        self.target: str = self.param("target", lambda: rng.choice(self.default_targets))
        self.policy: str = self.param("policy", lambda: f"{self.target}-ingress")
        self.since = 0

    def involved_workloads(self) -> set[str]:
        return {self.target}

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        labels = dict(cluster.deployments[self.target].spec(at)[0]["template"]["metadata"]["labels"])
        meta = cluster.metadata(self.policy, NAMESPACE, at, generation=1)
        meta["managedFields"] = _managed(
            at, {"f:spec": {"f:podSelector": {}, "f:policyTypes": {}}}, "networking.k8s.io/v1"
        )
        cluster.add_static(
            "networkpolicies",
            at,
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": meta,
                "spec": {"podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress"]},
            },
        )
        self.since = at + 2 * SECOND

    def disruption(self) -> Disruption:
        return _Unreachable(self.target, self.since, "timeout")

    def root_cause(self, incident: Incident) -> RootCause:
        t, root = self.target, f"{self.policy}-networkpolicy-1"
        groups = [
            Group(root, "NetworkPolicy", [self.policy], root_cause=True),
            *workload_groups(t, "pod", "service"),
        ]
        return RootCause(
            groups=groups,
            aliases=[workload_alias(t, "service", "pod")],
            propagations=[
                Propagation(
                    root,
                    f"{t}-pod-1",
                    f"NetworkPolicy {self.policy} allows no ingress to {t} pods",
                    f"connections to {t} time out",
                ),
                Propagation(
                    f"{t}-pod-1", f"{t}-service-1", f"{t} pods are unreachable", f"{t} receives no requests"
                ),
            ],
            origins={t: f"{t}-service-1"},
            fault=[
                {
                    "category": "Configuration",
                    "condition": f"NetworkPolicy blocks all ingress traffic to {t} pods",
                    "entity": {"group_id": root, "kind": "NetworkPolicy", "name": self.policy},
                    "fault_mechanism": "misconfigured-network-policy",
                }
            ],
            actions=[f"Delete the NetworkPolicy {self.policy} in namespace {NAMESPACE}"],
        )


# ------------------------------------------------------------------------------------ services
class _ServiceFault(Fault):
    """A change to a workload's Service (the pods behind it stay healthy)."""

    default_targets: ClassVar[tuple[str, ...]] = ("ad", "product-catalog", "cart", "currency", "shipping")
    how: ClassVar[str] = "refused"

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        self.target: str = self.param("target", lambda: rng.choice(self.default_targets))
        self.since = 0
        self.address = ""

    def involved_workloads(self) -> set[str]:
        return {self.target}

    def disruption(self) -> Disruption:
        return _Unreachable(self.target, self.since, self.address or self.how)

    def texts(self) -> tuple[str, str, str, str]:
        """(condition, effect, mechanism, action)."""
        raise NotImplementedError

    def root_cause(self, incident: Incident) -> RootCause:
        condition, effect, mechanism, action = self.texts()
        return workload_root_cause(
            self.target,
            root="service",
            aliased=("pod",),
            condition=condition,
            effect=effect,
            category="Configuration",
            mechanism=mechanism,
            actions=[action],
            app=incident.cluster.app,
        )


class ServiceTargetPortFault(_ServiceFault):
    name = "service-target-port"
    summary = "a Service's targetPort changed to a port its pods do not listen on"
    itbench_id = "modified-target-port-kubernetes-service"

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at

        def change(body: JsonObject) -> None:
            body["spec"]["ports"][0]["targetPort"] = 9999
            body["metadata"].setdefault("managedFields", []).extend(_managed(at, {"f:spec": {"f:ports": {}}}))

        cluster.update_static("services", NAMESPACE, self.target, at, change)
        pod = cluster.pods_of(self.target, at)[0]
        self.address = f"{pod.ip}:9999"
        self.since = at + SECOND

    def texts(self) -> tuple[str, str, str, str]:
        t = self.target
        port = WORKLOAD_BY_NAME[t].port
        return (
            f"{t} service's targetPort set to 9999 instead of {port}",
            f"connections to {t} are refused",
            "misconfigured-service-port",
            f"Set the targetPort of the {t} service back to {port}",
        )


class DeletedServiceFault(_ServiceFault):
    name = "deleted-service"
    summary = "a workload's Service deleted: its callers cannot resolve it"
    itbench_id = "deleted-kubernetes-service"
    how = "dns"

    def inject(self, incident: Incident) -> None:
        record = incident.cluster.static[("services", NAMESPACE, self.target)]
        record.deleted = incident.fault_at
        self.since = incident.fault_at + SECOND

    def root_cause(self, incident: Incident) -> RootCause:
        cause = super().root_cause(incident)
        # ITBench's key for this fault names the pods with an anchored pattern (not ReplicaSets).
        for group in cause.groups:
            if group.id == f"{self.target}-pod-1":
                group.filter = [f"^{self.target}-[a-z0-9]+-[a-z0-9]+$"]
        return cause

    def texts(self) -> tuple[str, str, str, str]:
        t = self.target
        return (
            f"the {t} service was deleted",
            f"callers cannot resolve {t}",
            "custom",
            f"Recreate the {t} service (helm upgrade, or kubectl apply of its manifest)",
        )


class ServiceSelectorFault(_ServiceFault):
    name = "service-selector"
    summary = "a Service's selector changed to match no pod: its Endpoints empty"
    itbench_id = "invalid-kubernetes-service-selector"
    applications = ("otel-demo", "bookinfo")

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        app = cluster.app
        label = f"invalid-workload-{self.rng.randrange(1000)}"

        def change(body: JsonObject) -> None:
            body["spec"]["selector"] = {"app.kubernetes.io/name": label}
            body["metadata"].setdefault("managedFields", []).extend(
                _managed(at, {"f:spec": {"f:selector": {}}})
            )

        cluster.update_static("services", app.namespace, self.target, at, change)
        self.address = (
            f"{cluster.cluster_ips.get(self.target, '10.96.0.1')}:{app.workload_by_name[self.target].port}"
        )
        self.since = at + SECOND

    def texts(self) -> tuple[str, str, str, str]:
        t = self.target
        return (
            f"the {t} service's selector matches no pod",
            f"the {t} service has no endpoints",
            "invalid-service-selector",
            f"Set the selector of the {t} service back to its pods' labels",
        )


# ------------------------------------------------------------------------------------ secrets
class _BadCredentials(Disruption):
    def __init__(self, service: str, since: int) -> None:
        self.service, self.since = service, since

    def server_failure(
        self, t: int, service: str, operation: str, rng: random.Random, product: str = ""
    ) -> Failure | None:
        if t >= self.since and service == self.service:
            return Failure(
                "Net::SMTPAuthenticationError: 535 5.7.8 Authentication credentials invalid", 40.0, "500"
            )
        return None


class SecretCredentialsFault(Fault):
    name = "secret-credentials"
    summary = "the credentials in a workload's Secret replaced with random values"
    itbench_id = "corrupted-kubernetes-secret-credentials"

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        self.target: str = self.param("target", lambda: "email")
        self.secret: str = self.param("secret", lambda: f"{self.target}-service-secret")
        self.since = 0

    def involved_workloads(self) -> set[str]:
        return {self.target}

    def setup(self, cluster: Cluster) -> None:
        """The workload reads its credentials from the Secret, mounted as a volume (Secrets
        themselves are never listed)."""
        deployment = cluster.deployments[self.target]
        for _at, spec, _generation in deployment.versions:
            _mount(spec["template"], self.secret)
        for replicaset in cluster.replicasets.values():
            if replicaset.deployment == self.target:
                _mount(replicaset.template, self.secret)

    def inject(self, incident: Incident) -> None:
        # The kubelet refreshes mounted Secrets within a minute or so.
        self.since = incident.fault_at + 70 * SECOND

    def disruption(self) -> Disruption:
        return _BadCredentials(self.target, self.since)

    def root_cause(self, incident: Incident) -> RootCause:
        t, root = self.target, f"{self.target}-secret-1"
        return RootCause(
            groups=[
                Group(root, "Secret", [rf"{self.secret}\b"], root_cause=True),
                *workload_groups(t, "pod", "service"),
            ],
            aliases=[workload_alias(t, "service", "pod")],
            propagations=[
                Propagation(
                    root,
                    f"{t}-pod-1",
                    f"the credentials in {self.secret} were replaced",
                    f"{t} cannot authenticate",
                ),
                Propagation(f"{t}-pod-1", f"{t}-service-1", f"{t} fails its requests", f"{t} returns errors"),
            ],
            origins={t: f"{t}-service-1"},
            fault=[
                {
                    "category": "Modify",
                    "condition": "Secret credentials replaced with invalid values",
                    "entity": {"group_id": root, "kind": "Secret", "name": self.secret},
                    "fault_mechanism": "corrupted-secret-credentials",
                }
            ],
            actions=[f"Restore the credentials in the Secret {self.secret} and restart {t}"],
        )


def _mount(template: JsonObject, secret: str) -> None:
    spec = template["spec"]
    if any(volume.get("name") == "credentials" for volume in spec.get("volumes", [])):
        return
    spec.setdefault("volumes", []).append(
        {"name": "credentials", "secret": {"secretName": secret, "defaultMode": 420}}
    )
    spec["containers"][0].setdefault("volumeMounts", []).append(
        {"name": "credentials", "mountPath": "/etc/credentials", "readOnly": True}
    )


# ------------------------------------------------------------------------------------ nodes
class CordonedNodeFault(Fault):
    name = "cordoned-node"
    summary = "a workload pinned to a node that is then cordoned, behind a PodDisruptionBudget that forbids evictions"
    itbench_id = "cordoned-kubernetes-worker-node"

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        self.target: str = self.param("target", lambda: rng.choice(("payment", "cart", "currency", "ad")))
        self.node: str = self.param("node", lambda: rng.choice(NODES))
        self.pdb: str = self.param("pdb", lambda: f"{self.target}-pdb")

    def involved_workloads(self) -> set[str]:
        return {self.target}

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        labels = {"opentelemetry.io/name": self.target}
        meta = cluster.metadata(self.pdb, NAMESPACE, at - 60 * SECOND, generation=1)
        meta["managedFields"] = _managed(
            at - 60 * SECOND, {"f:spec": {"f:minAvailable": {}, "f:selector": {}}}, "policy/v1"
        )
        cluster.add_static(
            "poddisruptionbudgets",
            at - 60 * SECOND,
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": meta,
                "spec": {"minAvailable": 2, "selector": {"matchLabels": labels}},
                "status": {
                    "conditions": [
                        {
                            "type": "DisruptionAllowed",
                            "status": "False",
                            "reason": "InsufficientPods",
                            "message": "",
                            "lastTransitionTime": iso(at - 60 * SECOND),
                            "observedGeneration": 1,
                        }
                    ],
                    "currentHealthy": 1,
                    "desiredHealthy": 2,
                    "disruptionsAllowed": 0,
                    "expectedPods": 1,
                    "observedGeneration": 1,
                },
            },
        )

        def pin(template: JsonObject) -> None:
            template["spec"]["nodeSelector"] = {"kubernetes.io/hostname": self.node}

        cluster.rollout(
            self.target, at - 40 * SECOND, pin, manager=MANAGER,
            fields={"f:spec": {"f:template": {"f:spec": {"f:nodeSelector": {}}}}},
        )  # fmt: skip
        cordoned = at

        def cordon(body: JsonObject) -> None:
            body["spec"]["unschedulable"] = True
            body["spec"]["taints"] = [
                *body["spec"].get("taints", []),
                {
                    "effect": "NoSchedule",
                    "key": "node.kubernetes.io/unschedulable",
                    "timeAdded": iso(cordoned),
                },
            ]

        cluster.update_static("nodes", "", self.node, cordoned, cordon)
        node_uid = cluster.static_body("nodes", "", self.node)["metadata"]["uid"]
        cluster.event(
            cordoned,
            {"kind": "Node", "name": self.node, "uid": node_uid},
            "NodeNotSchedulable",
            f"Node {self.node} status is now: NodeNotSchedulable",
            component="kubelet",
            host=self.node,
        )
        message = (
            f"0/4 nodes are available: {SCHEDULER_TAINT}, 1 node(s) were unschedulable, 2 node(s) didn't match "
            "Pod's node affinity/selector. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
        )
        replicas = cluster.deployments[self.target].spec(at)[0]["replicas"]
        for pod in cluster.scale(
            self.target, cordoned + 5 * SECOND, replicas + 1, lambda c: unschedulable(c, message)
        ):
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
        t, root = self.target, f"{self.pdb}-1"
        return RootCause(
            groups=[
                Group(root, "PodDisruptionBudget", [self.pdb], root_cause=True),
                *workload_groups(t, "service", "pod"),
            ],
            aliases=[workload_alias(t, "service", "pod")],
            propagations=[
                Propagation(
                    root,
                    f"{t}-pod-1",
                    f"{self.pdb} requires 2 available pods while {t} runs 1, on a cordoned node",
                    f"{t} cannot be moved off the node nor scaled",
                ),
                Propagation(
                    f"{t}-pod-1", f"{t}-service-1", f"{t} pods stay pending", f"{t} runs short of replicas"
                ),
            ],
            origins={t: f"{t}-service-1"},
            fault=[
                {
                    "category": "Configuration",
                    "condition": f"Overly restrictive PDB (minAvailable=2) blocks {t} from being drained off a cordoned node",
                    "entity": {"group_id": root, "kind": "PodDisruptionBudget", "name": self.pdb},
                    "fault_mechanism": "pdb-blocking-drain",
                }
            ],
            actions=[f"Relax the PodDisruptionBudget {self.pdb}", f"Uncordon the node {self.node}"],
        )


# The values of the priority classes ITBench's injection creates; a pod without a class has 0.
_PRIORITY_VALUES: dict[str, int] = {"application-critical": 10000, "application-non-critical": 1}
_TARGET_CPU_REQUEST_M = 20  # payment's request in ITBench's values of 2026-01-15 to 2026-02-18


def _priority(pod: Pod) -> int:
    return _PRIORITY_VALUES.get(pod.template["spec"].get("priorityClassName", ""), 0)


def _importance(pod: Pod) -> tuple[int, int, str]:
    """The scheduler's order of importance among victims: the higher priority first, then the
    pod that started first."""
    return (-_priority(pod), pod.created, pod.name)


def _preempted_at(at: int, number: int) -> int:
    """When the scheduler's ``number``-th preemption on the node happens (a few seconds apart)."""
    return at + (4 + 2 * number) * SECOND


@dataclass
class _Schedule:
    """How the high-priority pods fared on the node, one by one."""

    placed: list[int]  # the indexes of the pods bound to the node, in order
    rounds: list[tuple[int, list[Pod]]]  # (the preemptor's index, its victims), in order
    remaining: list[Pod]  # the lower-priority pods that request CPU left on the node
    free_m: int  # the CPU left unrequested on the node at the end

    @property
    def bound(self) -> int:
        return len(self.placed)


def _schedule(free_m: int, request_m: int, replicas: int, lower: list[Pod]) -> _Schedule:
    """The default scheduler placing ``replicas`` pods that request ``request_m`` each on a node
    with ``free_m`` unrequested, where the pods ``lower`` (of lower priority, requesting CPU)
    run. A pod that does not fit preempts: its candidate victims are all the lower-priority pods,
    reprieved most important first while it still fits (``SelectVictimsOnNode``); a pod that
    requests nothing frees nothing, so it is never among them. A pod that would not fit with
    every candidate gone waits."""
    remaining = sorted(lower, key=_importance)
    placed: list[int] = []
    rounds: list[tuple[int, list[Pod]]] = []
    for index in range(replicas):
        if free_m >= request_m:
            free_m -= request_m
            placed.append(index)
            continue
        room = free_m + sum(pod_cpu_request_m(pod.template["spec"]) for pod in remaining)
        if room < request_m:
            continue
        victims = []
        for pod in remaining:
            asked = pod_cpu_request_m(pod.template["spec"])
            if room - asked >= request_m:
                room -= asked  # reprieved
            else:
                victims.append(pod)
        remaining = [pod for pod in remaining if pod not in victims]
        free_m = room - request_m
        placed.append(index)
        rounds.append((index, victims))
    return _Schedule(placed, rounds, remaining, free_m)


class PriorityPreemptionFault(Fault):
    name = "priority-preemption"
    summary = "a high-priority workload filling one node preempts the demo's pod pinned there"
    itbench_id = "priority-kubernetes-workload-priority-preemption"

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        self.target: str = self.param("target", lambda: rng.choice(("payment", "kafka", "cart", "currency")))
        self.workload: str = self.param("workload", lambda: "critical-data-collector")
        self.node: str = self.param("node", lambda: rng.choice(NODES))
        self.preempted: set[str] = set()  # the other workloads whose pods the injection preempts

    def involved_workloads(self) -> set[str]:
        return {self.target} | self.preempted

    def setup(self, cluster: Cluster) -> None:
        """The target's container requests CPU from before the window: without a request,
        preempting its pod would free nothing, and the scheduler never chooses such a victim.
        ITBench's injection sets none; its Helm values gave payment 20m from 2026-01-15 to
        2026-02-18 (the only values in which its recorded preemption was possible). The other
        targets get the same 20m, the model's choice. The node is marked filled, so that no new
        pod that requests CPU is placed there (its room goes to the high-priority pods)."""
        deployment = cluster.deployments[self.target]
        templates = [spec["template"] for _at, spec, _generation in deployment.versions]
        templates += [rs.template for rs in cluster.replicasets.values() if rs.deployment == self.target]
        for template in templates:
            if pod_cpu_request_m(template["spec"]) == 0:
                resources = template["spec"]["containers"][0].setdefault("resources", {})
                resources.setdefault("requests", {})["cpu"] = f"{_TARGET_CPU_REQUEST_M}m"
        cluster.filled_nodes.add(self.node)

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        for name, value, text in (
            ("application-critical", _PRIORITY_VALUES["application-critical"],
             "High priority class for application workloads"),
            ("application-non-critical", _PRIORITY_VALUES["application-non-critical"],
             "Lower priority class for application workloads"),
        ):  # fmt: skip
            meta = cluster.metadata(
                name, None, at - 90 * SECOND, labels={"app.kubernetes.io/managed-by": "ITBench"}
            )
            cluster.add_static(
                "priorityclasses",
                at - 90 * SECOND,
                {
                    "apiVersion": "scheduling.k8s.io/v1",
                    "kind": "PriorityClass",
                    "metadata": meta,
                    "value": value,
                    "globalDefault": False,
                    "description": text,
                    "preemptionPolicy": "PreemptLowerPriority",
                },
            )

        def pin(template: JsonObject) -> None:
            template["spec"]["nodeSelector"] = {"kubernetes.io/hostname": self.node}
            template["spec"]["priorityClassName"] = "application-non-critical"

        cluster.rollout(
            self.target, at - 60 * SECOND, pin, manager=MANAGER,
            fields={"f:spec": {"f:template": {"f:spec": {"f:nodeSelector": {}, "f:priorityClassName": {}}}}},
        )  # fmt: skip
        # ITBench creates replicas + 1 = 21 pods, each requesting (allocatable CPU - 1 core) / 20,
        # which leaves a core to what already runs on the node. Here the 20 share what the
        # node's DaemonSets (system-node-critical, never preempted) leave, so that the 21st waits
        # and everything of a lower priority that requests CPU on the node is preempted (the
        # platform's other requesting pods are placed elsewhere, see ``install_platform``).
        replicas = 21
        allocatable_m = NODE_CPU_CORES * 1000
        kept_m = sum(w.cpu_request_m or 0 for w in PLATFORM_WORKLOADS if w.controller == "DaemonSet")
        request_m = (allocatable_m - kept_m) // (replicas - 1)
        lower = [
            pod
            for pod in cluster.pods
            if pod.node == self.node and pod.exists(at) and pod_cpu_request_m(pod.template["spec"]) > 0
        ]
        free_m = allocatable_m - kept_m - sum(pod_cpu_request_m(pod.template["spec"]) for pod in lower)
        outcome = _schedule(free_m, request_m, replicas, lower)
        bound_at = [at + 3 * SECOND] * replicas
        for number, (index, _victims) in enumerate(outcome.rounds):
            # the preemptor is bound once its victims' grace period is over
            bound_at[index] = _preempted_at(at, number) + 3 * SECOND
        done = _preempted_at(at, len(outcome.rounds))
        labels = {"app.kubernetes.io/name": self.workload}
        container = {
            "name": "worker",
            "image": _INIT_IMAGE,
            "command": ["/bin/sh"],
            "args": ["-c", "sleep infinity"],
            "resources": {"requests": {"cpu": f"{request_m}m", "memory": "1Mi"}},
        }
        template = {
            "metadata": {"labels": labels},
            "spec": {
                "containers": [container],
                "nodeSelector": {"kubernetes.io/hostname": self.node},
                "priorityClassName": "application-critical",
            },
        }
        high_message = self._waiting_message(request_m, _PRIORITY_VALUES["application-critical"], outcome)
        pods = cluster.static_deployment(
            self.workload, NAMESPACE, at, template, replicas, ready=outcome.bound,
            scheduled=[bound_at[index] for index in outcome.placed], pending_message=high_message,
        )  # fmt: skip
        for waiting in pods[outcome.bound :]:
            cluster.event(done, waiting.ref, "FailedScheduling", high_message, type_="Warning",
                          component="default-scheduler", repeat_until=incident.end, every=150 * SECOND)  # fmt: skip
        target_preempted: int | None = None
        for number, (index, victims) in enumerate(outcome.rounds):
            preempted = _preempted_at(at, number)
            preemptor = pods[outcome.placed.index(index)]
            for victim in victims:
                cluster.event(
                    preempted,
                    cluster.pod_ref(victim, container=False),
                    "Preempted",
                    f"Preempted by pod {preemptor.uid} on node {self.node}",
                    component="default-scheduler",
                )
                cluster.delete_pod(victim, preempted)
                if victim.workload == self.target:
                    target_preempted = preempted
                    continue
                self.preempted.add(victim.workload)
                # its ReplicaSet replaces it on a worker with room (not this one)
                replicaset = cluster.replicasets[victim.replicaset]
                cluster.create_pod(replicaset, preempted + SECOND)
        if target_preempted is None:
            raise GeneratorError(f"the model does not preempt {self.target}'s pod on {self.node}")
        message = self._waiting_message(
            _TARGET_CPU_REQUEST_M, _PRIORITY_VALUES["application-non-critical"], outcome
        )
        replicaset = cluster.current_replicaset(self.target, at)
        created = target_preempted + 3 * SECOND
        pending = cluster.create_pod(
            replicaset, created, healthy=False, states=unschedulable(created, message), node=self.node
        )
        cluster.event(
            created + SECOND,
            cluster.pod_ref(pending, container=False),
            "FailedScheduling",
            message,
            type_="Warning",
            component="default-scheduler",
            repeat_until=incident.end,
            every=150 * SECOND,
        )

    def _waiting_message(self, request_m: int, priority: int, outcome: _Schedule) -> str:
        """What the scheduler says of a pod pinned to the node that it cannot place, from the
        node's state once the preemptions are done: the control plane's taint, the node's CPU,
        the other workers' labels; then why preempting does not help."""
        if outcome.free_m >= request_m:
            raise GeneratorError(f"a pod requesting {request_m}m would fit on {self.node}")
        if any(_priority(pod) < priority for pod in outcome.remaining):
            raise GeneratorError(f"a pod of priority {priority} would preempt on {self.node}")
        nodes, others = len(NODES) + 1, len(NODES) - 1
        return (
            f"0/{nodes} nodes are available: {SCHEDULER_TAINT}, 1 Insufficient cpu, {others} node(s) didn't match "
            f"Pod's node affinity/selector. preemption: 0/{nodes} nodes are available: 1 No preemption victims "
            f"found for incoming pod, {nodes - 1} Preemption is not helpful for scheduling."
        )

    def root_cause(self, incident: Incident) -> RootCause:
        t, w = self.target, self.workload
        root = f"{w}-pod-1"
        return RootCause(
            groups=[Group(root, "Pod", [f"{w}-.*"], root_cause=True), *workload_groups(t, "service", "pod")],
            aliases=[workload_alias(t, "service", "pod")],
            propagations=[
                Propagation(
                    root,
                    f"{t}-pod-1",
                    f"{w} pods of a higher priority class fill node {self.node}",
                    f"the scheduler preempts the {t} pod",
                ),
                Propagation(
                    f"{t}-pod-1",
                    f"{t}-service-1",
                    f"{t} pod cannot be scheduled again",
                    f"{t} has no running pod",
                ),
            ],
            origins={t: f"{t}-service-1"} if WORKLOAD_BY_NAME[t].port else {},
            fault=[
                {
                    "category": "Resource",
                    "condition": f"High-priority {w} pods deployed, evicting the lower-priority {t} pod",
                    "entity": {"group_id": root, "kind": "Pod", "name": w},
                    "fault_mechanism": "pod-priority-eviction",
                }
            ],
            actions=[f"Delete the {w} deployment (or lower its priority)", f"Remove the node pinning of {t}"],
        )


# ------------------------------------------------------------------------------------ API server
class ApiServerSurgeFault(Fault):
    name = "api-server-surge"
    summary = "a workload listing cluster objects in a tight loop floods the API server with requests"
    itbench_id = "kubernetes-api-server-request-surge"

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        self.rps: int = int(self.param("rps", lambda: rng.choice((500, 1000))))

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        name = "workload-scanner"
        labels = {"app.kubernetes.io/component": "workload", "app.kubernetes.io/managed-by": "ITBench"}
        cluster.add_static(
            "serviceaccounts",
            at,
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": cluster.metadata(name, NAMESPACE, at)},
        )
        rules = [
            {
                "apiGroups": [""],
                "resources": ["pods", "services", "nodes", "namespaces"],
                "verbs": ["get", "list", "watch"],
            },
            {
                "apiGroups": ["apps"],
                "resources": ["deployments", "replicasets", "statefulsets"],
                "verbs": ["get", "list", "watch"],
            },
            {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["get", "list", "watch"]},
        ]
        cluster.add_static(
            "clusterroles",
            at,
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": cluster.metadata(name, None, at, labels=labels),
                "rules": rules,
            },
        )
        cluster.add_static(
            "clusterrolebindings",
            at,
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": cluster.metadata(name, None, at, labels=labels),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}],
            },
        )
        script = (
            "import os, time\nfrom kubernetes import client, config\n\nconfig.load_incluster_config()\n"
            "core, apps = client.CoreV1Api(), client.AppsV1Api()\nrate = int(os.environ['RPS'])\n"
            "end = time.time() + int(os.environ['DURATION'])\nwhile time.time() < end:\n"
            "    for _ in range(rate):\n        core.list_pod_for_all_namespaces(watch=False)\n"
            "        apps.list_deployment_for_all_namespaces(watch=False)\n    time.sleep(1)\n"
        )
        cluster.add_static(
            "configmaps",
            at,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": cluster.metadata("generator-script", NAMESPACE, at),
                "data": {"deps": "kubernetes==33.1.0\n", "script": script},
            },
        )
        template = {
            "metadata": {"labels": {"app.kubernetes.io/name": name}},
            "spec": {
                "containers": [
                    {
                        "name": "load-generator",
                        "image": _PYTHON_IMAGE,
                        "env": [
                            {"name": "RPS", "value": str(self.rps)},
                            {"name": "DURATION", "value": "3600"},
                        ],
                        "command": ["/bin/sh"],
                        "args": [
                            "-c",
                            "python3.14 -m pip install -r ~/deps/requirements.txt && python3.14 ~/scripts/generate_load.py",
                        ],
                        "resources": {
                            "requests": {"cpu": "50m", "memory": "64Mi"},
                            "limits": {"cpu": "200m", "memory": "128Mi"},
                        },
                    }
                ],
                "serviceAccountName": name,
            },
        }
        cluster.static_deployment(name, NAMESPACE, at + 2 * SECOND, template, 5, ready=5)

    def root_cause(self, incident: Incident) -> RootCause:
        root = "workload-scanner-deployment-1"
        return RootCause(
            groups=[
                Group(root, "Deployment", [r"workload-scanner\b"], root_cause=True),
                Group("workload-scanner-pod-1", "Pod", ["workload-scanner-.*"]),
            ],
            aliases=[[root, "workload-scanner-pod-1"]],
            propagations=[],
            origins={},
            fault=[
                {
                    "category": "Resource",
                    "condition": f"workload-scanner pods send about {self.rps} list requests a second to the API server",
                    "entity": {"group_id": root, "kind": "Deployment", "name": "workload-scanner"},
                    "fault_mechanism": "kubernetes-api-server-request-surge",
                }
            ],
            actions=["Delete the workload-scanner deployment and its ClusterRoleBinding"],
        )


# ------------------------------------------------------------------------------------ no fault
class NoFault(Fault):
    name = "no-fault"
    summary = "nothing injected: the cluster as it runs (a FinOps scenario; the namespace is the answer)"
    itbench_id = ""

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        self.autoscaling: bool = bool(self.param("autoscaling", lambda: True))

    def setup(self, cluster: Cluster) -> None:
        if self.autoscaling:
            for name in (
                "ad",
                "cart",
                "checkout",
                "currency",
                "email",
                "frontend",
                "payment",
                "product-catalog",
                "quote",
                "recommendation",
                "shipping",
            ):
                cluster.install_autoscaler(
                    name,
                    max_replicas=5,
                    limited_condition=True,
                    helm_managed_fields=True,
                )

    def root_cause(self, incident: Incident) -> RootCause:
        root = "otel-demo-namespace-1"
        return RootCause(
            groups=[Group(root, "Namespace", name=NAMESPACE, root_cause=True)],
            aliases=[[root]],
            propagations=[],
            origins={},
            fault=[],
            actions=["Review the namespace's resource requests and autoscaling against what it uses"],
        )


CONFIG_FAULTS: tuple[type[Fault], ...] = (
    NetworkPolicyFault,
    ServiceTargetPortFault,
    DeletedServiceFault,
    ServiceSelectorFault,
    SecretCredentialsFault,
    CordonedNodeFault,
    PriorityPreemptionFault,
    ApiServerSurgeFault,
    NoFault,
)
__all__ = [
    "CONFIG_FAULTS",
    "ApiServerSurgeFault",
    "CordonedNodeFault",
    "DeletedServiceFault",
    "NetworkPolicyFault",
    "NoFault",
    "PriorityPreemptionFault",
    "SecretCredentialsFault",
    "ServiceSelectorFault",
    "ServiceTargetPortFault",
]
