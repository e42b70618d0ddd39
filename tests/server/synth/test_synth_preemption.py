"""The ``priority-preemption`` fault agrees with the scheduler: what runs on the pinned node fits
it by the listed CPU requests, the preempted pods are ones the scheduler could preempt, and the
pending pods' messages say what the node's state implies."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from itbench_server.synth import generate_lookalike, generate_scenario

csv.field_size_limit(1 << 30)

# The values of the priority classes the incident's pods name (Kubernetes' two system classes
# and the two ITBench's injection creates); a pod without one has priority 0.
PRIORITIES = {
    "system-node-critical": 2000001000,
    "system-cluster-critical": 2000000000,
    "application-critical": 10000,
    "application-non-critical": 1,
}
NO_VICTIMS = "No preemption victims found for incoming pod"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream, delimiter="\t", strict=True))


def _second(row: dict[str, str]) -> datetime:
    return datetime.strptime(row["TimestampTime"][:19], "%Y-%m-%d %H:%M:%S")  # the go variant adds a zone


def _json(text: str) -> Any:
    """A JSON body (the ``go`` variant writes it as a JSON string of JSON)."""
    value = json.loads(text)
    return json.loads(value) if isinstance(value, str) else value


def _event(body: dict[str, Any]) -> dict[str, Any]:
    """An event in the core v1 shape (some variants record events.k8s.io/v1 ones)."""
    if "regarding" in body:
        return {**body, "involvedObject": body["regarding"], "message": body["note"]}
    return body


def _millicores(quantity: str) -> int:
    return int(quantity[:-1]) if quantity.endswith("m") else round(float(quantity) * 1000)


def cpu_request_m(pod: dict[str, Any]) -> int:
    """The pod's CPU request, the sum of its containers' (what the scheduler counts)."""
    return sum(
        _millicores(str(container.get("resources", {}).get("requests", {}).get("cpu", "0")))
        for container in pod["spec"]["containers"]
    )


def priority(pod: dict[str, Any]) -> int:
    return PRIORITIES.get(pod["spec"].get("priorityClassName", ""), 0)


class Incident:
    """The listings and events of one generated incident, read as an investigator would."""

    def __init__(self, scenario: Path) -> None:
        rows = _rows(scenario / "k8s_objects_raw.tsv")
        # The last listing: its rows are written a fraction of a millisecond apart, so they may
        # straddle a second; listings are minutes apart.
        last = max(_second(row) for row in rows)
        self.final: list[dict[str, Any]] = []  # every object of the last listing
        self.pods_ever: dict[str, dict[str, Any]] = {}  # pod name -> its last listed version
        self.replicasets: dict[str, dict[str, Any]] = {}  # name -> its last listed version
        for row in rows:
            body = _json(row["Body"])
            if body["kind"] == "Pod":
                self.pods_ever[body["metadata"]["name"]] = body
            if body["kind"] == "ReplicaSet":
                self.replicasets[body["metadata"]["name"]] = body
            if _second(row) > last - timedelta(seconds=10):
                self.final.append(body)
        self.events = [_event(_json(row["Body"])["object"]) for row in _rows(scenario / "k8s_events_raw.tsv")]

    def victim_spec(self, event: dict[str, Any]) -> dict[str, Any]:
        """What a preempted pod asked for: its listed spec, or (a pod that lived between two
        listings) its ReplicaSet's template, which the pod's name extends by a suffix."""
        name = event["involvedObject"]["name"]
        if name in self.pods_ever:
            return self.pods_ever[name]
        replicaset = self.replicasets.get(name.rsplit("-", 1)[0])
        assert replicaset is not None and "template" in replicaset["spec"], (
            f"the preempted pod {name} is unknown"
        )
        return replicaset["spec"]["template"]

    def objects(self, kind: str) -> list[dict[str, Any]]:
        return [body for body in self.final if body["kind"] == kind]

    def pinned_node(self) -> str:
        (node,) = {
            pod["spec"]["nodeSelector"]["kubernetes.io/hostname"]
            for pod in self.objects("Pod")
            if pod["spec"].get("priorityClassName") == "application-critical"
        }
        return node

    def allocatable_m(self, node: str) -> int:
        (body,) = [body for body in self.objects("Node") if body["metadata"]["name"] == node]
        return _millicores(str(body["status"]["allocatable"]["cpu"]))

    def running_on(self, node: str) -> list[dict[str, Any]]:
        return [
            pod
            for pod in self.objects("Pod")
            if pod["spec"].get("nodeName") == node and pod["status"]["phase"] in ("Running", "Pending")
        ]

    def pending_pinned(self) -> list[dict[str, Any]]:
        """The pods pinned to the node (by the injection's node selector) that wait unscheduled."""
        return [
            pod
            for pod in self.objects("Pod")
            if pod["status"]["phase"] == "Pending"
            and "nodeName" not in pod["spec"]
            and pod["spec"].get("priorityClassName") in ("application-critical", "application-non-critical")
        ]

    def scheduling_message(self, pod: dict[str, Any]) -> str:
        name = pod["metadata"]["name"]
        messages = [
            event["message"]
            for event in self.events
            if event["reason"] == "FailedScheduling" and event["involvedObject"]["name"] == name
        ]
        conditions = [
            condition["message"]
            for condition in pod["status"].get("conditions", [])
            if condition["type"] == "PodScheduled" and condition["status"] == "False"
        ]
        assert messages or conditions, f"{name} waits without a FailedScheduling message"
        return (messages or conditions)[-1]


CASES = (
    [
        ("scenario", seed, size, variant)
        for seed, size, variant in ((1, "tiny", "default"), (2, "tiny", "go"), (3, "small", "default"))
    ]
    + [("scenario", seed, "tiny", "default") for seed in range(4, 12)]
    + [("like-42", 1, "tiny", "default")]
)


@pytest.fixture(scope="module")
def incidents(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Incident]]:
    root = tmp_path_factory.mktemp("preemption")
    made = []
    for source, seed, size, variant in CASES:
        out = root / f"{source}-{seed}-{size}-{variant}"
        if source == "like-42":
            generate_lookalike(42, seed, out, size=size, variant=variant)
        else:
            generate_scenario("priority-preemption", seed, out, size=size, variant=variant)
        made.append((out.name, Incident(out)))
    return made


