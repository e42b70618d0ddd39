"""The application a synthetic incident runs: its namespace, workloads, Services, user journeys
and install details.

``DEMO`` is the OpenTelemetry Demo of ``topology.py`` (one Service per workload, selecting
``opentelemetry.io/name``, installed by Helm); ``bookinfo.BOOKINFO`` is Istio's BookInfo. The
cluster carries its application (``Cluster.app``) and everything that builds objects, traffic,
metrics or alerts reads it from there, so a look-alike row picks the application and nothing
switches module state.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final

from itbench_server.synth.topology import (
    CHART,
    DEMO_VERSION,
    FLOWS,
    IMAGE_FILES,
    NAMESPACE,
    PRODUCT_IDS,
    TRACED,
    WORKLOADS,
    Flow,
    Workload,
    callers_of,
)

if TYPE_CHECKING:
    from itbench_server.synth.cluster import Cluster

__all__ = ["DEMO", "Application", "ServiceSpec", "demo_labels", "demo_selector"]


@dataclass(frozen=True)
class ServiceSpec:
    """A Service of the application: its port and the workloads (Deployments) it selects."""

    name: str
    port: int
    selector: tuple[tuple[str, str], ...]
    workloads: tuple[str, ...]
    port_name: str = "tcp-service"

    @property
    def selector_map(self) -> dict[str, str]:
        return dict(self.selector)


def demo_labels(name: str) -> dict[str, str]:
    """The labels Helm puts on the demo's objects."""
    return {
        "app.kubernetes.io/component": name,
        "app.kubernetes.io/instance": "otel-demo",
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": "opentelemetry-demo",
        "app.kubernetes.io/version": DEMO_VERSION,
        "helm.sh/chart": CHART,
    }


def demo_selector(name: str) -> dict[str, str]:
    return {"opentelemetry.io/name": name}


@dataclass(frozen=True)
class Application:
    """One application as deployed in the public scenarios.

    ``workloads`` are its Deployments; ``services`` its Services (name, port, selected
    workloads); ``traced`` the services that report requests (span metrics and request alerts);
    ``flows`` the user journeys that enter at ``edge`` (the ingress workload) from ``client``.
    ``labels``/``selector``/``pod_labels`` give a workload's object labels, its pods' selector
    labels and their other labels;
    ``install`` adds what else the application installs (ConfigMaps, CRDs, the mesh), after the
    namespaces, nodes and Services; ``release`` is the Helm release (None: applied with kubectl).
    """

    name: str
    namespace: str
    workloads: tuple[Workload, ...]
    services: tuple[ServiceSpec, ...]
    traced: tuple[str, ...]
    flows: tuple[Flow, ...]
    edge: str
    client: str
    edge_port: int
    labels: Callable[[str], dict[str, str]]
    selector: Callable[[str], dict[str, str]]
    pod_labels: Callable[[str], dict[str, str]]
    system_namespaces: tuple[str, ...]
    namespace_labels: tuple[tuple[str, str], ...] = ()
    release: str | None = None
    manager: str = "helm"
    service_account: Callable[[str], str] = field(default=lambda _name: "default")
    products: tuple[str, ...] = ("0",)
    image_files: tuple[str, ...] = ("",)
    # services whose client calls ``NoRequestsOpened`` watches (the mesh's TCP connections)
    opens_connections: tuple[str, ...] = ()
    instrumented: bool = True  # workloads carry the OpenTelemetry SDK's variables
    # a Deployment's main container where it is not named after the Deployment (BookInfo's reviews-v3: reviews)
    container_names: tuple[tuple[str, str], ...] = ()
    # what a size in megabytes buys (default variant, measured): bytes of one request's spans
    # and logs; of a window's objects, events, metrics and alerts; and of the infrastructure's
    # background log lines at the small size's traffic (they grow with it, up to 20 times)
    bytes_per_request: int = 7_150
    fixed_bytes: int = 5_765_000
    background_bytes: int = 765_000
    install: Callable[[Cluster, int], None] | None = None
    # a server span's log line (severity, body) in the service's style; None: logs.request_log
    request_log: Callable[[Any, random.Random], tuple[str, str] | None] | None = None

    @cached_property
    def workload_by_name(self) -> dict[str, Workload]:
        """Workloads by Deployment name, and by the name of the Service in front of them (the
        first workload a Service selects answers for it: its port and language)."""
        found = {workload.name: workload for workload in self.workloads}
        for service in self.services:
            if service.name not in found and service.workloads:
                found[service.name] = found[service.workloads[0]]
        return found

    @cached_property
    def _containers(self) -> dict[str, str]:
        return dict(self.container_names)

    def container_of(self, workload: str) -> str:
        """The name of ``workload``'s main container."""
        return self._containers.get(workload, workload)

    def service(self, name: str) -> ServiceSpec | None:
        return next((service for service in self.services if service.name == name), None)

    def workloads_of(self, service: str) -> tuple[str, ...]:
        """The Deployments behind ``service`` (itself when no Service of that name selects any)."""
        spec = self.service(service)
        return spec.workloads if spec is not None else (service,)

    def callers_of(self, service: str) -> list[str]:
        """Services with a call edge to ``service`` in the flows, in a fixed order."""
        return callers_of(service, self.flows, self.edge)


DEMO: Final = Application(
    name="otel-demo",
    namespace=NAMESPACE,
    workloads=WORKLOADS,
    services=tuple(
        ServiceSpec(w.name, w.port, tuple(demo_selector(w.name).items()), (w.name,))
        for w in WORKLOADS
        if w.port is not None
    ),
    traced=TRACED,
    flows=FLOWS,
    edge="frontend-proxy",
    client="load-generator",
    edge_port=8080,
    labels=demo_labels,
    selector=demo_selector,
    pod_labels=lambda name: {"app.kubernetes.io/component": name, "app.kubernetes.io/name": name},
    system_namespaces=("default", "kube-system", "chaos-mesh"),
    release="otel-demo",
    service_account=lambda _name: "otel-demo",
    products=PRODUCT_IDS,
    image_files=IMAGE_FILES,
)
