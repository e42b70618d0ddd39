"""Faults in a workload's spec, patched the way ITBench patches it (the Kubernetes client of its
Ansible roles, ``OpenAPI-Generator`` in the managed fields), which rolls the workload out:

an image that does not exist, an image built for another architecture (with the node pinned), a
command that does not exist, an environment variable pointing at the wrong port (an address the
service calls, or one it needs to start), a readiness probe on a closed port, a DNS policy that
cannot resolve cluster names, an init container that hangs or crashes on a bad ConfigMap, a
required anti-affinity no node satisfies, a workload scaled to zero, a changed valkey password.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any, ClassVar

from itbench_server.errors import GeneratorError
from itbench_server.synth.cluster import NODES, SECOND, JsonObject, Pod, PodState, iso
from itbench_server.synth.faults.base import (
    Fault,
    Group,
    Incident,
    LogLine,
    Propagation,
    RootCause,
    workload_root_cause,
)
from itbench_server.synth.faults.lifecycle import (
    Crash,
    CrashLoop,
    crash_events,
    crash_loop,
    name_pod,
    never_ready,
    pull_backoff,
    unschedulable,
)
from itbench_server.synth.topology import NAMESPACE, WORKLOAD_BY_NAME
from itbench_server.synth.traffic import Disruption, Failure

__all__ = [
    "MANAGER",
    "SCHEDULER_TAINT",
    "WORKLOAD_FAULTS",
    "AntiAffinityFault",
    "BadEnvFault",
    "BadImageFault",
    "CrashingInitFault",
    "DnsPolicyFault",
    "HangingInitFault",
    "InvalidCommandFault",
    "NodeSelectorFault",
    "ReadinessProbeFault",
    "ScaledToZeroFault",
    "UnsupportedArchitectureFault",
    "ValkeyPasswordFault",
    "WorkloadFault",
]

MANAGER = "OpenAPI-Generator"  # the Kubernetes client ITBench's Ansible roles patch objects with
SCHEDULER_TAINT = (
    "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"  # the control plane
)

StatesOf = Callable[[int], list[PodState]]


class WorkloadFault(Fault):
    """A patch of one workload's pod template: a rollout whose new pods behave as ``pod_states``
    says. Subclasses give the patch, the pods' lifecycle, what the kubelet and the service log,
    and the shape of the answer key (which part of the workload is the root, which are aliases)."""

    default_targets: ClassVar[tuple[str, ...]]
    root_part: ClassVar[str] = "deployment"
    aliased: ClassVar[tuple[str, ...]] = ("pod",)
    separate: ClassVar[tuple[str, ...]] = ("service",)
    category: ClassVar[str] = "Change"
    patched_fields: ClassVar[JsonObject] = {"f:spec": {"f:template": {"f:spec": {"f:containers": {}}}}}

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        self.target: str = self.param("target", lambda: rng.choice(self.default_targets))
        if self.target not in WORKLOAD_BY_NAME:
            raise GeneratorError(f"fault {self.name!r}: unknown workload {self.target!r}")
        self.configure(rng)
        self.pods: list[Pod] = []

    def configure(self, rng: random.Random) -> None:
        """Read the fault's own parameters."""

    def involved_workloads(self) -> set[str]:
        return {self.target}

    def change(self, template: JsonObject) -> None:
        raise NotImplementedError

    def pod_states(self, incident: Incident) -> StatesOf | None:
        return None

    def planted(self, incident: Incident, pods: list[Pod]) -> None:
        """Events and log lines of the new pods."""

    def pods_of(self, workload: str, incident: Incident) -> tuple[Any, Any] | None:
        if workload != self.target:
            return None
        return self.pod_states(incident), self.planted

    def inject(self, incident: Incident) -> None:
        _replicaset, self.pods = incident.cluster.rollout(
            self.target,
            incident.fault_at,
            self.change,
            self.pod_states(incident),
            manager=MANAGER,
            fields=self.patched_fields,
        )
        self.planted(incident, self.pods)

    def texts(self) -> tuple[str, str, str, list[str]]:
        """(condition, effect, mechanism, actions) of the answer key."""
        raise NotImplementedError

    def shape(self) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        """(root part, parts aliased with it, parts that are groups of their own)."""
        return self.root_part, self.aliased, self.separate

    def root_cause(self, incident: Incident) -> RootCause:
        condition, effect, mechanism, actions = self.texts()
        root, aliased, separate = self.shape()
        return workload_root_cause(
            self.target,
            root=root,
            aliased=aliased,
            separate=separate,
            condition=condition,
            effect=effect,
            category=self.category,
            mechanism=mechanism,
            actions=actions,
        )

    @property
    def container(self) -> str:
        return self.target

    @property
    def image(self) -> str:
        return WORKLOAD_BY_NAME[self.target].container_image


