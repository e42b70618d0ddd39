"""Chaos Mesh faults: a ``Schedule`` in ``chaos-mesh`` spawning the experiment that disrupts the demo.

ITBench's mechanics: the Schedule is created with ``schedule: "* * * * *"``,
``concurrencyPolicy: Forbid`` and ``historyLimit: 1`` around the scenario's experiment spec. The
controller spawns the experiment at the next minute boundary; an experiment with a ``duration``
(``55s``) ends before the next minute and a new one is spawned then (the previous one is
deleted), so the disruption pauses a few seconds every minute; one without a duration runs until
the Schedule is removed. Before a partition, ITBench may scale one side to two replicas.

The answer key follows ITBench's: the root is the chaos experiment (of its kind), aliased with
the Schedule that spawned it; the target's Service and Pods are symptoms.
"""

from __future__ import annotations

import copy
import random
from typing import Any, ClassVar

from itbench_server.synth.cluster import (
    MINUTE,
    NODE_CPU_CORES,
    NODES,
    SECOND,
    Cluster,
    JsonObject,
    Pod,
    PodState,
    iso,
)
from itbench_server.synth.faults.base import (
    Fault,
    Group,
    Incident,
    Propagation,
    RootCause,
    workload_alias,
    workload_groups,
)
from itbench_server.synth.topology import CHAOS_NAMESPACE, NAMESPACE, WORKLOAD_BY_NAME
from itbench_server.synth.traffic import Disruption, Failure

API_VERSION = "chaos-mesh.org/v1alpha1"
CONTROLLER = "chaos-controller-manager"
# Control-plane components a chaos experiment may target (static pods in kube-system).
CONTROL_PLANE = ("kube-apiserver", "etcd")


def _timeout(caller: str, callee: str) -> Failure:
    """How ``caller`` reports a call to ``callee`` that never gets an answer."""
    language = WORKLOAD_BY_NAME[caller].language
    if callee == "kafka":
        return Failure(
            "kafka: client has run out of available brokers to talk to: dial tcp: i/o timeout", 3_000.0
        )
    if language == "rust":
        return Failure(
            f"error sending request for url (http://{callee}:8080/getquote): operation timed out",
            10_000.0,
            "500",
        )
    if language == "python":
        return Failure(
            '<_InactiveRpcError of RPC that terminated with: status = StatusCode.DEADLINE_EXCEEDED details = "Deadline Exceeded">',
            4_000.0,
            "DEADLINE_EXCEEDED",
        )
    if language == "nodejs":
        return Failure("4 DEADLINE_EXCEEDED: Deadline exceeded", 5_000.0, "DEADLINE_EXCEEDED")
    return Failure(
        "rpc error: code = DeadlineExceeded desc = context deadline exceeded", 5_000.0, "DEADLINE_EXCEEDED"
    )


class _Windows:
    """When an experiment is in effect: one window per spawned experiment."""

    def __init__(self) -> None:
        self.windows: list[tuple[int, int]] = []

    def active(self, t: int) -> bool:
        return any(start <= t < end for start, end in self.windows)


