"""``baseline``: a deterministic investigator without a model, the floor every model must beat.

It reads the incident only through the MCP tools, in a fixed order, and scores candidate
objects by the evidence each tool gives:

* ``get_changes``: objects whose spec changed during the window (a rollout, an edited
  ConfigMap, a scaled workload, a new chaos experiment) -- the strongest evidence;
* ``get_events(type="Warning")``: objects with failure events (FailedCreate, FailedScheduling,
  ErrImagePull, OOMKilled, BackOff, ...), attributed to their owning workload;
* ``get_topology()``: the service call graph; the deepest service whose callers see errors
  while its own calls succeed is where errors begin;
* ``search_logs`` (error counts per service), ``query_metrics`` (the most changed series) and
  ``get_alerts`` (alerted services) add weight to candidates already found.

It submits the best candidate, and the second one too when it is nearly as well supported and
is not the same fault (one workload, or a chaos object and the Schedule that spawned it). It never sees the ground truth, a fault label or the task's name.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from itbench_eval.agents.base import (
    SUBMIT_TOOL,
    AgentOutcome,
    RunContext,
    ToolSession,
    result_text,
)

__all__ = [
    "ALERT_WEIGHT",
    "ANOMALY_WEIGHT",
    "CHANGE_WEIGHTS",
    "CHAOS_KINDS",
    "CHAOS_WEIGHT",
    "CONSTRAINT_KINDS",
    "DEEPEST_ERROR_WEIGHT",
    "DERIVED_KINDS",
    "ENTITY",
    "ERROR_LOG_WEIGHT",
    "RESTART_MARK",
    "SCALING_FIELDS",
    "SCALING_WEIGHT",
    "SECOND_CANDIDATE_RATIO",
    "WARNING_REASONS",
    "WORKLOAD_KINDS",
    "BaselineAgent",
    "Candidate",
    "Evidence",
    "deepest_erroring_services",
    "owning_workload",
    "read_changes",
    "read_warning_events",
    "same_fault",
    "split_entity",
    "workload_key",
]

ENTITY = r"(?P<entity>[^\s/]+/[A-Za-z][A-Za-z0-9]*/[^\s/]+)"
_CHANGE_LINE = re.compile(rf"^\S+\s+{ENTITY}\s+changed since the listing")
_PRESENCE_LINE = re.compile(rf"^\S+\s+{ENTITY}\s+(?P<change>appeared|deleted|disappeared)\b")
_FIELD_LINE = re.compile(r"^\s+(?P<path>\S+?): ")
_QUOTA_MESSAGE = re.compile(r"exceeded quota: (?P<quota>[a-z0-9.-]+)")
_EVENT_LINE = re.compile(rf"^(?P<type>Warning|Normal)\s+(?P<reason>\S+)\s+x(?P<count>\d+)\s+{ENTITY}\s")
_CALL_LINE = re.compile(r"^(?P<caller>\S+) -> (?P<callee>\S+)\s+calls=(?P<calls>\d+) errors=(?P<errors>\d+)")
_ALERT_ENTITY = re.compile(r"\b(?:service|pod) (?P<namespace>[^\s/]+)/(?P<name>\S+)")
_LOG_COUNT_LINE = re.compile(r"^(?P<service>\S+)\s+total=\d+ warn=\d+ error=(?P<errors>\d+)", re.MULTILINE)
_ANOMALY_LINE = re.compile(
    r"^\s*(?P<score>[-+][\d.e+-]+)\s+\S+(?: \(rate/s\))?\s+(?P<entity>\S+)", re.MULTILINE
)
_POD_NAME = re.compile(r"^(?P<workload>.+?)(?:-[a-z0-9]{8,10})?-[a-z0-9]{5}$")
_REPLICASET_NAME = re.compile(r"^(?P<workload>.+)-[a-z0-9]{8,10}$")

# Evidence weights; a spec change is the strongest sign of a cause, symptoms weigh less.
CHANGE_WEIGHTS = {
    "ConfigMap": 6.0,
    "Deployment": 5.0,
    "StatefulSet": 5.0,
    "DaemonSet": 5.0,
    "ResourceQuota": 5.0,
    "LimitRange": 5.0,
    "HorizontalPodAutoscaler": 4.0,
    "NetworkPolicy": 5.0,
    "Node": 4.0,
    "Service": 3.0,
    "PersistentVolumeClaim": 3.0,
}
# Objects whose appearance constrains others: a new one is as telling as a changed one.
CONSTRAINT_KINDS = frozenset({"ResourceQuota", "LimitRange", "NetworkPolicy"})
# A workload whose only change is its replica count was scaled, usually by something else.
SCALING_FIELDS = ("spec.replicas",)
SCALING_WEIGHT = 1.0
# A rollout restart only stamps this annotation on the pod template: nothing else changes.
RESTART_MARK = "kubectl.kubernetes.io/restartedAt"
CHAOS_KINDS = frozenset(
    {"NetworkChaos", "StressChaos", "PodChaos", "HTTPChaos", "JVMChaos", "IOChaos", "DNSChaos", "TimeChaos",
     "Schedule", "Workflow"}
)  # fmt: skip
CHAOS_WEIGHT = 7.0
WARNING_REASONS = {
    "FailedCreate": 4.0,
    "FailedScheduling": 4.0,
    "ErrImagePull": 4.0,
    "ImagePullBackOff": 4.0,
    "InvalidImageName": 4.0,
    "OOMKilled": 4.0,
    "OOMKilling": 4.0,
    "BackOff": 3.0,
    "CrashLoopBackOff": 3.0,
    "CreateContainerConfigError": 4.0,
    "FailedMount": 3.0,
    "Evicted": 3.0,
    "Unhealthy": 1.5,
}
DEEPEST_ERROR_WEIGHT = 3.0
ERROR_LOG_WEIGHT = 1.0
ANOMALY_WEIGHT = 0.5
ALERT_WEIGHT = 0.5
SECOND_CANDIDATE_RATIO = 0.8
# Kinds whose changes follow from a change elsewhere (a rollout changes ReplicaSets and Pods).
DERIVED_KINDS = frozenset({"ReplicaSet", "Pod", "Endpoints", "EndpointSlice", "Event", "Lease"})
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod", "Rollout"})


@dataclass
class Candidate:
    """One object suspected of being a root cause, with the evidence found for it."""

    entity: str
    score: float = 0.0
    evidence: list[str] = field(default_factory=list)

    def add(self, weight: float, why: str) -> None:
        self.score += weight
        self.evidence.append(why)


def split_entity(entity: str) -> tuple[str, str, str]:
    namespace, kind, name = entity.split("/", 2)
    return namespace, kind, name


def owning_workload(entity: str) -> str:
    """A Pod or ReplicaSet named after a Deployment stands for that Deployment."""
    namespace, kind, name = split_entity(entity)
    if kind == "Pod":
        match = _POD_NAME.match(name)
        if match:
            return f"{namespace}/Deployment/{match.group('workload')}"
    if kind == "ReplicaSet":
        match = _REPLICASET_NAME.match(name)
        if match:
            return f"{namespace}/Deployment/{match.group('workload')}"
    return entity


def workload_key(entity: str) -> tuple[str, str]:
    """What two names of one workload share: (namespace, workload name)."""
    namespace, kind, name = split_entity(owning_workload(entity))
    return (namespace, name if kind in WORKLOAD_KINDS else f"{kind}/{name}")


def same_fault(first: str, second: str) -> bool:
    """Two names of one workload, or a chaos object and the Schedule that spawned it."""
    if workload_key(first) == workload_key(second):
        return True
    (ns_a, kind_a, name_a), (ns_b, kind_b, name_b) = split_entity(first), split_entity(second)
    related = name_a.startswith(name_b) or name_b.startswith(name_a)
    return ns_a == ns_b and kind_a in CHAOS_KINDS and kind_b in CHAOS_KINDS and related


class Evidence:
    """Candidates by entity, merged across a workload's Pods, ReplicaSets and Deployment."""

    def __init__(self) -> None:
        self.candidates: dict[str, Candidate] = {}

    def add(self, entity: str, weight: float, why: str) -> None:
        entity = owning_workload(entity)
        self.candidates.setdefault(entity, Candidate(entity)).add(weight, why)

    def boost(self, namespace: str | None, workload: str, weight: float, why: str) -> None:
        """Add weight to existing candidates of ``workload``; create none."""
        for candidate in self.candidates.values():
            ns, _ = workload_key(candidate.entity)
            if workload_key(candidate.entity)[1] == workload and (namespace is None or ns == namespace):
                candidate.add(weight, why)

    def ranked(self) -> list[Candidate]:
        return sorted(self.candidates.values(), key=lambda c: (-c.score, c.entity))


