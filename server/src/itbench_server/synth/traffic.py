"""Requests through the demo: spans (client/server pairs along the call graph) and their logs.

``Traffic.request`` plays one user journey at a time ``t`` against the cluster's state at ``t``
(which pods are ready) and the fault's ``Disruption`` (failing operations, unreachable peers,
extra latency). The same function feeds the span metrics and alerts (a fixed-rate simulation,
independent of the output size) and the spans written to ``otel_traces_raw.tsv``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache

from itbench_server.synth.cluster import SECOND, Cluster, Pod
from itbench_server.synth.topology import WORKLOAD_BY_NAME, Call, Flow

MS = 1_000_000  # nanoseconds


@dataclass(frozen=True)
class Failure:
    """How a call fails: the span's status message, its duration and the error's code."""

    message: str
    ms: float = 2.0
    code: str = "UNAVAILABLE"


class Disruption:
    """A fault's effect on traffic. The base class disrupts nothing."""

    def client_failure(self, t: int, caller: str, callee: str, operation: str) -> Failure | None:
        """A call that fails before reaching the callee (no server span)."""
        return None

    def server_failure(
        self, t: int, service: str, operation: str, rng: random.Random, product: str = ""
    ) -> Failure | None:
        """The callee itself answers with an error (``product``: the product the request is about)."""
        return None

    def latency_factor(self, t: int, service: str) -> float:
        return 1.0

    def consumes(self, t: int, service: str) -> bool:
        """Whether Kafka consumer ``service`` receives the messages published at ``t``."""
        return True

    def flood(self, t: int) -> float:
        """Extra home-page requests per ordinary request (a flooding load generator)."""
        return 0.0


class Disruptions(Disruption):
    """Several disruptions at once (several faults, or a fault and the noise): the first failure
    wins, latency factors multiply, a consumer must be reachable in all of them."""

    def __init__(self, parts: list[Disruption]) -> None:
        self.parts = parts

    def client_failure(self, t: int, caller: str, callee: str, operation: str) -> Failure | None:
        for part in self.parts:
            failure = part.client_failure(t, caller, callee, operation)
            if failure is not None:
                return failure
        return None

    def server_failure(
        self, t: int, service: str, operation: str, rng: random.Random, product: str = ""
    ) -> Failure | None:
        for part in self.parts:
            failure = part.server_failure(t, service, operation, rng, product)
            if failure is not None:
                return failure
        return None

    def latency_factor(self, t: int, service: str) -> float:
        factor = 1.0
        for part in self.parts:
            factor *= part.latency_factor(t, service)
        return factor

    def consumes(self, t: int, service: str) -> bool:
        return all(part.consumes(t, service) for part in self.parts)

    def flood(self, t: int) -> float:
        return sum(part.flood(t) for part in self.parts)


@dataclass(slots=True)
class Span:
    start: int
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: str  # Server Client Internal Producer Consumer
    service: str
    pod: Pod | None
    duration: int
    status: str  # Unset Ok Error
    message: str
    attributes: dict[str, str]
    exception: str = ""  # exception type, when the span records an exception event
    shared: bool = False  # attributes are a cached, never-mutated mapping (formatters may cache by identity)


@dataclass
class Outcome:
    """A simulated request: its spans and whether it failed at the edge."""

    flow: Flow
    spans: list[Span] = field(default_factory=list)
    failed: bool = False


def _refused(caller: str, callee: str, cluster: Cluster) -> Failure:
    by_name = cluster.app.workload_by_name
    address = f"{cluster.cluster_ips.get(callee, '10.96.0.1')}:{by_name[callee].port or 8080}"
    language = by_name[caller].language
    if language == "go":
        return Failure(
            f'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp {address}: connect: connection refused"',
            1.5,
        )
    if language == "nodejs":
        return Failure(
            f"14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED {address}", 2.5
        )
    if language == "rust":
        return Failure(
            f"error sending request for url (http://{callee}:{WORKLOAD_BY_NAME[callee].port}/getquote): error trying to connect: tcp connect error: Connection refused (os error 111)",
            1.0,
            "500",
        )
    if language == "dotnet" and callee == "valkey-cart":
        return Failure(
            f"It was not possible to connect to the redis server(s). ConnectTimeout on {callee}:6379/Interactive",
            5000.0,
        )
    if language == "python":
        return Failure(
            f'<_InactiveRpcError of RPC that terminated with: status = StatusCode.UNAVAILABLE details = "failed to connect to all addresses; last error: UNKNOWN: ipv4:{address}: Failed to connect to remote host: Connection refused">',
            3.0,
        )
    return Failure(f"Connection refused ({address})", 2.0)


