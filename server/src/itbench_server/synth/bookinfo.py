"""Istio's BookInfo as ITBench deploys it: namespace ``book-info`` in Istio's ambient mesh.

The namespace carries ``istio.io/dataplane-mode: ambient`` (ztunnel, a DaemonSet in
``istio-system``, carries its pods' traffic); a Gateway API ``Gateway`` ``bookinfo-gateway``
(Istio generates its ``bookinfo-gateway-istio`` Deployment and Service) and an ``HTTPRoute``
``bookinfo`` send ``/productpage`` to productpage. Workloads: productpage-v1 (Python),
details-v1 (Ruby), reviews-v1/v2/v3 (Java; v2 and v3 call ratings, v1 does not) and ratings-v1
(Node.js), each applied with ``kubectl`` from Istio's sample manifest, labelled ``app`` and
``version``, with a ServiceAccount ``bookinfo-<app>``; Services ``productpage``, ``details``,
``reviews`` (all three versions) and ``ratings`` on port 9080.

A request enters at the gateway and reaches productpage, which asks details and one version of
reviews (round robin, so one flow per version); productpage and reviews show an error text and
still answer when a backend fails, so a failing backend shows as failed client calls of its
caller. The request alerts are the ones BookInfo's keys name (``HighRequestErrorRate`` on any
error, ``NoRequestsReceived``, ``NoRequestsOpened`` for the services that open connections).
"""

from __future__ import annotations

import json
import random
from typing import Any, Final

from itbench_server.synth.application import Application, ServiceSpec
from itbench_server.synth.cluster import Cluster, custom_resource_definition, iso
from itbench_server.synth.topology import Call, Flow, Workload

__all__ = [
    "AMBIENT_LABEL",
    "BOOKINFO",
    "BOOKINFO_NAMESPACE",
    "CUSTOM_KINDS",
    "GATEWAY",
    "GATEWAY_SERVICE",
    "ISTIO_NAMESPACE",
    "ISTIO_VERSION",
    "MeshStats",
    "bookinfo_request_log",
]

BOOKINFO_NAMESPACE: Final = "book-info"
ISTIO_NAMESPACE: Final = "istio-system"
ISTIO_VERSION: Final = "1.26.2"
AMBIENT_LABEL: Final = ("istio.io/dataplane-mode", "ambient")
GATEWAY: Final = "bookinfo-gateway"
GATEWAY_SERVICE: Final = "bookinfo-gateway-istio"  # Istio's generated Deployment and Service
_SAMPLE_IMAGE = "docker.io/istio/examples-bookinfo-{name}:1.20.3"


def _workload(name: str, language: str, memory: int, cpu: int, env: dict[str, str] | None = None) -> Workload:
    return Workload(
        name=name,
        language=language,
        port=9080,
        memory_limit_mi=memory,
        image=_SAMPLE_IMAGE.format(name=name),
        env=tuple((env or {}).items()),
        cpu_millis=cpu,
        memory_mi=memory * 45 // 100,
    )


_WORKLOADS: Final = (
    _workload("details-v1", "ruby", 128, 4),
    _workload("productpage-v1", "python", 256, 15),
    _workload("ratings-v1", "nodejs", 128, 4),
    _workload("reviews-v1", "java", 512, 12, {"LOG_DIR": "/tmp/logs"}),
    _workload("reviews-v2", "java", 512, 12, {"LOG_DIR": "/tmp/logs"}),
    _workload("reviews-v3", "java", 512, 12, {"LOG_DIR": "/tmp/logs"}),
    Workload(
        name=GATEWAY_SERVICE,
        language="envoy",
        port=80,
        memory_limit_mi=1024,
        image=f"docker.io/istio/proxyv2:{ISTIO_VERSION}",
        env=(("ISTIO_META_SERVICE_ACCOUNT", f"{GATEWAY_SERVICE}"), ("ISTIO_META_CLUSTER_ID", "Kubernetes")),
        cpu_millis=10,
        memory_mi=60,
    ),
)


