"""Chaos Mesh faults: a ``Schedule`` (applied with kubectl in ``chaos-mesh``) spawning the
experiment that disrupts the demo."""

from __future__ import annotations

import json
import random
from typing import ClassVar

from itbench_server.synth.cluster import SECOND, iso
from itbench_server.synth.faults.base import (
    Fault,
    Group,
    Incident,
    Propagation,
    RootCause,
    workload_groups,
)
from itbench_server.synth.topology import CHAOS_NAMESPACE, NAMESPACE
from itbench_server.synth.traffic import Disruption, Failure


class _PartitionDisruption(Disruption):
    _TIMEOUT: ClassVar[dict[str, tuple[str, float, str]]] = {
        "shipping": (
            "error sending request for url (http://quote:8080/getquote): operation timed out",
            10_000.0,
            "500",
        ),
        "checkout": (
            "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
            5_000.0,
            "DEADLINE_EXCEEDED",
        ),
        "recommendation": (
            '<_InactiveRpcError of RPC that terminated with: status = StatusCode.DEADLINE_EXCEEDED details = "Deadline Exceeded">',
            4_000.0,
            "DEADLINE_EXCEEDED",
        ),
    }

    def __init__(self, source: str, target: str, since: int) -> None:
        self.source, self.target, self.since = source, target, since

    def client_failure(self, t: int, caller: str, callee: str, operation: str) -> Failure | None:
        if t >= self.since and caller == self.source and callee == self.target:
            message, ms, code = self._TIMEOUT[self.source]
            return Failure(message, ms, code)
        return None