def _crash_pods(
    incident: Incident, crash: Crash, rng: random.Random
) -> tuple[StatesOf, dict[int, CrashLoop]]:
    """Pod states of a crash loop, and the loops by creation time (for the events)."""
    loops: dict[int, CrashLoop] = {}

    def states(created: int) -> list[PodState]:
        loop = crash_loop(rng, created, incident.end + 60 * SECOND, crash)
        loops[created] = loop
        return loop.states

    return states, loops


# ------------------------------------------------------------------------------------ images
class BadImageFault(WorkloadFault):
    name = "bad-image"
    summary = "a Deployment rolled out with a container image that does not exist"
    itbench_id = "nonexistent-kubernetes-workload-container-image"
    default_targets = ("product-catalog", "ad", "recommendation", "currency", "checkout", "cart")
    root_part, aliased, separate = "deployment", ("pod",), ("service",)
    IMAGE = "quay.io/it-bench/hello-bench-invalid:1.0.0"

    def change(self, template: JsonObject) -> None:
        template["spec"]["containers"][0]["image"] = self.IMAGE

    def pull_error(self) -> str:
        reference = self.IMAGE
        return (
            f'rpc error: code = NotFound desc = failed to pull and unpack image "{reference}": failed to resolve '
            f'reference "{reference}": {reference}: not found'
        )

    def pod_states(self, incident: Incident) -> StatesOf | None:
        backoff = f'Back-off pulling image "{self.IMAGE}"'
        return lambda created: pull_backoff(created, incident.end + 60 * SECOND, self.pull_error(), backoff)

    def planted(self, incident: Incident, pods: list[Pod]) -> None:
        cluster = incident.cluster
        for pod in pods:
            ref = cluster.pod_ref(pod)
            first = pod.created + 3 * SECOND
            for delay, reason, message, type_, every in (
                (0, "Pulling", f'Pulling image "{self.IMAGE}"', "Normal", 75),
                (1, "Failed", f'Failed to pull image "{self.IMAGE}": {self.pull_error()}', "Warning", 75),
                (1, "Failed", "Error: ErrImagePull", "Warning", 75),
                (3, "BackOff", f'Back-off pulling image "{self.IMAGE}"', "Normal", 60),
                (3, "Failed", "Error: ImagePullBackOff", "Warning", 60),
            ):
                cluster.event(
                    first + delay * SECOND,
                    ref,
                    reason,
                    message,
                    type_=type_,
                    component="kubelet",
                    host=pod.node,
                    repeat_until=incident.end,
                    every=every * SECOND,
                )

    def texts(self) -> tuple[str, str, str, list[str]]:
        t = self.target
        return (
            "Invalid image specified in deployment",
            f"{t} pods stay in ImagePullBackOff",
            "modify-kubernetes-workload-container-image",
            [f"Roll the {t} deployment back to its previous image (kubectl rollout undo deployment/{t})"],
        )


class UnsupportedArchitectureFault(BadImageFault):
    name = "unsupported-architecture"
    summary = "a Deployment rolled out with an image built for another CPU architecture, pinned to one node"
    itbench_id = "unsupported-architecture-kubernetes-workload-container-image"
    root_part, aliased, separate = "deployment", ("pod", "service"), ()
    IMAGE = "quay.io/it-bench/hello-bench-arm64:2.0.0"
    patched_fields: ClassVar[JsonObject] = {
        "f:spec": {"f:template": {"f:spec": {"f:containers": {}, "f:nodeSelector": {}}}}
    }

    def configure(self, rng: random.Random) -> None:
        self.node: str = self.param("node", lambda: rng.choice(NODES))

    def change(self, template: JsonObject) -> None:
        super().change(template)
        template["spec"]["nodeSelector"] = {"kubernetes.io/hostname": self.node}

    def pull_error(self) -> str:
        return (
            f'rpc error: code = NotFound desc = failed to pull and unpack image "{self.IMAGE}": no match for '
            "platform in manifest: not found"
        )

    def texts(self) -> tuple[str, str, str, list[str]]:
        t = self.target
        return (
            "Invalid architecture image specified in deployment",
            f"{t} pods cannot pull an image for this node's architecture",
            "unsupported-architecture-kubernetes-workload-container-image",
            [f"Roll the {t} deployment back to its previous image and node selector"],
        )