def _app_of(workload: str) -> str:
    return workload.rsplit("-v", 1)[0] if workload != GATEWAY_SERVICE else workload


def _version_of(workload: str) -> str:
    return workload.rsplit("-", 1)[1]


def _labels(name: str) -> dict[str, str]:
    """Object labels: a Deployment's ``app`` and ``version``, a Service's ``app`` and ``service``."""
    if name == GATEWAY_SERVICE:
        return {
            "gateway.istio.io/managed": "istio.io-gateway-controller",
            "gateway.networking.k8s.io/gateway-name": GATEWAY,
        }
    if "-v" in name:
        return {"app": _app_of(name), "version": _version_of(name)}
    return {"app": name, "service": name}


def _selector(workload: str) -> dict[str, str]:
    if workload == GATEWAY_SERVICE:
        return {"gateway.networking.k8s.io/gateway-name": GATEWAY}
    return {"app": _app_of(workload), "version": _version_of(workload)}


def _pod_labels(workload: str) -> dict[str, str]:
    if workload == GATEWAY_SERVICE:
        return {"gateway.istio.io/managed": "istio.io-gateway-controller", "sidecar.istio.io/inject": "false"}
    return {}


def _service_account(workload: str) -> str:
    return workload if workload == GATEWAY_SERVICE else f"bookinfo-{_app_of(workload)}"


def _service(name: str, *workloads: str) -> ServiceSpec:
    return ServiceSpec(name, 9080, (("app", name),), workloads, port_name="http")


_SERVICES: Final = (
    _service("details", "details-v1"),
    _service("productpage", "productpage-v1"),
    _service("ratings", "ratings-v1"),
    _service("reviews", "reviews-v1", "reviews-v2", "reviews-v3"),
    ServiceSpec(GATEWAY_SERVICE, 80, tuple(_selector(GATEWAY_SERVICE).items()), (GATEWAY_SERVICE,), "http"),
)

# Failures of details, reviews and ratings are shown on the page, not passed on as an error.
_DETAILS = Call("details", "GET /details/0", 2.0, required=False, protocol="http", workload="details-v1")
_RATINGS = Call("ratings", "GET /ratings/0", 1.5, required=False, protocol="http", workload="ratings-v1")


def _reviews(version: str, *calls: Call) -> Call:
    return Call(
        "reviews",
        "GET /reviews/0",
        6.0,
        calls,
        required=False,
        protocol="http",
        workload=f"reviews-{version}",
    )


_FLOWS: Final = (
    Flow("productpage-reviews-v1", "GET", "/productpage", 1, "productpage", 14, (_DETAILS, _reviews("v1"))),
    Flow(
        "productpage-reviews-v2",
        "GET",
        "/productpage",
        1,
        "productpage",
        14,
        (_DETAILS, _reviews("v2", _RATINGS)),
    ),
    Flow(
        "productpage-reviews-v3",
        "GET",
        "/productpage",
        1,
        "productpage",
        14,
        (_DETAILS, _reviews("v3", _RATINGS)),
    ),
)


def bookinfo_request_log(span: Any, rng: random.Random) -> tuple[str, str] | None:
    """A server span's log line in the service's own style (Flask, WEBrick, Liberty, Node.js)."""
    path = span.attributes.get("url.path") or span.name.partition(" ")[2] or "/"
    method = span.attributes.get("http.request.method", "GET")
    status = span.attributes.get("http.response.status_code", "500" if span.status == "Error" else "200")
    stamp = span.start // 1_000_000_000
    peer = span.pod.ip if span.pod is not None else "10.244.0.1"
    if span.service == "productpage":
        if span.status == "Error":
            return "ERROR", f"Error fetching product page: {span.message}"
        return "INFO", f'{peer} - - "{method} {path} HTTP/1.1" {status} -'
    if span.service == "details":
        size = rng.randrange(170, 190)
        return "INFO", f'{peer} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {size}'
    if span.service == "reviews":
        if span.status == "Error":
            return "ERROR", f"Error: unable to contact http://ratings:9080/ratings got status of {status}"
        return "INFO", f"[AUDIT   ] CWWKT0016I: Web application request {method} {path} returned {status}"
    if span.service == "ratings":
        return "INFO", f"GET {path}"
    return None