def read_changes(text: str, evidence: Evidence) -> None:
    changed: list[tuple[str, list[str]]] = []  # entity, its changed fields ("path: before -> after")
    for line in text.splitlines():
        if match := _CHANGE_LINE.match(line):
            changed.append((match.group("entity"), []))
        elif line.startswith("    ") and changed and _FIELD_LINE.match(line):
            changed[-1][1].append(line.strip())
        elif match := _PRESENCE_LINE.match(line):
            entity, change = match.group("entity"), match.group("change")
            _, kind, _ = split_entity(entity)
            if kind in CHAOS_KINDS and change == "appeared":
                evidence.add(entity, CHAOS_WEIGHT, "a fault-injection object appeared during the window")
            elif kind in CONSTRAINT_KINDS and change == "appeared":
                evidence.add(entity, CHANGE_WEIGHTS[kind], f"a {kind} appeared during the window")
    for entity, fields in changed:
        _, kind, _ = split_entity(entity)
        paths = [field for field in fields if not field.startswith("metadata.")]  # bookkeeping
        if fields and not paths:
            continue
        if kind in CHAOS_KINDS:
            evidence.add(entity, CHAOS_WEIGHT, "a fault-injection object changed during the window")
        elif kind in DERIVED_KINDS:
            continue
        elif paths and all(path.startswith(SCALING_FIELDS) for path in paths):
            evidence.add(entity, SCALING_WEIGHT, f"its {kind} was scaled during the window")
        elif paths and all(RESTART_MARK in path for path in paths):
            evidence.add(entity, SCALING_WEIGHT, f"its {kind} was restarted during the window")
        else:
            evidence.add(entity, CHANGE_WEIGHTS.get(kind, 2.0), f"its {kind} spec changed during the window")


