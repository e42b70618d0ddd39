"""Faults in a workload's spec: a rollout to an image that does not exist, an address variable
pointing nowhere, a node selector no node satisfies, a container that exhausts its memory."""

from __future__ import annotations

import random

from itbench_server.synth.cluster import MINUTE, SECOND, JsonObject, PodState, iso
from itbench_server.synth.faults.base import (
    Fault,
    Group,
    Incident,
    LogLine,
    Propagation,
    RootCause,
    workload_groups,
)
from itbench_server.synth.topology import DEMO_VERSION, IMAGE_REPO, NAMESPACE
from itbench_server.synth.traffic import Disruption, Failure


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

    def involved_workloads(self) -> set[str]:
        return {self.target}

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
                Propagation(
                    f"{t}-deployment-1",
                    f"{t}-pod-1",
                    f"{t} deployment updated to an image that does not exist",
                    f"{t} pod stays in ImagePullBackOff",
                ),
                Propagation(
                    f"{t}-pod-1",
                    f"{t}-service-1",
                    f"{t} has no ready pod after the rollout",
                    f"{t} service has no endpoints",
                ),
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

    def involved_workloads(self) -> set[str]:
        return {self.target, self.callee}

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
        groups = [
            Group(f"{t}-deployment-1", "Deployment", [rf"{t}\b"], root_cause=True),
            *workload_groups(t, "service", "pod"),
        ]
        return RootCause(
            groups=groups,
            aliases=[[f"{t}-service-1", f"{t}-pod-1", f"{t}-deployment-1"]],
            propagations=[
                Propagation(
                    f"{t}-deployment-1",
                    f"{t}-service-1",
                    f"{self.variable} in the {t} deployment points at {self.value}",
                    f"{t} cannot connect to {self.callee} and its requests fail",
                )
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


class NodeSelectorFault(Fault):
    name = "node-selector"
    summary = "a Deployment's pods require a node that does not exist and stay Pending"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.target = rng.choice(("ad", "cart", "email", "recommendation", "currency"))
        self.node = rng.choice(("worker-4", "worker-7", "worker-12"))

    def involved_workloads(self) -> set[str]:
        return {self.target}

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
                Propagation(
                    f"{t}-pod-1",
                    f"{t}-service-1",
                    f"{t} pods cannot be scheduled: no node matches the node selector",
                    f"{t} service has no healthy endpoints",
                )
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


class ValkeyOomFault(Fault):
    name = "valkey-oom"
    summary = "valkey-cart runs a process that exhausts its memory limit: OOMKilled, CrashLoopBackOff"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.runs: list[tuple[int, int]] = []

    def involved_workloads(self) -> set[str]:
        return {"valkey-cart", "cart"}

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
            *workload_groups("cart", "service", "pod"),
        ]
        return RootCause(
            groups=groups,
            aliases=[
                ["valkey-cart-service-1", "valkey-cart-pod-1", "valkey-cart-deployment-1"],
                ["cart-service-1", "cart-pod-1"],
            ],
            propagations=[
                Propagation(
                    "valkey-cart-pod-1",
                    "valkey-cart-service-1",
                    "valkey-cart container exceeds its memory limit",
                    "valkey-cart is OOMKilled and restarts in CrashLoopBackOff",
                ),
                Propagation(
                    "valkey-cart-service-1",
                    "cart-service-1",
                    "valkey-cart is down most of the time",
                    "cart cannot read or write carts and returns errors",
                ),
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