# ------------------------------------------------------------------------------------ command
class InvalidCommandFault(WorkloadFault):
    name = "invalid-command"
    summary = "a Deployment's container command replaced with one that does not exist: CrashLoopBackOff"
    itbench_id = "invalid-kubernetes-workload-container-command"
    default_targets = ("product-catalog", "currency", "shipping", "quote", "payment", "email")
    root_part, aliased, separate = "deployment", ("pod",), ("service",)

    def error(self) -> str:
        return (
            "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create "
            'failed: unable to start container process: error during container init: exec: "invalid-command": '
            "executable file not found in $PATH: unknown"
        )

    def change(self, template: JsonObject) -> None:
        template["spec"]["containers"][0]["command"] = ["invalid-command"]

    def pod_states(self, incident: Incident) -> StatesOf | None:
        states, self._loops = _crash_pods(
            incident, Crash("StartError", 128, self.error(), run=(0, 0)), self.rng
        )
        return states

    def planted(self, incident: Incident, pods: list[Pod]) -> None:
        for pod in pods:
            name_pod(pod, self.container)
            crash_events(
                incident.cluster,
                pod,
                self._loops[pod.created],
                incident.end,
                container=self.container,
                image=self.image,
                failed=f"Error: {self.error()}",
            )

    def texts(self) -> tuple[str, str, str, list[str]]:
        t = self.target
        return (
            "Invalid command specified in deployment",
            f"{t} containers cannot start and crash-loop",
            "invalid-kubernetes-workload-container-command",
            [f"Roll the {t} deployment back (kubectl rollout undo deployment/{t})"],
        )


# ------------------------------------------------------------------------------------ environment
class _AddressRefused(Disruption):
    def __init__(self, caller: str, callee: str, since: int, message: str) -> None:
        self.caller, self.callee, self.since, self.message = caller, callee, since, message

    def client_failure(self, t: int, caller: str, callee: str, operation: str) -> Failure | None:
        if t >= self.since and caller == self.caller and callee == self.callee:
            return Failure(self.message, 1.5, "500" if caller == "shipping" else "UNAVAILABLE")
        return None