# The Istio and Gateway API kinds the recorder lists (their CRDs, and any object of them).
CUSTOM_KINDS: Final = (
    ("gateway.networking.k8s.io", "Gateway", "gateways", "v1"),
    ("gateway.networking.k8s.io", "HTTPRoute", "httproutes", "v1"),
    ("security.istio.io", "AuthorizationPolicy", "authorizationpolicies", "v1"),
    ("security.istio.io", "PeerAuthentication", "peerauthentications", "v1"),
)


def _last_applied(body: dict[str, Any]) -> dict[str, str]:
    return {
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(body, separators=(",", ":")) + "\n"
    }


def _install(cluster: Cluster, at: int) -> None:
    """What ITBench installs besides BookInfo's Deployments and Services: the ServiceAccounts,
    Istio's CRDs, istiod and ztunnel, the Gateway and its HTTPRoute."""
    namespace = BOOKINFO_NAMESPACE
    installed = cluster.installed
    for account in (
        "bookinfo-details",
        "bookinfo-productpage",
        "bookinfo-ratings",
        "bookinfo-reviews",
        "default",
    ):
        cluster.add_static(
            "serviceaccounts",
            installed,
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": cluster.metadata(
                    account, namespace, installed, labels={"account": account.removeprefix("bookinfo-")}
                ),
            },
        )
    cluster.add_static(
        "configmaps",
        installed,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": cluster.metadata("kube-root-ca.crt", namespace, installed),
            "data": {
                "ca.crt": "-----BEGIN CERTIFICATE-----\nMIIC/jCCAeagAwIBAgIBADANBgkqhkiG9w0BAQsFADAVMRMwEQYDVQQDEwprdWJl\n-----END CERTIFICATE-----\n"
            },
        },
    )
    for group, kind, plural, version in CUSTOM_KINDS:
        cluster.add_static(
            "customresourcedefinitions",
            at,
            custom_resource_definition(cluster, group, kind, plural, version, at),
        )
    gateway_spec = {
        "gatewayClassName": "istio",
        "listeners": [
            {
                "allowedRoutes": {"namespaces": {"from": "Same"}},
                "name": "http",
                "port": 80,
                "protocol": "HTTP",
            }
        ],
    }
    gateway_meta = cluster.metadata(GATEWAY, namespace, installed, generation=1)
    gateway_meta["annotations"] = _last_applied(
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"annotations": {}, "name": GATEWAY, "namespace": namespace},
            "spec": gateway_spec,
        }
    )
    cluster.add_static(
        "gateways",
        installed,
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": gateway_meta,
            "spec": gateway_spec,
            "status": {
                "addresses": [
                    {"type": "Hostname", "value": f"{GATEWAY_SERVICE}.{namespace}.svc.cluster.local"}
                ],
                "conditions": [
                    {
                        "type": "Accepted",
                        "status": "True",
                        "reason": "Accepted",
                        "message": "Resource accepted",
                        "observedGeneration": 1,
                        "lastTransitionTime": iso(installed),
                    },
                    {
                        "type": "Programmed",
                        "status": "True",
                        "reason": "Programmed",
                        "message": "Resource programmed, assigned to service(s) bookinfo-gateway-istio.book-info.svc.cluster.local:80",
                        "observedGeneration": 1,
                        "lastTransitionTime": iso(installed),
                    },
                ],
            },
        },
    )
    route_spec = {
        "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GATEWAY}],
        "rules": [
            {
                "backendRefs": [
                    {"group": "", "kind": "Service", "name": "productpage", "port": 9080, "weight": 1}
                ],
                "matches": [
                    {"path": {"type": "Exact", "value": "/productpage"}},
                    {"path": {"type": "PathPrefix", "value": "/static"}},
                    {"path": {"type": "Exact", "value": "/login"}},
                    {"path": {"type": "Exact", "value": "/logout"}},
                    {"path": {"type": "PathPrefix", "value": "/api/v1/products"}},
                ],
            }
        ],
    }
    cluster.add_static(
        "httproutes",
        installed,
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": cluster.metadata("bookinfo", namespace, installed, generation=1),
            "spec": route_spec,
            "status": {
                "parents": [
                    {
                        "controllerName": "istio.io/gateway-controller",
                        "parentRef": {
                            "group": "gateway.networking.k8s.io",
                            "kind": "Gateway",
                            "name": GATEWAY,
                        },
                        "conditions": [
                            {
                                "type": "Accepted",
                                "status": "True",
                                "reason": "Accepted",
                                "message": "Route was valid",
                                "observedGeneration": 1,
                                "lastTransitionTime": iso(installed),
                            }
                        ],
                    }
                ]
            },
        },
    )
    _istio_system(cluster, at)


