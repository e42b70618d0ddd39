"""A model of the OpenTelemetry Demo ("Astronomy Shop") as deployed in the public scenarios.

Workloads carry the Kubernetes names (no ``-service`` suffix), their container ports, memory
limits, languages and the addresses they are configured with. ``FLOWS`` are the user journeys the
load generator drives: trees of calls whose client/server span pairs follow the demo's published
service dependencies (frontend -> ad/cart/checkout/currency/product-catalog/recommendation/
shipping/product-reviews, checkout -> cart/currency/email/payment/product-catalog/shipping/kafka,
shipping -> quote, recommendation -> product-catalog, cart -> valkey, accounting and
fraud-detection consuming from kafka, accounting -> postgresql, load-generator -> frontend-proxy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "CHAOS_NAMESPACE",
    "CHART",
    "DEMO_VERSION",
    "FLOWS",
    "IMAGE_FILES",
    "IMAGE_REPO",
    "NAMESPACE",
    "PRODUCT_IDS",
    "TRACED",
    "WORKLOADS",
    "WORKLOAD_BY_NAME",
    "Call",
    "Flow",
    "Workload",
    "callers_of",
]

NAMESPACE: Final = "otel-demo"
CHAOS_NAMESPACE: Final = "chaos-mesh"
DEMO_VERSION: Final = "2.0.2"
CHART: Final = "opentelemetry-demo-0.37.2"
IMAGE_REPO: Final = "ghcr.io/open-telemetry/demo"


@dataclass(frozen=True)
class Workload:
    """One Deployment of the demo and the Service in front of it (if it has a port)."""

    name: str
    language: str
    port: int | None
    memory_limit_mi: int
    image: str = ""
    env: tuple[tuple[str, str], ...] = ()
    replicas: int = 1
    cpu_millis: int = 20  # typical usage, for the metrics
    memory_mi: int = 0  # typical working set, for the metrics
    extra_containers: tuple[str, ...] = ()
    # The CPU request and limit ITBench's Helm values give the container (millicores); most
    # containers have neither (the chart's defaults set memory limits only).
    cpu_request_m: int | None = None
    cpu_limit_m: int | None = None

    @property
    def container_image(self) -> str:
        return self.image or f"{IMAGE_REPO}:{DEMO_VERSION}-{self.name}"


def _w(
    name: str,
    language: str,
    port: int | None,
    memory_limit_mi: int,
    *,
    env: dict[str, str] | None = None,
    image: str = "",
    cpu: int = 20,
    memory: int = 0,
    extra: tuple[str, ...] = (),
    cpu_resources: tuple[int, int] | None = None,
) -> Workload:
    return Workload(
        name=name,
        language=language,
        port=port,
        memory_limit_mi=memory_limit_mi,
        image=image,
        env=tuple((env or {}).items()),
        cpu_millis=cpu,
        memory_mi=memory or max(8, memory_limit_mi * 55 // 100),
        extra_containers=extra,
        cpu_request_m=cpu_resources[0] if cpu_resources else None,
        cpu_limit_m=cpu_resources[1] if cpu_resources else None,
    )


_FLAGD = {"FLAGD_HOST": "flagd", "FLAGD_PORT": "8013"}

WORKLOADS: Final[tuple[Workload, ...]] = (
    _w(
        "accounting",
        "dotnet",
        None,
        120,
        env={
            "KAFKA_ADDR": "kafka:9092",
            "DB_CONNECTION_STRING": "Host=postgresql;Username=otelu;Password=otelp;Database=otel",
        },
        cpu=15,
        cpu_resources=(250, 500),
    ),
    _w("ad", "java", 8080, 300, env={"AD_PORT": "8080", **_FLAGD}, cpu=35, cpu_resources=(50, 150)),
    _w(
        "cart",
        "dotnet",
        8080,
        160,
        env={
            "CART_PORT": "8080",
            "ASPNETCORE_URLS": "http://*:8080",
            "VALKEY_ADDR": "valkey-cart:6379",
            **_FLAGD,
        },
        cpu=25,
    ),
    _w(
        "checkout",
        "go",
        8080,
        20,
        env={
            "CHECKOUT_PORT": "8080",
            "CART_ADDR": "cart:8080",
            "CURRENCY_ADDR": "currency:8080",
            "EMAIL_ADDR": "http://email:8080",
            "PAYMENT_ADDR": "payment:8080",
            "PRODUCT_CATALOG_ADDR": "product-catalog:8080",
            "SHIPPING_ADDR": "shipping:8080",
            "KAFKA_ADDR": "kafka:9092",
            **_FLAGD,
        },
        cpu=10,
    ),
    _w("currency", "cpp", 8080, 20, env={"CURRENCY_PORT": "8080", "VERSION": DEMO_VERSION}, cpu=8),
    _w("email", "ruby", 8080, 100, env={"EMAIL_PORT": "8080", "APP_ENV": "production"}, cpu=6),
    _w(
        "flagd",
        "go",
        8013,
        75,
        image="ghcr.io/open-feature/flagd:v0.12.8",
        env={"FLAGD_METRICS_EXPORTER": "otel", "FLAGD_OTEL_COLLECTOR_URI": "$(OTEL_COLLECTOR_NAME):4317"},
        cpu=6,
        extra=("flagd-ui",),
    ),
    _w("fraud-detection", "kotlin", None, 300, env={"KAFKA_ADDR": "kafka:9092", **_FLAGD}, cpu=18),
    _w(
        "frontend",
        "nodejs",
        8080,
        250,
        env={
            "FRONTEND_PORT": "8080",
            "FRONTEND_ADDR": ":8080",
            "AD_ADDR": "ad:8080",
            "CART_ADDR": "cart:8080",
            "CHECKOUT_ADDR": "checkout:8080",
            "CURRENCY_ADDR": "currency:8080",
            "PRODUCT_CATALOG_ADDR": "product-catalog:8080",
            "RECOMMENDATION_ADDR": "recommendation:8080",
            "SHIPPING_ADDR": "shipping:8080",
            "PRODUCT_REVIEWS_ADDR": "product-reviews:8080",
            **_FLAGD,
        },
        cpu=60,
    ),
    _w(
        "frontend-proxy",
        "envoy",
        8080,
        65,
        env={
            "ENVOY_PORT": "8080",
            "FRONTEND_HOST": "frontend",
            "FRONTEND_PORT": "8080",
            "IMAGE_PROVIDER_HOST": "image-provider",
            "IMAGE_PROVIDER_PORT": "8081",
            "FLAGD_UI_HOST": "flagd",
            "FLAGD_UI_PORT": "4000",
        },
        cpu=25,
    ),
    _w("image-provider", "nginx", 8081, 50, env={"IMAGE_PROVIDER_PORT": "8081"}, cpu=4),
    _w(
        "kafka",
        "java",
        9092,
        600,
        env={
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka:9092",
            "KAFKA_HEAP_OPTS": "-Xmx400M -Xms400M",
        },
        cpu=40,
    ),
    _w(
        "load-generator",
        "python",
        8089,
        1500,
        env={
            "LOCUST_HOST": "http://frontend-proxy:8080",
            "LOCUST_USERS": "10",
            "LOCUST_SPAWN_RATE": "1",
            "LOCUST_AUTOSTART": "true",
        },
        cpu=90,
    ),
    _w("payment", "nodejs", 8080, 120, env={"PAYMENT_PORT": "8080", **_FLAGD}, cpu=12),
    _w(
        "postgresql",
        "postgres",
        5432,
        100,
        image="postgres:17.6",
        env={"POSTGRES_USER": "root", "POSTGRES_DB": "otel"},
        cpu=10,
    ),
    _w(
        "product-catalog",
        "go",
        8080,
        20,
        env={"PRODUCT_CATALOG_PORT": "8080", "PRODUCT_CATALOG_RELOAD_INTERVAL": "10", **_FLAGD},
        cpu=12,
    ),
    _w(
        "product-reviews",
        "python",
        8080,
        100,
        env={
            "PRODUCT_REVIEWS_PORT": "8080",
            "PRODUCT_CATALOG_ADDR": "product-catalog:8080",
            "DB_CONNECTION_STRING": "host=postgresql user=otelu password=otelp dbname=otel",
        },
        cpu=10,
    ),
    _w("quote", "php", 8080, 40, env={"QUOTE_PORT": "8080"}, cpu=8),
    _w(
        "recommendation",
        "python",
        8080,
        500,
        env={"RECOMMENDATION_PORT": "8080", "PRODUCT_CATALOG_ADDR": "product-catalog:8080", **_FLAGD},
        cpu=20,
        cpu_resources=(50, 200),
    ),
    _w("shipping", "rust", 8080, 20, env={"SHIPPING_PORT": "8080", "QUOTE_ADDR": "http://quote:8080"}, cpu=6),
    _w("valkey-cart", "valkey", 6379, 20, image="valkey/valkey:8.1.3-alpine", cpu=8),
    _w(
        "otel-collector", "collector", 4317, 200, image="otel/opentelemetry-collector-contrib:0.129.1", cpu=45
    ),
)

WORKLOAD_BY_NAME: Final = {w.name: w for w in WORKLOADS}

# Services that emit spans (and so have span metrics and request alerts).
TRACED: Final = (
    "accounting",
    "ad",
    "cart",
    "checkout",
    "currency",
    "email",
    "flagd",
    "fraud-detection",
    "frontend",
    "frontend-proxy",
    "image-provider",
    "load-generator",
    "payment",
    "product-catalog",
    "product-reviews",
    "quote",
    "recommendation",
    "shipping",
)


@dataclass(frozen=True)
class Call:
    """A call from the enclosing span's service to ``service`` (a client/server span pair).

    ``service`` may be an uninstrumented backend (valkey-cart, postgresql, kafka): then only the
    caller's client (or producer) span exists. ``required``: a failure fails the caller too.
    """

    service: str
    operation: str
    ms: float
    calls: tuple[Call, ...] = ()
    required: bool = True
    protocol: str = "grpc"  # grpc | http | redis | sql | kafka | flagd
    server_operation: str = ""
    workload: str = ""  # the Deployment that answers, where a Service selects several (BookInfo's reviews)


def _grpc(service: str, method: str, ms: float, *calls: Call, required: bool = True) -> Call:
    return Call(service, method, ms, calls, required, "grpc")


def _flag(flag: str) -> Call:
    return Call("flagd", "flagd.evaluation.v1.Service/ResolveBoolean", 1.2, (), False, "flagd", flag)


_VALKEY_GET = Call("valkey-cart", "HGET", 0.6, protocol="redis")
_VALKEY_SET = Call("valkey-cart", "HMSET", 0.7, protocol="redis")
_CONVERT = _grpc("currency", "oteldemo.CurrencyService/Convert", 0.4)
_GET_PRODUCT = _grpc(
    "product-catalog", "oteldemo.ProductCatalogService/GetProduct", 1.5, _flag("productCatalogFailure")
)
_LIST_PRODUCTS = _grpc("product-catalog", "oteldemo.ProductCatalogService/ListProducts", 2.0)
_GET_QUOTE = _grpc(
    "shipping",
    "oteldemo.ShippingService/GetQuote",
    3.0,
    Call("quote", "POST /getquote", 4.0, protocol="http", server_operation="{closure}"),
)
_GET_CART = _grpc("cart", "oteldemo.CartService/GetCart", 1.5, _VALKEY_GET)


@dataclass(frozen=True)
class Flow:
    """One user journey: the HTTP route at the frontend (or image-provider) and its calls."""

    name: str
    method: str
    path: str
    weight: float
    route: str  # the frontend-proxy route's upstream: frontend or image-provider
    frontend_ms: float
    calls: tuple[Call, ...] = field(default=())


FLOWS: Final[tuple[Flow, ...]] = (
    Flow(
        "home",
        "GET",
        "/",
        14,
        "frontend",
        18,
        (
            _grpc("currency", "oteldemo.CurrencyService/GetSupportedCurrencies", 0.3),
            _LIST_PRODUCTS,
            _GET_CART,
        ),
    ),
    Flow("product", "GET", "/api/products/{id}", 18, "frontend", 9, (_GET_PRODUCT, _CONVERT)),
    Flow(
        "recommendations",
        "GET",
        "/api/recommendations",
        10,
        "frontend",
        12,
        (_grpc("recommendation", "oteldemo.RecommendationService/ListRecommendations", 6.0, _LIST_PRODUCTS),),
    ),
    Flow(
        "ads",
        "GET",
        "/api/data",
        10,
        "frontend",
        6,
        (_grpc("ad", "oteldemo.AdService/GetAds", 3.0, _flag("adFailure")),),
    ),
    Flow(
        "reviews",
        "GET",
        "/api/product-reviews/{id}",
        6,
        "frontend",
        8,
        (
            _grpc(
                "product-reviews",
                "oteldemo.ProductReviewService/GetProductReviews",
                5.0,
                Call("postgresql", "SELECT otel", 1.8, protocol="sql"),
            ),
        ),
    ),
    Flow(
        "add-to-cart",
        "POST",
        "/api/cart",
        8,
        "frontend",
        10,
        (_grpc("cart", "oteldemo.CartService/AddItem", 2.0, _VALKEY_GET, _VALKEY_SET),),
    ),
    Flow("view-cart", "GET", "/api/cart", 6, "frontend", 7, (_GET_CART,)),
    Flow("shipping", "GET", "/api/shipping", 4, "frontend", 9, (_GET_QUOTE, _CONVERT)),
    Flow(
        "checkout",
        "POST",
        "/api/checkout",
        6,
        "frontend",
        25,
        (
            _grpc(
                "checkout",
                "oteldemo.CheckoutService/PlaceOrder",
                8.0,
                _GET_CART,
                _GET_PRODUCT,
                _CONVERT,
                _GET_QUOTE,
                _grpc("payment", "oteldemo.PaymentService/Charge", 4.0, _flag("paymentFailure")),
                _grpc("shipping", "oteldemo.ShippingService/ShipOrder", 1.0),
                Call("email", "POST /send_order_confirmation", 6.0, required=False, protocol="http"),
                _grpc("cart", "oteldemo.CartService/EmptyCart", 1.5, _flag("cartFailure"), _VALKEY_SET),
                Call(
                    "kafka",
                    "orders publish",
                    1.0,
                    (
                        Call(
                            "accounting",
                            "orders process",
                            3.0,
                            (Call("postgresql", "postgresql", 2.5, protocol="sql"),),
                            protocol="consume",
                        ),
                        Call("fraud-detection", "orders process", 2.0, protocol="consume"),
                    ),
                    protocol="kafka",
                ),
            ),
        ),
    ),
    Flow("image", "GET", "/images/products/{file}", 12, "image-provider", 2),
)

# Products of the demo catalogue (ids as the demo ships them).
PRODUCT_IDS: Final = (
    "OLJCESPC7Z",
    "66VCHSJNUP",
    "1YMWWN1N4O",
    "L9ECAV7KIM",
    "2ZYFJ3GM2N",
    "0PUK6V6EV0",
    "LS4PSXUNUM",
    "9SIQT8TOJO",
    "6E92ZMYYFZ",
    "HQTGWGPNH4",
)
IMAGE_FILES: Final = (
    "NationalParkFoundationExplorascope.jpg",
    "StarsenseExplorer.jpg",
    "EclipsmartTravelRefractorTelescope.jpg",
    "LensCleaningKit.jpg",
    "RoofBinoculars.jpg",
    "OpticalTubeAssembly.jpg",
    "SolarFilter.jpg",
)


def callers_of(service: str, flows: tuple[Flow, ...] = FLOWS, edge: str = "frontend-proxy") -> list[str]:
    """Services with a call edge to ``service`` in ``flows`` (the demo's by default; ``edge``
    receives every flow's first request), in a fixed order."""
    found: dict[str, None] = {}

    def walk(parent: str, calls: tuple[Call, ...]) -> None:
        for call in calls:
            if call.service == service:
                found[parent] = None
            walk(call.service, call.calls)

    for flow in flows:
        if flow.route == service:
            found[edge] = None
        walk(flow.route, flow.calls)
    return sorted(found)
