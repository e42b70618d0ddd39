"""Application log lines of the demo's services, in each service's own style.

Request logs follow spans (same trace and span ids); every service's background lines are in
``log_templates``. Several styles carry tabs,
newlines, double quotes or a leading space, as real logs do, so TSV quoting is exercised.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

from itbench_server.synth.topology import PRODUCT_IDS
from itbench_server.synth.traffic import MS, Span

__all__ = ["access_log", "client_error_log", "request_log"]


def _clock(ns: int, fmt: str = "%Y-%m-%dT%H:%M:%S") -> str:
    moment = datetime.fromtimestamp(ns // 1000 / 1_000_000, UTC)
    return moment.strftime(fmt) + f".{moment.microsecond // 1000:03d}"


def _uuid(rng: random.Random) -> str:
    value = f"{rng.getrandbits(128):032x}"
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


def request_log(span: Span, rng: random.Random) -> tuple[str, str] | None:
    """(severity, body) for a server/consumer span, or None when the service logs nothing."""
    error = span.status == "Error"
    service = span.service
    name = span.name
    at = span.start + span.duration
    if service == "ad" and name.endswith("GetAds"):
        if error:
            return "ERROR", (
                "GetAds Failed with status Status{code=UNAVAILABLE, description=null, cause=null}\n"
                "io.grpc.StatusRuntimeException: UNAVAILABLE\n\tat io.grpc.Status.asRuntimeException(Status.java:532)\n"
                "\tat oteldemo.AdService$AdServiceImpl.getAds(AdService.java:225)\n\tat oteldemo.AdServiceGrpc$MethodHandlers.invoke(AdServiceGrpc.java:212)"
            )
        return (
            "INFO",
            f"Targeted ad request received for [{rng.choice(('telescopes', 'binoculars', 'accessories', 'travel'))}]",
        )
    if service == "cart":
        user = _uuid(rng)
        if error:
            return "ERROR", (
                "Can't access cart storage. System.ApplicationException: Wasn't able to connect to redis \n"
                "   at cart.cartstore.ValkeyCartStore.EnsureRedisConnected() in /usr/src/app/src/cartstore/ValkeyCartStore.cs:line 103\n"
                "   at cart.cartstore.ValkeyCartStore.GetCartAsync(String userId) in /usr/src/app/src/cartstore/ValkeyCartStore.cs:line 186"
            )
        operation = name.rsplit("/", 1)[-1]
        if operation == "AddItem":
            return (
                "INFO",
                f"AddItemAsync called with userId={user}, productId={rng.choice(PRODUCT_IDS)}, quantity={rng.randrange(1, 6)}",
            )
        return "INFO", f"{operation}Async called with userId={user}"
    if service == "checkout":
        if error:
            return "ERROR", span.message or "failed to place order"
        return (
            "INFO",
            f'payment went through (transaction_id: {_uuid(rng)})\norder confirmation email sent to "{rng.choice(("someone", "astro", "buyer"))}@example.com"',
        )
    if service == "payment":
        record: dict[str, object] = {
            "level": 50 if error else 30,
            "time": at // MS,
            "pid": 1,
            "hostname": span.pod.name if span.pod else "",
            "service.name": "payment",
            "trace_id": span.trace_id,
            "span_id": span.span_id,
        }
        if error:
            record["err"] = {
                "type": "Error",
                "message": span.message,
                "stack": f"Error: {span.message}\n    at module.exports.charge (/usr/src/app/charge.js:37:11)",
            }
            record["msg"] = "Charge request error."
            return "ERROR", json.dumps(record, separators=(",", ":"))
        record["request"] = {
            "amount": {
                "currencyCode": "USD",
                "units": rng.randrange(10, 900),
                "nanos": rng.randrange(0, 999) * 1_000_000,
            }
        }
        record["msg"] = "Charge request received."
        return "INFO", json.dumps(record, separators=(",", ":"))
    if service == "product-catalog":
        if error:
            return "ERROR", span.message
        return "INFO", f"Product Found - ID: {rng.choice(PRODUCT_IDS)}"
    if service == "currency" and name.endswith("Convert"):
        if error:
            return "ERROR", f"Convert conversion failed: {span.message or 'internal error'}"
        return "INFO", "Convert conversion successful"
    if service == "email":
        if error:
            return "ERROR", f"Failed to send order confirmation email: {span.message or 'internal error'}"
        return (
            "INFO",
            f"Order confirmation email sent to: {rng.choice(('someone', 'astro', 'buyer'))}@example.com",
        )
    if service == "shipping":
        if error:
            return "ERROR", span.message
        if name.endswith("GetQuote"):
            return "INFO", f"Received quote: {rng.randrange(5, 40)}.{rng.randrange(0, 99):02d}"
        return "INFO", f"Tracking ID Created: {_uuid(rng)}"
    if service == "quote":
        if error:
            return "ERROR", f"Failed to calculate quote: {span.message or 'internal error'}"
        return "INFO", f"Calculated quote: {rng.randrange(5, 40)}.{rng.randrange(0, 99):02d}"
    if service == "recommendation":
        if error:
            return "ERROR", f"Exception calling ListProducts: {span.message}"
        return "INFO", f"Receive ListRecommendations for product ids:{list(rng.sample(PRODUCT_IDS, 3))}"
    if service == "fraud-detection":
        if error:
            return "ERROR", f"Failed to process record: {span.message or 'internal error'}"
        return (
            "INFO",
            f"Consumed record with orderId: {_uuid(rng)}, and updated total count to: {rng.randrange(100, 9000)}",
        )
    if service == "accounting":
        if error:
            return "ERROR", f"Order parsing failed: {span.message or 'internal error'}"
        return "INFO", f'Order details: {{"orderId": "{_uuid(rng)}", "shippingTrackingId": "{_uuid(rng)}"}}'
    if service == "product-reviews":
        if error:
            return "ERROR", f"GetProductReviews failed: {span.message or 'internal error'}"
        return "INFO", f"Receive GetProductReviews for product id:{rng.choice(PRODUCT_IDS)}"
    if service == "frontend" and error:
        return (
            "ERROR",
            f"Error: {span.message or 'request failed'}\n    at process.processTicksAndRejections (node:internal/process/task_queues:105:5)",
        )
    return None


def client_error_log(span: Span) -> tuple[str, str] | None:
    """What a caller logs when one of its outgoing calls fails."""
    if span.status != "Error":
        return None
    if span.service == "frontend":
        return "ERROR", f"Error: {span.message}"
    if span.service == "recommendation":
        return (
            "ERROR",
            f'  File "/app/recommendation_server.py", line 97, in ListRecommendations\n    raise e\n{span.message}',
        )
    if span.service in ("cart", "shipping", "checkout"):
        return "WARN" if span.service == "cart" else "ERROR", span.message
    return None


def access_log(
    span: Span, path: str, status: str, upstream: str, upstream_pod: str, rng: random.Random
) -> str:
    """An Envoy access log line of frontend-proxy for an ingress span."""
    moment = _clock(span.start) + "Z"
    method = span.attributes.get("http.request.method", "GET")
    return (
        f'[{moment}] "{method} {path} HTTP/1.1" {status} - via_upstream - "-" 0 {rng.randrange(200, 90000)} {span.duration // MS} '
        f'{max(0, span.duration // MS - 1)} "-" "python-requests/2.32.3" "{_uuid(rng)}" "frontend-proxy:8080" "{upstream_pod}" '
        f"outbound|8080||{upstream}.otel-demo.svc.cluster.local - {span.pod.ip if span.pod else '-'}:8080 - -"
    )
