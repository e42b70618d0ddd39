"""The background log lines of every service: the variety of lines each real service writes
besides its per-request logs, in its own format, at a volume that follows the load.

A template is a weight, a severity and a format string; the fields it names are drawn per line
(``{product}``, ``{uuid}``, ``{ms}``, ...) or are the line's own time in the service's clock format
(``{kafka_ts}``, ``{pg_ts}``, ``{valkey_ts}``, ...), so a body that carries a time carries the
record's. Lines the OpenTelemetry SDK exports (the demo's services) hold the message only; lines
scraped from stdout (Kafka, PostgreSQL, valkey, Envoy, nginx, Locust, the collector) hold their
own time stamp and level. Warnings and errors are a small share, as in a healthy cluster.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime

from itbench_server.synth.cluster import MINUTE, Pod
from itbench_server.synth.topology import PRODUCT_IDS, WORKLOAD_BY_NAME

__all__ = [
    "BACKGROUND_SERVICES",
    "BACKGROUND_TEMPLATES",
    "background_records",
    "load_users",
]

Template = tuple[int, str, str]  # (weight, severity, format)

_MS = 1_000_000
_WORDS = ("telescopes", "binoculars", "accessories", "travel", "assembly", "flashlights", "books")
_TOPICS = ("orders",)
_EMAILS = ("someone", "astro", "buyer", "stargazer", "orion")


def load_users() -> int:
    """How many users the load generator simulates (its ``LOCUST_USERS``)."""
    return int(dict(WORKLOAD_BY_NAME["load-generator"].env).get("LOCUST_USERS", "10"))


BACKGROUND_TEMPLATES: dict[str, tuple[float, tuple[Template, ...]]] = {
    # service: (lines a minute with 10 users, templates)
    "ad": (6.0, (
        (30, "INFO", "Targeted ad request received for [{word}]"),
        (25, "INFO", "Non-targeted ad request received, preparing random response."),
        (8, "INFO", "Received ad request (context_words=[{word}, {word2}])"),
        (6, "INFO", "Resolved feature flag 'adFailure' to variant 'off' (reason STATIC)"),
        (4, "INFO", "Resolved feature flag 'adManualGc' to variant 'off' (reason STATIC)"),
        (4, "INFO", "Resolved feature flag 'adHighCpu' to variant 'off' (reason CACHED)"),
        (3, "INFO", "FlagdProvider: event stream connected to flagd:8013"),
        (2, "INFO", "Ad service started, listening on 8080"),
        (2, "DEBUG", "Returning {n} ads for category {word}"),
        (2, "INFO", "Populated ad cache with {n2} ads in {ms} ms"),
        (1, "WARN", "Slow flag evaluation: adFailure took {ms} ms"),
        (1, "WARN", "io.grpc.netty.shaded.io.grpc.netty.NettyServerHandler: Stream Error\n"
                    "io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Exception$StreamException: "
                    "Received DATA frame for an unknown stream {n2}"),
        (1, "ERROR", "[otel.javaagent] Failed to export metrics. The request could not be executed. "
                     "Full error message: timeout"),
        (5, "INFO", "Ad request for category {word}: {n} matching ads"),
        (4, "INFO", "Adding ads for category {word} to the response"),
        (3, "INFO", "AdService.getAds took {ms} ms"),
        (3, "INFO", "io.grpc.netty: Accepted connection from /{client_ip}:{port}"),
        (2, "INFO", "OpenFeature: provider flagd ready, 11 flags cached"),
        (2, "INFO", "FlagdProvider: configuration changed, flags [adFailure, adHighCpu, adManualGc]"),
        (2, "INFO", "Health check passed (SERVING)"),
        (2, "DEBUG", "ad cache size {n2}, hit ratio 0.9{n}"),
        (1, "INFO", "[otel.javaagent] opentelemetry-javaagent - version: 2.17.0"),
        (1, "INFO", "JVM heap used {n3} MB of 300 MB, non-heap {n2} MB"),
        (1, "WARN", "Deadline exceeded on an ad request from frontend after {ms2} ms"),
    )),
    "cart": (6.0, (
        (20, "INFO", "GetCartAsync called with userId={uuid}"),
        (14, "INFO", "AddItemAsync called with userId={uuid}, productId={product}, quantity={n}"),
        (8, "INFO", "EmptyCartAsync called with userId={uuid}"),
        (10, "INFO", "Request starting HTTP/2 POST http://cart:8080/oteldemo.CartService/GetCart - application/grpc -"),
        (10, "INFO", "Request finished HTTP/2 POST http://cart:8080/oteldemo.CartService/GetCart - 200 - application/grpc {ms}.{n3}ms"),
        (6, "INFO", "Executing endpoint 'gRPC - /oteldemo.CartService/AddItem'"),
        (6, "INFO", "Executed endpoint 'gRPC - /oteldemo.CartService/AddItem'"),
        (4, "INFO", "Feature flag cartFailure evaluated to False"),
        (2, "INFO", "Successfully connected to Valkey at valkey-cart:6379"),
        (2, "DEBUG", "Valkey key {uuid} has {n} items, expires in 60 minutes"),
        (1, "INFO", "Health check 'valkey' completed in {ms} ms with status Healthy"),
        (1, "WARN", "StackExchange.Redis: slow command HGET took {ms2} ms on valkey-cart:6379"),
        (1, "WARN", "Grpc.AspNetCore.Server.ServerCallHandler: Request with content-type 'application/grpc' "
                    "was cancelled by the client."),
        (5, "INFO", "Request starting HTTP/2 POST http://cart:8080/oteldemo.CartService/AddItem - application/grpc -"),
        (5, "INFO", "Request finished HTTP/2 POST http://cart:8080/oteldemo.CartService/AddItem - 200 - application/grpc {ms}.{n3}ms"),
        (4, "INFO", "Executing endpoint 'gRPC - /oteldemo.CartService/GetCart'"),
        (4, "INFO", "Executed endpoint 'gRPC - /oteldemo.CartService/GetCart'"),
        (3, "INFO", "Request starting HTTP/2 POST http://cart:8080/grpc.health.v1.Health/Check - application/grpc -"),
        (3, "INFO", "Request finished HTTP/2 POST http://cart:8080/grpc.health.v1.Health/Check - 200 - application/grpc 0.{n3}ms"),
        (2, "INFO", "Feature flag cartFailure resolved by flagd in {ms} ms"),
        (1, "INFO", "Application started. Press Ctrl+C to shut down."),
        (1, "INFO", "Hosting environment: Production"),
        (1, "INFO", "Content root path: /app"),
    )),
    "accounting": (3.0, (
        (25, "INFO", 'Order details: {{"orderId": "{uuid}", "shippingTrackingId": "{uuid2}"}}'),
        (10, "INFO", "Consumed message from orders [{partition}] @ {offset}"),
        (8, "INFO", "Executed DbCommand ({ms}ms) [Parameters=[@p0='?' (DbType = Guid), @p1='?'], "
                    "CommandType='Text', CommandTimeout='30']\n"
                    'INSERT INTO "order" (order_id, shipping_tracking_id) VALUES (@p0, @p1);'),
        (6, "INFO", "Executed DbCommand ({ms}ms) [Parameters=[@p0='?', @p1='?' (DbType = Int32)], "
                    "CommandType='Text', CommandTimeout='30']\n"
                    'INSERT INTO orderitem (order_id, product_id, quantity) VALUES (@p0, @p1, @p2);'),
        (3, "INFO", "Saved {n} order items for order {uuid}"),
        (1, "INFO", "Committed offsets for orders [{partition}] @ {offset}"),
        (1, "WARN", "Consumer accounting: max.poll.interval.ms nearly reached ({ms2} ms since last poll)"),
        (3, "INFO", "Subscribed to topic orders as consumer group accounting"),
        (2, "INFO", "Partitions assigned: [orders [[{partition}]]]"),
        (2, "INFO", "Entity Framework Core 9.0.0 initialized 'DBContext' using provider 'Npgsql.EntityFrameworkCore.PostgreSQL:9.0.0'"),
        (1, "INFO", "Application started. Hosting environment: Production; Content root path: /app"),
        (1, "WARN", "Kafka consumer error: Local: Timed out (retrying in 1s)"),
    )),
    "checkout": (4.0, (
        (20, "INFO", '[PlaceOrder] user_id="{uuid}" user_currency="{currency}"'),
        (12, "INFO", "payment went through (transaction_id: {uuid})"),
        (10, "INFO", 'order confirmation email sent to "{email}@example.com"'),
        (8, "INFO", "sending to postProcessor"),
        (6, "INFO", "Message sent to Kafka: topic=orders partition={partition} offset={offset}"),
        (6, "INFO", "Successful to write message. offset: {offset}, duration: {ms}ms"),
        (4, "INFO", "prepared order items: {n} items, shipping quote {price} USD"),
        (2, "INFO", "flagd: evaluated kafkaQueueProblems=0 (reason STATIC)"),
        (1, "WARN", "retrying GetCart after transient error: rpc error: code = Unavailable desc = connection reset"),
        (1, "ERROR", "failed to export metrics: context deadline exceeded"),
        (4, "INFO", "[GetCart] user_id={uuid} items={n}"),
        (4, "INFO", "[ConvertCurrency] {price} USD -> {currency}"),
        (3, "INFO", "[GetQuote] received shipping quote {price} USD for {n} items"),
        (3, "INFO", "[ShipOrder] tracking id {uuid}"),
        (3, "INFO", "[EmptyCart] user_id={uuid}"),
        (2, "INFO", "Kafka producer: broker kafka:9092 connected"),
        (2, "INFO", "feature flag kafkaQueueProblems=0"),
        (2, "INFO", "order placed: order_id={uuid} total={price} {currency}"),
        (1, "INFO", "service config: CART_ADDR=cart:8080 PAYMENT_ADDR=payment:8080 SHIPPING_ADDR=shipping:8080"),
        (1, "WARN", "kafka: producer queue has {n2} messages waiting"),
        (1, "WARN", "grpc: addrConn.createTransport failed to connect to {{email:8080}}. Err: connection reset by peer. Reconnecting..."),
    )),
    "product-catalog": (5.0, (
        (25, "INFO", "Product Found - ID: {product}"),
        (12, "INFO", "[ListProducts] returning 10 products"),
        (6, "INFO", "Searching products with query: {word}"),
        (4, "INFO", "Search found {n} products for query {word}"),
        (3, "INFO", "Loaded 10 products from ./products/products.json"),
        (3, "INFO", "flag productCatalogFailure evaluated to false"),
        (1, "WARN", "slow GetProduct for {product}: {ms2}ms"),
        (5, "INFO", "[GetProduct] id={product}"),
        (4, "INFO", "[SearchProducts] query={word} results={n}"),
        (3, "INFO", "Product catalog reload: 10 products"),
        (3, "INFO", "flag productCatalogFailure evaluated in {ms}ms"),
        (2, "INFO", "grpc health check: SERVING"),
        (2, "INFO", "product-catalog service started on port 8080"),
        (2, "DEBUG", "ListProducts served from memory in {ms}µs"),
        (1, "INFO", "otel: exporting {n2} spans to otel-collector:4317"),
        (1, "INFO", "Reading catalog from ./products/products.json ({bytes} bytes)"),
        (1, "INFO", "Listening on :8080 (gRPC)"),
        (1, "WARN", "slow ListProducts: {ms2}ms"),
        (1, "ERROR", "failed to export metrics: rpc error: code = Unavailable desc = connection error"),
    )),
    "payment": (3.0, (
        (20, "INFO", "Charge request received."),
        (15, "INFO", "Transaction complete."),
        (8, "INFO", "Card validated: visa ending {card4}"),
        (4, "INFO", "Feature flag paymentFailure resolved to 0"),
        (2, "INFO", "Charged {price} {currency} to visa ending {card4}"),
        (1, "WARN", "Slow flagd evaluation for paymentUnreachable: {ms2}ms"),
        (3, "INFO", "Payment service listening on port 8080"),
        (2, "INFO", "Card type visa accepted"),
        (2, "INFO", "Loyalty level for user: {word}"),
        (1, "WARN", "Charge request for an amount above 1000 USD"),
        (1, "ERROR", "Credit card info is invalid."),
    )),
    "recommendation": (5.0, (
        (25, "INFO", "Receive ListRecommendations for product ids:['{product}', '{product2}']"),
        (12, "INFO", "[Recv ListRecommendations] product_ids=['{product}']"),
        (6, "INFO", "get_product_list: returning {n} recommendations"),
        (4, "INFO", "Cache hit for product list ({n2} entries)"),
        (3, "INFO", "Cache miss, fetching product list from product-catalog"),
        (2, "INFO", "recommendationCacheFailure flag is off"),
        (1, "WARN", "ListProducts took {ms2} ms, above 500 ms"),
        (4, "INFO", "Recommendations for {product}: ['{product2}', '{product}']"),
        (3, "INFO", "ListProducts returned 10 products in {ms} ms"),
        (3, "INFO", "Filtered out {n} products already in the request"),
        (2, "INFO", "Recommendation service started on port 8080"),
        (2, "INFO", "Health check: SERVING"),
        (2, "INFO", "Cache entry refreshed: product list, ttl 60 s"),
        (2, "DEBUG", "random sample of 5 from {n} candidates"),
        (1, "INFO", "Connected to flagd at flagd:8013"),
        (1, "WARN", "Transient failure calling ProductCatalogService, retrying (attempt {n})"),
        (1, "ERROR", "Exception in ListRecommendations: StatusCode.DEADLINE_EXCEEDED\nTraceback (most recent call last):\n  File \"/app/recommendation_server.py\", line 81, in ListRecommendations\n    prod_list = get_product_list(request.product_ids)\ngrpc._channel._InactiveRpcError: <_InactiveRpcError of RPC that terminated with: status = StatusCode.DEADLINE_EXCEEDED>"),
    )),
    "email": (2.0, (
        (25, "INFO", "Order confirmation email sent to: {email}@example.com"),
        (15, "INFO", '{client_ip} - - [{nginx_ts}] "POST /send_order_confirmation HTTP/1.1" 200 - 0.{n3}'),
        (5, "INFO", "Rendering confirmation.erb for order {uuid}"),
        (2, "INFO", "Puma starting in single mode... * Listening on http://0.0.0.0:8080"),
        (1, "WARN", "Deprecation: Sinatra::Base#settings.bind will change in Sinatra 5"),
        (3, "INFO", "I, [{iso_ms} #1]  INFO -- : Mail delivered to {email}@example.com"),
        (2, "INFO", "== Sinatra (v4.1.1) has taken the stage on 8080 for production with backup from Puma"),
        (1, "INFO", "Puma version: 6.6.0 (\"Return to Forever\")"),
        (1, "ERROR", "Net::ReadTimeout with #<TCPSocket:(closed)> while sending confirmation for order {uuid}"),
    )),
    "shipping": (4.0, (
        (20, "INFO", "Received quote: {price}"),
        (15, "INFO", "Tracking ID Created: {uuid}"),
        (10, "INFO", "Get Quote request received"),
        (8, "INFO", "Sending Quote: {price}"),
        (6, "INFO", "ShipOrder request received for {n} items"),
        (2, "DEBUG", "quote service responded in {ms}ms"),
        (1, "WARN", "quote request took {ms2}ms, retrying once"),
        (3, "INFO", "ShipOrder: created tracking id for address in {word}"),
        (2, "INFO", "quote service at http://quote:8080 answered {price}"),
        (2, "INFO", "Starting shipping service on 0.0.0.0:8080"),
        (1, "INFO", "actix_web::middleware::logger: 10.244.1.{n2} \"POST /get-quote HTTP/1.1\" 200 {n2} \"-\" \"grpc-go/1.73.0\" 0.00{n}"),
        (1, "ERROR", "error calling quote service: error sending request for url (http://quote:8080/getquote): operation timed out"),
    )),
    "quote": (3.0, (
        (25, "INFO", "Calculated quote: {price}"),
        (12, "INFO", "Received request for quote: {n} items"),
        (4, "INFO", "Slim Application: POST /getquote 200"),
        (1, "WARN", "PHP Warning:  Undefined array key \"numberOfItems\" in /var/www/src/app.php on line {n2}"),
        (3, "INFO", "[{iso_ms}+00:00] quote.INFO: quote calculated {{\"numberOfItems\":{n},\"quote\":{price}}} []"),
        (2, "INFO", "NOTICE: PHP message: Received request for quote with {n} items"),
        (2, "INFO", "[{nginx_date}] PHP built-in server: 127.0.0.1:{port} Accepted"),
        (1, "INFO", "[{nginx_date}] PHP built-in server: 127.0.0.1:{port} [200]: POST /getquote"),
        (1, "ERROR", "PHP Fatal error:  Uncaught InvalidArgumentException: numberOfItems must be positive in /var/www/src/app.php:{n2}"),
    )),
    "fraud-detection": (3.0, (
        (25, "INFO", "Consumed record with orderId: {uuid}, and updated total count to: {count}"),
        (6, "INFO", "[Consumer clientId=consumer-fraud-detection-1, groupId=fraud-detection] "
                    "Seeking to offset {offset} for partition orders-{partition}"),
        (3, "INFO", "FeatureFlag kafkaQueueProblems is 0"),
        (2, "INFO", "[Consumer clientId=consumer-fraud-detection-1, groupId=fraud-detection] "
                    "Request joining group due to: rebalance"),
        (1, "WARN", "[Consumer clientId=consumer-fraud-detection-1, groupId=fraud-detection] "
                    "Offset commit failed on partition orders-0 at offset {offset}: The request timed out."),
        (3, "INFO", "[Consumer clientId=consumer-fraud-detection-1, groupId=fraud-detection] Setting offset for partition orders-{partition} to the committed offset FetchPosition{{offset={offset}}}"),
        (2, "INFO", "Kafka version: 3.9.1"),
        (2, "INFO", "Subscribed to topic(s): orders"),
        (1, "INFO", "[Consumer clientId=consumer-fraud-detection-1, groupId=fraud-detection] Resetting the last seen epoch of partition orders-{partition} to 0 since the associated topicId changed"),
        (1, "INFO", "Order {uuid} checked: no fraud detected"),
    )),
    "frontend": (4.0, (
        (12, "INFO", "GET /api/products/{product} 200 in {ms}ms"),
        (10, "INFO", "GET /api/recommendations?productIds={product} 200 in {ms}ms"),
        (6, "INFO", "GET /api/cart?sessionId={uuid}&currencyCode={currency} 200 in {ms}ms"),
        (5, "INFO", "POST /api/checkout?currencyCode={currency} 200 in {ms2}ms"),
        (4, "INFO", "GET /api/data?contextKeys={word} 200 in {ms}ms"),
        (2, "INFO", "GET /api/shipping?itemList=... 200 in {ms}ms"),
        (1, "WARN", "Slow request: GET /api/products took {ms2}ms"),
        (4, "INFO", "GET /api/currency 200 in {ms}ms"),
        (4, "INFO", "GET /api/product-reviews/{product} 200 in {ms2}ms"),
        (3, "INFO", "POST /api/cart 200 in {ms}ms"),
        (3, "INFO", "GET / 200 in {ms}ms"),
        (2, "INFO", "GET /product/{product} 200 in {ms}ms"),
        (2, "INFO", "GET /cart 200 in {ms}ms"),
        (1, "INFO", "Ready in {n3}ms"),
        (1, "INFO", "flagd provider connected, 11 flags"),
    )),
    "currency": (3.0, (
        (30, "INFO", "Convert conversion successful"),
        (10, "INFO", "GetSupportedCurrencies successful"),
        (4, "INFO", "Received conversion request from {currency} to {currency2}"),
        (3, "INFO", "Currency Service listening on port: 8080"),
        (2, "INFO", "Loaded {n2} currency conversion rates"),
        (1, "INFO", "Convert: {price} {currency} -> {currency2}"),
        (1, "WARN", "GetSupportedCurrencies took {ms2}ms"),
    )),
    "product-reviews": (2.0, (
        (20, "INFO", "Receive GetProductReviews for product id:{product}"),
        (8, "INFO", "Receive GetAverageProductReviewScore for product id:{product}"),
        (4, "INFO", "Fetched {n} reviews for {product} from postgresql in {ms}ms"),
        (1, "WARN", "Summary generation for {product} took {ms2}ms"),
        (3, "INFO", "Receive AskProductAIAssistant for product id:{product}"),
        (2, "INFO", "Product reviews service started on port 8080"),
        (2, "INFO", "Connected to postgresql at postgresql:5432 (database otel)"),
        (1, "INFO", "Returning average score {n}.{n} for {product}"),
        (1, "ERROR", "Exception calling the LLM: openai.APITimeoutError: Request timed out."),
    )),
    "kafka": (4.0, (
        (14, "INFO", "[{kafka_ts}] INFO [ProducerStateManager partition=orders-{partition}] Wrote producer snapshot "
                     "at offset {offset} with 0 producer ids in {n} ms. "
                     "(org.apache.kafka.storage.internals.log.ProducerStateManager)"),
        (10, "INFO", "[{kafka_ts}] INFO [LocalLog partition=orders-{partition}, dir=/tmp/kafka-logs] Rolled new log "
                     "segment at offset {offset} in {n} ms. (kafka.log.LocalLog)"),
        (8, "INFO", "[{kafka_ts}] INFO [GroupCoordinator 1]: Member consumer-accounting-1-{uuid} in group accounting "
                    "has heartbeat (kafka.coordinator.group.GroupCoordinator)"),
        (6, "INFO", "[{kafka_ts}] INFO [UnifiedLog partition=__consumer_offsets-{n2}, dir=/tmp/kafka-logs] Incremented "
                    "log start offset to {offset} due to segment deletion (kafka.log.UnifiedLog)"),
        (5, "INFO", "[{kafka_ts}] INFO [GroupMetadataManager brokerId=1] Removed 0 expired offsets in {n} "
                    "milliseconds. (kafka.coordinator.group.GroupMetadataManager)"),
        (4, "INFO", "[{kafka_ts}] INFO [SnapshotGenerator id=1] Creating new KRaft snapshot file snapshot "
                    "{offset}-0000000001 because we have waited at least 60 minute(s). "
                    "(org.apache.kafka.image.publisher.SnapshotGenerator)"),
        (3, "INFO", "[{kafka_ts}] INFO [BrokerLifecycleManager id=1] Broker heartbeat acknowledged "
                    "(kafka.server.BrokerLifecycleManager)"),
        (2, "INFO", "[{kafka_ts}] INFO [LogLoader partition=orders-{partition}, dir=/tmp/kafka-logs] Producer state "
                    "recovery took {n}ms (kafka.log.LogLoader$)"),
        (1, "WARN", "[{kafka_ts}] WARN [SocketServer listenerType=BROKER, nodeId=1] Unexpected error from "
                    "/{client_ip} (channelId=10.244.1.{n2}:9092-{client_ip}:{port}-{n}); closing connection "
                    "(org.apache.kafka.common.network.Selector)"),
        (3, "INFO", "[{kafka_ts}] INFO [GroupCoordinator 1]: Stabilized group fraud-detection generation {n2} (__consumer_offsets-{n2}) with 1 members (kafka.coordinator.group.GroupCoordinator)"),
        (3, "INFO", "[{kafka_ts}] INFO [GroupCoordinator 1]: Assignment received from leader consumer-accounting-1-{uuid} for group accounting for generation {n2}. The group has 1 members, 0 of which are static. (kafka.coordinator.group.GroupCoordinator)"),
        (3, "INFO", "[{kafka_ts}] INFO [RaftManager id=1] High watermark set to LogOffsetMetadata(offset={offset}) (org.apache.kafka.raft.KafkaRaftClient)"),
        (2, "INFO", "[{kafka_ts}] INFO [LogCleaner] Cleaned log __consumer_offsets-{n2} (dirty section = [{offset}, {offset}]) (kafka.log.LogCleaner)"),
        (2, "INFO", "[{kafka_ts}] INFO [MetadataLoader id=1] handleLoadSnapshot(00000000000000{offset}-0000000001): generated a metadata delta. (org.apache.kafka.image.loader.MetadataLoader)"),
        (2, "INFO", "[{kafka_ts}] INFO [Partition orders-{partition} broker=1] Log loaded for partition orders-{partition} with initial high watermark {offset} (kafka.cluster.Partition)"),
        (2, "INFO", "[{kafka_ts}] INFO [ReplicaManager broker=1] Handling LeaderAndIsr request for 0 partitions (kafka.server.ReplicaManager)"),
        (2, "INFO", "[{kafka_ts}] INFO Deleted log /tmp/kafka-logs/orders-{partition}/000000000000{offset}.log.deleted. (org.apache.kafka.storage.internals.log.LogSegment)"),
        (1, "INFO", "[{kafka_ts}] INFO [QuorumController id=1] Created topic orders with topic ID {uuid}. (org.apache.kafka.controller.ReplicationControlManager)"),
        (1, "WARN", "[{kafka_ts}] WARN [GroupCoordinator 1]: Member consumer-fraud-detection-1-{uuid} in group fraud-detection has failed, removing it from the group (kafka.coordinator.group.GroupCoordinator)"),
    )),
    "postgresql": (2.0, (
        (12, "INFO", "{pg_ts} [1] LOG:  checkpoint starting: time"),
        (12, "INFO", "{pg_ts} [1] LOG:  checkpoint complete: wrote {n2} buffers (0.{n}%); 0 WAL file(s) added, "
                     "0 removed, 0 recycled; write={sec} s, sync=0.00{n} s, total={sec} s; sync files={n}, "
                     "longest=0.001 s, average=0.001 s; distance={n2} kB, estimate={n3} kB"),
        (6, "INFO", "{pg_ts} [{pid}] LOG:  automatic vacuum of table \"otel.public.order\": index scans: 0\n"
                    "\tpages: 0 removed, {n2} remain, {n} scanned (100.00% of total)\n"
                    "\ttuples: 0 removed, {n3} remain, 0 are dead but not yet removable"),
        (4, "INFO", "{pg_ts} [{pid}] LOG:  automatic analyze of table \"otel.public.orderitem\"\n"
                    "\tavg read rate: 0.000 MB/s, avg write rate: 0.000 MB/s"),
        (3, "INFO", "{pg_ts} [{pid}] LOG:  connection received: host={client_ip} port={port}"),
        (3, "INFO", "{pg_ts} [{pid}] LOG:  connection authorized: user=otelu database=otel"),
        (1, "WARN", "{pg_ts} [{pid}] WARNING:  there is no transaction in progress"),
        (1, "ERROR", "{pg_ts} [{pid}] ERROR:  duplicate key value violates unique constraint \"order_pkey\"\n"
                     "{pg_ts} [{pid}] DETAIL:  Key (order_id)=({uuid}) already exists."),
    )),
    "valkey-cart": (1.0, (
        (10, "INFO", "1:M {valkey_ts} * {n2} changes in 60 seconds. Saving..."),
        (10, "INFO", "1:M {valkey_ts} * Background saving started by pid {pid}"),
        (8, "INFO", "{pid}:C {valkey_ts} * DB saved on disk"),
        (6, "INFO", "{pid}:C {valkey_ts} * Fork CoW for RDB: current 0 MB, peak 0 MB, average 0 MB"),
        (8, "INFO", "1:M {valkey_ts} * Background saving terminated with success"),
        (1, "WARN", "1:M {valkey_ts} # Client id={n2} addr={client_ip}:{port} closed for reaching the timeout"),
    )),
    "flagd": (2.0, (
        (20, "INFO", "metadata resolved"),
        (8, "INFO", "flag evaluation"),
        (4, "INFO", "starting sync stream"),
        (3, "INFO", "watching filepath: /etc/flagd/demo.flagd.json"),
        (2, "DEBUG", "resolved flag {flag}"),
        (1, "WARN", "sync stream closed by client, reconnecting"),
    )),
    "otel-collector": (4.0, (
        (14, "INFO", "{iso_ms}Z\tinfo\tMetrics\t{{\"otelcol.component.id\": \"debug\", \"otelcol.component.kind\": "
                     "\"exporter\", \"otelcol.signal\": \"metrics\", \"resource metrics\": {n2}, \"metrics\": {n3}, "
                     "\"data points\": {count}}}"),
        (12, "INFO", "{iso_ms}Z\tinfo\tTraces\t{{\"otelcol.component.id\": \"debug\", \"otelcol.component.kind\": "
                     "\"exporter\", \"otelcol.signal\": \"traces\", \"resource spans\": {n2}, \"spans\": {n3}}}"),
        (10, "INFO", "{iso_ms}Z\tinfo\tLogs\t{{\"otelcol.component.id\": \"debug\", \"otelcol.component.kind\": "
                     "\"exporter\", \"otelcol.signal\": \"logs\", \"resource logs\": {n2}, \"log records\": {n3}}}"),
        (3, "INFO", "{iso_ms}Z\tinfo\tmemorylimiter/memorylimiter.go:{n2}\tMemory usage is below soft limit\t"
                    "{{\"otelcol.component.id\": \"memory_limiter\", \"cur_mem_mib\": {n2}}}"),
        (1, "WARN", "{iso_ms}Z\twarn\tbatchprocessor@v0.129.0/batch_processor.go:{n3}\tSender failed\t"
                    "{{\"otelcol.component.id\": \"batch\", \"error\": \"sending queue is full\"}}"),
        (1, "ERROR", "{iso_ms}Z\terror\tinternal/queue_sender.go:{n3}\tExporting failed. Dropping data.\t"
                     "{{\"otelcol.component.id\": \"opensearch\", \"error\": \"no more retries left: Post "
                     "\\\"http://opensearch:9200/_bulk\\\": context deadline exceeded\", \"dropped_items\": {n2}}}"),
        (3, "INFO", "{iso_ms}Z\tinfo\tspanmetricsconnector@v0.129.0/connector.go:{n3}\tStarting spanmetrics connector\t{{\"otelcol.component.id\": \"spanmetrics\", \"otelcol.component.kind\": \"connector\"}}"),
        (2, "INFO", "{iso_ms}Z\tinfo\tprometheusreceiver@v0.129.0/metrics_receiver.go:{n3}\tScrape job added\t{{\"otelcol.component.id\": \"prometheus\", \"jobName\": \"otel-collector\"}}"),
        (2, "INFO", "{iso_ms}Z\tinfo\tservice@v0.129.0/service.go:{n3}\tEverything is ready. Begin running and processing data."),
        (2, "INFO", "{iso_ms}Z\tinfo\totlpreceiver@v0.129.0/otlp.go:{n3}\tStarting GRPC server\t{{\"otelcol.component.id\": \"otlp\", \"endpoint\": \"0.0.0.0:4317\"}}"),
        (2, "INFO", "{iso_ms}Z\tinfo\tk8sattributesprocessor@v0.129.0/processor.go:{n3}\tpod added to the cache\t{{\"otelcol.component.id\": \"k8sattributes\", \"pod\": \"{client_ip}\"}}"),
        (1, "WARN", "{iso_ms}Z\twarn\tgrpc@v1.73.0/clientconn.go:{n3}\t[core] [Channel #{n}]Channel Connectivity change to TRANSIENT_FAILURE"),
    )),
    "frontend-proxy": (3.0, (
        (10, "INFO", "[{envoy_ts}][{n2}][info][upstream] [source/common/upstream/cds_api_helper.cc:32] cds: add 0 "
                     "cluster(s), remove 0 cluster(s)"),
        (8, "INFO", "[{envoy_ts}][{n2}][info][upstream] [source/common/upstream/cds_api_helper.cc:71] cds: added/"
                    "updated 0 cluster(s), skipped 12 unmodified cluster(s)"),
        (6, "INFO", "[{envoy_ts}][{n2}][debug][pool] [source/common/conn_pool/conn_pool_base.cc:{n3}] "
                    "[Tags: \"ConnectionId\":\"{n2}\"] destroying stream: 0 remaining"),
        (4, "INFO", "[{envoy_ts}][{n2}][info][main] [source/server/drain_manager_impl.cc:{n3}] shutting down "
                    "parent after drain"),
        (1, "WARN", "[{envoy_ts}][{n2}][warning][config] [source/extensions/config_subscription/grpc/"
                    "grpc_stream.h:{n3}] StreamAggregatedResources gRPC config stream closed: 14, upstream reset"),
        (4, "INFO", "[{envoy_ts}][{n2}][info][upstream] [source/common/upstream/health_checker_impl.cc:{n3}] health check succeeded for host {client_ip}:8080"),
        (3, "INFO", "[{envoy_ts}][{n2}][debug][connection] [source/common/network/connection_impl.cc:{n3}] [Tags: \"ConnectionId\":\"{n3}\"] remote close"),
        (3, "INFO", "[{envoy_ts}][{n2}][debug][http] [source/common/http/conn_manager_impl.cc:{n3}] [Tags: \"ConnectionId\":\"{n3}\",\"StreamId\":\"{count}\"] new stream"),
        (2, "INFO", "[{envoy_ts}][{n2}][info][runtime] [source/common/runtime/runtime_impl.cc:{n3}] RTDS has finished initialization"),
        (2, "INFO", "[{envoy_ts}][{n2}][info][main] [source/server/server.cc:{n3}] all clusters initialized. initializing init manager"),
        (2, "INFO", "[{envoy_ts}][{n2}][info][config] [source/common/listener_manager/listener_manager_impl.cc:{n3}] all dependencies initialized. starting workers"),
        (2, "INFO", "[{envoy_ts}][{n2}][debug][router] [source/common/router/router.cc:{n3}] [Tags: \"ConnectionId\":\"{n3}\",\"StreamId\":\"{count}\"] cluster 'frontend' match for URL '/api/products/{product}'"),
        (1, "INFO", "[{envoy_ts}][{n2}][info][admin] [source/server/admin/admin.cc:{n3}] admin address: 0.0.0.0:10000"),
        (1, "WARN", "[{envoy_ts}][{n2}][warning][upstream] [source/common/upstream/health_checker_impl.cc:{n3}] health check failed for host {client_ip}:8080: timeout"),
        (1, "ERROR", "[{envoy_ts}][{n2}][error][envoy_bug] [source/common/http/codec_client.cc:{n3}] upstream connection closed before headers on stream {count}"),
    )),
    "image-provider": (3.0, (
        (30, "INFO", '{client_ip} - - [{nginx_ts}] "GET /images/products/{image}.jpg HTTP/1.1" 200 {bytes} '
                     '"-" "python-requests/2.32.3" "-"'),
        (4, "INFO", '{client_ip} - - [{nginx_ts}] "GET /status HTTP/1.1" 200 {n3} "-" "kube-probe/1.33" "-"'),
        (1, "WARN", '{nginx_date} [warn] 1#1: *{n3} an upstream response is buffered to a temporary file '
                    '/var/cache/nginx/proxy_temp/{n}/{n2}/{n3}, client: {client_ip}'),
        (6, "INFO", '{client_ip} - - [{nginx_ts}] "GET /images/products/{image}.jpg HTTP/1.1" 304 0 "-" "python-requests/2.32.3" "-"'),
        (2, "INFO", '{nginx_date} [notice] 1#1: using the "epoll" event method'),
        (1, "INFO", '{nginx_date} [notice] 1#1: start worker processes'),
        (1, "ERROR", '{nginx_date} [error] 22#22: *{n3} open() "/static/images/products/{word}.jpg" failed (2: No such file or directory), client: {client_ip}, server: , request: "GET /images/products/{word}.jpg HTTP/1.1"'),
    )),
    "load-generator": (4.0, (
        (10, "INFO", "[{locust_ts}] {pod}/INFO/locust.main: Starting web interface at http://0.0.0.0:8089"),
        (20, "INFO", " GET /api/products/{product}{pad}{n3}     0(0.00%) |     {ms}       4     301     "
                     "{ms} |    {rps}        0.00"),
        (12, "INFO", " GET /api/recommendations{pad}{n3}     0(0.00%) |     {ms}       6     410     "
                     "{ms} |    {rps}        0.00"),
        (8, "INFO", " POST /api/checkout{pad}{n2}     0(0.00%) |    {ms2}     110    2010    "
                    "{ms2} |    {rps}        0.00"),
        (6, "INFO", " GET /api/data{pad}{n3}     0(0.00%) |     {ms}       3     180     {ms} |    {rps}        0.00"),
        (4, "INFO", "[{locust_ts}] {pod}/INFO/locust.runners: All users spawned: {{\"WebsiteUser\": {users}}} "
                    "({users} total users)"),
        (1, "WARN", "[{locust_ts}] {pod}/WARNING/locust.runners: CPU usage above 90%! This may constrain your "
                    "throughput and may even give inconsistent response time measurements!"),
        (3, "INFO", " GET /api/cart{pad}{n3}     0(0.00%) |     {ms}       4     250     {ms} |    {rps}        0.00"),
        (3, "INFO", " POST /api/cart{pad}{n2}     0(0.00%) |     {ms}       9     330     {ms} |    {rps}        0.00"),
        (2, "INFO", " GET /{pad}{n3}     0(0.00%) |     {ms}       5     200     {ms} |    {rps}        0.00"),
        (2, "INFO", " Aggregated{pad}{count}     0(0.00%) |     {ms}       3    2010     {ms} |   {rps}        0.00"),
        (1, "INFO", "[{locust_ts}] {pod}/INFO/locust.runners: Ramping to {users} users at a rate of 1.00 per second"),
        (1, "INFO", "[{locust_ts}] {pod}/INFO/root: Feature flag loadGeneratorFloodHomepage is 0"),
    )),
}  # fmt: skip
BACKGROUND_SERVICES: tuple[str, ...] = tuple(sorted(BACKGROUND_TEMPLATES))

_FLAGS = ("adFailure", "cartFailure", "paymentFailure", "productCatalogFailure", "imageSlowLoad")
_CURRENCIES = ("USD", "EUR", "CAD", "JPY", "GBP")
_IMAGES = ("EclipsmartTravelRefractorTelescope", "LensCleaningKit", "NationalParkFoundationExplorascope",
           "OpticalTubeAssembly", "RedFlashlight", "RoofBinoculars", "SolarFilter", "StarsenseExplorer")  # fmt: skip


class _Fields(dict[str, str]):
    """The values a template names, each drawn (or formatted from the line's time) on first use."""

    def __init__(self, rng: random.Random, at: int, pod: Pod, users: int) -> None:
        super().__init__()
        self.rng = rng
        self.at = at
        self.pod = pod
        self.users = users

    def __missing__(self, key: str) -> str:
        value = self._make(key)
        self[key] = value
        return value

    def _make(self, key: str) -> str:
        rng = self.rng
        moment = datetime.fromtimestamp(self.at // 1000 / 1_000_000, UTC)
        millis = f"{moment.microsecond // 1000:03d}"
        makers: dict[str, Callable[[], str]] = {
            "kafka_ts": lambda: moment.strftime("%Y-%m-%d %H:%M:%S") + f",{millis}",
            "locust_ts": lambda: moment.strftime("%Y-%m-%d %H:%M:%S") + f",{millis}",
            "pg_ts": lambda: moment.strftime("%Y-%m-%d %H:%M:%S") + f".{millis} UTC",
            "valkey_ts": lambda: moment.strftime("%d %b %Y %H:%M:%S") + f".{millis}",
            "envoy_ts": lambda: moment.strftime("%Y-%m-%d %H:%M:%S") + f".{millis}",
            "iso_ms": lambda: moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis}",
            "nginx_ts": lambda: moment.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "nginx_date": lambda: moment.strftime("%Y/%m/%d %H:%M:%S"),
            "uuid": lambda: _uuid(rng),
            "uuid2": lambda: _uuid(rng),
            "product": lambda: rng.choice(PRODUCT_IDS),
            "product2": lambda: rng.choice(PRODUCT_IDS),
            "word": lambda: rng.choice(_WORDS),
            "word2": lambda: rng.choice(_WORDS),
            "email": lambda: rng.choice(_EMAILS),
            "currency": lambda: rng.choice(_CURRENCIES),
            "currency2": lambda: rng.choice(_CURRENCIES),
            "flag": lambda: rng.choice(_FLAGS),
            "image": lambda: rng.choice(_IMAGES),
            "n": lambda: str(rng.randrange(1, 10)),
            "n2": lambda: str(rng.randrange(10, 100)),
            "n3": lambda: str(rng.randrange(100, 1000)),
            "count": lambda: str(rng.randrange(1000, 20000)),
            "ms": lambda: str(rng.randrange(2, 60)),
            "ms2": lambda: str(rng.randrange(300, 2500)),
            "sec": lambda: f"{rng.randrange(0, 3)}.{rng.randrange(0, 999):03d}",
            "offset": lambda: str(rng.randrange(10_000, 990_000)),
            "partition": lambda: "0",
            "pid": lambda: str(rng.randrange(30, 4000)),
            "port": lambda: str(rng.randrange(32768, 60999)),
            "price": lambda: f"{rng.randrange(5, 400)}.{rng.randrange(0, 99):02d}",
            "card4": lambda: f"{rng.randrange(0, 9999):04d}",
            "bytes": lambda: str(rng.randrange(20_000, 900_000)),
            "client_ip": lambda: f"10.244.{rng.randrange(1, 4)}.{rng.randrange(2, 60)}",
            "rps": lambda: f"{rng.randrange(0, 4)}.{rng.randrange(0, 9)}",
            "pad": lambda: " " * rng.randrange(4, 12),
            "pod": lambda: self.pod.name,
            "users": lambda: str(self.users),
        }
        maker = makers.get(key)
        if maker is None:
            raise KeyError(key)
        return maker()


def _uuid(rng: random.Random) -> str:
    value = f"{rng.getrandbits(128):032x}"
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


def _frame(service: str, at: int, severity: str, message: str, pod: Pod) -> str:
    """The record body of a service whose logs are JSON lines (pino, zap)."""
    if service == "payment":
        level = {"DEBUG": 20, "INFO": 30, "WARN": 40, "ERROR": 50}[severity]
        record = {"level": level, "time": at // _MS, "pid": 1, "hostname": pod.name,
                  "service.name": "payment", "msg": message}  # fmt: skip
        return json.dumps(record, separators=(",", ":"))
    if service == "flagd":
        moment = datetime.fromtimestamp(at // 1000 / 1_000_000, UTC)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"
        record = {
            "level": severity.lower(),
            "ts": stamp,
            "logger": "flagd",
            "component": "service",
            "msg": message,
        }
        if message == "metadata resolved" or message.startswith("watching"):
            record["source"] = "/etc/flagd/demo.flagd.json"
        return json.dumps(record)
    return message


def background_records(
    service: str, pod: Pod, start: int, length: int, rng: random.Random, *, volume: float = 1.0
) -> list[tuple[int, str, str]]:
    """``(time, severity, body)`` of ``service``'s background lines between ``start`` and
    ``start + length`` on ``pod``, in time order.

    How many: the service's rate for the load generator's users, times ``volume`` (how much of
    the real traffic the incident writes), with at least one line a round for a busy service.
    """
    spec = BACKGROUND_TEMPLATES.get(service)
    if spec is None:
        return []
    per_minute, templates = spec
    users = load_users()
    expected = per_minute * users / 10 * volume * length / MINUTE
    count = math.floor(expected) + (1 if rng.random() < expected - math.floor(expected) else 0)
    weights = [weight for weight, _severity, _text in templates]
    out: list[tuple[int, str, str]] = []
    for _ in range(count):
        at = start + rng.randrange(0, max(1, length // _MS)) * _MS + rng.randrange(0, _MS)
        _weight, severity, text = rng.choices(templates, weights)[0]
        message = text.format_map(_Fields(rng, at, pod, users))
        out.append((at, severity, _frame(service, at, severity, message, pod)))
    out.sort(key=lambda line: line[0])
    return out