_WRAP = {
    ("checkout", "oteldemo.PaymentService/Charge"): "failed to charge card: could not charge the card",
    ("checkout", "oteldemo.ShippingService/GetQuote"): "failed to get shipping quote",
    ("checkout", "oteldemo.CartService/GetCart"): "failed to get user cart during checkout",
    (
        "checkout",
        "oteldemo.ProductCatalogService/GetProduct",
    ): "failed to prepare order: failed to get product",
    ("checkout", "oteldemo.CurrencyService/Convert"): "failed to convert price",
    ("checkout", "oteldemo.CartService/EmptyCart"): "failed to empty user cart during checkout",
    ("checkout", "oteldemo.ShippingService/ShipOrder"): "shipping error",
}


def _wrap(service: str, operation: str, inner: Failure) -> Failure:
    # BookInfo's services are not in the demo's table: their errors pass through as they are
    workload = WORKLOAD_BY_NAME.get(service)
    language = workload.language if workload is not None else ""
    prefix = _WRAP.get((service, operation))
    if language == "go":
        text = f"{prefix or operation + ' failed'}: {inner.message}"
    elif language == "nodejs":
        text = f"{inner.code if inner.code.isdigit() else '13 INTERNAL'}: {inner.message}"
    elif language == "rust":
        text = f"failed to get quote: {inner.message}"
    else:
        text = inner.message
    return Failure(text, inner.ms, "INTERNAL" if inner.code == "UNAVAILABLE" else inner.code)


@cache
def _span_attributes(
    service: str, name: str, kind: str, protocol: str, status: str, peer: str
) -> dict[str, str]:
    attributes: dict[str, str] = {}
    if protocol in ("grpc", "flagd"):
        method = name.rsplit("/", 1)
        attributes["rpc.system"] = "grpc"
        if len(method) == 2:
            attributes["rpc.service"] = method[0]
            attributes["rpc.method"] = method[1]
        attributes["rpc.grpc.status_code"] = "14" if status == "Error" else "0"
        if kind == "Client":
            attributes["server.address"] = peer
            attributes["server.port"] = str(WORKLOAD_BY_NAME[peer].port or 8080)
    elif protocol == "http":
        verb, _, path = name.partition(" ")
        attributes["http.request.method"] = verb or "GET"
        attributes["url.path"] = path or "/"
        attributes["http.response.status_code"] = "500" if status == "Error" else "200"
        if kind == "Client":
            attributes["server.address"] = peer
    elif protocol == "redis":
        attributes["db.system"] = "redis"
        attributes["db.statement"] = f"{name} cart:user"
        attributes["server.address"] = peer
    elif protocol == "sql":
        attributes["db.system"] = "postgresql"
        attributes["db.name"] = "otel"
        attributes["server.address"] = peer
    elif protocol in ("kafka", "consume"):
        attributes["messaging.system"] = "kafka"
        attributes["messaging.destination.name"] = "orders"
        attributes["messaging.operation"] = "publish" if protocol == "kafka" else "process"
    return attributes