def test_a_preempted_pods_node_is_full_by_the_listed_requests(incidents: list[tuple[str, Incident]]) -> None:
    for label, incident in incidents:
        node = incident.pinned_node()
        allocatable = incident.allocatable_m(node)
        requested = sum(cpu_request_m(pod) for pod in incident.running_on(node))
        assert requested <= allocatable, f"{label}: {requested}m requested on {node} of {allocatable}m"
        free = allocatable - requested
        (target,) = [
            pod
            for pod in incident.pending_pinned()
            if pod["spec"].get("priorityClassName") == "application-non-critical"
        ]
        assert cpu_request_m(target) > free, (
            f"{label}: the pending target asks {cpu_request_m(target)}m of {free}m free"
        )


def test_every_preempted_pod_requested_cpu_and_ranked_below_its_preemptor(
    incidents: list[tuple[str, Incident]],
) -> None:
    for label, incident in incidents:
        preempted = [event for event in incident.events if event["reason"] == "Preempted"]
        assert preempted, f"{label}: nothing was preempted"
        for event in preempted:
            name = event["involvedObject"]["name"]
            victim = incident.victim_spec(event)
            assert cpu_request_m(victim) > 0, (
                f"{label}: {name} requested no CPU, so preempting it frees nothing"
            )
            assert priority(victim) < PRIORITIES["application-critical"], (
                f"{label}: {name} outranks its preemptor"
            )
            assert event["message"].endswith(f"on node {incident.pinned_node()}"), (
                f"{label}: {event['message']}"
            )
            if "nodeName" in victim["spec"]:
                assert victim["spec"]["nodeName"] == incident.pinned_node(), f"{label}: {name} ran elsewhere"


def test_a_pending_pods_message_agrees_with_the_node(incidents: list[tuple[str, Incident]]) -> None:
    for label, incident in incidents:
        node = incident.pinned_node()
        on_node = incident.running_on(node)
        free = incident.allocatable_m(node) - sum(cpu_request_m(pod) for pod in on_node)
        for pod in incident.pending_pinned():
            message = incident.scheduling_message(pod)
            insufficient = "1 Insufficient cpu" in message
            assert insufficient == (free < cpu_request_m(pod)), f"{label}: {message!r} with {free}m free"
            lower = [
                other["metadata"]["name"]
                for other in on_node
                if priority(other) < priority(pod) and cpu_request_m(other) > 0
            ]
            if NO_VICTIMS in message:
                assert not lower, f"{label}: no victims found, yet {lower} could be preempted"


def test_the_high_priority_deployment_reports_its_running_pods(incidents: list[tuple[str, Incident]]) -> None:
    for label, incident in incidents:
        deployments = [
            body
            for body in incident.objects("Deployment")
            if body["spec"]["template"]["spec"].get("priorityClassName") == "application-critical"
        ]
        assert len(deployments) == 1, (
            f"{label}: {len(deployments)} high-priority Deployments listed at the end"
        )
        deployment = deployments[0]
        running = [
            pod
            for pod in incident.objects("Pod")
            if pod["spec"].get("priorityClassName") == "application-critical"
            and pod["status"]["phase"] == "Running"
        ]
        assert deployment["status"].get("readyReplicas", 0) == len(running), label