class BadEnvFault(WorkloadFault):
    name = "bad-env"
    summary = (
        "a Deployment's address variable set to a port nothing listens on (calls fail, or start-up does)"
    )
    itbench_id = "modified-kubernetes-workload-container-environment-variable"
    default_targets = ("shipping", "checkout", "frontend")
    category = "Configuration"
    _CHOICES: ClassVar[dict[str, tuple[tuple[str, str], ...]]] = {
        "shipping": (("QUOTE_ADDR", "quote:0000"),),
        "checkout": (("KAFKA_ADDR", "kafka:9999"), ("PAYMENT_ADDR", "payment:0000")),
        "frontend": (("AD_ADDR", "ad:0000"), ("CART_ADDR", "cart:0000")),
    }
    # Variables a service needs to start: pointing them nowhere crashes it (checkout connects to
    # Kafka at start-up and exits when it cannot).
    _AT_START: ClassVar[frozenset[tuple[str, str]]] = frozenset({("checkout", "KAFKA_ADDR")})

    def configure(self, rng: random.Random) -> None:
        variable, value = rng.choice(self._CHOICES.get(self.target, (("", ""),)))
        self.variable: str = self.param("variable", lambda: variable)
        self.value: str = self.param("value", lambda: value)
        self.callee = self.value.split("://")[-1].split(":")[0]
        self.since = 0
        self.message = ""

    @property
    def crashes(self) -> bool:
        return (self.target, self.variable) in self._AT_START

    def shape(self) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        # ITBench's keys: an address the service calls -> the Deployment aliased with its Service
        # and Pods (scenario 16); a variable it needs to start -> the Deployment alone (24).
        if self.crashes:
            return "deployment", (), ("pod", "service")
        return "deployment", ("service", "pod"), ()

    def involved_workloads(self) -> set[str]:
        return {self.target} | ({self.callee} if self.callee in WORKLOAD_BY_NAME else set())

    def change(self, template: JsonObject) -> None:
        env = template["spec"]["containers"][0]["env"]
        for entry in env:
            if entry["name"] == self.variable:
                entry["value"] = self.value
                return
        env.append({"name": self.variable, "value": self.value})

    def pod_states(self, incident: Incident) -> StatesOf | None:
        if not self.crashes:
            return None
        ip = incident.cluster.cluster_ips.get(self.callee, "10.96.0.1")
        port = self.value.rsplit(":", 1)[-1]
        self.message = (
            f"failed to create kafka producer: kafka: client has run out of available brokers to talk to: "
            f"dial tcp {ip}:{port}: connect: connection refused"
        )
        states, self._loops = _crash_pods(incident, Crash("Error", 1, run=(3, 6), ready=False), self.rng)
        return states

    def planted(self, incident: Incident, pods: list[Pod]) -> None:
        cluster = incident.cluster
        if self.crashes:
            for pod in pods:
                name_pod(pod, self.container)

                def logged(start: int, pod: Pod = pod) -> None:
                    incident.logs.append(
                        LogLine(start + 2 * SECOND, self.target, pod.name, "ERROR", self.message)
                    )

                crash_events(
                    cluster, pod, self._loops[pod.created], incident.end, container=self.container,
                    image=self.image, on_start=logged,
                )  # fmt: skip
            return
        self.since = min(pod.states[-1].at for pod in pods)
        ip = cluster.cluster_ips.get(self.callee, "10.96.0.1")
        port = self.value.rsplit(":", 1)[-1].lstrip("0") or "0"
        self.message = {
            "shipping": f"error sending request for url (http://{self.callee}:{port}/getquote): error trying to "
            "connect: tcp connect error: Connection refused (os error 111)",
            "checkout": f'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: '
            f'dial tcp {ip}:{port}: connect: connection refused"',
            "frontend": f"14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED {ip}:{port}",
        }.get(self.target, f"connect: connection refused ({ip}:{port})")

    def disruption(self) -> Disruption:
        if self.crashes:
            return Disruption()
        return _AddressRefused(self.target, self.callee, self.since, self.message)

    def texts(self) -> tuple[str, str, str, list[str]]:
        t = self.target
        effect = (
            f"{t} cannot start and crash-loops"
            if self.crashes
            else f"{t} cannot connect to {self.callee} and its requests fail"
        )
        return (
            f"{self.variable} environment variable of the {t} deployment set to {self.value}",
            effect,
            "modify-kubernetes-workload-container-environment-variable",
            [f"Set {self.variable} in the {t} deployment back to the {self.callee} service's address"],
        )


# ------------------------------------------------------------------------------------ probes, DNS
class ReadinessProbeFault(WorkloadFault):
    name = "readiness-probe"
    summary = "a readiness probe on a port nothing listens on: the new pods never become ready"
    itbench_id = "misconfigured-kubernetes-workload-container-readiness-probe"
    default_targets = ("cart", "frontend", "checkout", "currency", "product-catalog")
    category = "Configuration"
    root_part, aliased, separate = "deployment", ("pod", "service"), ()

    def change(self, template: JsonObject) -> None:
        template["spec"]["containers"][0]["readinessProbe"] = {
            "failureThreshold": 3,
            "httpGet": {"path": "/ready", "port": 40, "scheme": "HTTP"},
            "periodSeconds": 5,
            "successThreshold": 1,
            "timeoutSeconds": 3,
        }

    def pod_states(self, incident: Incident) -> StatesOf | None:
        return never_ready

    def planted(self, incident: Incident, pods: list[Pod]) -> None:
        cluster = incident.cluster
        for pod in pods:
            cluster.startup_events(pod, pod.created)
            cluster.event(
                pod.created + 8 * SECOND,
                cluster.pod_ref(pod),
                "Unhealthy",
                f'Readiness probe failed: Get "http://{pod.ip}:40/ready": dial tcp {pod.ip}:40: connect: connection refused',
                type_="Warning",
                component="kubelet",
                host=pod.node,
                repeat_until=incident.end,
                every=30 * SECOND,
            )

    def texts(self) -> tuple[str, str, str, list[str]]:
        t = self.target
        return (
            f"{t} deployment has a readiness probe on a port nothing listens on",
            f"{t} pods never become ready and receive no traffic",
            "misconfigured-readiness-probe",
            [f"Fix the readiness probe of the {t} deployment (its port)"],
        )