def read_warning_events(text: str, evidence: Evidence) -> None:
    for line in text.splitlines():
        match = _EVENT_LINE.match(line)
        if not match or match.group("type") != "Warning":
            continue
        reason, entity = match.group("reason"), match.group("entity")
        _, kind, _ = split_entity(entity)
        if kind in CHAOS_KINDS:
            evidence.add(entity, CHAOS_WEIGHT, f"a fault-injection object has {reason} events")
            continue
        weight = WARNING_REASONS.get(reason)
        if weight is None:
            continue
        count = int(match.group("count"))
        quota = _QUOTA_MESSAGE.search(line)
        if quota is not None:
            # The workload is refused by a quota: the quota is the cause, the workload its victim.
            namespace = split_entity(entity)[0]
            entity = f"{namespace}/ResourceQuota/{quota.group('quota')}"
            reason = f"{reason} (exceeded quota)"
        evidence.add(entity, weight + math.log10(count), f"{count} {reason} Warning events")


def deepest_erroring_services(text: str) -> list[str]:
    """Services called with errors whose own outgoing calls have no errors: where errors begin."""
    erroring_callees: Counter[str] = Counter()
    erroring_callers: set[str] = set()
    for line in text.splitlines():
        match = _CALL_LINE.match(line)
        if match and int(match.group("errors")) > 0:
            erroring_callees[match.group("callee")] += int(match.group("errors"))
            erroring_callers.add(match.group("caller"))
    deepest = [service for service in erroring_callees if service not in erroring_callers]
    return sorted(deepest, key=lambda service: (-erroring_callees[service], service))


