"""A workload mounting a PersistentVolumeClaim that does not exist.

ITBench patches the Deployment's pod template with a volume from a claim nobody created (and a
mount of it in the named container): a rollout whose new pod the scheduler cannot place
(``persistentvolumeclaim "<claim>" not found``), so it stays ``Pending`` and ``KubePodNotReady``
fires. The answer key follows scenario 53's: the Deployment is the root, aliased with its Pods,
the claim a group of its own.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from itbench_server.errors import GeneratorError
from itbench_server.synth.cluster import SECOND, JsonObject, Pod
from itbench_server.synth.faults.base import Fault, Group, Incident, RootCause, chain
from itbench_server.synth.faults.lifecycle import unschedulable
from itbench_server.synth.faults.workload import MANAGER

__all__ = ["STORAGE_FAULTS", "MissingVolumeClaimFault"]


class MissingVolumeClaimFault(Fault):
    name = "missing-pvc"
    summary = (
        "a BookInfo Deployment's pods mount a PersistentVolumeClaim that does not exist and stay Pending"
    )
    itbench_id = "nonexistent-kubernetes-workload-persistent-volume-claim"
    applications: ClassVar[tuple[str, ...]] = ("bookinfo",)

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        self.target: str = self.param(
            "target", lambda: rng.choice(("reviews-v3", "ratings-v1", "details-v1"))
        )
        # the container that mounts the claim; by default the workload's main container
        self.container: str = self.param("container", lambda: "")
        self.claim: str = self.param("claim", lambda: f"{self.target}-pvc")
        self.message = (
            f'0/4 nodes are available: persistentvolumeclaim "{self.claim}" not found. '
            "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
        )
        self.namespace = ""

    def involved_workloads(self) -> set[str]:
        return {self.target}

    def change(self, template: JsonObject) -> None:
        spec = template["spec"]
        spec.setdefault("volumes", []).append(
            {"name": f"{self.target}-data", "persistentVolumeClaim": {"claimName": self.claim}}
        )
        container = next(c for c in spec["containers"] if c["name"] == self.container)
        container.setdefault("volumeMounts", []).append(
            {"mountPath": "/opt/data", "name": f"{self.target}-data"}
        )

    def inject(self, incident: Incident) -> None:
        cluster = incident.cluster
        if self.target not in cluster.deployments:
            raise GeneratorError(f"fault {self.name!r}: unknown workload {self.target!r}")
        self.namespace = cluster.app.namespace
        self.container = self.container or cluster.app.container_of(self.target)
        template = cluster.deployments[self.target].spec(incident.fault_at)[0]["template"]
        if all(c["name"] != self.container for c in template["spec"]["containers"]):
            raise GeneratorError(f"fault {self.name!r}: {self.target} has no container {self.container!r}")
        _replicaset, pods = cluster.rollout(
            self.target,
            incident.fault_at,
            self.change,
            lambda created: unschedulable(created, self.message),
            manager=MANAGER,
            fields={"f:spec": {"f:template": {"f:spec": {"f:containers": {}, "f:volumes": {}}}}},
        )
        self._planted(incident, pods)

    def _planted(self, incident: Incident, pods: list[Pod]) -> None:
        for pod in pods:
            incident.cluster.event(
                pod.created + SECOND,
                incident.cluster.pod_ref(pod, container=False),
                "FailedScheduling",
                self.message,
                type_="Warning",
                component="default-scheduler",
                repeat_until=incident.end,
                every=150 * SECOND,
            )

    def root_cause(self, incident: Incident) -> RootCause:
        namespace = incident.cluster.app.namespace
        t = self.target
        deployment, pod, claim = f"{t}-deployment-1", f"{t}-pod-1", f"{t}-pvc-1"
        return RootCause(
            groups=[
                Group(deployment, "Deployment", [rf"{t}\b"], namespace=namespace, root_cause=True),
                Group(pod, "Pod", [f"{t}-.*"], namespace=namespace),
                Group(claim, "PersistentVolumeClaim", [rf"{t}\b"], namespace=namespace),
            ],
            aliases=[[deployment, pod]],
            propagations=chain(
                [deployment, claim, pod],
                [
                    (
                        f"{t} deployment configured to mount the PersistentVolumeClaim {self.claim}, which does "
                        "not exist",
                        "Kubernetes cannot bind the volume claim, blocking pod creation",
                    ),
                    (
                        f"the PersistentVolumeClaim {self.claim} cannot be found",
                        f"{t} pods remain Pending and never become Ready (KubePodNotReady)",
                    ),
                ],
            ),
            origins={},
            fault=[
                {
                    "category": "Change",
                    "condition": f"Deployment '{t}' modified to reference a nonexistent PersistentVolumeClaim "
                    f"({self.claim}), preventing persistent storage from being mounted",
                    "entity": {"group_id": deployment, "kind": "Deployment", "name": t},
                    "fault_mechanism": "nonexistent-persistent-volume-claim",
                }
            ],
            actions=[
                f"Roll the {t} deployment back to its previous revision (kubectl rollout undo deployment/{t} "
                f"-n {namespace})",
                f"Or create the PersistentVolumeClaim {self.claim} with a valid storageClassName",
            ],
        )


STORAGE_FAULTS: tuple[type[Fault], ...] = (MissingVolumeClaimFault,)