class _NoNames(Disruption):
    def __init__(self, caller: str, since: int) -> None:
        self.caller, self.since = caller, since

    def client_failure(self, t: int, caller: str, callee: str, operation: str) -> Failure | None:
        if t >= self.since and caller == self.caller:
            port = WORKLOAD_BY_NAME[callee].port or 8080
            language = WORKLOAD_BY_NAME[caller].language
            if language == "nodejs":
                return Failure(f"14 UNAVAILABLE: Name resolution failed for target dns:{callee}:{port}", 20.0)
            return Failure(
                f"rpc error: code = Unavailable desc = name resolver error: produced zero addresses (lookup {callee} on 172.18.0.1:53: no such host)",
                20.0,
            )
        return None


class DnsPolicyFault(WorkloadFault):
    name = "dns-policy"
    summary = "a Deployment's dnsPolicy set to Default: its pods cannot resolve cluster Service names"
    itbench_id = "failing-name-resolution-kubernetes-workload-dns-policy"
    default_targets = ("frontend", "checkout", "recommendation")
    category = "Configuration"
    root_part, aliased, separate = "pod", ("service",), ()
    patched_fields: ClassVar[JsonObject] = {"f:spec": {"f:template": {"f:spec": {"f:dnsPolicy": {}}}}}

    def configure(self, rng: random.Random) -> None:
        self.since = 0

    def change(self, template: JsonObject) -> None:
        template["spec"]["dnsPolicy"] = "Default"

    def planted(self, incident: Incident, pods: list[Pod]) -> None:
        self.since = min(pod.states[-1].at for pod in pods)

    def disruption(self) -> Disruption:
        return _NoNames(self.target, self.since)

    def texts(self) -> tuple[str, str, str, list[str]]:
        t = self.target
        return (
            f"{t} pods use the node's DNS (dnsPolicy: Default) and cannot resolve cluster Service names",
            f"{t} cannot reach the services it calls",
            "failing-name-resolution-dns-policy",
            [f"Set the dnsPolicy of the {t} deployment back to ClusterFirst"],
        )


# ------------------------------------------------------------------------------------ init containers
_INIT_IMAGE = "registry.access.redhat.com/ubi10-minimal:10.2-1786960640"
_PYTHON_IMAGE = "registry.access.redhat.com/ubi10/python-314-minimal:10.2-1784704196"


class HangingInitFault(WorkloadFault):
    name = "hanging-init"
    summary = "an init container that never finishes: the new pods stay in Init:0/1"
    itbench_id = "hanging-kubernetes-workload-init-container"
    default_targets = ("email", "currency", "quote", "shipping", "ad")
    root_part, aliased, separate = "pod", ("service",), ()
    patched_fields: ClassVar[JsonObject] = {"f:spec": {"f:template": {"f:spec": {"f:initContainers": {}}}}}

    def change(self, template: JsonObject) -> None:
        template["spec"]["initContainers"] = [
            {"name": "worker", "image": _INIT_IMAGE, "command": ["/bin/sh"], "args": ["-c", "sleep infinity"]}
        ]

    def pod_states(self, incident: Incident) -> StatesOf | None:
        return lambda created: never_ready(created, init="running")

    def planted(self, incident: Incident, pods: list[Pod]) -> None:
        cluster = incident.cluster
        for pod in pods:
            ref = cluster.pod_ref(pod)
            ref["fieldPath"] = "spec.initContainers{worker}"
            for reason, message in (
                ("Pulled", f'Container image "{_INIT_IMAGE}" already present on machine'),
                ("Created", "Created container: worker"),
                ("Started", "Started container worker"),
            ):
                cluster.event(
                    pod.created + 2 * SECOND, ref, reason, message, component="kubelet", host=pod.node
                )

    def texts(self) -> tuple[str, str, str, list[str]]:
        t = self.target
        return (
            f"An init container of the {t} deployment never finishes",
            f"{t} pods never start their main container",
            "hanging-init-container",
            [f"Remove the hanging init container from the {t} deployment"],
        )