class BaselineAgent:
    """Scores candidate objects by fixed rules over the tools' answers and submits the best."""

    async def _ask(self, session: ToolSession, tool: str, arguments: dict[str, object]) -> str:
        result = await session.call_tool(tool, arguments)
        return "" if result.is_error else result_text(result)

    async def run(self, context: RunContext) -> AgentOutcome:
        session = context.require_session()
        transcript = context.transcript
        evidence = Evidence()
        alerts = await self._ask(session, "get_alerts", {"limit": 200})
        alerted = Counter(
            (match.group("namespace"), owning_workload(f"x/Pod/{match.group('name')}").split("/")[2])
            for match in _ALERT_ENTITY.finditer(alerts)
        )
        namespaces = Counter(namespace for namespace, _ in alerted.elements())

        read_changes(await self._ask(session, "get_changes", {"limit": 500}), evidence)
        events = await self._ask(session, "get_events", {"type": "Warning", "limit": 200})
        read_warning_events(events, evidence)
        namespaces.update(
            split_entity(match.group("entity"))[0]
            for match in map(_EVENT_LINE.match, events.splitlines())
            if match is not None
        )
        namespace = next((ns for ns, _ in namespaces.most_common() if ns != "cluster"), None)

        topology = await self._ask(session, "get_topology", {"limit": 1000})
        for depth, service in enumerate(deepest_erroring_services(topology)[:2]):
            if namespace is not None:
                weight = DEEPEST_ERROR_WEIGHT / (depth + 1)
                evidence.add(f"{namespace}/Deployment/{service}", weight, "errors begin at this service")

        logs = await self._ask(
            session, "search_logs", {"min_severity": "ERROR", "mode": "counts", "limit": 100}
        )
        for match in _LOG_COUNT_LINE.finditer(logs):
            if int(match.group("errors")) > 0:
                evidence.boost(namespace, match.group("service"), ERROR_LOG_WEIGHT, "it logs errors")

        anomalies = await self._ask(session, "query_metrics", {"mode": "anomalies", "limit": 10})
        for match in _ANOMALY_LINE.finditer(anomalies):
            name = owning_workload(f"x/Pod/{match.group('entity')}").split("/")[2]
            evidence.boost(namespace, name, ANOMALY_WEIGHT, "one of its metrics changed most")
        for (alert_namespace, name), _count in sorted(alerted.items()):
            evidence.boost(alert_namespace, name, ALERT_WEIGHT, "alerts fire on it")

        chosen = self._choose(evidence.ranked())
        transcript.write("baseline_candidates", candidates=[vars(c) for c in evidence.ranked()[:10]])
        if not chosen:
            return AgentOutcome(note="no candidate found; nothing submitted")
        factors = [
            {
                "name": c.entity,
                "reasoning": "; ".join(c.evidence),
                "evidence": f"baseline score {c.score:.2f}",
            }
            for c in chosen
        ]
        await session.call_tool(SUBMIT_TOOL, {"contributing_factors": factors})
        return AgentOutcome(note=f"submitted {', '.join(c.entity for c in chosen)}")

    @staticmethod
    def _choose(ranked: list[Candidate]) -> list[Candidate]:
        """The best candidate, and the runner-up when nearly as good and not the same fault."""
        if not ranked:
            return []
        best = ranked[0]
        if len(ranked) > 1:
            runner_up = ranked[1]
            close = runner_up.score >= SECOND_CANDIDATE_RATIO * best.score
            if close and not same_fault(runner_up.entity, best.entity):
                return [best, runner_up]
        return [best]
