"""The answer key of a synthetic incident, in ITBench's v1 "groups" format.

The fault supplies its root-cause groups, aliases and the first hops of the propagation; the
symptom groups, the ``alerts`` section and the remaining hops come from the alerts that actually
fired, walked along the demo's call graph (errors travel to callers, silence travels to callees).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from itbench_server.synth.faults import Group, Propagation, RootCause
from itbench_server.synth.telemetry import Alert
from itbench_server.synth.topology import NAMESPACE, callers_of

__all__ = ["build_ground_truth"]

# The keys describe an alert without its value (which depends on how much traffic was written).
_CURRENT = re.compile(r" \(current: [^)]*\)$")
# ... and without the share a rule's text starts with (``CPUThrottlingHigh``'s).
_LEADING_SHARE = re.compile(r"^[0-9.e+-]+% ")


def _caller(service: str) -> str:
    return "checkout" if service == "kafka" else service


def build_ground_truth(
    root: RootCause,
    fired: list[Alert],
    pod_workloads: dict[str, str],
    callers: Callable[[str], list[str]] = callers_of,
    namespace: str = NAMESPACE,
) -> dict[str, Any]:
    """The v1 payload (the ``spec`` of a wrapped file, or the whole of a flat one); ``callers``
    gives the call graph of the incident's application."""
    groups: dict[str, Group] = {group.id: group for group in root.groups}

    def ensure(group: Group) -> str:
        groups.setdefault(group.id, group)
        return group.id

    def service_group(service: str) -> str:
        return ensure(Group(f"{service}-service-1", "Service", [rf"{service}\b"], namespace))

    alerts: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    error_services: list[str] = []
    quiet_services: list[str] = []
    for alert in fired:
        labels = alert.labels
        if alert.name == "Watchdog":
            continue
        if "service_name" in labels and root.alerts_to is not None:
            group_id = root.alerts_to
        elif "service_name" in labels:
            service = labels["service_name"]
            group_id = service_group(service)
            if alert.name in ("HighRequestErrorRate", "HighRequestLatency") and service not in error_services:
                error_services.append(service)
            if alert.name in ("NoRequestsReceived", "NoDatabaseOperations") and service not in quiet_services:
                quiet_services.append(service)
        elif labels.get("job") == "node-exporter":
            # A node's alerts name no group in the real keys (scenario 25).
            group_id = ""
        elif "pod" in labels:
            workload = pod_workloads[labels["pod"]]
            group_id = ensure(Group(f"{workload}-pod-1", "Pod", [f"{workload}-.*"], namespace))
        elif "deployment" in labels:
            # As ITBench's keys: a Deployment's replica alerts go to the workload's group already
            # in the key (its Pods, Deployment or Service); a Deployment group of its own would
            # take the workload's name away from a root cause held by its Pods.
            name = labels["deployment"]
            group_id = next(
                (
                    f"{name}-{part}-1"
                    for part in ("pod", "deployment", "service")
                    if f"{name}-{part}-1" in groups
                ),
                "",
            ) or ensure(Group(f"{name}-deployment-1", "Deployment", [rf"{name}\b"], namespace))
        elif "horizontalpodautoscaler" in labels:
            name = labels["horizontalpodautoscaler"]
            group_id = ensure(
                Group(
                    f"{name}-horizontal-pod-autoscaler-1",
                    "HorizontalPodAutoscaler",
                    [rf"^{name}$"],
                    namespace,
                )
            )
        elif "group" in labels or labels.get("job", "").startswith("opentelemetry-demo/"):
            # A Kafka consumer group's alerts (and its client's) go to the consumer's service.
            group_id = service_group(labels.get("group") or labels["job"].rsplit("/", 1)[-1])
        elif alert.subjects:
            workload = pod_workloads[alert.subjects[0]]
            group_id = ensure(Group(f"{workload}-pod-1", "Pod", [f"{workload}-.*"]))
        else:
            continue
        if (group_id, alert.name) in seen:
            continue
        seen.add((group_id, alert.name))
        entry: dict[str, Any] = {"group_id": group_id} if group_id else {}
        entry["id"] = alert.name
        entry["metadata"] = {"description": _LEADING_SHARE.sub("", _CURRENT.sub("", alert.description))}
        alerts.append(entry)

    propagations = list(root.propagations)
    edges = {(p.source, p.target) for p in propagations}

    def add_edge(source: str, target: str, condition: str, effect: str) -> None:
        if source != target and (source, target) not in edges:
            edges.add((source, target))
            propagations.append(Propagation(source, target, condition, effect))

    reached: dict[str, str] = dict(root.origins)
    frontier = list(root.origins)
    while frontier:
        following: list[str] = []
        for service in frontier:
            for caller in (_caller(c) for c in callers(service)):
                if caller in error_services and caller not in reached:
                    reached[caller] = service_group(caller)
                    add_edge(
                        reached[service],
                        reached[caller],
                        f"{service} requests fail or time out",
                        f"{caller} requests fail or slow down",
                    )
                    following.append(caller)
        frontier = following
    first_origin = next(iter(root.origins), None)
    for service in quiet_services:
        upstream = [_caller(c) for c in callers(service)]
        source = next((c for c in upstream if c in reached), first_origin)
        if source is None:
            continue
        add_edge(
            reached[source],
            service_group(service),
            f"{source} fails before calling {service}",
            f"{service} receives no requests",
        )

    alias_members = {member for alias in root.aliases for member in alias}
    aliases = [list(alias) for alias in root.aliases]
    for group_id in list(groups):
        if group_id.endswith("-service-1") and group_id not in alias_members:
            pod_id = group_id.removesuffix("-service-1") + "-pod-1"
            if pod_id in groups and pod_id not in alias_members:
                aliases.append([group_id, pod_id])
                alias_members.update((group_id, pod_id))

    return {
        "alerts": alerts,
        "aliases": aliases,
        "fault": root.fault,
        "groups": [group.as_dict() for group in groups.values()],
        "propagations": [p.as_dict() for p in propagations],
        "recommended_actions": [
            {
                "solution": {
                    "actions": root.actions,
                    "id": "fix_"
                    + (root.fault[0]["fault_mechanism"] if root.fault else "review")
                    .replace("-", "_")
                    .replace("(", "_")
                    .replace(")", ""),
                }
            }
        ],
    }