class CrashingInitFault(WorkloadFault):
    name = "crashing-init"
    summary = "an init container that fails on a malformed ConfigMap: Init:CrashLoopBackOff"
    itbench_id = "crashing-kubernetes-workload-init-container"
    default_targets = ("recommendation", "ad", "email", "currency")
    category = "Change"
    patched_fields: ClassVar[JsonObject] = {
        "f:spec": {"f:template": {"f:spec": {"f:initContainers": {}, "f:volumes": {}}}}
    }

    def configure(self, rng: random.Random) -> None:
        self.configmap: str = self.param("configmap", lambda: f"{self.target}-config")
        self._runs: dict[int, CrashLoop] = {}

    def involved_objects(self) -> set[str]:
        return {f"{NAMESPACE}/ConfigMap/{self.configmap}"}

    def change(self, template: JsonObject) -> None:
        template["spec"]["initContainers"] = [
            {
                "name": "worker",
                "image": _PYTHON_IMAGE,
                "command": ["/bin/sh"],
                "args": ["-c", "python3.14 ~/scripts/load_config.py"],
                "volumeMounts": [
                    {"name": "config", "mountPath": "/opt/app-root/src/config", "readOnly": True},
                    {"name": "scripts", "mountPath": "/opt/app-root/src/scripts", "readOnly": True},
                ],
            }
        ]
        template["spec"]["volumes"] = [
            {
                "name": "config",
                "configMap": {
                    "name": self.configmap,
                    "defaultMode": 493,
                    "items": [{"key": "config", "path": "config.json"}],
                },
            },
            {
                "name": "scripts",
                "configMap": {
                    "name": self.configmap,
                    "defaultMode": 493,
                    "items": [{"key": "script", "path": "load_config.py"}],
                },
            },
        ]

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        meta = cluster.metadata(self.configmap, NAMESPACE, at - 2 * SECOND)
        meta["managedFields"] = [
            {
                "apiVersion": "v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}, "f:config": {}, "f:script": {}}},
                "manager": MANAGER,
                "operation": "Update",
                "time": iso(at - 2 * SECOND),
            }
        ]
        features = {"features": [{"name": name, "enabled": True} for name in ("cache", "ranking", "filters")]}
        broken = json.dumps(features, indent=2)[:-40]  # cut off mid-document
        script = (
            "import json\nimport pathlib\n\n"
            "path = pathlib.Path.home() / 'config' / 'config.json'\n"
            "settings = json.loads(path.read_text())\n"
            "print('loaded', len(settings.get('features', [])), 'features')\n"
        )
        cluster.add_static(
            "configmaps",
            at - 2 * SECOND,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": meta,
                "data": {"config": broken, "script": script},
            },
        )
        super().inject(incident)

    def error(self) -> str:
        return "json.decoder.JSONDecodeError: Expecting ',' delimiter: line 13 column 5 (char 231)"

    def pod_states(self, incident: Incident) -> StatesOf | None:
        def states(created: int) -> list[PodState]:
            loop = crash_loop(
                self.rng, created, incident.end + 60 * SECOND, Crash("Error", 1, run=(1, 2)), init=True
            )
            self._runs[created] = loop
            return loop.states

        return states

    def planted(self, incident: Incident, pods: list[Pod]) -> None:
        cluster = incident.cluster
        for pod in pods:
            loop = self._runs[pod.created]
            ref = cluster.pod_ref(pod)
            ref["fieldPath"] = "spec.initContainers{worker}"
            for index, (start, finished) in enumerate(loop.runs):
                if start >= incident.end:
                    break
                cluster.event(start - SECOND, ref, "Pulled", f'Container image "{_PYTHON_IMAGE}" already present on machine',
                              component="kubelet", host=pod.node)  # fmt: skip
                cluster.event(
                    start, ref, "Started", "Started container worker", component="kubelet", host=pod.node
                )
                incident.logs.append(
                    LogLine(
                        finished,
                        self.target,
                        pod.name,
                        "ERROR",
                        'Traceback (most recent call last):\n  File "/opt/app-root/src/scripts/load_config.py", line 5, '
                        f"in <module>\n    settings = json.loads(path.read_text())\n{self.error()}",
                    )
                )
                if index >= 1 and finished < incident.end:
                    cluster.event(
                        finished + SECOND,
                        ref,
                        "BackOff",
                        f"Back-off restarting failed container worker in pod {pod.name}_{NAMESPACE}({pod.uid})",
                        type_="Warning",
                        component="kubelet",
                        host=pod.node,
                    )

    root_part, aliased, separate = "pod", ("service",), ()

    def texts(self) -> tuple[str, str, str, list[str]]:
        t = self.target
        return (
            f"The {self.configmap} ConfigMap holds malformed JSON that the init container of {t} loads",
            f"{t} pods crash in their init container",
            "config_injection",
            [f"Fix or remove the {self.configmap} ConfigMap and the init container of the {t} deployment"],
        )

    def root_cause(self, incident: Incident) -> RootCause:
        # As ITBench's key (scenario 59): the ConfigMap is the root, aliased with the pods and
        # the Service of the workload that loads it.
        t, root = self.target, f"{self.target}-configmap-1"
        cause = super().root_cause(incident)
        for group in cause.groups:
            group.root_cause = False
        cause.groups.insert(0, Group(root, "ConfigMap", name=self.configmap, root_cause=True))
        cause.aliases[0].insert(0, root)
        hop = Propagation(
            root,
            f"{t}-pod-1",
            "The init container reads a malformed ConfigMap",
            f"{t} pods crash-loop in Init",
        )
        cause.propagations.insert(0, hop)
        cause.fault[0]["entity"] = {"group_id": root, "kind": "ConfigMap", "name": self.configmap}
        return cause


