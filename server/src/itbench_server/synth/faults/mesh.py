"""Faults of Istio's ambient mesh, on BookInfo (``book-info``): a Gateway's traffic denied by an
AuthorizationPolicy, the namespace taken out of ambient mode, strict mutual TLS on one workload.

Each plants the object a real injection applies (an ``AuthorizationPolicy`` or a
``PeerAuthentication`` of ``security.istio.io``, or the Namespace without its
``istio.io/dataplane-mode`` label) with the patching client's managed fields, and changes
traffic the way the mesh then behaves; the answer keys follow ITBench's keys of the same type
(scenarios 47, 48 and 50).
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from itbench_server.synth.bookinfo import AMBIENT_LABEL, GATEWAY, GATEWAY_SERVICE
from itbench_server.synth.cluster import SECOND, Cluster, JsonObject, iso
from itbench_server.synth.faults.base import Fault, Group, Incident, Propagation, RootCause
from itbench_server.synth.faults.workload import MANAGER
from itbench_server.synth.traffic import Disruption, Failure

__all__ = ["MESH_FAULTS", "AmbientModeDisabledFault", "GatewayAuthorizationPolicyFault", "StrictMtlsFault"]


def _managed(at: int, fields: JsonObject, api_version: str) -> JsonObject:
    return {
        "apiVersion": api_version,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
        "manager": MANAGER,
        "operation": "Update",
        "time": iso(at),
    }


def _apply(cluster: Cluster, resource: str, kind: str, name: str, spec: JsonObject, at: int) -> None:
    """A ``security.istio.io/v1`` object created in the application's namespace at ``at``."""
    meta = cluster.metadata(name, cluster.app.namespace, at, generation=1)
    meta["managedFields"] = [
        _managed(at, {"f:spec": {key: {} for key in sorted(f"f:{k}" for k in spec)}}, "security.istio.io/v1")
    ]
    cluster.add_static(
        resource, at, {"apiVersion": "security.istio.io/v1", "kind": kind, "metadata": meta, "spec": spec}
    )


class _Denied(Disruption):
    """From ``since``, calls ``caller`` makes fail before they leave (no server span)."""

    def __init__(self, caller: str, since: int, failure: Failure) -> None:
        self.caller, self.since, self.failure = caller, since, failure

    def client_failure(self, t: int, caller: str, callee: str, operation: str) -> Failure | None:
        if t >= self.since and caller == self.caller:
            return self.failure
        return None


class GatewayAuthorizationPolicyFault(Fault):
    name = "gateway-authorization-policy"
    summary = "an Istio AuthorizationPolicy on the Gateway denying the requests of some HTTP methods (403)"
    itbench_id = "traffic-denying-istio-gateway-authorization-policy"
    applications: ClassVar[tuple[str, ...]] = ("bookinfo",)

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        self.gateway: str = self.param("gateway", lambda: GATEWAY)
        self.methods: list[str] = list(self.param("methods", lambda: ["GET"]))
        self.policy: str = self.param("policy", lambda: f"{self.gateway}-deny")
        self.since = 0
        self.namespace = ""

    def involved_workloads(self) -> set[str]:
        return {GATEWAY_SERVICE}

    def involved_objects(self) -> set[str]:
        return {f"{self.namespace}/AuthorizationPolicy/{self.policy}"}

    def inject(self, incident: Incident) -> None:
        cluster = incident.cluster
        self.namespace = cluster.app.namespace
        spec: JsonObject = {
            "action": "DENY",
            "rules": [{"to": [{"operation": {"methods": list(self.methods)}}]}],
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": self.gateway}],
        }
        _apply(cluster, "authorizationpolicies", "AuthorizationPolicy", self.policy, spec, incident.fault_at)
        self.since = incident.fault_at + 2 * SECOND  # istiod pushes the policy to the gateway

    def disruption(self) -> Disruption:
        # Every journey is a GET: the gateway answers 403 itself and forwards nothing.
        return _Denied(GATEWAY_SERVICE, self.since, Failure("RBAC: access denied", 0.3, "403"))

    def root_cause(self, incident: Incident) -> RootCause:
        namespace = incident.cluster.app.namespace
        root = f"{GATEWAY_SERVICE}-service-1"
        methods = ", ".join(self.methods)
        return RootCause(
            # ITBench's key names the gateway's Service (its filter without a word boundary)
            groups=[Group(root, "Service", [GATEWAY_SERVICE], namespace=namespace, root_cause=True)],
            aliases=[],
            propagations=[],
            origins={GATEWAY_SERVICE: root},
            fault=[
                {
                    "category": "Change",
                    "condition": f"Authorization policy {self.policy} denying {methods} requests is applied to "
                    f"{self.gateway}, served by the {GATEWAY_SERVICE} service",
                    "entity": {"group_id": root, "kind": "Service", "name": GATEWAY_SERVICE},
                    "fault_mechanism": "misconfigured_service_mesh",
                }
            ],
            actions=[f"Remove the AuthorizationPolicy {self.policy} from the namespace {namespace}"],
        )