class ChaosFault(Fault):
    """A Chaos Mesh experiment run by a Schedule. Subclasses give the experiment's kind, spec and
    effect."""

    kind: ClassVar[str]  # NetworkChaos, StressChaos, ...
    field: ClassVar[str]  # the Schedule's spec field holding the experiment: networkChaos, ...
    itbench_id = "scheduled-chaos-mesh-experiment"
    default_targets: ClassVar[tuple[str, ...]]
    records_containers: ClassVar[bool] = False  # records per container rather than per pod

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        self.target: str = self.param("target", lambda: rng.choice(self.default_targets))
        self.configure(rng)
        self.schedule: str = self.param("schedule", lambda: f"otel-demo-{self.default_name()}")
        self.duration: str | None = self.param("duration", lambda: self.default_duration())
        self.prescale: str | None = self.param("prescale", lambda: None)
        self.mode: str = self.param("mode", lambda: "all")
        self.windows = _Windows()
        self.spawned: list[tuple[int, str]] = []

    # -- what subclasses give
    def configure(self, rng: random.Random) -> None:
        """Read the experiment's own parameters."""

    def default_name(self) -> str:
        raise NotImplementedError

    def default_duration(self) -> str | None:
        return None

    def experiment(self) -> JsonObject:
        """The experiment's spec (without the selector, mode and duration)."""
        raise NotImplementedError

    def effect(self) -> tuple[str, str]:
        """(condition, effect) of the first hop, from the experiment to the target's pods."""
        raise NotImplementedError

    def mechanism(self) -> str:
        """The answer key's ``fault_mechanism`` (descriptive; as ITBench's keys write it)."""
        return self.name.replace("-", "_")

    def symptoms(self) -> tuple[list[Group], list[list[str]], list[Propagation], dict[str, str]]:
        """The target's groups, aliases, the hops after the first, and where symptoms start."""
        t = self.target
        hop = Propagation(
            f"{t}-pod-1", f"{t}-service-1", f"{t} pods are disrupted", f"{t} requests fail or slow down"
        )
        return (
            workload_groups(t, "service", "pod"),
            [workload_alias(t, "service", "pod")],
            [hop],
            {t: f"{t}-service-1"},
        )

    def on_spawn(self, incident: Incident, start: int, end: int, pods: list[Pod]) -> None:
        """What the experiment does to the pods it selected, from ``start`` until ``end``."""

    # -- common mechanics
    @property
    def namespace(self) -> str:
        return "kube-system" if self.target in CONTROL_PLANE else NAMESPACE

    def selector(self) -> JsonObject:
        key = "component" if self.target in CONTROL_PLANE else "app.kubernetes.io/component"
        return {"labelSelectors": {key: self.target}, "namespaces": [self.namespace]}

    def spec(self) -> JsonObject:
        spec = self.experiment()
        if self.duration:
            spec["duration"] = self.duration
        spec["mode"] = self.mode
        spec["selector"] = self.selector()
        return dict(sorted(spec.items()))

    def involved_workloads(self) -> set[str]:
        return {self.target} | ({self.prescale} if self.prescale else set())

    def setup(self, cluster: Cluster) -> None:
        if self.target in CONTROL_PLANE:
            cluster.control_plane_pods()
        for kind, plural in ((self.kind, self.kind.lower()), ("Schedule", "schedules")):
            cluster.chaos_definition(kind, plural)

    def selected_pods(self, cluster: Cluster, t: int) -> list[str]:
        if self.target in CONTROL_PLANE:
            return [f"{self.target}-control-plane"]
        # A Failed (evicted) pod runs no container to inject into; Chaos Mesh leaves it out.
        pods = [
            pod.name
            for pod in cluster.pods_of(self.target, t)
            if pod.state(t).scheduled and pod.state(t).phase != "Failed"
        ]
        return pods[:1] if self.mode == "one" else pods

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        if self.prescale:
            cluster.scale(self.prescale, at - 50 * SECOND, 2)
        spec = self.spec()
        schedule_spec = {
            "concurrencyPolicy": "Forbid",
            "historyLimit": 1,
            "schedule": "* * * * *",
            "type": self.kind,
            self.field: spec,
        }
        schedule_meta = cluster.metadata(self.schedule, CHAOS_NAMESPACE, at, generation=1)
        schedule_meta["managedFields"] = [
            {
                "apiVersion": API_VERSION,
                "fieldsType": "FieldsV1",
                "fieldsV1": {
                    "f:spec": {
                        ".": {},
                        "f:concurrencyPolicy": {},
                        "f:historyLimit": {},
                        f"f:{self.field}": {},
                        "f:schedule": {},
                        "f:type": {},
                    }
                },
                "manager": "OpenAPI-Generator",
                "operation": "Update",
                "time": iso(at),
            }
        ]
        schedule_ref = cluster.ref(
            "Schedule", self.schedule, CHAOS_NAMESPACE, schedule_meta["uid"], API_VERSION
        )
        cluster.add_static(
            "schedules",
            at,
            {
                "apiVersion": API_VERSION,
                "kind": "Schedule",
                "metadata": schedule_meta,
                "spec": schedule_spec,
                "status": {"time": iso(at)},
            },
        )
        # "* * * * *": the first experiment at the next minute boundary, then one a minute when
        # each ends before the next (Forbid keeps a running one from being replaced).
        first = (at // MINUTE + 1) * MINUTE
        length = _duration(self.duration)
        starts = [first] if length is None else list(range(first, incident.end + MINUTE, MINUTE))
        for start in starts:
            name = f"{self.schedule}-{cluster.ids.suffix(5)}"
            end = incident.end + 2 * MINUTE if length is None else start + length
            pods = self.selected_pods(cluster, start)
            meta = cluster.metadata(
                name,
                CHAOS_NAMESPACE,
                start,
                generation=1,
                labels={"managed-by": self.schedule},
            )
            meta["ownerReferences"] = [
                {
                    "apiVersion": API_VERSION,
                    "kind": "Schedule",
                    "name": self.schedule,
                    "uid": schedule_meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
            meta["finalizers"] = ["chaos-mesh/records"]
            ids = [
                f"{self.namespace}/{pod}" + (f"/{self._container(pod)}" if self.records_containers else "")
                for pod in pods
            ]
            body: JsonObject = {
                "apiVersion": API_VERSION,
                "kind": self.kind,
                "metadata": meta,
                "spec": copy.deepcopy(spec),
                "status": _status(ids, injected=True),
            }
            record = cluster.add_static(self.kind.lower(), start, body)
            if length is not None:
                finished = copy.deepcopy(body)
                finished["status"] = _status(ids, injected=False)
                finished["metadata"]["finalizers"] = []
                record.versions.append((end, finished))
                record.deleted = start + MINUTE if start + MINUTE < incident.end + MINUTE else None

            def active(
                body: JsonObject, name: str = name, uid: str = meta["uid"], start: int = start
            ) -> None:
                body["status"] = {
                    "active": [
                        {
                            "apiVersion": API_VERSION,
                            "kind": self.kind,
                            "name": name,
                            "namespace": CHAOS_NAMESPACE,
                            "uid": uid,
                        }
                    ],
                    "time": iso(start),
                }

            cluster.update_static("schedules", CHAOS_NAMESPACE, self.schedule, start, active)
            chaos_ref = cluster.ref(self.kind, name, CHAOS_NAMESPACE, meta["uid"], API_VERSION)
            cluster.event(start, schedule_ref, "Spawned", f"Create new object: {name}", component=CONTROLLER)
            cluster.event(
                start, chaos_ref, "FinalizerInited", "Finalizer has been inited", component=CONTROLLER
            )
            cluster.event(
                start + SECOND,
                chaos_ref,
                "Updated",
                "Successfully update finalizer of resource",
                component=CONTROLLER,
            )
            cluster.event(
                start + SECOND, chaos_ref, "Started", "Experiment has started", component=CONTROLLER
            )
            for record_id in ids:
                cluster.event(
                    start + 2 * SECOND,
                    chaos_ref,
                    "Applied",
                    f"Successfully apply chaos for {record_id}",
                    component=CONTROLLER,
                )
            cluster.event(
                start + 3 * SECOND,
                chaos_ref,
                "Updated",
                "Successfully update records of resource",
                component=CONTROLLER,
            )
            if length is not None and end < incident.end:
                cluster.event(
                    end, chaos_ref, "TimeUp", "Time up according to the duration", component=CONTROLLER
                )
                for record_id in ids:
                    cluster.event(
                        end + SECOND,
                        chaos_ref,
                        "Recovered",
                        f"Successfully recover chaos for {record_id}",
                        component=CONTROLLER,
                    )
            self.windows.windows.append((start + 3 * SECOND, end))
            self.spawned.append((start, name))
            if self.target not in CONTROL_PLANE:
                self.on_spawn(incident, start + 3 * SECOND, end, cluster.pods_of(self.target, start))

    def _container(self, pod: str) -> str:
        return self.target

    def root_cause(self, incident: Incident) -> RootCause:
        root = f"{self.schedule}-1"
        schedule_group = f"{self.schedule}-schedule-1"
        groups = [
            Group(root, self.kind, [self.schedule], namespace=CHAOS_NAMESPACE, root_cause=True),
            Group(schedule_group, "Schedule", [self.schedule], namespace=CHAOS_NAMESPACE),
        ]
        symptom_groups, aliases, hops, origins = self.symptoms()
        condition, effect = self.effect()
        first = symptom_groups[-1].id if symptom_groups else root
        propagations = [Propagation(root, first, condition, effect), *hops] if symptom_groups else []
        return RootCause(
            groups=[*groups, *symptom_groups],
            aliases=[[root, schedule_group], *aliases],
            propagations=propagations,
            origins=origins,
            fault=[
                {
                    "category": "Chaos",
                    "condition": condition,
                    "entity": {"group_id": root, "kind": self.kind, "name": self.schedule},
                    "fault_mechanism": self.mechanism(),
                }
            ],
            actions=[
                f"Delete the Chaos Mesh Schedule {self.schedule} in namespace {CHAOS_NAMESPACE} "
                f"(and the {self.kind} it spawned)"
            ],
        )


def _duration(text: str | None) -> int | None:
    if not text:
        return None
    units = {"ms": 1_000_000, "s": SECOND, "m": MINUTE}
    for unit in ("ms", "s", "m"):
        if text.endswith(unit) and text[: -len(unit)].isdigit():
            return int(text[: -len(unit)]) * units[unit]
    return None


def _status(ids: list[str], *, injected: bool) -> JsonObject:
    phase = "Injected" if injected else "Not Injected"
    return {
        "conditions": [
            {"type": "Selected", "status": "True" if ids else "False"},
            {"type": "AllInjected", "status": "True" if injected and ids else "False"},
            {"type": "AllRecovered", "status": "False" if injected else "True"},
            {"type": "Paused", "status": "False"},
        ],
        "experiment": {
            "containerRecords": [
                {
                    "id": record_id,
                    "injectedCount": 1,
                    "phase": phase,
                    "recoveredCount": 0 if injected else 1,
                    "selectorKey": ".",
                }
                for record_id in ids
            ],
            "desiredPhase": "Run" if injected else "Stop",
        },
    }


# ------------------------------------------------------------------------------------ network
class _Between(Disruption):
    """Traffic between two services is lost while the experiment runs."""

    def __init__(self, windows: _Windows, ends: frozenset[str]) -> None:
        self.windows, self.ends = windows, ends

    def client_failure(self, t: int, caller: str, callee: str, operation: str) -> Failure | None:
        if {caller, callee} == self.ends and self.windows.active(t):
            return _timeout(caller, callee)
        return None

    def consumes(self, t: int, service: str) -> bool:
        return not ({service, "kafka"} == self.ends and self.windows.active(t))


class NetworkPartitionFault(ChaosFault):
    name = "network-partition"
    summary = "a Chaos Mesh NetworkChaos partition between two services (either may be kafka)"
    kind = "NetworkChaos"
    field = "networkChaos"
    default_targets = ("shipping", "checkout", "recommendation", "fraud-detection", "email")
    _PEERS: ClassVar[dict[str, tuple[str, ...]]] = {
        "shipping": ("quote",),
        "checkout": ("payment", "kafka", "email", "cart"),
        "recommendation": ("product-catalog",),
        "fraud-detection": ("kafka",),
        "email": ("checkout",),
    }

    def configure(self, rng: random.Random) -> None:
        self.peer: str = self.param("peer", lambda: rng.choice(self._PEERS.get(self.target, ("checkout",))))

    def default_name(self) -> str:
        return f"{self.target}-{self.peer}-network-partition"

    def experiment(self) -> JsonObject:
        return {
            "action": "partition",
            "direction": "to",
            "target": {
                "mode": "all",
                "selector": {
                    "labelSelectors": {"app.kubernetes.io/component": self.peer},
                    "namespaces": [NAMESPACE],
                },
            },
        }

    def involved_workloads(self) -> set[str]:
        return super().involved_workloads() | {self.peer}

    def disruption(self) -> Disruption:
        return _Between(self.windows, frozenset((self.target, self.peer)))

    def effect(self) -> tuple[str, str]:
        return (
            f"NetworkChaos partitions {self.target} pods from {self.peer}",
            f"{self.target} pods cannot reach {self.peer}",
        )

    def symptoms(self) -> tuple[list[Group], list[list[str]], list[Propagation], dict[str, str]]:
        s, d = self.target, self.peer
        groups = [*workload_groups(s, "service", "pod"), Group(f"{d}-service-1", "Service", [rf"{d}\b"])]
        hops = [
            Propagation(
                f"{s}-pod-1",
                f"{s}-service-1",
                f"{s} calls to {d} time out",
                f"{s} requests fail and slow down",
            ),
            Propagation(
                f"{s}-service-1",
                f"{d}-service-1",
                f"{d} is unreachable from {s}",
                f"{d} stops getting traffic from {s}",
            ),
        ]
        # Symptoms start where calls fail: the caller's side of the pair.
        caller = d if (s, d) == ("email", "checkout") else s
        origins = {caller: f"{caller}-service-1"} if caller in WORKLOAD_BY_NAME else {}
        return groups, [workload_alias(s, "service", "pod")], hops, origins


class NetworkLossFault(NetworkPartitionFault):
    name = "network-loss"
    summary = "a Chaos Mesh NetworkChaos dropping the packets between two services"

    def configure(self, rng: random.Random) -> None:
        super().configure(rng)
        self.loss: str = str(self.param("loss", lambda: "100"))

    def default_name(self) -> str:
        return f"{self.target}-{self.peer}-network-loss"

    def default_duration(self) -> str | None:
        return "55s"

    def experiment(self) -> JsonObject:
        spec = super().experiment()
        spec["action"] = "loss"
        spec["loss"] = {"correlation": "0", "loss": self.loss}
        return spec

    def effect(self) -> tuple[str, str]:
        return (
            f"NetworkChaos drops {self.loss}% of the packets from {self.target} to {self.peer}",
            f"{self.target} calls to {self.peer} time out",
        )


class _Slow(Disruption):
    """Calls to a service are delayed while the experiment runs; callers with deadlines give up."""

    def __init__(self, windows: _Windows, target: str, factor: float, give_up: float) -> None:
        self.windows, self.target, self.factor, self.give_up = windows, target, factor, give_up

    def latency_factor(self, t: int, service: str) -> float:
        return self.factor if service == self.target and self.windows.active(t) else 1.0

    def client_failure(self, t: int, caller: str, callee: str, operation: str) -> Failure | None:
        if callee == self.target and self.windows.active(t) and (t // 1_000_000) % 100 < self.give_up * 100:
            return _timeout(caller, callee)
        return None


class NetworkDelayFault(ChaosFault):
    name = "network-delay"
    summary = "a Chaos Mesh NetworkChaos delaying a service's traffic"
    kind = "NetworkChaos"
    field = "networkChaos"
    default_targets = ("product-catalog", "cart", "currency", "shipping", "valkey-cart")

    def configure(self, rng: random.Random) -> None:
        self.latency_ms: int = int(self.param("latency_ms", lambda: rng.choice((2000, 5000, 20000))))

    def default_name(self) -> str:
        return f"{self.target}-network-delay"

    def experiment(self) -> JsonObject:
        return {"action": "delay", "delay": {"latency": f"{self.latency_ms}ms"}}

    def disruption(self) -> Disruption:
        base = max(0.3, _typical_ms(self.target))
        return _Slow(
            self.windows, self.target, 1.0 + self.latency_ms / base, 0.5 if self.latency_ms >= 5000 else 0.1
        )

    def effect(self) -> tuple[str, str]:
        return (
            f"NetworkChaos delays the traffic of {self.target} pods by {self.latency_ms} ms",
            f"{self.target} answers slowly and its callers time out",
        )


def _typical_ms(service: str) -> float:
    """A service's usual server time per call, for turning a delay into a latency factor."""
    return {"product-catalog": 1.5, "cart": 1.5, "currency": 0.4, "shipping": 3.0, "quote": 4.0}.get(
        service, 2.0
    )


# ------------------------------------------------------------------------------------ pods
class PodFailureFault(ChaosFault):
    name = "pod-failure"
    summary = "a Chaos Mesh PodChaos pod-failure: the target's pods stop serving"
    kind = "PodChaos"
    field = "podChaos"
    default_targets = ("checkout", "cart", "product-catalog", "currency", "payment", "ad")

    def default_name(self) -> str:
        return f"{self.target}-pod-failure"

    def experiment(self) -> JsonObject:
        return {"action": "pod-failure"}

    def on_spawn(self, incident: Incident, start: int, end: int, pods: list[Pod]) -> None:
        for pod in pods:
            state = pod.state(start)
            pod.states.append(
                PodState(start, ready=False, restarts=state.restarts + 1, running_since=start + 2 * SECOND)
            )
            if end < incident.end:
                pod.states.append(
                    PodState(end, ready=True, restarts=state.restarts + 2, running_since=end + SECOND)
                )
        incident.cluster.invalidate()

    def effect(self) -> tuple[str, str]:
        return (
            f"PodChaos replaces the containers of {self.target} pods with a pause image",
            f"{self.target} pods stop serving and are not ready",
        )


class StressFault(ChaosFault):
    name = "stress"
    summary = "a Chaos Mesh StressChaos exhausting a service's memory (OOMKilled) or CPU"
    kind = "StressChaos"
    field = "stressChaos"
    records_containers = True
    default_targets = ("valkey-cart", "ad", "recommendation", "cart", "product-catalog", "checkout")

    def configure(self, rng: random.Random) -> None:
        self.stressor: str = self.param("stressor", lambda: rng.choice(("memory", "cpu")))
        if self.stressor == "memory":
            self.size: str = str(self.param("size", lambda: "100%"))
            self.workers: int = int(self.param("workers", lambda: 4))
            self.evicted = False
        else:
            self.load: int = int(self.param("load", lambda: 100))
            self.workers = int(self.param("workers", lambda: 30))

    def default_name(self) -> str:
        return f"{self.target}-{self.stressor}-stress"

    def mechanism(self) -> str:
        return f"{self.stressor}_stress"

    def default_duration(self) -> str | None:
        return "55s"

    def experiment(self) -> JsonObject:
        if self.stressor == "memory":
            return {"stressors": {"memory": {"size": self.size, "workers": self.workers}}}
        return {"stressors": {"cpu": {"load": self.load, "workers": self.workers}}}

    def on_spawn(self, incident: Incident, start: int, end: int, pods: list[Pod]) -> None:
        if self.stressor == "cpu":
            cluster = incident.cluster
            demand = self.workers * self.load / 100.0
            for pod in pods:
                state = pod.state(start)
                if state.phase == "Failed":
                    continue
                # The stressors run outside the container's CFS quota (scenario 25's real key:
                # the node saturates, and the target, with a CPU limit, is not throttled): they
                # take every core the host's other tenants leave (30 threads against their few
                # win nearly all of the time); the container's own processes keep their usual CPU.
                own = cluster.container_cores(pod, state.cpu_factor)
                used, _asked = cluster.host_cpu(start)
                others = used - own - state.stressor_cpu
                got = max(0.0, min(demand, NODE_CPU_CORES - 0.05 - others - own))
                pod.states.append(_copy_state(state, start, stressor_cpu=got, cpu_demand=own + demand))
                pod.states.append(_copy_state(state, end, stressor_cpu=0.0, cpu_demand=0.0))
            return
        # Memory: the container is OOMKilled within seconds each time the stress starts; the
        # kubelet restarts it after a back-off that doubles with every kill.
        cluster = incident.cluster
        for pod in pods:
            state = pod.state(start)
            if not state.ready:
                continue
            if not self.evicted:
                self.evicted = True
                self._evict(incident, start, end, pod)
                continue
            restarts = state.restarts + 1
            killed = start + (3 + self.rng.randrange(0, 4)) * SECOND
            delay = min(10 * SECOND * 2 ** max(0, restarts - 1), 300 * SECOND)
            back = killed + delay
            terminated = {
                "containerID": "containerd://" + f"{self.rng.getrandbits(256):064x}",
                "exitCode": 137,
                "finishedAt": iso(killed),
                "reason": "OOMKilled",
                "startedAt": iso(state.running_since or pod.created),
            }
            pod.states.append(_copy_state(state, start, memory_fraction=0.6, memory_per_minute=6.0))
            pod.states.append(
                PodState(
                    killed,
                    ready=False,
                    restarts=restarts,
                    waiting="CrashLoopBackOff",
                    waiting_message=f"back-off {delay // SECOND}s restarting failed container={self.target} "
                    f"pod={pod.name}_{NAMESPACE}({pod.uid})",
                    last_terminated=terminated,
                    running_since=None,
                    memory_fraction=0.0,
                )
            )
            pod.states.append(
                PodState(back, restarts=restarts, running_since=back, last_terminated=terminated)
            )
            ref = cluster.pod_ref(pod)
            if restarts >= 2 and killed < incident.end:
                cluster.event(
                    killed + SECOND,
                    ref,
                    "BackOff",
                    f"Back-off restarting failed container {self.target} in pod {pod.name}_{NAMESPACE}({pod.uid})",
                    type_="Warning",
                    component="kubelet",
                    host=pod.node,
                )
            if back < incident.end:
                image = pod.template["spec"]["containers"][0]["image"]
                cluster.event(back - SECOND, ref, "Pulled", f'Container image "{image}" already present on machine',
                              component="kubelet", host=pod.node)  # fmt: skip
                cluster.event(back - SECOND, ref, "Created", f"Created container: {self.target}",
                              component="kubelet", host=pod.node)  # fmt: skip
                cluster.event(back, ref, "Started", f"Started container {self.target}", component="kubelet",
                              host=pod.node)  # fmt: skip
        cluster.invalidate()

    def _evict(self, incident: Incident, start: int, end: int, pod: Pod) -> None:
        """The first stress drives the node's available memory under the kubelet's eviction
        threshold (100Mi): the kubelet evicts the pod, which stays listed in phase ``Failed``
        (what ``FailedPodsDetected`` counts), and the ReplicaSet creates a replacement that the
        later stresses OOM-kill. The pod is at its limit (its request), so the message names no
        container that exceeds its request, as the kubelet writes it then."""
        cluster = incident.cluster
        state = pod.state(start)
        evicted = start + (8 + self.rng.randrange(0, 6)) * SECOND
        available = self.rng.randrange(52_000, 98_000)
        message = (
            f"The node was low on resource: memory. Threshold quantity: 100Mi, available: {available}Ki. "
        )
        pod.states.append(_copy_state(state, start, memory_fraction=0.9, memory_per_minute=6.0))
        pod.states.append(
            PodState(
                evicted,
                phase="Failed",
                ready=False,
                restarts=state.restarts,
                running_since=None,
                memory_fraction=0.0,
                reason="Evicted",
                message=message,
            )
        )
        node_ref = cluster.ref("Node", pod.node, "", pod.node, "v1")
        container = cluster.app.container_of(pod.workload)
        cluster.event(evicted - SECOND, node_ref, "EvictionThresholdMet", "Attempting to reclaim memory",
                      type_="Warning", component="kubelet", host=pod.node)  # fmt: skip
        cluster.event(evicted - SECOND, node_ref, "NodeHasInsufficientMemory",
                      f"Node {pod.node} status is now: NodeHasInsufficientMemory", component="kubelet",
                      host=pod.node)  # fmt: skip
        # The listed Node says the same: MemoryPressure (and its NoSchedule taint) until the
        # kubelet's eviction-pressure transition period (5 minutes) has passed since the stress
        # ended and memory came back.
        cluster.set_node_pressure(pod.node, "MemoryPressure", True, evicted - SECOND)
        recovered = end + 5 * MINUTE
        if recovered < incident.end:
            cluster.event(recovered, node_ref, "NodeHasSufficientMemory",
                          f"Node {pod.node} status is now: NodeHasSufficientMemory", component="kubelet",
                          host=pod.node)  # fmt: skip
            cluster.set_node_pressure(pod.node, "MemoryPressure", False, recovered)
        ref = cluster.pod_ref(pod)
        cluster.event(evicted, cluster.pod_ref(pod, container=False), "Evicted", message, type_="Warning",
                      component="kubelet", host=pod.node)  # fmt: skip
        cluster.event(evicted, ref, "Killing", f"Stopping container {container}", component="kubelet",
                      host=pod.node)  # fmt: skip
        replicaset = cluster.current_replicaset(pod.workload, evicted)
        created = evicted + SECOND
        if created < incident.end:
            # The scheduler keeps it off the tainted node.
            elsewhere = [node for node in NODES if node != pod.node]
            cluster.create_pod(replicaset, created, node=self.rng.choice(elsewhere))

    def disruption(self) -> Disruption:
        if self.stressor == "cpu":
            return _Slow(self.windows, self.target, 60.0, 0.2)
        return Disruption()

    def effect(self) -> tuple[str, str]:
        if self.stressor == "memory":
            return (
                f"StressChaos allocates {self.size} of the memory of {self.target} pods",
                f"{self.target} containers are OOMKilled and restart",
            )
        return (f"StressChaos loads the CPU of {self.target} pods", f"{self.target} answers slowly")


def _copy_state(state: PodState, at: int, **changes: Any) -> PodState:
    values = dict(vars(state))
    values.update(at=at, **changes)
    return PodState(**values)


# ------------------------------------------------------------------------------------ HTTP
class _HttpAbort(Disruption):
    def __init__(self, windows: _Windows, target: str, method: str) -> None:
        self.windows, self.target, self.method = windows, target, method

    def client_failure(self, t: int, caller: str, callee: str, operation: str) -> Failure | None:
        if callee == self.target and operation.startswith(self.method) and self.windows.active(t):
            return Failure(
                f"error sending request for url (http://{callee}:8080/getquote): connection closed before message completed",
                2.0,
                "500",
            )
        return None


class _HttpPatched(Disruption):
    def __init__(self, windows: _Windows, target: str) -> None:
        self.windows, self.target = windows, target

    def server_failure(
        self, t: int, service: str, operation: str, rng: random.Random, product: str = ""
    ) -> Failure | None:
        if service == self.target and self.windows.active(t):
            return Failure('NoMethodError: undefined method `each\' for "error body":String', 3.0, "500")
        return None


class HttpChaosFault(ChaosFault):
    name = "http-chaos"
    summary = "a Chaos Mesh HTTPChaos aborting a service's HTTP requests, or replacing their bodies"
    kind = "HTTPChaos"
    field = "httpChaos"
    default_targets = ("quote", "email")

    def configure(self, rng: random.Random) -> None:
        self.action: str = self.param("action", lambda: "abort" if self.target == "quote" else "patch")

    def default_name(self) -> str:
        return f"{self.target}-http-chaos-{'abort' if self.action == 'abort' else 'post-body-tamper'}"

    def mechanism(self) -> str:
        return f"http_{self.action}"

    def default_duration(self) -> str | None:
        return "55s"

    def experiment(self) -> JsonObject:
        spec: JsonObject = {"method": "POST", "path": "*", "port": 8080, "target": "Request"}
        if self.action == "abort":
            spec["abort"] = True
        else:
            spec["patch"] = {"body": {"type": "JSON", "value": "{'email': '12345', 'order': 'error body'}"}}
        return spec

    def disruption(self) -> Disruption:
        if self.action == "abort":
            return _HttpAbort(self.windows, self.target, "POST")
        return _HttpPatched(self.windows, self.target)

    def effect(self) -> tuple[str, str]:
        if self.action == "abort":
            return (f"HTTPChaos aborts POST requests to {self.target}", f"calls to {self.target} fail")
        return (
            f"HTTPChaos replaces the JSON body of POST requests to {self.target}",
            f"{self.target} cannot read its requests and fails them",
        )

    def symptoms(self) -> tuple[list[Group], list[list[str]], list[Propagation], dict[str, str]]:
        groups, aliases, hops, origins = super().symptoms()
        if self.action == "abort":
            callers = {"quote": "shipping"}
            caller = callers.get(self.target, "checkout")
            origins = {caller: f"{caller}-service-1"}
            groups = [*groups, *workload_groups(caller, "service", "pod")]
            aliases = [*aliases, workload_alias(caller, "service", "pod")]
            hops = [
                *hops,
                Propagation(
                    f"{self.target}-service-1",
                    f"{caller}-service-1",
                    "requests are aborted",
                    f"{caller} fails",
                ),
            ]
        return groups, aliases, hops, origins


# ------------------------------------------------------------------------------------ JVM
class _JvmFailure(Disruption):
    def __init__(self, windows: _Windows, target: str, share: float, message: str, slow: float) -> None:
        self.windows, self.target, self.share, self.message, self.slow = windows, target, share, message, slow

    def server_failure(
        self, t: int, service: str, operation: str, rng: random.Random, product: str = ""
    ) -> Failure | None:
        if service == self.target and self.windows.active(t) and rng.random() < self.share:
            return Failure(self.message, 3.0, "UNKNOWN")
        return None

    def latency_factor(self, t: int, service: str) -> float:
        return self.slow if service == self.target and self.windows.active(t) else 1.0


class JvmChaosFault(ChaosFault):
    name = "jvm-chaos"
    summary = "a Chaos Mesh JVMChaos in the ad service: a method returns null, or the heap fills"
    kind = "JVMChaos"
    field = "jvmChaos"
    records_containers = True
    default_targets = ("ad",)

    def configure(self, rng: random.Random) -> None:
        self.action: str = self.param("action", lambda: rng.choice(("ruleData", "stress")))

    def default_name(self) -> str:
        return f"{self.target}-jvm-{'return' if self.action == 'ruleData' else 'chaos'}"

    def mechanism(self) -> str:
        return "jvm_return_value" if self.action == "ruleData" else "jvm_heap_stress"

    def experiment(self) -> JsonObject:
        if self.action == "ruleData":
            return {
                "action": "ruleData",
                "ruleData": "RULE modifyReturnValue\nCLASS AdService\nMETHOD getInstance\nAT ENTRY\nIF true\n"
                "DO return null\nENDRULE",
            }
        return {"action": "stress", "memType": "heap"}

    def on_spawn(self, incident: Incident, start: int, end: int, pods: list[Pod]) -> None:
        if self.action != "stress":
            return
        # A full heap keeps the collector running back to back: the JVM sizes its GC threads on
        # the CPUs it sees (one, under ad's 150m limit), so the container asks for about a core
        # more than usual, which its CFS quota throttles (scenario 35's key: CPUThrottlingHigh).
        cluster = incident.cluster
        for pod in pods:
            state = pod.state(start)
            if state.running_since is None or state.phase == "Failed":
                continue
            usual = cluster.app.workload_by_name[pod.workload].cpu_millis / 1000.0
            pod.states.append(_copy_state(state, start, cpu_factor=(usual + 1.0) / usual))
            if end < incident.end:
                pod.states.append(_copy_state(state, end, cpu_factor=1.0))
        cluster.invalidate()

    def disruption(self) -> Disruption:
        if self.action == "ruleData":
            return _JvmFailure(
                self.windows,
                self.target,
                1.0,
                'java.lang.NullPointerException: Cannot invoke "oteldemo.AdService.getAds()" because the return value of "oteldemo.AdService.getInstance()" is null',
                1.0,
            )
        return _JvmFailure(
            self.windows, self.target, 0.4, "java.lang.OutOfMemoryError: Java heap space", 150.0
        )

    def effect(self) -> tuple[str, str]:
        if self.action == "ruleData":
            return (
                "JVMChaos makes AdService.getInstance return null",
                f"{self.target} fails every request with a NullPointerException",
            )
        return (
            "JVMChaos fills the heap of the ad service's JVM",
            f"{self.target} runs out of heap and slows down",
        )


# ------------------------------------------------------------------------------------ IO
class IoChaosFault(ChaosFault):
    name = "io-chaos"
    summary = "a Chaos Mesh IOChaos adding latency to etcd's disk"
    kind = "IOChaos"
    field = "ioChaos"
    records_containers = True
    default_targets = ("etcd",)

    def configure(self, rng: random.Random) -> None:
        self.delay: str = str(self.param("delay", lambda: "200ms"))
        self.percent: int = int(self.param("percent", lambda: 50))

    def default_name(self) -> str:
        return f"{self.target}-io-latency"

    def default_duration(self) -> str | None:
        return "5m"

    def experiment(self) -> JsonObject:
        return {
            "action": "latency",
            "delay": self.delay,
            "percent": self.percent,
            "volumePath": "/var/lib/etcd",
        }

    def effect(self) -> tuple[str, str]:
        return (
            f"IOChaos delays {self.percent}% of etcd's disk operations by {self.delay}",
            "etcd answers slowly",
        )

    def symptoms(self) -> tuple[list[Group], list[list[str]], list[Propagation], dict[str, str]]:
        return [], [], [], {}


CHAOS_FAULTS: tuple[type[ChaosFault], ...] = (
    NetworkPartitionFault,
    NetworkDelayFault,
    NetworkLossFault,
    PodFailureFault,
    StressFault,
    HttpChaosFault,
    JvmChaosFault,
    IoChaosFault,
)
__all__ = [
    "CHAOS_FAULTS",
    "ChaosFault",
    "HttpChaosFault",
    "IoChaosFault",
    "JvmChaosFault",
    "NetworkDelayFault",
    "NetworkLossFault",
    "NetworkPartitionFault",
    "PodFailureFault",
    "StressFault",
]