# ------------------------------------------------------------------------------------ scheduling
class AntiAffinityFault(WorkloadFault):
    name = "anti-affinity"
    summary = (
        "a required pod anti-affinity against a DaemonSet on every node: the new pods cannot be scheduled"
    )
    itbench_id = "unschedulable-kubernetes-workload-pod-anti-affinity-rule"
    default_targets = ("payment", "cart", "ad", "currency", "email")
    category = "Configuration"
    root_part, aliased, separate = "pod", ("service",), ("deployment",)
    patched_fields: ClassVar[JsonObject] = {"f:spec": {"f:template": {"f:spec": {"f:affinity": {}}}}}
    MESSAGE = (
        f"0/4 nodes are available: {SCHEDULER_TAINT}, 3 node(s) didn't match pod anti-affinity rules. preemption: "
        "0/4 nodes are available: 1 Preemption is not helpful for scheduling, 3 No preemption victims found for "
        "incoming pod."
    )

    def involved_workloads(self) -> set[str]:
        return {self.target}

    def inject(self, incident: Incident) -> None:
        cluster = incident.cluster
        at = incident.fault_at - 40 * SECOND
        labels = {"app.kubernetes.io/name": "application-operator"}
        meta = cluster.metadata("application-operator", NAMESPACE, at, labels=labels, generation=1)
        container = {
            "name": "worker",
            "image": _INIT_IMAGE,
            "command": ["/bin/sh"],
            "args": ["-c", "sleep infinity"],
        }
        cluster.add_static(
            "daemonsets",
            at,
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": meta,
                "spec": {
                    "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
                },
                "status": {
                    "currentNumberScheduled": 3,
                    "desiredNumberScheduled": 3,
                    "numberAvailable": 3,
                    "numberReady": 3,
                    "observedGeneration": 1,
                    "updatedNumberScheduled": 3,
                },
            },
        )
        cluster.daemon_pods("application-operator", NAMESPACE, meta["uid"], labels, container, at)
        super().inject(incident)

    def change(self, template: JsonObject) -> None:
        template["spec"]["affinity"] = {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {
                            "matchExpressions": [
                                {
                                    "key": "app.kubernetes.io/name",
                                    "operator": "In",
                                    "values": ["application-operator"],
                                }
                            ]
                        },
                        "topologyKey": "kubernetes.io/hostname",
                    }
                ]
            }
        }

    def pod_states(self, incident: Incident) -> StatesOf | None:
        return lambda created: unschedulable(created, self.MESSAGE)

    def planted(self, incident: Incident, pods: list[Pod]) -> None:
        for pod in pods:
            incident.cluster.event(
                pod.created + SECOND,
                incident.cluster.pod_ref(pod, container=False),
                "FailedScheduling",
                self.MESSAGE,
                type_="Warning",
                component="default-scheduler",
                repeat_until=incident.end,
                every=150 * SECOND,
            )

    def texts(self) -> tuple[str, str, str, list[str]]:
        t = self.target
        return (
            f"{t} pods require not to run beside application-operator pods, which run on every node",
            f"{t} pods cannot be scheduled",
            "pod-anti-affinity-rescheduling",
            [f"Remove the required pod anti-affinity from the {t} deployment"],
        )


class ScaledToZeroFault(Fault):
    name = "scaled-to-zero"
    summary = "a Deployment scaled to zero replicas"
    itbench_id = "scaled-to-zero-kubernetes-workload"
    default_targets: ClassVar[tuple[str, ...]] = ("accounting", "fraud-detection", "ad", "currency", "email")

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        self.target: str = self.param("target", lambda: rng.choice(self.default_targets))

    def involved_workloads(self) -> set[str]:
        return {self.target}

    def inject(self, incident: Incident) -> None:
        incident.cluster.scale(self.target, incident.fault_at, 0)

    def root_cause(self, incident: Incident) -> RootCause:
        t = self.target
        return workload_root_cause(
            t,
            root="deployment",
            aliased=("pod",),
            separate=("service",),
            condition=f"{t} deployment scaled to 0 replicas",
            effect=f"{t} has no pods",
            category="Change",
            mechanism="scaled-to-zero",
            actions=[
                f"Scale the {t} deployment back to its replicas (kubectl scale deployment/{t} --replicas=1)"
            ],
        )