class AmbientModeDisabledFault(Fault):
    name = "ambient-mode-disabled"
    summary = (
        "the application's namespace taken out of Istio's ambient mesh (its dataplane-mode label removed)"
    )
    itbench_id = "disabled-istio-ambient-mode-kubernetes-namespace"
    applications: ClassVar[tuple[str, ...]] = ("bookinfo",)

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        self.since = 0
        self.namespace = ""

    def involved_workloads(self) -> set[str]:
        return {GATEWAY_SERVICE}

    def involved_objects(self) -> set[str]:
        return {f"cluster/Namespace/{self.namespace}"}

    def inject(self, incident: Incident) -> None:
        cluster, at = incident.cluster, incident.fault_at
        self.namespace = cluster.app.namespace

        def change(body: JsonObject) -> None:
            body["metadata"]["labels"].pop(AMBIENT_LABEL[0], None)
            body["metadata"].setdefault("managedFields", []).append(
                _managed(at, {"f:metadata": {"f:labels": {}}}, "v1")
            )

        cluster.update_static("namespaces", "", self.namespace, at, change)
        self.since = at + 3 * SECOND  # istio-cni takes the pods out of ztunnel's redirection

    def disruption(self) -> Disruption:
        # The gateway sends mesh (HBONE) traffic that nothing in the namespace accepts any more.
        return _Denied(
            GATEWAY_SERVICE,
            self.since,
            Failure(
                "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
                1.0,
                "503",
            ),
        )

    def root_cause(self, incident: Incident) -> RootCause:
        namespace = incident.cluster.app.namespace
        root = "bookinfo-namespace-1"
        # As ITBench's key: the Namespace alone, its propagations and alerts on itself.
        return RootCause(
            groups=[Group(root, "Namespace", [namespace], namespace=namespace, root_cause=True)],
            aliases=[[root]],
            propagations=[
                Propagation(
                    root,
                    root,
                    f"Ambient mode is disabled for the {namespace} namespace",
                    "the pods leave the service mesh: the gateway's requests find no mesh endpoint, no traffic",
                ),
                Propagation(
                    root,
                    root,
                    "services outside the mesh are unknown destinations",
                    "the mesh's metrics show no requests opened or received",
                ),
            ],
            origins={},
            alerts_to=root,
            fault=[
                {
                    "category": "Change",
                    "condition": "Ambient mode is disabled in namespace",
                    "entity": {"group_id": root, "kind": "Namespace", "name": namespace},
                    "fault_mechanism": "misconfigured_service_mesh",
                }
            ],
            actions=[
                f"Label the namespace {namespace} with {AMBIENT_LABEL[0]}={AMBIENT_LABEL[1]} again",
                "Restart the affected pods so that they rejoin the mesh",
            ],
        )


class StrictMtlsFault(Fault):
    name = "strict-mtls"
    summary = "a PeerAuthentication enforcing strict mutual TLS on one workload: its calls to the mesh fail"
    itbench_id = "strict-mutual-tls-istio-service-mesh-enforcement"
    applications: ClassVar[tuple[str, ...]] = ("bookinfo",)

    def __init__(self, rng: random.Random, params: dict[str, Any] | None = None) -> None:
        super().__init__(rng, params)
        self.target: str = self.param("target", lambda: "productpage-v1")
        self.policy: str = self.param("policy", lambda: f"{self.target}-mtls")
        self.service = self.target.rsplit("-v", 1)[0]
        self.since = 0
        self.namespace = ""

    def involved_workloads(self) -> set[str]:
        return {self.target, self.service}

    def involved_objects(self) -> set[str]:
        return {f"{self.namespace}/PeerAuthentication/{self.policy}"}

    def inject(self, incident: Incident) -> None:
        cluster = incident.cluster
        self.namespace = cluster.app.namespace
        spec: JsonObject = {
            "mtls": {"mode": "STRICT"},
            "selector": {"matchLabels": cluster.app.selector(self.target)},
        }
        _apply(cluster, "peerauthentications", "PeerAuthentication", self.policy, spec, incident.fault_at)
        self.since = incident.fault_at + 2 * SECOND

    def disruption(self) -> Disruption:
        return _Denied(
            self.service,
            self.since,
            Failure(
                "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))", 2.0, "503"
            ),
        )

    def root_cause(self, incident: Incident) -> RootCause:
        namespace = incident.cluster.app.namespace
        t = self.target
        pod, service = f"{t}-pod-1", f"{t}-service-1"
        # ITBench's key filters both groups with the glob-like ``productpage-v1-*``.
        return RootCause(
            groups=[
                Group(pod, "Pod", [f"{t}-*"], namespace=namespace),
                Group(service, "Service", [f"{t}-*"], namespace=namespace, root_cause=True),
            ],
            aliases=[[pod, service]],
            propagations=[
                Propagation(
                    service,
                    pod,
                    f"Strict mTLS peer authentication policy applied to {t}",
                    f"requests of {t} to the other services are reset, leading to an increased error rate",
                )
            ],
            origins={self.service: pod},
            fault=[
                {
                    "category": "Change",
                    "condition": f"Peer authentication {self.policy} is applied to {t}, which cannot communicate "
                    "with the other services",
                    "entity": {"group_id": service, "kind": "Service", "name": t},
                    "fault_mechanism": "custom",
                }
            ],
            actions=[f"Delete the PeerAuthentication {self.policy} in namespace {namespace}"],
        )


MESH_FAULTS: tuple[type[Fault], ...] = (
    GatewayAuthorizationPolicyFault,
    AmbientModeDisabledFault,
    StrictMtlsFault,
)