class NetworkPartitionFault(Fault):
    name = "network-partition"
    summary = "a Chaos Mesh Schedule spawning a NetworkChaos partition between two services"

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.source, self.target = rng.choice(
            (("shipping", "quote"), ("checkout", "payment"), ("recommendation", "product-catalog"))
        )
        self.schedule = f"otel-demo-{self.source}-{self.target}-network-partition"
        self.since = 0

    def involved_workloads(self) -> set[str]:
        return {self.source, self.target}

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        chaos_spec = {
            "action": "partition",
            "direction": "to",
            "mode": "all",
            "duration": "30m",
            "selector": {
                "namespaces": [NAMESPACE],
                "labelSelectors": {"app.kubernetes.io/component": self.source},
            },
            "target": {
                "mode": "all",
                "selector": {
                    "namespaces": [NAMESPACE],
                    "labelSelectors": {"app.kubernetes.io/component": self.target},
                },
            },
        }
        schedule_spec = {
            "schedule": "@every 1h",
            "concurrencyPolicy": "Forbid",
            "historyLimit": 1,
            "startingDeadlineSeconds": None,
            "type": "NetworkChaos",
            "networkChaos": chaos_spec,
        }
        last_applied = {
            "apiVersion": "chaos-mesh.org/v1alpha1",
            "kind": "Schedule",
            "metadata": {"annotations": {}, "name": self.schedule, "namespace": CHAOS_NAMESPACE},
            "spec": schedule_spec,
        }
        schedule_meta = cluster.metadata(
            self.schedule,
            CHAOS_NAMESPACE,
            at,
            generation=1,
            annotations={
                "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                    last_applied, separators=(",", ":")
                )
                + "\n"
            },
        )
        schedule_meta["managedFields"] = [
            {
                "apiVersion": "chaos-mesh.org/v1alpha1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {".": {}, "f:networkChaos": {}, "f:schedule": {}, "f:type": {}}},
                "manager": "kubectl-client-side-apply",
                "operation": "Update",
                "time": iso(at),
            }
        ]
        chaos_name = f"{self.schedule}-{cluster.ids.suffix(5)}"
        spawned = at + 2 * SECOND
        chaos_meta = cluster.metadata(
            chaos_name,
            CHAOS_NAMESPACE,
            spawned,
            generation=1,
            labels={"chaos-mesh.org/controlled-by": self.schedule},
            annotations={"chaos-mesh.org/type": "NetworkChaos"},
        )
        chaos_meta["ownerReferences"] = [
            {
                "apiVersion": "chaos-mesh.org/v1alpha1",
                "kind": "Schedule",
                "name": self.schedule,
                "uid": schedule_meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        chaos_meta["finalizers"] = ["chaos-mesh/records"]
        schedule_body = {
            "apiVersion": "chaos-mesh.org/v1alpha1",
            "kind": "Schedule",
            "metadata": schedule_meta,
            "spec": schedule_spec,
            "status": {
                "active": [
                    {
                        "apiVersion": "chaos-mesh.org/v1alpha1",
                        "kind": "NetworkChaos",
                        "name": chaos_name,
                        "namespace": CHAOS_NAMESPACE,
                        "uid": chaos_meta["uid"],
                    }
                ],
                "time": iso(spawned),
            },
        }
        cluster.add_static("schedules", at, schedule_body)
        sources = cluster.pods_of(self.source, spawned)
        records = [
            {
                "id": f"{NAMESPACE}/{pod.name}",
                "injectedCount": 1,
                "phase": "Injected",
                "recoveredCount": 0,
                "selectorKey": ".",
            }
            for pod in sources
        ]
        chaos_body = {
            "apiVersion": "chaos-mesh.org/v1alpha1",
            "kind": "NetworkChaos",
            "metadata": chaos_meta,
            "spec": chaos_spec,
            "status": {
                "conditions": [
                    {"type": "Selected", "status": "True"},
                    {"type": "AllInjected", "status": "True"},
                    {"type": "AllRecovered", "status": "False"},
                    {"type": "Paused", "status": "False"},
                ],
                "experiment": {"containerRecords": records, "desiredPhase": "Run"},
                "instances": {f"{NAMESPACE}/{pod.name}": 1 for pod in sources},
            },
        }
        cluster.add_static("networkchaos", spawned, chaos_body)
        schedule_ref = cluster.ref(
            "Schedule", self.schedule, CHAOS_NAMESPACE, schedule_meta["uid"], "chaos-mesh.org/v1alpha1"
        )
        chaos_ref = cluster.ref(
            "NetworkChaos", chaos_name, CHAOS_NAMESPACE, chaos_meta["uid"], "chaos-mesh.org/v1alpha1"
        )
        component = "chaos-controller-manager"
        cluster.event(
            spawned, schedule_ref, "Spawned", f"Create new object: {chaos_name}", component=component
        )
        cluster.event(spawned, chaos_ref, "FinalizerInited", "Finalizer has been inited", component=component)
        cluster.event(
            spawned + SECOND,
            chaos_ref,
            "Updated",
            "Successfully update finalizer of resource",
            component=component,
        )
        cluster.event(spawned + SECOND, chaos_ref, "Started", "Experiment has started", component=component)
        for pod in sources:
            cluster.event(
                spawned + 2 * SECOND,
                chaos_ref,
                "Applied",
                f"Successfully apply chaos for {NAMESPACE}/{pod.name}",
                component=component,
            )
        cluster.event(
            spawned + 3 * SECOND,
            chaos_ref,
            "Updated",
            "Successfully update records of resource",
            component=component,
        )
        self.since = spawned + 3 * SECOND

    def disruption(self) -> Disruption:
        return _PartitionDisruption(self.source, self.target, self.since)

    def root_cause(self, incident: Incident) -> RootCause:
        s, d = self.source, self.target
        root = f"{self.schedule}-1"
        groups = [
            Group(root, "NetworkChaos", [self.schedule], namespace=CHAOS_NAMESPACE, root_cause=True),
            Group(f"{self.schedule}-schedule-1", "Schedule", [self.schedule], namespace=CHAOS_NAMESPACE),
            *workload_groups(s, "service", "pod"),
            Group(f"{d}-service-1", "Service", [rf"{d}\b"]),
        ]
        return RootCause(
            groups=groups,
            aliases=[[root, f"{self.schedule}-schedule-1"], [f"{s}-service-1", f"{s}-pod-1"]],
            propagations=[
                Propagation(
                    root,
                    f"{s}-pod-1",
                    f"NetworkChaos partitions {s} pods from {d}",
                    f"{s} pods cannot reach {d}",
                ),
                Propagation(
                    f"{s}-pod-1",
                    f"{s}-service-1",
                    f"{s} calls to {d} time out",
                    f"{s} requests fail and slow down",
                ),
                Propagation(
                    f"{s}-service-1",
                    f"{d}-service-1",
                    f"{d} is unreachable from {s}",
                    f"{d} stops receiving requests from {s}",
                ),
            ],
            origins={s: f"{s}-service-1"},
            fault=[
                {
                    "category": "Network",
                    "condition": f"Chaos Mesh network partition blocking {s} pods from reaching {d}",
                    "entity": {"group_id": root, "kind": "NetworkChaos", "name": self.schedule},
                    "fault_mechanism": "network_partition",
                }
            ],
            actions=[
                f"Delete the Chaos Mesh Schedule {self.schedule} and its NetworkChaos in namespace {CHAOS_NAMESPACE}"
            ],
        )