# ------------------------------------------------------------------------------------ valkey
class _ValkeyAuth(Disruption):
    def __init__(self, since: int) -> None:
        self.since = since

    def client_failure(self, t: int, caller: str, callee: str, operation: str) -> Failure | None:
        if t >= self.since and callee == "valkey-cart":
            return Failure(
                "It was not possible to connect to the redis server(s). There was an authentication failure; check "
                "that passwords (or client certificates) are configured correctly: (RedisServerException) NOAUTH "
                "Authentication required.",
                3.0,
            )
        return None


class ValkeyPasswordFault(WorkloadFault):
    name = "valkey-password"
    summary = "valkey-cart restarted with a password cart does not know: every cart call fails"
    itbench_id = "valkey-workload-changed-password"
    default_targets = ("valkey-cart",)
    category = "Configuration"
    root_part, aliased, separate = "pod", ("service",), ()

    def configure(self, rng: random.Random) -> None:
        self.since = 0

    def involved_workloads(self) -> set[str]:
        return {"valkey-cart", "cart"}

    def change(self, template: JsonObject) -> None:
        container = template["spec"]["containers"][0]
        container["command"] = ["valkey-server"]
        container["args"] = ["--requirepass", "$(VALKEY_PASSWORD)"]
        container.setdefault("env", []).append(
            {
                "name": "VALKEY_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "valkey-credentials", "key": "valkey-password"}},
            }
        )

    def planted(self, incident: Incident, pods: list[Pod]) -> None:
        self.since = min(pod.states[-1].at for pod in pods)

    def disruption(self) -> Disruption:
        return _ValkeyAuth(self.since)

    def texts(self) -> tuple[str, str, str, list[str]]:
        return (
            "Password authentication enabled on valkey-cart without updating the cart service",
            "cart cannot authenticate to valkey-cart",
            "custom",
            ["Remove the password from valkey-cart, or give cart the same password"],
        )


class NodeSelectorFault(WorkloadFault):
    name = "node-selector"
    summary = "a Deployment's pods require a node that does not exist and stay Pending"
    itbench_id = "nonexistent-kubernetes-workload-node"
    default_targets = ("ad", "cart", "email", "recommendation", "currency")
    category = "Configuration"
    root_part, aliased, separate = "pod", ("service",), ()
    patched_fields: ClassVar[JsonObject] = {"f:spec": {"f:template": {"f:spec": {"f:nodeSelector": {}}}}}
    MESSAGE = (
        f"0/4 nodes are available: {SCHEDULER_TAINT}, 3 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
    )

    def configure(self, rng: random.Random) -> None:
        self.node: str = self.param("node", lambda: f"invalid-node-{rng.randrange(1000)}")

    def change(self, template: JsonObject) -> None:
        template["spec"]["nodeSelector"] = {"kubernetes.io/hostname": self.node}

    def pod_states(self, incident: Incident) -> StatesOf | None:
        return lambda created: unschedulable(created, self.MESSAGE)

    def planted(self, incident: Incident, pods: list[Pod]) -> None:
        for pod in pods:
            incident.cluster.event(
                pod.created + SECOND,
                incident.cluster.pod_ref(pod, container=False),
                "FailedScheduling",
                self.MESSAGE,
                type_="Warning",
                component="default-scheduler",
                repeat_until=incident.end,
                every=150 * SECOND,
            )

    def texts(self) -> tuple[str, str, str, list[str]]:
        t = self.target
        return (
            f"{t} pods cannot be scheduled: they require the node {self.node}, which does not exist",
            f"{t} has no running pod",
            "invalid-node-selector",
            [f"Remove the nodeSelector kubernetes.io/hostname={self.node} from the {t} deployment"],
        )


WORKLOAD_FAULTS: tuple[type[Fault], ...] = (
    BadImageFault,
    UnsupportedArchitectureFault,
    InvalidCommandFault,
    BadEnvFault,
    ReadinessProbeFault,
    DnsPolicyFault,
    HangingInitFault,
    CrashingInitFault,
    AntiAffinityFault,
    NodeSelectorFault,
    ScaledToZeroFault,
    ValkeyPasswordFault,
)
