"""Pod lifecycles faults give their pods: crash loops with the kubelet's growing back-off, image
pulls that keep failing, init containers that never finish, and the events each one leaves."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from itbench_server.synth.cluster import SECOND, Cluster, JsonObject, Pod, PodState, iso
from itbench_server.synth.topology import NAMESPACE

__all__ = [
    "MAX_BACKOFF",
    "Crash",
    "CrashLoop",
    "crash_events",
    "crash_loop",
    "name_pod",
    "never_ready",
    "pull_backoff",
    "unschedulable",
]

MAX_BACKOFF = 300 * SECOND


@dataclass(frozen=True)
class Crash:
    """How each run of a crash-looping container ends."""

    reason: str  # OOMKilled, Error, StartError
    exit_code: int
    message: str = ""  # the terminated state's message
    run: tuple[int, int] = (18, 26)  # seconds a run lasts (0: the container never starts)
    memory: bool = False  # memory climbs to the limit during a run
    ready: bool = True  # the container is ready while it runs


@dataclass
class CrashLoop:
    """A crash-looping container's states and runs (start, end) for the events."""

    states: list[PodState]
    runs: list[tuple[int, int]]


def crash_loop(
    rng: random.Random,
    created: int,
    until: int,
    crash: Crash,
    *,
    first_start: int | None = None,
    restarts: int = 0,
    init: bool = False,
) -> CrashLoop:
    """States from ``created`` until ``until``: run, terminate, wait in CrashLoopBackOff (10 s,
    then doubling up to 5 minutes), run again. ``init``: the crashing container is the pod's init
    container (the pod stays Pending, its main container waits in PodInitializing)."""
    states: list[PodState] = []
    if first_start is None:
        states.append(PodState(created, phase="Pending", ready=False, waiting="ContainerCreating"))
        t = created + 3 * SECOND
    else:
        t = first_start
    runs: list[tuple[int, int]] = []
    delay = 10 * SECOND
    last: JsonObject | None = states[-1].last_terminated if states else None
    while t < until:
        low, high = crash.run
        length = (low + rng.randrange(0, max(1, high - low + 1))) * SECOND if high else 0
        if length and not init:
            states.append(
                PodState(
                    t,
                    ready=crash.ready,
                    restarts=restarts,
                    running_since=t,
                    last_terminated=last,
                    memory_fraction=0.3 if crash.memory else None,
                    memory_per_minute=41.0 / max(1, length // SECOND) if crash.memory else 0.75,
                )
            )
        elif length and init:
            states.append(_init_state(t, "running", restarts, last))
        runs.append((t, t + length))
        finished = t + length
        restarts += 1
        last = {
            "containerID": "containerd://" + f"{rng.getrandbits(256):064x}",
            "exitCode": crash.exit_code,
            "finishedAt": iso(finished),
            "reason": crash.reason,
            "startedAt": iso(t),
        }
        if crash.message:
            last["message"] = crash.message
        if init:
            states.append(_init_state(finished, "CrashLoopBackOff", restarts, last))
        else:
            states.append(
                PodState(
                    finished,
                    ready=False,
                    restarts=restarts,
                    waiting="CrashLoopBackOff",
                    waiting_message=f"back-off {_seconds(delay)} restarting failed container=CONTAINER pod=POD",
                    last_terminated=last,
                    running_since=None,
                    memory_fraction=0.0 if crash.memory else None,
                )
            )
        t = finished + delay
        delay = min(delay * 2, MAX_BACKOFF)
    return CrashLoop(states, runs)


def _init_state(at: int, init: str, restarts: int, last: JsonObject | None) -> PodState:
    return PodState(
        at,
        phase="Pending",
        ready=False,
        waiting="PodInitializing",
        init=init,
        init_restarts=restarts,
        init_last_terminated=last,
        running_since=None,
    )


def _seconds(ns: int) -> str:
    seconds = ns // SECOND
    return f"{seconds // 60}m{seconds % 60}s" if seconds >= 60 else f"{seconds}s"


def name_pod(pod: Pod, container: str) -> None:
    """Fill the pod and container names into its states' back-off messages."""
    for state in pod.states:
        state.waiting_message = state.waiting_message.replace(
            "POD", f"{pod.name}_{NAMESPACE}({pod.uid})"
        ).replace("CONTAINER", container)


def crash_events(
    cluster: Cluster,
    pod: Pod,
    loop: CrashLoop,
    end: int,
    *,
    container: str,
    image: str,
    failed: str = "",
    on_start: Callable[[int], None] | None = None,
) -> None:
    """The kubelet's events of a crash loop: Pulled, Created, Started each run (or Failed when
    the container cannot start), BackOff while it waits."""
    ref = cluster.pod_ref(pod)
    ref["fieldPath"] = f"spec.containers{{{container}}}"
    for index, (start, finished) in enumerate(loop.runs):
        if start >= end:
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
            f"Created container: {container}",
            component="kubelet",
            host=pod.node,
        )
        if failed:
            cluster.event(start, ref, "Failed", failed, type_="Warning", component="kubelet", host=pod.node)
        else:
            cluster.event(
                start, ref, "Started", f"Started container {container}", component="kubelet", host=pod.node
            )
            if on_start is not None:
                on_start(start)
        following = loop.runs[index + 1][0] if index + 1 < len(loop.runs) else end
        if index >= 1 and finished < end:
            cluster.event(
                finished + SECOND,
                ref,
                "BackOff",
                f"Back-off restarting failed container {container} in pod {pod.name}_{NAMESPACE}({pod.uid})",
                type_="Warning",
                component="kubelet",
                host=pod.node,
                repeat_until=min(end, following),
                every=30 * SECOND,
            )


def pull_backoff(start: int, end: int, first_message: str, second_message: str) -> list[PodState]:
    """A pod whose image cannot be pulled: ErrImagePull, then ImagePullBackOff, over and over."""
    states = [PodState(start, phase="Pending", ready=False, waiting="ContainerCreating")]
    t, delay = start + 3 * SECOND, 10 * SECOND
    while t < end:
        states.append(
            PodState(t, phase="Pending", ready=False, waiting="ErrImagePull", waiting_message=first_message)
        )
        states.append(
            PodState(
                t + 2 * SECOND,
                phase="Pending",
                ready=False,
                waiting="ImagePullBackOff",
                waiting_message=second_message,
            )
        )
        t += 2 * SECOND + delay
        delay = min(delay * 2, MAX_BACKOFF)
    return states


def unschedulable(created: int, message: str) -> list[PodState]:
    """A pod the scheduler cannot place."""
    return [PodState(created, phase="Pending", ready=False, scheduled=False, unschedulable_message=message)]


def never_ready(created: int, *, init: str = "") -> list[PodState]:
    """A pod that runs but never becomes ready (a failing readiness probe), or that waits in an
    init container that never finishes (``init="running"``)."""
    if init:
        return [
            PodState(created, phase="Pending", ready=False, waiting="ContainerCreating"),
            _init_state(created + 3 * SECOND, init, 0, None),
        ]
    started = created + 3 * SECOND
    return [
        PodState(created, phase="Pending", ready=False, waiting="ContainerCreating"),
        PodState(started, ready=False, running_since=started),
    ]