class Traffic:
    """Plays user journeys against the cluster and the fault's disruption."""

    def __init__(self, cluster: Cluster, disruption: Disruption, rng: random.Random) -> None:
        self.cluster = cluster
        self.disruption = disruption
        self.rng = rng
        self._product = ""
        self.app = cluster.app
        # Services whose pods belong to other Deployments (BookInfo's reviews -> reviews-v1..v3)
        self._behind = {
            spec.name: spec.workloads for spec in self.app.services if spec.workloads != (spec.name,)
        }
        weights = [flow.weight for flow in self.app.flows]
        total = sum(weights)
        self._cumulative: list[float] = []
        running = 0.0
        for weight in weights:
            running += weight / total
            self._cumulative.append(running)

    def pick_flow(self) -> Flow:
        x = self.rng.random()
        for flow, bound in zip(self.app.flows, self._cumulative, strict=True):
            if x <= bound:
                return flow
        return self.app.flows[-1]

    def _id64(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    def _pod(self, service: str, t: int) -> Pod | None:
        behind = self._behind.get(service)
        if behind is None:
            pods = self.cluster.ready_pods(service, t)
        else:
            pods = [pod for workload in behind for pod in self.cluster.ready_pods(workload, t)]
        if not pods:
            return None
        return pods[0] if len(pods) == 1 else self.rng.choice(pods)

    def _jitter(self, ms: float, service: str, t: int) -> int:
        factor = 0.55 + self.rng.random() * 0.9
        if self.rng.random() < 0.03:
            factor *= 4.0  # the long tail
        return int(ms * factor * self.disruption.latency_factor(t, service) * MS)

    def request(self, t: int, flow: Flow | None = None) -> Outcome:
        flow = flow or self.pick_flow()
        outcome = Outcome(flow)
        spans = outcome.spans
        trace_id = f"{self.rng.getrandbits(128):032x}"
        self._product = self.rng.choice(self.app.products)
        path = flow.path.replace("{id}", self._product).replace(
            "{file}", self.rng.choice(self.app.image_files)
        )
        edge, client = self.app.edge, self.app.client
        route_name = (
            f"{flow.method} {flow.path.replace('{id}', '[productId]')}"
            if flow.route == "frontend"
            else f"{flow.method} {path}"
        )
        generator = Span(
            t,
            trace_id,
            self._id64(),
            "",
            flow.method,
            "Client",
            client,
            self._pod(client, t),
            0,
            "Unset",
            "",
            {"http.request.method": flow.method, "url.full": f"http://{edge}:{self.app.edge_port}{path}"},
        )
        spans.append(generator)
        proxy_pod = self._pod(edge, t)
        start = t + int(0.4 * MS)
        if proxy_pod is None:
            generator.status = "Error"
            generator.message = "Connection refused"
            generator.duration = 2 * MS
            outcome.failed = True
            return outcome
        ingress = Span(
            start,
            trace_id,
            self._id64(),
            generator.span_id,
            "ingress",
            "Server",
            edge,
            proxy_pod,
            0,
            "Unset",
            "",
            {"http.request.method": flow.method, "url.path": path, "upstream_cluster": flow.route},
        )
        egress = Span(
            start + int(0.1 * MS),
            trace_id,
            self._id64(),
            ingress.span_id,
            f"router {flow.route} egress",
            "Client",
            edge,
            proxy_pod,
            0,
            "Unset",
            "",
            {"upstream_cluster": flow.route},
        )
        spans.extend((ingress, egress))
        failure = self.disruption.client_failure(egress.start, edge, flow.route, flow.path)
        route_pod = self._pod(flow.route, egress.start) if failure is None else None
        if failure is not None:
            duration = int(failure.ms * MS)
        elif route_pod is None:
            failure = Failure(
                "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
                1.0,
                "503",
            )
            duration = 1 * MS
        else:
            server = Span(
                egress.start + int(0.2 * MS),
                trace_id,
                self._id64(),
                egress.span_id,
                route_name,
                "Server",
                flow.route,
                route_pod,
                0,
                "Unset",
                "",
                {"http.request.method": flow.method, "http.route": flow.path, "url.path": path},
            )
            spans.append(server)
            own, failure = self._children(
                flow.route, route_pod, server, flow.calls, server.start + int(0.5 * MS)
            )
            server.duration = own + self._jitter(flow.frontend_ms, flow.route, t)
            if failure is not None:
                server.status = "Error"
                server.message = failure.message if flow.route != "frontend" else ""
                server.attributes = {**server.attributes, "http.response.status_code": "500"}
            else:
                server.attributes = {**server.attributes, "http.response.status_code": "200"}
            duration = server.duration + int(0.6 * MS)
        egress.duration = duration
        ingress.duration = duration + int(0.3 * MS)
        generator.duration = ingress.duration + int(1.2 * MS)
        if failure is not None:
            code = failure.code if failure.code in ("403", "503", "504") else "500"
            for span in (egress, ingress, generator):
                span.status = "Error"
                span.attributes = {**span.attributes, "http.response.status_code": code}
            outcome.failed = True
        else:
            for span in (egress, ingress, generator):
                span.attributes = {**span.attributes, "http.response.status_code": "200"}
        return outcome

    def _children(
        self, service: str, pod: Pod, parent: Span, calls: tuple[Call, ...], start: int
    ) -> tuple[int, Failure | None]:
        """Run ``calls`` one after another from ``parent``; returns time spent and the first required failure."""
        cursor = start
        for call in calls:
            duration, failure = self._call(service, pod, parent, call, cursor)
            cursor += duration + int(0.2 * MS)
            if failure is not None and call.required:
                return cursor - start, _wrap(service, call.operation, failure)
        return cursor - start, None

    def _call(
        self, caller: str, caller_pod: Pod, parent: Span, call: Call, start: int
    ) -> tuple[int, Failure | None]:
        trace_id = parent.trace_id
        spans = self._spans
        if call.protocol == "consume":
            pod = self._pod(call.service, start)
            if pod is None or not self.disruption.consumes(start, call.service):
                return 0, None
            consumer = Span(
                start + self._jitter(40, call.service, start),
                trace_id,
                self._id64(),
                parent.span_id,
                call.operation,
                "Consumer",
                call.service,
                pod,
                0,
                "Unset",
                "",
                _span_attributes(call.service, call.operation, "Consumer", "consume", "Unset", "kafka"),
                shared=True,
            )
            spans.append(consumer)
            own, _failure = self._children(
                call.service, pod, consumer, call.calls, consumer.start + int(0.3 * MS)
            )
            consumer.duration = own + self._jitter(call.ms, call.service, start)
            failure = self.disruption.server_failure(
                start, call.service, call.operation, self.rng, self._product
            )
            if failure is not None:
                consumer.status = "Error"
                consumer.message = failure.message
                consumer.duration += int(failure.ms * MS)
                consumer.exception = _exception_type(call.service)
            return 0, None
        kind = "Producer" if call.protocol == "kafka" else "Client"
        client = Span(
            start,
            trace_id,
            self._id64(),
            parent.span_id,
            call.operation,
            kind,
            caller,
            caller_pod,
            0,
            "Unset",
            "",
            {},
        )
        spans.append(client)
        failure = self.disruption.client_failure(start, caller, call.service, call.operation)
        target_pod = self._pod(call.workload or call.service, start) if failure is None else None
        if target_pod is None and failure is None and call.workload:
            # the pinned version has no ready pod: the Service's endpoints are its other versions
            target_pod = self._pod(call.service, start)
        if failure is None and target_pod is None:
            failure = _refused(caller, call.service, self.cluster)
        if failure is not None:
            client.duration = int(failure.ms * (0.8 + self.rng.random() * 0.4) * MS)
            client.status = "Error"
            client.message = failure.message
            client.attributes = _span_attributes(
                caller, call.operation, kind, call.protocol, "Error", call.service
            )
            client.shared = True
            return client.duration, failure
        assert target_pod is not None
        if call.protocol in ("redis", "sql", "kafka"):
            client.duration = self._jitter(call.ms, call.service, start)
            client.attributes = _span_attributes(
                caller, call.operation, kind, call.protocol, "Unset", call.service
            )
            client.shared = True
            if call.protocol == "kafka":
                self._children(call.service, target_pod, client, call.calls, start + client.duration)
            return client.duration, None
        server_name = call.server_operation or call.operation
        server = Span(
            start + int(0.3 * MS),
            trace_id,
            self._id64(),
            client.span_id,
            server_name,
            "Server",
            call.service,
            target_pod,
            0,
            "Unset",
            "",
            {},
        )
        spans.append(server)
        own, failure = self._children(
            call.service, target_pod, server, call.calls, server.start + int(0.2 * MS)
        )
        server.duration = own + self._jitter(call.ms, call.service, start)
        if failure is None:
            failure = self.disruption.server_failure(
                start, call.service, call.operation, self.rng, self._product
            )
            if failure is not None:
                server.duration += int(failure.ms * MS)
                server.exception = _exception_type(call.service)
        status = "Error" if failure is not None else "Unset"
        if failure is not None:
            server.status = "Error"
            server.message = failure.message
            client.status = "Error"
            client.message = failure.message
        server.attributes = _span_attributes(
            call.service, server_name, "Server", call.protocol, status, caller
        )
        client.attributes = _span_attributes(
            caller, call.operation, kind, call.protocol, status, call.service
        )
        client.shared = server.shared = True
        client.duration = server.duration + int(0.6 * MS)
        return client.duration, failure

    def run(self, t: int, flow: Flow | None = None) -> Outcome:
        self._spans: list[Span] = []
        outcome = self.request(t, flow)
        outcome.spans.extend(self._spans)
        return outcome


def _exception_type(service: str) -> str:
    return {
        "java": "io.grpc.StatusRuntimeException",
        "nodejs": "Error",
        "dotnet": "System.ApplicationException",
        "go": "*errors.errorString",
        "python": "Exception",
        "kotlin": "java.lang.IllegalStateException",
    }.get(workload.language if (workload := WORKLOAD_BY_NAME.get(service)) else "", "Error")


# Languages whose OpenTelemetry instrumentation records an error as an ``exception`` span event
# (Envoy and nginx set the status only).
_RECORDS_EXCEPTIONS = frozenset(
    {"java", "kotlin", "nodejs", "dotnet", "go", "python", "rust", "php", "ruby", "cpp"}
)


def _frame_name(span: Span) -> str:
    """The handler's name in the service's code, from the span's operation."""
    operation = span.name.rsplit("/", 1)[-1].split(" ")[-1].strip("/") or "handler"
    return "".join(part[:1].upper() + part[1:] for part in operation.replace("-", "/").split("/") if part)


def exception_event(span: Span) -> dict[str, str] | None:
    """The attributes of the ``exception`` event an error span carries (type, message and a
    stack trace in the language's own form), or None when its instrumentation records none."""
    if span.status != "Error":
        return None
    # BookInfo's spans are its Envoy sidecars', which record no exception events.
    workload = WORKLOAD_BY_NAME.get(span.service)
    language = workload.language if workload is not None else "envoy"
    if language not in _RECORDS_EXCEPTIONS:
        return None
    kind = span.exception or _exception_type(span.service)
    message = span.message or "request failed"
    frame = _frame_name(span) or "Handle"
    module = span.service.replace("-", "")
    if language in ("java", "kotlin"):
        stack = (
            f"{kind}: {message}\n\tat io.grpc.Status.asRuntimeException(Status.java:532)\n"
            f"\tat oteldemo.{module}.{frame[:1].lower() + frame[1:]}({frame}.java:{100 + len(frame) * 7})\n"
            "\tat io.grpc.stub.ServerCalls$UnaryServerCallHandler$UnaryServerCallListener.onHalfClose(ServerCalls.java:182)"
        )
    elif language == "nodejs":
        stack = (
            f"{kind}: {message}\n    at {frame} (/usr/src/app/{module}.js:{20 + len(frame)}:11)\n"
            "    at process.processTicksAndRejections (node:internal/process/task_queues:105:5)"
        )
    elif language == "dotnet":
        stack = (
            f"{kind}: {message}\n   at {module}.services.{frame}Async() in /usr/src/app/src/services/{frame}.cs:line {40 + len(frame)}\n"
            "   at Grpc.AspNetCore.Server.Internal.CallHandlers.UnaryServerCallHandler`3.HandleCallAsyncCore(HttpContext httpContext)"
        )
    elif language == "python":
        stack = (
            "Traceback (most recent call last):\n"
            f'  File "/app/{module}_server.py", line {60 + len(frame)}, in {frame}\n    response = stub.{frame}(request)\n'
            f"{kind}: {message}"
        )
    elif language == "go":
        stack = (
            f"goroutine {40 + len(frame)} [running]:\nmain.(*{module}).{frame}(...)\n"
            f"\t/usr/src/app/main.go:{200 + len(frame) * 3} +0x{len(message) * 16:x}"
        )
    elif language == "rust":
        stack = (
            f"{kind}: {message}\n   0: {module}::{module}_service::{frame.lower()}\n"
            f"             at ./src/{module}_service.rs:{30 + len(frame)}:9"
        )
    else:
        stack = f"{kind}: {message}\n    at {module}.{frame} ({module}:{10 + len(frame)})"
    return {"exception.message": message, "exception.stacktrace": stack, "exception.type": kind}


__all__ = [
    "MS",
    "SECOND",
    "Disruption",
    "Disruptions",
    "Failure",
    "Outcome",
    "Span",
    "Traffic",
    "exception_event",
]
