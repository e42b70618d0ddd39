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
from itbench_server.synth.cluster import Cluster
from itbench_server.synth.topology import NAMESPACE
from itbench_server.synth.traffic import Disruption

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


def workload_groups(name: str, *parts: str, root: str | None = None) -> list[Group]:
    """Groups ``parts`` (service, deployment, replicaset, pod) of workload ``name``, in the order
    given; the ``root`` part is marked as a root cause."""
    groups = []
    for part in parts:
        kind, pattern = _GROUP_KINDS[part]
        groups.append(Group(group_id(name, part), kind, [pattern.format(name=name)], root_cause=part == root))
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

    def __init__(self, rng: random.Random, params: Mapping[str, Any] | None = None) -> None:
        self.rng = rng
        self._params = dict(params or {})

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

    def involved_objects(self) -> set[str]:
        """Other objects (``namespace/Kind/name``) the fault changes: noise leaves them alone."""
        return set()

    def blocks_new_pods_from(self, incident: Incident) -> int | None:
        """The time from which no new pod can be created in the namespace (a quota), if any."""
        return None
