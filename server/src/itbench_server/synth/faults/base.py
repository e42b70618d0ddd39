"""What every fault is made of: the ``Fault`` protocol, the incident it works on, and the parts
of the answer key it describes (groups, aliases, propagations).

A fault picks its target from the seed (or takes it from a look-alike recipe's parameters),
plants the evidence a real injection leaves in ``inject``, changes traffic through the
``Disruption`` it returns, and describes its root cause the way ITBench's answer keys for the
same fault type do. Symptoms downstream are not planted: they follow from the traffic model.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from itbench_server.errors import GeneratorError
from itbench_server.synth.application import DEMO, Application
from itbench_server.synth.cluster import SECOND, Cluster
from itbench_server.synth.topology import NAMESPACE
from itbench_server.synth.traffic import Disruption, Disruptions

__all__ = [
    "Fault",
    "FaultSet",
    "Group",
    "Incident",
    "LogLine",
    "Propagation",
    "RootCause",
    "chain",
    "group_id",
    "workload_alias",
    "workload_groups",
    "workload_root_cause",
]

T = TypeVar("T")


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
    """One group of the answer key: the objects whose kind (and namespace) agree and whose name a
    filter matches."""

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


@dataclass(frozen=True)
class Propagation:
    """One hop of how the fault spread: from group ``source`` to group ``target``."""

    source: str
    target: str
    condition: str
    effect: str

    def as_dict(self) -> dict[str, str]:
        return {
            "condition": self.condition,
            "effect": self.effect,
            "source": self.source,
            "target": self.target,
        }


def chain(ids: Iterable[str], texts: Iterable[tuple[str, str]]) -> list[Propagation]:
    """Hops along ``ids`` (one (condition, effect) per consecutive pair)."""
    ids = list(ids)
    return [
        Propagation(source, target, condition, effect)
        for (condition, effect), source, target in zip(texts, ids[:-1], ids[1:], strict=True)
    ]


@dataclass
class RootCause:
    """The fault's part of the ground truth; symptom groups are added from the alerts that fired."""

    groups: list[Group]
    aliases: list[list[str]]
    propagations: list[Propagation]
    origins: dict[str, str]  # traced service where symptoms start -> its group id
    fault: list[dict[str, Any]]
    actions: list[str]
    # a group every service alert belongs to, where ITBench's key puts a namespace-wide fault's
    # alerts on the root itself (48) rather than on the services that fired them
    alerts_to: str | None = None


@dataclass
class Incident:
    """What a fault works with: the cluster, the window, and where extra log lines go."""

    cluster: Cluster
    rng: random.Random
    start: int
    end: int
    fault_at: int
    logs: list[LogLine] = field(default_factory=list)


# The standard groups of one workload, as ITBench's answer keys write them: the Service and the
# Deployment by name (``ad\b``), its Pods and ReplicaSets by prefix (``ad-.*``).
_GROUP_KINDS: dict[str, tuple[str, str]] = {
    "service": ("Service", r"{name}\b"),
    "deployment": ("Deployment", r"{name}\b"),
    "replicaset": ("ReplicaSet", "{name}-.*"),
    "pod": ("Pod", "{name}-.*"),
}


def group_id(name: str, part: str) -> str:
    """The id ITBench gives the ``part`` group of workload ``name`` (``ad-pod-1``)."""
    return f"{name}-{part}-1"


def workload_groups(
    name: str, *parts: str, root: str | None = None, namespace: str = NAMESPACE
) -> list[Group]:
    """Groups ``parts`` (service, deployment, replicaset, pod) of workload ``name``, in the order
    given; the ``root`` part is marked as a root cause."""
    groups = []
    for part in parts:
        kind, pattern = _GROUP_KINDS[part]
        groups.append(
            Group(
                group_id(name, part),
                kind,
                [pattern.format(name=name)],
                namespace=namespace,
                root_cause=part == root,
            )
        )
    return groups


def workload_alias(name: str, *parts: str) -> list[str]:
    """The alias set tying ``parts`` of workload ``name`` together."""
    return [group_id(name, part) for part in parts]


