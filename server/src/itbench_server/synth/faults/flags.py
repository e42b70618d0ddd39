"""Feature-flag faults: a failure flag of the OpenTelemetry Demo switched on in ``flagd-config``."""

from __future__ import annotations

import json
import random
from typing import ClassVar

from itbench_server.synth.cluster import SECOND, JsonObject, flagd_json, iso, iso_micro
from itbench_server.synth.faults.base import (
    Fault,
    Group,
    Incident,
    LogLine,
    Propagation,
    RootCause,
    workload_groups,
)
from itbench_server.synth.topology import NAMESPACE
from itbench_server.synth.traffic import Disruption, Failure


class _FlagDisruption(Disruption):
    def __init__(self, flag: str, since: int) -> None:
        self.flag = flag
        self.since = since

    def server_failure(self, t: int, service: str, operation: str, rng: random.Random) -> Failure | None:
        if t < self.since:
            return None
        if self.flag == "paymentFailure" and operation == "oteldemo.PaymentService/Charge":
            return Failure("Payment request failed. Invalid token. app.loyalty.level=gold", 2.0, "13")
        if self.flag == "adFailure" and operation == "oteldemo.AdService/GetAds" and rng.random() < 0.4:
            return Failure("io.grpc.StatusRuntimeException: UNAVAILABLE", 1.0)
        if self.flag == "cartFailure" and operation == "oteldemo.CartService/EmptyCart":
            return Failure(
                "Can't access cart storage. System.ApplicationException: Wasn't able to connect to redis",
                1.0,
                "FAILED_PRECONDITION",
            )
        if (
            self.flag == "productCatalogFailure"
            and operation == "oteldemo.ProductCatalogService/GetProduct"
            and rng.random() < 0.3
        ):
            return Failure("Error: Product Catalog Fail Feature Flag Enabled", 0.5, "INTERNAL")
        return None


class FeatureFlagFault(Fault):
    name = "feature-flag"
    summary = "a failure feature flag switched on in the flagd-config ConfigMap"

    _SERVICE: ClassVar[dict[str, str]] = {
        "paymentFailure": "payment",
        "adFailure": "ad",
        "cartFailure": "cart",
        "productCatalogFailure": "product-catalog",
    }

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.flag = rng.choice(sorted(self._SERVICE))
        self.variant = "100%" if self.flag == "paymentFailure" else "on"
        self.since = 0

    def involved_workloads(self) -> set[str]:
        return {"flagd", self._SERVICE[self.flag]}

    def involved_objects(self) -> set[str]:
        return {f"{NAMESPACE}/ConfigMap/flagd-config"}

    def inject(self, incident: Incident) -> None:
        cluster = incident.cluster
        self.before = flagd_json({})
        self.after = flagd_json({self.flag: self.variant})

        def change(body: JsonObject) -> None:
            body["data"]["demo.flagd.json"] = self.after
            body["metadata"]["managedFields"].append(
                {
                    "apiVersion": "v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {"f:demo.flagd.json": {}}},
                    "manager": "kubectl-edit",
                    "operation": "Update",
                    "time": iso(incident.fault_at),
                }
            )

        cluster.update_static("configmaps", NAMESPACE, "flagd-config", incident.fault_at, change)
        self.since = incident.fault_at + 8 * SECOND
        flagd = cluster.pods_of("flagd", incident.fault_at)[0]
        stamp = iso_micro(incident.fault_at + 6 * SECOND)
        incident.logs.append(
            LogLine(
                incident.fault_at + 6 * SECOND,
                "flagd",
                flagd.name,
                "INFO",
                json.dumps(
                    {
                        "level": "info",
                        "ts": stamp,
                        "logger": "flagd",
                        "component": "sync",
                        "sync": "filepath",
                        "msg": "data sync received",
                        "source": "/etc/flagd/demo.flagd.json",
                    }
                ),
            )
        )
        incident.logs.append(
            LogLine(
                incident.fault_at + 6 * SECOND,
                "flagd",
                flagd.name,
                "INFO",
                json.dumps(
                    {
                        "level": "info",
                        "ts": stamp,
                        "logger": "flagd",
                        "component": "store",
                        "msg": "configuration change (write) for flagSource /etc/flagd/demo.flagd.json",
                    }
                ),
            )
        )

    def disruption(self) -> Disruption:
        return _FlagDisruption(self.flag, self.since)

    def root_cause(self, incident: Incident) -> RootCause:
        service = self._SERVICE[self.flag]
        groups = [
            Group("flagd-config-1", "ConfigMap", ["flagd-config"], root_cause=True),
            Group("flagd-service-1", "Service", [r"flagd\b"]),
            Group("flagd-pod-1", "Pod", ["flagd-.*"]),
            *workload_groups(service, "service", "pod"),
        ]
        return RootCause(
            groups=groups,
            aliases=[["flagd-service-1", "flagd-pod-1"], [f"{service}-service-1", f"{service}-pod-1"]],
            propagations=[
                Propagation(
                    "flagd-config-1",
                    "flagd-service-1",
                    f"flagd-config ConfigMap sets the {self.flag} feature flag",
                    "flagd serves the flag to the services",
                ),
                Propagation(
                    "flagd-service-1",
                    f"{service}-service-1",
                    f"flagd evaluates {self.flag} to {self.variant}",
                    f"{service} fails the requests the flag targets",
                ),
            ],
            origins={service: f"{service}-service-1"},
            fault=[
                {
                    "category": "Configuration Setting",
                    "condition": f"{self.flag} feature flag set",
                    "entity": {"group_id": "flagd-config-1", "kind": "ConfigMap", "name": "flagd-config"},
                    "changed": {"element": r"data.demo\.flagd\.json", "from": self.before, "to": self.after},
                    "fault_mechanism": "custom(flagd)",
                }
            ],
            actions=[f"Set the defaultVariant of {self.flag} back to off in the flagd-config ConfigMap"],
        )
