"""Look-alikes of the public ITBench scenarios: one row per scenario, as data.

Each row says what the public scenario injects, in the generator's terms: which fault, on which
workloads, with which parameters (the Chaos Mesh Schedule's name as the recorded answer key
names it, a partition's pre-scaled side, the flags and their variants, ...). ``synth --like N``
writes an incident shaped like scenario N; ``synth --suite aa`` writes all of them.

The facts come from ITBench's public scenario definitions and answer keys; where the two
disagree (a scenario file that drifted from what was recorded), the row follows the answer key,
which was written from the recording. Adding a scenario is adding a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from itbench_server.errors import GeneratorError

__all__ = ["LOOKALIKES", "LOOKALIKE_BY_NUMBER", "SUITES", "LookAlike", "lookalike", "suite"]


@dataclass(frozen=True)
class LookAlike:
    """A public scenario: its number, what happens in it, and its injections
    ((fault, parameters), in order)."""

    number: int
    what: str
    injections: tuple[tuple[str, dict[str, Any]], ...]
    application: str = "otel-demo"  # ``Application.name``: the OpenTelemetry Demo, or "bookinfo"

    @property
    def cpu_limits(self) -> bool:
        """Whether the demo runs with the CPU requests and limits ITBench's Helm values have set
        since 2026-03-24 (ad, recommendation, accounting): not for the scenarios whose answer
        keys were last written, from their recordings, before that (2026-03-22)."""
        return self.number not in _KEYS_BEFORE_CPU_LIMITS


# The public scenarios whose answer keys ITBench last revised on 2026-03-22, two days before its
# Helm values gave the demo's ad, recommendation and accounting containers CPU limits; from
# 2026-02-18 the values set no resources at all. Scenario 3's key (ad burning four cores, no
# CPUThrottlingHigh) fits a recording without a limit on ad.
_KEYS_BEFORE_CPU_LIMITS: Final = frozenset(
    {1, 3, 16, 18, 20, 23, 27, 30, 31, 33, 34, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 102}
)


def _row(number: int, what: str, *injections: tuple[str, dict[str, Any]]) -> LookAlike:
    return LookAlike(number, what, injections)


def _bookinfo(number: int, what: str, *injections: tuple[str, dict[str, Any]]) -> LookAlike:
    return LookAlike(number, what, injections, "bookinfo")


def _flags(**flags: str) -> tuple[str, dict[str, Any]]:
    return ("feature-flag", {"flags": dict(flags)})


def _f(fault: str, **params: Any) -> tuple[str, dict[str, Any]]:
    return (fault, params)


LOOKALIKES: Final[tuple[LookAlike, ...]] = (
    # --- feature flags (ITBench restarts flagd and the flagged workloads after the edit)
    _row(
        1,
        "loadGeneratorFloodHomepage: the load generator floods the home page",
        _flags(loadGeneratorFloodHomepage="on"),
    ),
    _row(2, "cartFailure: emptying a cart fails", _flags(cartFailure="on")),
    _row(3, "adHighCpu: the ad service burns CPU", _flags(adHighCpu="on")),
    _row(4, "productCatalogFailure: one product fails in the catalogue", _flags(productCatalogFailure="on")),
    _row(5, "adFailure: a share of ad requests fail", _flags(adFailure="on")),
    _row(6, "adManualGc: the ad service runs full garbage collections", _flags(adManualGc="on")),
    _row(7, "paymentFailure at 100%: every charge fails", _flags(paymentFailure="100%")),
    _row(8, "paymentUnreachable: checkout cannot reach payment", _flags(paymentUnreachable="on")),
    _row(
        9,
        "recommendationCacheFailure: the recommendation cache leaks",
        _flags(recommendationCacheFailure="on"),
    ),
    _row(10, "imageSlowLoad at 10 s: product images load slowly", _flags(imageSlowLoad="10sec")),
    _row(11, "kafkaQueueProblems: the Kafka queue floods, consumers lag", _flags(kafkaQueueProblems="on")),
    _row(
        12,
        "productCatalogFailure and recommendationCacheFailure at once",
        _flags(productCatalogFailure="on", recommendationCacheFailure="on"),
    ),
    _row(
        13,
        "paymentFailure and paymentUnreachable at once",
        _flags(paymentFailure="100%", paymentUnreachable="on"),
    ),
    _row(14, "paymentFailure and adFailure at once", _flags(paymentFailure="100%", adFailure="on")),
    _row(15, "paymentUnreachable and adFailure at once", _flags(paymentUnreachable="on", adFailure="on")),
    # --- a workload's spec
    _row(
        16,
        "shipping's QUOTE_ADDR set to quote:0000",
        _f("bad-env", target="shipping", variable="QUOTE_ADDR", value="quote:0000"),
    ),
    _row(
        20,
        "product-catalog rolled out with an image that does not exist",
        _f("bad-image", target="product-catalog"),
    ),
    _row(23, "checkout rolled out with an arm64 image", _f("unsupported-architecture", target="checkout")),
    _row(
        24,
        "checkout's KAFKA_ADDR set to kafka:9999: checkout crash-loops",
        _f("bad-env", target="checkout", variable="KAFKA_ADDR", value="kafka:9999"),
    ),
    _row(
        33,
        "ad and cart require a node that does not exist",
        _f("node-selector", target="ad"),
        _f("node-selector", target="cart"),
    ),
    _row(34, "valkey-cart restarted with a password cart does not know", _f("valkey-password")),
    _row(43, "frontend's dnsPolicy set to Default", _f("dns-policy", target="frontend")),
    _row(44, "payment requires an anti-affinity no node satisfies", _f("anti-affinity", target="payment")),
    _row(45, "email's init container never finishes", _f("hanging-init", target="email")),
    _row(49, "cart's readiness probe on a closed port", _f("readiness-probe", target="cart")),
    _row(
        56,
        "product-catalog rolled out with an image that does not exist, checkout's pods recreated",
        _f("bad-image", target="product-catalog", delete_pods=["checkout"]),
    ),
    _row(
        57,
        "checkout rolled out with an arm64 image, its pods recreated",
        _f("unsupported-architecture", target="checkout", delete_pods=["checkout"]),
    ),
    _row(58, "accounting scaled to zero", _f("scaled-to-zero", target="accounting")),
    _row(
        59,
        "recommendation's init container fails on the malformed ConfigMap features",
        _f("crashing-init", target="recommendation", configmap="features"),
    ),
    _row(
        60,
        "recommendation's init container fails on a malformed ConfigMap, and checkout rolled out with an arm64 image",
        _f("crashing-init", target="recommendation", configmap="features"),
        _f("unsupported-architecture", target="checkout", delete_pods=["checkout"]),
    ),
    _row(
        105,
        "product-catalog's command replaced with one that does not exist",
        _f("invalid-command", target="product-catalog"),
    ),
    # --- Chaos Mesh (Schedule names as the recorded answer keys give them)
    _row(
        17,
        "NetworkChaos delays product-catalog by 20 s",
        _f(
            "network-delay",
            target="product-catalog",
            latency_ms=20000,
            schedule="otel-demo-product-catalog-network-delay",
        ),
    ),
    _row(
        18,
        "PodChaos pod-failure on checkout",
        _f("pod-failure", target="checkout", schedule="otel-demo-product-catalog-network-delay"),
    ),
    _row(
        19,
        "NetworkChaos partitions shipping from quote",
        _f(
            "network-partition",
            target="shipping",
            peer="quote",
            schedule="otel-demo-email-checkout-network-partition",
        ),
    ),
    _row(
        21,
        "StressChaos fills valkey-cart's memory",
        _f(
            "stress",
            target="valkey-cart",
            stressor="memory",
            size="100%",
            workers=4,
            schedule="otel-demo-valkey-memory-stress",
        ),
    ),
    _row(
        22,
        "StressChaos fills ad's memory",
        _f(
            "stress",
            target="ad",
            stressor="memory",
            size="100%",
            workers=4,
            schedule="otel-demo-ad-memory-stress",
        ),
    ),
    _row(
        25,
        "StressChaos loads recommendation's CPU",
        _f(
            "stress",
            target="recommendation",
            stressor="cpu",
            load=100,
            workers=30,
            schedule="otel-demo-recommendation-cpu-stress",
        ),
    ),
    _row(
        26,
        "HTTPChaos replaces the bodies of POST requests to email",
        _f("http-chaos", target="email", action="patch", schedule="email-http-chaos-post-body-tamper"),
    ),
    _row(
        27,
        "HTTPChaos aborts POST requests to quote",
        _f("http-chaos", target="quote", action="abort", schedule="otel-demo-quote-http-chaos-abort"),
    ),
    _row(
        29,
        "JVMChaos makes AdService.getInstance return null",
        _f("jvm-chaos", target="ad", action="ruleData", schedule="jvm-return-otel-demo-adservice"),
    ),
    _row(
        35,
        "JVMChaos fills the ad service's heap",
        _f("jvm-chaos", target="ad", action="stress", schedule="otel-demo-ad-jvm-chaos"),
    ),
    _row(
        54,
        "StressChaos fills the API server's memory",
        _f(
            "stress",
            target="kube-apiserver",
            stressor="memory",
            size="6GB",
            workers=4,
            mode="one",
            schedule="api-server-memory-stress",
        ),
    ),
    _row(
        55,
        "IOChaos delays etcd's disk",
        _f(
            "io-chaos",
            target="etcd",
            delay="200ms",
            percent=50,
            duration="5m",
            schedule="api-server-memory-stress",
        ),
    ),
    _row(
        61,
        "NetworkChaos drops every packet from checkout to payment",
        _f(
            "network-loss",
            target="checkout",
            peer="payment",
            loss="100",
            schedule="checkout-payment-network-loss",
        ),
    ),
    _row(
        80,
        "NetworkChaos partitions checkout from kafka (kafka scaled to 2 first)",
        _f(
            "network-partition",
            target="checkout",
            peer="kafka",
            prescale="kafka",
            schedule="otel-demo-checkout-kafka-network-partition",
        ),
    ),
    _row(
        81,
        "NetworkChaos partitions shipping from quote (quote scaled to 2 first)",
        _f(
            "network-partition",
            target="shipping",
            peer="quote",
            prescale="quote",
            schedule="otel-demo-shipping-quote-network-partition",
        ),
    ),
    _row(
        83,
        "NetworkChaos partitions fraud-detection from kafka (fraud-detection scaled to 2 first)",
        _f(
            "network-partition",
            target="fraud-detection",
            peer="kafka",
            prescale="fraud-detection",
            schedule="fraud-detection-kafka-network-partition",
        ),
    ),
    _row(
        91,
        "NetworkChaos partitions fraud-detection from kafka",
        _f(
            "network-partition",
            target="fraud-detection",
            peer="kafka",
            prescale="fraud-detection",
            schedule="otel-demo-fraud-detection-kafka-network-partition",
        ),
    ),
    # --- the cluster and the configuration around the workloads
    _row(30, "ad's Service targets port 9999", _f("service-target-port", target="ad")),
    _row(
        31,
        "a NetworkPolicy blocks all ingress to frontend",
        _f("network-policy", target="frontend", policy="frontend-block-all-ports"),
    ),
    _row(37, "nothing injected: a FinOps scenario with autoscaling on", _f("no-fault", autoscaling=True)),
    _row(
        39,
        "payment pinned to a node that is cordoned, behind a strict PodDisruptionBudget",
        _f("cordoned-node", target="payment", pdb="payment-pdb"),
    ),
    _row(
        42,
        "high-priority pods preempt payment",
        _f("priority-preemption", target="payment", workload="eviction-pod"),
    ),
    _row(51, "a workload floods the API server with list requests", _f("api-server-surge", rps=1000)),
    _row(
        63,
        "the credentials in email-service-secret replaced",
        _f("secret-credentials", target="email", secret="email-service-secret"),
    ),
    _row(114, "product-catalog's Service deleted", _f("deleted-service", target="product-catalog")),
    # --- resources
    _row(
        38,
        "the fraud-detection, frontend and image-provider autoscalers patched to low targets",
        _f("hpa-misconfig", targets=["fraud-detection", "frontend", "image-provider"]),
    ),
    _row(40, "valkey-cart fills its memory until it is OOMKilled", _f("valkey-oom")),
    _row(
        41,
        "cart's limits removed, then a StressChaos fills its memory",
        _f("unassigned-limits", target="cart", schedule="cart-stress-chaos-memory"),
    ),
    _row(
        46, "postgresql limited to 5m CPU and 5Mi memory", _f("insufficient-resources", target="postgresql")
    ),
    _row(
        102,
        "a memory ResourceQuota below what the namespace uses; ad scaled down cannot come back",
        _f("resource-quota", target="ad"),
    ),
    # --- BookInfo in Istio's ambient mesh (namespace book-info)
    _bookinfo(
        36,
        "details' Service selects no pod: productpage's calls to details fail",
        _f("service-selector", target="details"),
    ),
    _bookinfo(
        47,
        "an AuthorizationPolicy denies GET on the bookinfo gateway: every request gets a 403",
        _f(
            "gateway-authorization-policy",
            gateway="bookinfo-gateway",
            methods=["GET"],
            policy="bookinfo-gateway-deny",
        ),
    ),
    _bookinfo(
        48, "book-info loses its ambient-mode label: its pods leave the mesh", _f("ambient-mode-disabled")
    ),
    _bookinfo(
        50,
        "strict mutual TLS enforced on productpage-v1: its calls to details and reviews are reset",
        _f("strict-mtls", target="productpage-v1"),
    ),
    _bookinfo(
        53,
        "reviews-v3 mounts a PersistentVolumeClaim that does not exist: its new pod stays Pending",
        _f("missing-pvc", target="reviews-v3", container="reviews"),
    ),
)

LOOKALIKE_BY_NUMBER: Final[dict[int, LookAlike]] = {row.number: row for row in LOOKALIKES}
# The public ITBench-AA set: every look-alike (``synth --suite aa``).
SUITES: Final[dict[str, tuple[int, ...]]] = {"aa": tuple(sorted(LOOKALIKE_BY_NUMBER))}


def lookalike(number: int) -> LookAlike:
    """The row of public scenario ``number``."""
    row = LOOKALIKE_BY_NUMBER.get(number)
    if row is None:
        known = ", ".join(str(n) for n in sorted(LOOKALIKE_BY_NUMBER))
        raise GeneratorError(f"no look-alike of scenario {number}: choose one of {known}")
    return row


def suite(name: str) -> tuple[int, ...]:
    """The scenario numbers of a named suite."""
    if name not in SUITES:
        raise GeneratorError(f"unknown suite {name!r}: choose one of {', '.join(SUITES)}")
    return SUITES[name]