class Fault:
    """Base of every fault. Subclasses set ``name``, ``summary`` and ``itbench_id``, read their
    parameters in ``__init__`` (``self.param``) and override the hooks."""

    name: ClassVar[str]
    summary: ClassVar[str]
    itbench_id: ClassVar[str] = ""  # the ITBench fault type this fault reproduces
    # the applications (``Application.name``) the fault knows how to break
    applications: ClassVar[tuple[str, ...]] = ("otel-demo",)

    def __init__(self, rng: random.Random, params: Mapping[str, Any] | None = None) -> None:
        self.rng = rng
        self._params = dict(params or {})
        # ITBench's "delete-workload-pods" waiter: after the injection, these workloads are
        # scaled to zero and back, so their pods are recreated.
        self.delete_pods: list[str] = list(self._params.pop("delete_pods", []))

    def param(self, key: str, default: Callable[[], T]) -> T:
        """A parameter given by a recipe, else ``default()`` (drawn from the seed)."""
        if key in self._params:
            return self._params.pop(key)
        return default()

    def check_params(self) -> None:
        """Refuse parameters the fault does not know (called once the fault is configured)."""
        if self._params:
            unknown = ", ".join(sorted(self._params))
            raise GeneratorError(f"fault {self.name!r} does not take the parameter(s) {unknown}")

    def setup(self, cluster: Cluster) -> None:
        """Change the environment before the window (e.g. add autoscalers)."""

    def inject(self, incident: Incident) -> None:
        """Plant the fault at ``incident.fault_at``."""

    def disruption(self) -> Disruption:
        return Disruption()

    def root_cause(self, incident: Incident) -> RootCause:
        raise NotImplementedError

    def involved_workloads(self) -> set[str]:
        """Workloads the fault targets or reaches directly: background noise leaves them alone."""
        return set()

    def pods_of(self, workload: str, incident: Incident) -> tuple[Any, Any] | None:
        """For a workload whose pods this fault shapes: (pod states for a new pod, a function
        planting the new pods' events), so pods recreated later behave the same."""
        return None

    def run_waiters(self, incident: Incident, faults: list[Fault] | None = None) -> None:
        """ITBench's waiters after the injection (``delete_pods``)."""
        cluster = incident.cluster
        for index, workload in enumerate(self.delete_pods):
            at = incident.fault_at + (25 + 5 * index) * SECOND
            replicas = cluster.deployments[workload].spec(at)[0]["replicas"]
            cluster.scale(workload, at, 0)
            shaped = next(
                (
                    found
                    for fault in (faults or [self])
                    if (found := fault.pods_of(workload, incident)) is not None
                ),
                None,
            )
            states, planted = shaped if shaped is not None else (None, None)
            pods = cluster.scale(workload, at + 35 * SECOND, replicas, states)
            if planted is not None:
                planted(incident, pods)

    def involved_objects(self) -> set[str]:
        """Other objects (``namespace/Kind/name``) the fault changes: noise leaves them alone."""
        return set()

    def blocks_new_pods_from(self, incident: Incident) -> int | None:
        """The time from which no new pod can be created in the namespace (a quota), if any."""
        return None