def _istio_system(cluster: Cluster, at: int) -> None:
    """istiod (a Deployment) and ztunnel (a DaemonSet, one pod per worker) in istio-system."""
    labels = {"app": "istiod", "istio": "pilot", "istio.io/rev": "default"}
    cluster.static_deployment(
        "istiod",
        ISTIO_NAMESPACE,
        at,
        {
            "metadata": {"labels": labels},
            "spec": {
                "containers": [
                    {
                        "name": "discovery",
                        "image": f"docker.io/istio/pilot:{ISTIO_VERSION}",
                        "env": [{"name": "PILOT_ENABLE_AMBIENT", "value": "true"}],
                    }
                ],
                "serviceAccountName": "istiod",
            },
        },
        1,
        ready=1,
    )
    labels = {"app": "ztunnel", "app.kubernetes.io/name": "ztunnel", "sidecar.istio.io/inject": "false"}
    container = {
        "name": "istio-proxy",
        "image": f"docker.io/istio/ztunnel:{ISTIO_VERSION}",
        "securityContext": {"privileged": True},
    }
    cluster.add_static(
        "daemonsets",
        at,
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": cluster.metadata("ztunnel", ISTIO_NAMESPACE, at, labels=labels, generation=1),
            "spec": {
                "selector": {"matchLabels": {"app": "ztunnel"}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [container], "serviceAccountName": "ztunnel"},
                },
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
    owner = cluster.static_body("daemonsets", ISTIO_NAMESPACE, "ztunnel")["metadata"]["uid"]
    cluster.daemon_pods("ztunnel", ISTIO_NAMESPACE, owner, labels, container, at)


BOOKINFO: Final = Application(
    name="bookinfo",
    namespace=BOOKINFO_NAMESPACE,
    workloads=_WORKLOADS,
    services=_SERVICES,
    traced=(GATEWAY_SERVICE, "details", "productpage", "ratings", "reviews"),
    flows=_FLOWS,
    edge=GATEWAY_SERVICE,
    client="load-generator",
    edge_port=80,
    labels=_labels,
    selector=_selector,
    pod_labels=_pod_labels,
    system_namespaces=("default", ISTIO_NAMESPACE, "kube-system"),
    namespace_labels=(AMBIENT_LABEL,),
    release=None,
    manager="kubectl-client-side-apply",
    service_account=_service_account,
    opens_connections=(GATEWAY_SERVICE, "productpage", "reviews"),
    instrumented=False,
    # Istio's manifest names each container after its app (reviews-v3's container is reviews)
    container_names=(
        *((w.name, _app_of(w.name)) for w in _WORKLOADS if w.name != GATEWAY_SERVICE),
        (GATEWAY_SERVICE, "istio-proxy"),
    ),
    install=_install,
    # measured on strict-mtls (its requests fail: a denied one at the gateway alone is about
    # 2 600 bytes); the fixed part is mostly the platform around the application. BookInfo runs
    # none of the services that write background lines.
    bytes_per_request=4_660,
    fixed_bytes=3_100_000,
    background_bytes=0,
    request_log=bookinfo_request_log,
)


class MeshStats:
    """Istio's standard metrics of the simulated traffic, per 10-second slot.

    ``istio_requests_total`` is reported by the gateway (the only L7 proxy in the namespace:
    without waypoints, ambient mode sees HTTP only there), per destination Service and response
    code; ``istio_tcp_connections_opened_total`` by ztunnel, one connection per call that reached
    a pod (source and destination workloads). A call refused before it left, or sent to a pod
    outside the mesh, opens none.
    """

    def __init__(self, start: int, end: int, slot: int) -> None:
        self.start = start
        self.slot = slot
        self.slots = (end - start) // slot + 1
        # (source workload, destination service, destination workload, response code) -> per slot
        self.requests: dict[tuple[str, str, str, str], list[int]] = {}
        # (source workload, destination service, destination workload) -> per slot
        self.connections: dict[tuple[str, str, str], list[int]] = {}

    def _bump(self, table: dict[Any, list[int]], key: Any, at: int) -> None:
        index = (at - self.start) // self.slot
        if 0 <= index < self.slots:
            table.setdefault(key, [0] * self.slots)[index] += 1

    def add(self, spans: list[Any]) -> None:
        """One request's spans (a client span is the parent of the server span it reached)."""
        by_id = {span.span_id: span for span in spans}
        reached = {span.parent_id: span for span in spans if span.kind == "Server" and span.parent_id}
        for span in spans:
            if span.kind == "Server" and span.parent_id in by_id:
                parent = by_id[span.parent_id]
                if parent.kind == "Client" and span.pod is not None:
                    source = parent.pod.workload if parent.pod is not None else "unknown"
                    self._bump(self.connections, (source, span.service, span.pod.workload), span.start)
            if span.kind == "Client" and span.service == GATEWAY_SERVICE:
                server = reached.get(span.span_id)
                destination = span.attributes.get("upstream_cluster", "productpage")
                workload = server.pod.workload if server is not None and server.pod is not None else "unknown"
                code = span.attributes.get("http.response.status_code", "200")
                self._bump(self.requests, (GATEWAY_SERVICE, destination, workload, code), span.start)

    @staticmethod
    def _cumulative(series: list[int], upto: int, uptime_slots: float) -> float:
        # counters started at install time: the first slot's rate over the uptime, then the slots
        return series[0] * uptime_slots + sum(series[: max(0, upto)])

    def samples(
        self, service: str, t: int, uptime: int, namespace: str
    ) -> list[tuple[str, float, dict[str, str]]]:
        """(metric, cumulative value, labels) of the series whose destination is ``service``."""
        upto = (t - self.start) // self.slot + 1
        uptime_slots = uptime / self.slot
        out: list[tuple[str, float, dict[str, str]]] = []
        for (source, destination, workload, code), series in sorted(self.requests.items()):
            if destination != service:
                continue
            value = self._cumulative(series, upto, uptime_slots if code == "200" else 0.0)
            if value:
                labels = {
                    "destination_service": f"{destination}.{namespace}.svc.cluster.local",
                    "destination_service_name": destination,
                    "destination_workload": workload,
                    "destination_workload_namespace": namespace,
                    "reporter": "source",
                    "request_protocol": "http",
                    "response_code": code,
                    "source_workload": source,
                    "source_workload_namespace": namespace,
                }
                out.append(("istio_requests_total", value, labels))
        for (source, destination, workload), series in sorted(self.connections.items()):
            if destination != service:
                continue
            value = self._cumulative(series, upto, uptime_slots)
            if value:
                labels = {
                    "destination_service": f"{destination}.{namespace}.svc.cluster.local",
                    "destination_service_name": destination,
                    "destination_workload": workload,
                    "destination_workload_namespace": namespace,
                    "reporter": "destination",
                    "request_protocol": "tcp",
                    "source_workload": source,
                    "source_workload_namespace": namespace,
                }
                out.append(("istio_tcp_connections_opened_total", value, labels))
        return out
