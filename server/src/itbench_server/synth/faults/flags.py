"""Feature-flag faults: failure flags of the OpenTelemetry Demo switched on in ``flagd-config``.

As ITBench injects them: the ConfigMap's ``demo.flagd.json`` is patched (the flag's
``defaultVariant``, the whole document re-serialised on one line by the patching client), then
``flagd`` and the services that read the flag are restarted (``kubectl rollout restart``), which
leaves new ReplicaSets and pods on the fault's path. Each flag then does what it does in the demo:
one product fails (``productCatalogFailure``), a share of charges fail (``paymentFailure``),
checkout cannot resolve payment (``paymentUnreachable``), the load generator floods the home page
(``loadGeneratorFloodHomepage``), and so on.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any, ClassVar

from itbench_server.errors import GeneratorError
from itbench_server.synth.cluster import FLAGS, SECOND, JsonObject, PodState, flagd_json, iso, iso_micro
from itbench_server.synth.faults.base import (
    Fault,
    Group,
    Incident,
    LogLine,
    Propagation,
    RootCause,
    workload_alias,
    workload_groups,
)
from itbench_server.synth.topology import NAMESPACE
from itbench_server.synth.traffic import Disruption, Failure

__all__ = ["FAILING_PRODUCT", "FLAG_EFFECTS", "FLOOD", "FeatureFlagFault", "FlagEffect", "flagd_reload_lines"]

FLOOD = "loadGeneratorFloodHomepage"
_FLAGD_CONFIG = "flagd-config-1"
# The product the demo's product catalog refuses while productCatalogFailure is on.
FAILING_PRODUCT = "OLJCESPC7Z"


@dataclass(frozen=True)
class FlagEffect:
    """What a flag acts on: the workload that reads it (restarted after the edit), the variant
    ITBench sets, and the operation that fails (for a ``ServiceOperation`` group)."""

    workload: str
    variant: str
    operation: tuple[str, str, str] | None = None  # (caller, gRPC service, method) of the failing call
    summary: str = ""


FLAG_EFFECTS: dict[str, FlagEffect] = {
    "productCatalogFailure": FlagEffect(
        "product-catalog",
        "on",
        ("product-catalog", "ProductCatalogService", "GetProduct"),
        "product catalog requests for one product fail",
    ),
    "recommendationCacheFailure": FlagEffect(
        "recommendation", "on", None, "the recommendation cache leaks memory and slows down"
    ),
    "adManualGc": FlagEffect("ad", "on", None, "the ad service runs full garbage collections"),
    "adHighCpu": FlagEffect("ad", "on", None, "the ad service burns CPU"),
    "adFailure": FlagEffect("ad", "on", ("ad", "AdService", "GetAds"), "a share of ad requests fail"),
    "kafkaQueueProblems": FlagEffect("kafka", "on", None, "the Kafka queue floods and consumers lag"),
    "cartFailure": FlagEffect("cart", "on", None, "emptying a cart fails"),
    "paymentFailure": FlagEffect(
        "payment", "100%", ("checkout", "PaymentService", "Charge"), "a share of payment charges fail"
    ),
    "paymentUnreachable": FlagEffect("payment", "on", None, "checkout cannot reach the payment service"),
    FLOOD: FlagEffect("load-generator", "on", None, "the load generator floods the home page"),
    "imageSlowLoad": FlagEffect("frontend", "10sec", None, "product images load slowly"),
}

_VARIANTS: dict[str, dict[str, Any]] = {name: variants for name, _text, variants, _default in FLAGS}


class _FlagDisruption(Disruption):
    """The demo's behaviour under the flags that are on (from ``since``)."""

    def __init__(self, flags: dict[str, str], since: int) -> None:
        self.flags = flags
        self.since = since

    def _on(self, flag: str, t: int) -> bool:
        return t >= self.since and flag in self.flags

    def client_failure(self, t: int, caller: str, callee: str, operation: str) -> Failure | None:
        if self._on("paymentUnreachable", t) and caller == "checkout" and callee == "payment":
            return Failure(
                "rpc error: code = Unavailable desc = name resolver error: produced zero addresses", 1.0
            )
        if self._on(FLOOD, t) and caller == "frontend-proxy" and (t // 1_000_000) % 5 == 0:
            return Failure(
                "upstream connect error or disconnect/reset before headers. reset reason: overflow",
                0.5,
                "503",
            )
        return None

    def server_failure(
        self, t: int, service: str, operation: str, rng: random.Random, product: str = ""
    ) -> Failure | None:
        if t < self.since:
            return None
        if service == "payment" and operation.endswith("/Charge") and "paymentFailure" in self.flags:
            share = _VARIANTS["paymentFailure"].get(self.flags["paymentFailure"], 1)
            if rng.random() < float(share):
                return Failure("Payment request failed. Invalid token. app.loyalty.level=gold", 2.0, "13")
        if service == "ad" and operation.endswith("/GetAds"):
            if "adFailure" in self.flags and rng.random() < 0.1:
                return Failure("io.grpc.StatusRuntimeException: UNAVAILABLE", 1.0)
            if "adHighCpu" in self.flags and rng.random() < 0.25:
                return Failure(
                    "io.grpc.StatusRuntimeException: DEADLINE_EXCEEDED: deadline exceeded after 0.999s",
                    1000.0,
                    "DEADLINE_EXCEEDED",
                )
            if "adManualGc" in self.flags and self._collecting(t) and rng.random() < 0.5:
                return Failure(
                    "io.grpc.StatusRuntimeException: DEADLINE_EXCEEDED: deadline exceeded after 0.999s",
                    1000.0,
                    "DEADLINE_EXCEEDED",
                )
        if (
            service == "product-catalog"
            and operation.endswith("/GetProduct")
            and "productCatalogFailure" in self.flags
            and product == FAILING_PRODUCT
        ):
            return Failure("Error: Product Catalog Fail Feature Flag Enabled", 0.5, "INTERNAL")
        if service == "cart" and operation.endswith("/EmptyCart") and "cartFailure" in self.flags:
            return Failure(
                "Can't access cart storage. System.ApplicationException: Wasn't able to connect to redis",
                1.0,
                "FAILED_PRECONDITION",
            )
        if service == "accounting" and "kafkaQueueProblems" in self.flags and rng.random() < 0.2:
            return Failure(
                "Confluent.Kafka.ConsumeException: Broker: Offset out of range (maximum poll interval exceeded)",
                5.0,
                "ERROR",
            )
        return None

    def _collecting(self, t: int) -> bool:
        return (t - self.since) % (15 * SECOND) < 3 * SECOND

    def latency_factor(self, t: int, service: str) -> float:
        if t < self.since:
            return 1.0
        if service == "ad":
            if "adHighCpu" in self.flags:
                return 80.0
            if "adManualGc" in self.flags and self._collecting(t):
                return 600.0
        if service == "recommendation" and "recommendationCacheFailure" in self.flags:
            return 1.0 + (t - self.since) / SECOND * 0.4
        if service == "fraud-detection" and "kafkaQueueProblems" in self.flags:
            return 1500.0
        if service == "image-provider" and "imageSlowLoad" in self.flags:
            seconds = _VARIANTS["imageSlowLoad"].get(self.flags["imageSlowLoad"], 10000)
            return 1.0 + float(seconds) / 2.0
        return 1.0

    def flood(self, t: int) -> float:
        return 4.0 if self._on(FLOOD, t) else 0.0


class FeatureFlagFault(Fault):
    name = "feature-flag"
    summary = "failure feature flags switched on in the flagd-config ConfigMap, flagd and the flagged services restarted"
    itbench_id = "opentelemetry-demo-feature-flag"

    _DEFAULT_CHOICES: ClassVar[tuple[str, ...]] = tuple(FLAG_EFFECTS)

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        chosen = self.param("flags", lambda: {rng.choice(self._DEFAULT_CHOICES): ""})
        self.flags: dict[str, str] = {}
        for flag, variant in dict(chosen).items():
            if flag not in FLAG_EFFECTS:
                raise GeneratorError(f"unknown feature flag {flag!r}: choose among {', '.join(FLAG_EFFECTS)}")
            self.flags[flag] = variant or FLAG_EFFECTS[flag].variant
            if self.flags[flag] not in _VARIANTS[flag]:
                raise GeneratorError(f"flag {flag} has no variant {self.flags[flag]!r}")
        self.since = 0
        self.before = self.after = ""

    @property
    def workloads(self) -> list[str]:
        """The workloads that read the flags, in flag order, each once."""
        return list(dict.fromkeys(FLAG_EFFECTS[flag].workload for flag in self.flags))

    def involved_workloads(self) -> set[str]:
        return {"flagd", *self.workloads}

    def involved_objects(self) -> set[str]:
        return {f"{NAMESPACE}/ConfigMap/flagd-config"}

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        self.before = flagd_json({})
        document = json.loads(self.before)
        for flag, variant in self.flags.items():
            document["flags"][flag]["defaultVariant"] = variant
        self.after = json.dumps(document)  # the patching client writes the document back on one line

        def change(body: JsonObject) -> None:
            body["data"]["demo.flagd.json"] = self.after
            body["metadata"]["managedFields"].append(
                {
                    "apiVersion": "v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {"f:demo.flagd.json": {}}},
                    "manager": "OpenAPI-Generator",
                    "operation": "Update",
                    "time": iso(at),
                }
            )

        cluster.update_static("configmaps", NAMESPACE, "flagd-config", at, change)
        old_flagd = cluster.pods_of("flagd", at)[0]
        incident.logs += flagd_reload_lines(old_flagd.name, at + 4 * SECOND)
        # ITBench restarts flagd, then every workload that reads a changed flag.
        _replicaset, (new_flagd, *_rest) = cluster.restart("flagd", at + 6 * SECOND)
        started = at + 14 * SECOND
        incident.logs.append(
            LogLine(
                started,
                "flagd",
                new_flagd.name,
                "INFO",
                json.dumps(
                    {
                        "level": "info",
                        "ts": iso_micro(started),
                        "logger": "flagd",
                        "msg": "starting flag sync",
                        "source": "/etc/flagd/demo.flagd.json",
                    }
                ),
            )
        )
        latest = at
        for index, workload in enumerate(self.workloads):
            when = at + (12 + 4 * index) * SECOND
            _replicaset, pods = cluster.restart(workload, when, self._pod_states(workload))
            latest = max([latest, *(pod.states[-1].at for pod in pods)])
        self.since = latest + 2 * SECOND

    def _pod_states(self, workload: str) -> Any:
        """The restarted pods of a flagged workload: some flags change how they use resources."""
        if workload == "ad" and "adHighCpu" in self.flags:
            factor, memory, per_minute = 25.0, None, 0.75
        elif workload == "recommendation" and "recommendationCacheFailure" in self.flags:
            factor, memory, per_minute = 1.5, 0.3, 0.05
        elif workload == "load-generator" and FLOOD in self.flags:
            factor, memory, per_minute = 4.0, None, 0.75
        else:
            return None

        def states(created: int) -> list[PodState]:
            started = created + 3 * SECOND
            return [
                PodState(created, phase="Pending", ready=False, waiting="ContainerCreating"),
                PodState(started, running_since=started, ready=False),
                PodState(
                    started + 4 * SECOND,
                    running_since=started,
                    cpu_factor=factor,
                    memory_fraction=memory,
                    memory_per_minute=per_minute,
                ),
            ]

        return states

    def disruption(self) -> Disruption:
        return _FlagDisruption(self.flags, self.since)

    def root_cause(self, incident: Incident) -> RootCause:
        flags = [flag for flag in self.flags if flag != FLOOD]
        groups: list[Group] = []
        aliases: list[list[str]] = []
        propagations: list[Propagation] = []
        origins: dict[str, str] = {}
        fault: list[dict[str, Any]] = []
        actions: list[str] = []
        if flags:
            # One root for every flag: the ConfigMap all of them were set in.
            groups += [
                Group(_FLAGD_CONFIG, "ConfigMap", ["flagd-config"], root_cause=True),
                *workload_groups("flagd", "service", "pod"),
            ]
            aliases.append(workload_alias("flagd", "service", "pod"))
            names = ", ".join(flags)
            propagations.append(
                Propagation(
                    _FLAGD_CONFIG,
                    "flagd-service-1",
                    f"flagd-config sets {names}",
                    "flagd serves the changed flags to the services",
                )
            )
            fault.append(
                {
                    "category": "Configuration Setting",
                    "condition": f"{names} feature flag{'s' if len(flags) > 1 else ''} set",
                    "entity": {"group_id": _FLAGD_CONFIG, "kind": "ConfigMap", "name": "flagd-config"},
                    "changed": {"element": r"data.demo\.flagd\.json", "from": self.before, "to": self.after},
                    "fault_mechanism": "custom(flagd)",
                }
            )
            actions.append(
                f"Set the defaultVariant of {names} back to off in the flagd-config ConfigMap and restart flagd"
            )
        for flag in flags:
            effect = FLAG_EFFECTS[flag]
            service = effect.workload
            if f"{service}-service-1" not in {group.id for group in groups}:
                groups += workload_groups(service, "service", "pod")
                aliases.append(workload_alias(service, "service", "pod"))
            hop_target = f"{service}-service-1"
            if effect.operation is not None:
                caller, grpc_service, method = effect.operation
                operation_id = f"{method.lower()}-endpoint-1"
                groups.append(
                    Group(operation_id, "ServiceOperation", [f"{caller}-.*_{grpc_service}_{method}"])
                )
                next(alias for alias in aliases if f"{service}-service-1" in alias).append(operation_id)
                propagations.append(
                    Propagation(
                        "flagd-service-1",
                        operation_id,
                        f"flagd evaluates {flag} to {self.flags[flag]}",
                        f"{grpc_service}/{method} fails",
                    )
                )
                propagations.append(
                    Propagation(operation_id, hop_target, f"{method} calls fail", f"{service} returns errors")
                )
            else:
                propagations.append(
                    Propagation(
                        "flagd-service-1",
                        hop_target,
                        f"flagd evaluates {flag} to {self.flags[flag]}",
                        f"{effect.summary}",
                    )
                )
            origin = _origin(flag)
            if origin != service:
                if f"{origin}-service-1" not in {group.id for group in groups}:
                    groups += workload_groups(origin, "service")
                propagations.append(
                    Propagation(
                        hop_target,
                        f"{origin}-service-1",
                        f"{effect.summary}",
                        f"{origin} requests fail or slow down",
                    )
                )
                hop_target = f"{origin}-service-1"
            origins[origin] = hop_target
        if FLOOD in self.flags:
            groups += [
                *workload_groups("load-generator", "pod", "service", root="pod"),
                *workload_groups("frontend-proxy", "service", "pod"),
            ]
            aliases.append(
                [
                    *workload_alias("load-generator", "service", "pod"),
                    *workload_alias("frontend-proxy", "service", "pod"),
                ]
            )
            propagations += [
                Propagation(
                    "load-generator-pod-1",
                    "load-generator-service-1",
                    "The load generator floods the home page",
                    "load-generator sends several times its usual traffic",
                ),
                Propagation(
                    "load-generator-service-1",
                    "frontend-proxy-service-1",
                    "frontend-proxy receives more requests than it can serve",
                    "frontend-proxy rejects requests with 503 and slows down",
                ),
            ]
            origins["frontend-proxy"] = "frontend-proxy-service-1"
            fault.append(
                {
                    "category": "Change",
                    "condition": "the load generator floods the home page (loadGeneratorFloodHomepage)",
                    "entity": {"group_id": "load-generator-pod-1", "kind": "Pod", "name": "load-generator"},
                    "fault_mechanism": "custom",
                }
            )
            actions.append("Set loadGeneratorFloodHomepage back to off and restart the load generator")
        return RootCause(groups, aliases, propagations, origins, fault, actions)


def flagd_reload_lines(pod: str, at: int) -> list[LogLine]:
    """What flagd logs when it notices that its configuration file changed."""
    stamp = iso_micro(at)
    lines = []
    for component, message in (
        ("sync", "data sync received"),
        ("store", "configuration change (write) for flagSource /etc/flagd/demo.flagd.json"),
    ):
        body: dict[str, str] = {"level": "info", "ts": stamp, "logger": "flagd", "component": component}
        if component == "sync":
            body["sync"] = "filepath"
        body["msg"] = message
        if component == "sync":
            body["source"] = "/etc/flagd/demo.flagd.json"
        lines.append(LogLine(at, "flagd", pod, "INFO", json.dumps(body)))
    return lines


def _origin(flag: str) -> str:
    """The traced service where a flag's symptoms start."""
    return {
        "paymentUnreachable": "checkout",
        "kafkaQueueProblems": "fraud-detection",
        "imageSlowLoad": "image-provider",
    }.get(flag, FLAG_EFFECTS[flag].workload)