class FaultSet(Fault):
    """Several injections in one incident (two flags, or two faults at once), seen as one fault:
    each plants its evidence, their disruptions add up, their answer keys merge (a group named
    by two of them appears once)."""

    name = "fault-set"
    summary = "several injections at once"

    def __init__(self, faults: list[Fault]) -> None:
        super().__init__(faults[0].rng)
        self.faults = faults

    def setup(self, cluster: Cluster) -> None:
        for fault in self.faults:
            fault.setup(cluster)

    def inject(self, incident: Incident) -> None:
        for fault in self.faults:
            fault.inject(incident)

    def run_waiters(self, incident: Incident, faults: list[Fault] | None = None) -> None:
        for fault in self.faults:
            fault.run_waiters(incident, self.faults)

    def disruption(self) -> Disruption:
        parts = [fault.disruption() for fault in self.faults]
        return parts[0] if len(parts) == 1 else Disruptions(parts)

    def root_cause(self, incident: Incident) -> RootCause:
        causes = [fault.root_cause(incident) for fault in self.faults]
        if len(causes) == 1:
            return causes[0]
        groups: dict[str, Group] = {}
        for cause in causes:
            for group in cause.groups:
                if group.id in groups:
                    groups[group.id].root_cause |= group.root_cause
                else:
                    groups[group.id] = Group(**vars(group))
        aliases: list[list[str]] = []
        propagations: list[Propagation] = []
        for cause in causes:
            aliases += [alias for alias in cause.aliases if alias not in aliases]
            propagations += [hop for hop in cause.propagations if hop not in propagations]
        return RootCause(
            groups=list(groups.values()),
            aliases=aliases,
            propagations=propagations,
            origins={service: group for cause in causes for service, group in cause.origins.items()},
            fault=[entry for cause in causes for entry in cause.fault],
            actions=[action for cause in causes for action in cause.actions],
        )

    def involved_workloads(self) -> set[str]:
        return set().union(*(fault.involved_workloads() for fault in self.faults))

    def involved_objects(self) -> set[str]:
        return set().union(*(fault.involved_objects() for fault in self.faults))

    def blocks_new_pods_from(self, incident: Incident) -> int | None:
        times = [t for fault in self.faults if (t := fault.blocks_new_pods_from(incident)) is not None]
        return min(times) if times else None


def workload_root_cause(
    target: str,
    *,
    root: str,
    aliased: tuple[str, ...] = (),
    separate: tuple[str, ...] = (),
    condition: str,
    effect: str,
    category: str,
    mechanism: str,
    actions: list[str],
    app: Application = DEMO,
) -> RootCause:
    """The answer key of a fault in one workload, in ITBench's shape: the ``root`` part of the
    workload (deployment, pod or service) as the root cause, aliased with the ``aliased`` parts;
    the ``separate`` parts are groups of their own (symptoms). Hops run from the root through
    the pods to the Service; symptoms start at the workload, or at its callers when it is not
    traced (valkey-cart, postgresql, kafka)."""
    has_service = app.workload_by_name[target].port is not None
    parts = [
        part for part in ("service", "deployment", "replicaset", "pod") if part in (root, *aliased, *separate)
    ]
    if not has_service:
        parts = [part for part in parts if part != "service"]
    groups = workload_groups(target, *parts, root=root, namespace=app.namespace)
    alias = [group_id(target, part) for part in parts if part in (root, *aliased)]
    others = [group_id(target, part) for part in parts if part in separate]
    aliases = [alias] if len(alias) > 1 else []
    if len(others) > 1:
        aliases.append(others)
    order = [part for part in ("deployment", "replicaset", "pod", "service") if part in parts]
    order = [root] + [part for part in order if part != root and order.index(part) > order.index(root)]
    hops: list[Propagation] = []
    if len(order) > 1:
        later = [(f"{target} pods are not serving", f"{target} requests fail")] * (len(order) - 2)
        hops = chain([group_id(target, part) for part in order], [(condition, effect), *later])
    last = group_id(target, order[-1])
    origins: dict[str, str] = {}
    if target in app.traced:
        origins[target] = last
    else:
        for caller in app.callers_of(target):
            if caller in app.traced:
                groups += workload_groups(caller, "service", namespace=app.namespace)
                hops.append(
                    Propagation(
                        last,
                        group_id(caller, "service"),
                        f"{target} is unavailable",
                        f"{caller} requests fail",
                    )
                )
                origins[caller] = group_id(caller, "service")
    kind = {"deployment": "Deployment", "pod": "Pod", "service": "Service", "replicaset": "ReplicaSet"}[root]
    return RootCause(
        groups=groups,
        aliases=aliases,
        propagations=hops,
        origins=origins,
        fault=[
            {
                "category": category,
                "condition": condition,
                "entity": {"group_id": group_id(target, root), "kind": kind, "name": target},
                "fault_mechanism": mechanism,
            }
        ],
        actions=actions,
    )
