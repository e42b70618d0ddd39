"""Span metrics, pod metrics and alerts, computed from the traffic model and the cluster.

``SpanStats`` counts spans in 10-second slots the way the OpenTelemetry spanmetrics connector
does (calls by service, kind and status; a latency histogram of server spans). The alert rules of
the OpenTelemetry Demo and of kube-prometheus are evaluated on those counts and on the cluster's
pod states every 30 seconds, as Prometheus would, and sampled once a minute.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from itbench_server.synth.application import DEMO
from itbench_server.synth.cluster import (
    CONTROL_PLANE,
    MINUTE,
    NODE_CPU_CORES,
    NODES,
    SECOND,
    Cluster,
    Pod,
    node_ip,
)
from itbench_server.synth.formats import _go_float  # pyright: ignore[reportPrivateUsage]
from itbench_server.synth.traffic import MS, Span

__all__ = [
    "BUCKETS_MS",
    "DATABASE_SPAN",
    "EXCLUDED",
    "KAFKA_CLIENT_METRICS",
    "KAFKA_GROUPS",
    "KAFKA_TOPIC",
    "SLOT",
    "Alert",
    "AlertEvaluator",
    "HistogramKey",
    "KafkaGroups",
    "PodSample",
    "SeriesKey",
    "SpanStats",
    "alert_json",
    "cfs_periods",
    "humanize_percentage",
    "pod_samples",
    "prometheus_value",
    "safe_file_part",
    "template_value",
    "throttled_share",
]

SLOT = 10 * SECOND
# The spanmetrics connector's default explicit buckets (2ms ... 15s), then +Inf.
BUCKETS_MS: tuple[float, ...] = (
    2,
    4,
    6,
    8,
    10,
    50,
    100,
    200,
    400,
    800,
    1000,
    1400,
    2000,
    5000,
    10000,
    15000,
    math.inf,
)
EXCLUDED = ("flagd", "load-generator")
DATABASE_SPAN = ("accounting", "postgresql", "Client")

# (service, span name, span kind, status): the spanmetrics connector's dimensions.
SeriesKey = tuple[str, str, str, str]
# (service, span kind): a latency histogram, summed over span names and statuses as the recorder
# keeps it (17 buckets per span name would make the metrics most of a small incident's bytes).
HistogramKey = tuple[str, str]


def _histogrammed(span: Span) -> bool:
    """Whether the span enters the latency histogram the latency rules read: the spans that
    serve (server and consumer spans) and the load generator's requests."""
    return span.kind in ("Server", "Consumer") or (span.service == "load-generator" and span.kind == "Client")


@dataclass
class SpanStats:
    """Span counts per 10-second slot, by the spanmetrics connector's dimensions (service, span
    name, span kind, status): calls of every span; a latency histogram of the serving spans by
    service and kind."""

    start: int
    end: int
    calls: dict[SeriesKey, list[int]] = field(default_factory=dict)
    database: list[int] = field(default_factory=list)
    buckets: dict[HistogramKey, list[list[int]]] = field(default_factory=dict)  # per slot -> per bucket
    sums: dict[HistogramKey, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.slots = (self.end - self.start) // SLOT + 1
        self.database = [0] * self.slots
        # Per (service, status) and per service sums of the series above, for the rules.
        self._by_status: dict[tuple[str, str], list[int]] = {}
        self._service_buckets: dict[str, list[list[int]]] = {}

    def slot_of(self, t: int) -> int:
        return (t - self.start) // SLOT

    def add(self, span: Span) -> None:
        slot = (span.start - self.start) // SLOT
        if slot < 0 or slot >= self.slots:
            return
        status = "Error" if span.status == "Error" else "Unset"
        key = (span.service, span.name, span.kind, status)
        series = self.calls.get(key)
        if series is None:
            series = self.calls[key] = [0] * self.slots
        series[slot] += 1
        total = self._by_status.get((span.service, status))
        if total is None:
            total = self._by_status[(span.service, status)] = [0] * self.slots
        total[slot] += 1
        if (span.service, span.name, span.kind) == DATABASE_SPAN:
            self.database[slot] += 1
        if _histogrammed(span):
            series_key = (span.service, span.kind)
            histogram = self.buckets.get(series_key)
            if histogram is None:
                histogram = self.buckets[series_key] = [[0] * len(BUCKETS_MS) for _ in range(self.slots)]
                self.sums[series_key] = [0.0] * self.slots
            aggregate = self._service_buckets.get(span.service)
            if aggregate is None:
                aggregate = self._service_buckets[span.service] = [
                    [0] * len(BUCKETS_MS) for _ in range(self.slots)
                ]
            ms = span.duration / MS
            index = next(i for i, bound in enumerate(BUCKETS_MS) if ms <= bound)
            histogram[slot][index] += 1
            aggregate[slot][index] += 1
            self.sums[series_key][slot] += ms

    def _range(self, t: int, width: int) -> range:
        """The slots of the window (t - width, t] that ended by ``t`` (never a span after ``t``)."""
        last = min(self.slots, (t - self.start) // SLOT)
        first = max(0, last - width // SLOT)
        return range(first, last)

    def count(self, service: str, status: str, t: int, width: int) -> int:
        series = self._by_status.get((service, status))
        if series is None:
            return 0
        return sum(series[i] for i in self._range(t, width))

    def count_kind(self, service: str, kind: str, status: str, t: int, width: int) -> int:
        """Spans of ``kind`` with ``status`` that ``service`` recorded in the window (t - width, t]."""
        total = 0
        for (name, _span_name, span_kind, state), series in self.calls.items():
            if name == service and span_kind == kind and state == status:
                total += sum(series[i] for i in self._range(t, width))
        return total

    def covered(self, t: int, width: int) -> bool:
        """Whether the window (t - width, t] lies inside the simulated span of time."""
        return t - width >= self.start

    def p95(self, service: str, t: int, width: int) -> float | None:
        """``histogram_quantile(0.95, ...)`` over the service's histogram series, in ms."""
        histogram = self._service_buckets.get(service)
        if histogram is None:
            return None
        counts = [0] * len(BUCKETS_MS)
        for i in self._range(t, width):
            for index, value in enumerate(histogram[i]):
                counts[index] += value
        total = sum(counts)
        if total == 0:
            return None
        rank = 0.95 * total
        running = 0
        lower = 0.0
        for index, bound in enumerate(BUCKETS_MS):
            if running + counts[index] >= rank:
                if math.isinf(bound):
                    return BUCKETS_MS[-2]
                return lower + (bound - lower) * ((rank - running) / counts[index])
            running += counts[index]
            lower = bound
        return lower

    def upto(self, t: int) -> int:
        """How many slots a counter sampled at ``t`` holds (those that ended by ``t``)."""
        return max(0, min(self.slots, (t - self.start) // SLOT))

    def cumulative_calls(self, t: int) -> Iterator[tuple[SeriesKey, int]]:
        upto = self.upto(t)
        for key in sorted(self.calls):
            value = sum(self.calls[key][:upto])
            if value:
                yield key, value

    def cumulative_buckets(self, key: HistogramKey, t: int) -> tuple[list[int], float]:
        """The cumulative (``le``) bucket counts and the sum of one histogram series at ``t``."""
        histogram = self.buckets[key]
        upto = self.upto(t)
        counts = [0] * len(BUCKETS_MS)
        for row in histogram[:upto]:
            for index, value in enumerate(row):
                counts[index] += value
        running = 0
        cumulative = []
        for value in counts:
            running += value
            cumulative.append(running)
        return cumulative, sum(self.sums[key][:upto])


KAFKA_TOPIC = "orders"
KAFKA_GROUPS = ("accounting", "fraud-detection")  # the consumer groups (one per consuming service)
# The consumers whose Kafka client exports connection metrics (the Java client: fraud-detection).
KAFKA_CLIENT_METRICS = ("fraud-detection",)
_PUBLISH = ("checkout", "orders publish", "Producer", "Unset")
_CONSUME = "orders process"


class KafkaGroups:
    """The consumer groups of the ``orders`` topic per 10-second slot, from the simulation: how
    many members each has (a consumer with a running pod that reaches Kafka), its lag (messages
    published and not yet consumed; a group that reconnects catches up at once, as the demo's
    consumers drain a backlog within seconds) and, for the Java client, its connection-close rate
    (a windowed rate the client reports: about one close a second while its pod runs but cannot
    reach the broker and keeps reconnecting, nothing otherwise; no pod, no client, no rate). Lags
    are in written messages: the simulated count times the same scale as the span metrics.
    ``state(t, group)`` says where a consumer is: ``member``, ``cut`` (running, Kafka out of
    reach) or ``down`` (no running pod)."""

    def __init__(self, stats: SpanStats, state: Callable[[int, str], str], scale: float, seed: str) -> None:
        self.start = stats.start
        self.slots = stats.slots
        self.scale = scale
        published = stats.calls.get(_PUBLISH, [0] * stats.slots)
        self.members: dict[str, list[int]] = {}
        self.cut: dict[str, list[bool]] = {}
        self.lag: dict[str, list[float]] = {}
        self._seed = seed
        for group in KAFKA_GROUPS:
            consumed = [0] * stats.slots
            for status in ("Unset", "Error"):
                for slot, value in enumerate(stats.calls.get((group, _CONSUME, "Consumer", status), ())):
                    consumed[slot] += value
            states = [state(self.start + slot * SLOT + SLOT // 2, group) for slot in range(stats.slots)]
            members = [int(value == "member") for value in states]
            self.cut[group] = [value == "cut" for value in states]
            lags: list[float] = []
            backlog = 0
            for slot in range(stats.slots):
                backlog += published[slot] - consumed[slot]
                if members[slot] and (slot == 0 or not members[slot - 1]):
                    backlog = 0  # reconnected: the backlog is drained
                backlog = max(0, backlog)
                lags.append(backlog * scale)
            self.members[group] = members
            self.lag[group] = lags

    def _slot(self, t: int) -> int:
        """The last slot that ended by ``t`` (the gauges' value at ``t``)."""
        return min(self.slots - 1, max(0, (t - self.start) // SLOT - 1))

    def members_at(self, group: str, t: int) -> int:
        return self.members[group][self._slot(t)]

    def lag_at(self, group: str, t: int) -> float:
        return round(self.lag[group][self._slot(t)], 6)

    def close_rate_at(self, group: str, t: int) -> float:
        """The client's connection-close rate gauge at ``t`` (per second)."""
        if not self.cut[group][self._slot(t)]:
            return 0.0
        wobble = random.Random(f"{self._seed}:{group}:{self._slot(t)}").random()
        return round(0.8 + 0.4 * wobble, 4)

    def close_rate_increase(self, group: str, t: int, width: int) -> float:
        """``rate(...[width])`` of the gauge: its rises (a fall counts as a reset to the new value)
        between the 30-second scrapes of the window, per second."""
        total = 0.0
        previous: float | None = None
        at = t - width + 30 * SECOND
        while at <= t:
            value = self.close_rate_at(group, at)
            if previous is not None:
                total += value - previous if value >= previous else value
            previous = value
            at += 30 * SECOND
        return total / (width / SECOND)


# The node model's resolution, and how long before the window it starts (the load average's
# history).
_NODE_STEP = 5 * SECOND
_NODE_LEAD = 5 * MINUTE


@dataclass
class Alert:
    name: str
    labels: dict[str, str]
    description: str
    active_at: int
    value: float
    severity: str
    # Pods an aggregated rule counts (``FailedPodsDetected``), for the answer key; not written.
    subjects: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, ...]:
        return (self.name, *sorted(f"{k}={v}" for k, v in self.labels.items()))


def humanize_percentage(value: float) -> str:
    """A ratio as the rule templates' ``humanizePercentage`` prints it (Go's ``%.4g`` of the
    percentage, then ``%``)."""
    return f"{value * 100:.4g}%"


def template_value(value: float) -> str:
    """A value as an alert rule's ``{{ $value }}`` prints it (Go's ``fmt.Sprint(float64)``)."""
    return _go_float(value)


def prometheus_value(value: float) -> str:
    """A sample value as Prometheus' API prints it (``strconv.FormatFloat(v, 'e', -1, 64)``)."""
    if value == 0:
        return "0e+00"
    text = format(Decimal(repr(float(value))), "e")
    mantissa, _, exponent = text.partition("e")
    sign = "-" if exponent.startswith("-") else "+"
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    return f"{mantissa}e{sign}{abs(int(exponent)):02d}"


class AlertEvaluator:
    """Evaluates the rules every 30 s over the window; ``firing(t)`` lists what fires at ``t``."""

    EVAL = 30 * SECOND

    def __init__(
        self,
        stats: SpanStats,
        cluster: Cluster,
        extra: Sequence[tuple[int, int, Alert]] = (),
        *,
        rate_scale: float = 1.0,
        kafka: KafkaGroups | None = None,
    ) -> None:
        self.stats = stats
        self.rate_scale = rate_scale  # written requests per simulated request (the span metrics')
        self.kafka = kafka
        self.cluster = cluster
        self.extra = list(extra)  # (from, until, alert): alerts of things the rules do not model
        self.start = stats.start
        self.end = stats.end
        self._streaks: dict[tuple[str, ...], int] = {}
        self._node_series: tuple[list[float], list[float]] | None = None
        self._history: list[tuple[int, list[Alert]]] = []
        t = self.start
        while t <= self.end:
            self._history.append((t, self._evaluate(t)))
            t += self.EVAL

    def firing(self, t: int) -> list[Alert]:
        current: list[Alert] = []
        for at, alerts in self._history:
            if at <= t:
                current = alerts
        return current

    def ever_fired(self) -> list[Alert]:
        seen: dict[tuple[str, ...], Alert] = {}
        for _at, alerts in self._history:
            for alert in alerts:
                seen.setdefault(alert.key, alert)
        return sorted(seen.values(), key=lambda a: (a.active_at, a.key))

    def _track(self, out: list[Alert], t: int, condition: bool, hold: int, alert: Alert) -> None:
        key = alert.key
        if not condition:
            self._streaks.pop(key, None)
            return
        since = self._streaks.setdefault(key, t)
        if t - since >= hold:
            alert.active_at = since
            out.append(alert)

    def _evaluate(self, t: int) -> list[Alert]:
        out: list[Alert] = [
            Alert(
                "Watchdog",
                {"alertname": "Watchdog", "severity": "none"},
                "This is an alert meant to ensure that the entire alerting pipeline is functional.",
                self.cluster.installed,
                1.0,
                "none",
            )
        ]
        stats = self.stats
        app = self.cluster.app
        namespace = app.namespace
        for service in app.traced:
            if service in EXCLUDED:
                continue
            labels = {"namespace": namespace, "service_name": service, "severity": "critical"}
            errors = stats.count(service, "Error", t, 2 * MINUTE)
            # rate(...[2m]) of the written counters, which count the simulated spans times the scale
            rate = errors * self.rate_scale / 120.0
            # BookInfo's rule fires on any error and says so; the demo's says 3 or 1 for its `> 0`
            # (a slip of the rule, kept)
            threshold = (3 if service.startswith("frontend") else 1) if app is DEMO else 0
            self._track(
                out,
                t,
                errors > 0,
                3 * MINUTE,
                Alert(
                    "HighRequestErrorRate",
                    {"alertname": "HighRequestErrorRate", **labels},
                    f"Request error rate in service {service} in namespace {namespace} is above {threshold} (current: {template_value(rate)})",
                    0,
                    rate,
                    "critical",
                ),
            )
            p95 = stats.p95(service, t, 2 * MINUTE)
            limit = "1500ms" if service.startswith("frontend") else "15000ms"
            self._track(
                out,
                t,
                p95 is not None and p95 > 1500,
                3 * MINUTE,
                Alert(
                    "HighRequestLatency",
                    {"alertname": "HighRequestLatency", **labels},
                    # The rule prints the quantile (in ms) with an "s" and says 15000ms for its
                    # backend threshold of 1500: both slips of the rule, kept.
                    f"Latency in service {service} in namespace {namespace} is above {limit} (current: {template_value(p95 or 0.0)}s)",
                    0,
                    p95 or 0.0,
                    "critical",
                ),
            )
            quiet = stats.covered(t, 5 * MINUTE) and stats.count(service, "Unset", t, 5 * MINUTE) == 0
            self._track(
                out,
                t,
                quiet,
                5 * MINUTE,
                Alert(
                    "NoRequestsReceived",
                    {"alertname": "NoRequestsReceived", **labels},
                    f"Service {service} in namespace {namespace} has received no requests",
                    0,
                    0.0,
                    "critical",
                ),
            )
            if service in app.opens_connections:
                # a call refused before it left (an RBAC denial) opens no connection
                opened = stats.count_kind(service, "Client", "Unset", t, 5 * MINUTE)
                self._track(
                    out,
                    t,
                    stats.covered(t, 5 * MINUTE) and opened == 0,
                    5 * MINUTE,
                    Alert(
                        "NoRequestsOpened",
                        {"alertname": "NoRequestsOpened", **labels},
                        f"Service {service} in namespace {namespace} has opened no connections",
                        0,
                        0.0,
                        "critical",
                    ),
                )
        if "accounting" not in app.traced:
            self._kube(out, t)
            self._node(out, t)
            out.extend(alert for since, until, alert in self.extra if since <= t < until)
            return out
        window = stats._range(t, 5 * MINUTE)
        no_db = stats.covered(t, 5 * MINUTE) and sum(stats.database[i] for i in window) == 0
        self._track(
            out,
            t,
            no_db,
            5 * MINUTE,
            Alert(
                "NoDatabaseOperations",
                {
                    "alertname": "NoDatabaseOperations",
                    "namespace": namespace,
                    "service_name": "accounting",
                    "severity": "warning",
                },
                f"Service accounting in namespace {namespace} has stopped performing database operations",
                0,
                0.0,
                "warning",
            ),
        )
        self._kafka(out, t)
        self._kube(out, t)
        self._node(out, t)
        out.extend(alert for since, until, alert in self.extra if since <= t < until)
        return out

    def _host_cpu_series(self) -> tuple[list[float], list[float]]:
        """The host's busy share of its cores and its load average (``node_load1``), every
        ``_NODE_STEP`` from ``_NODE_LEAD`` before the window. The snapshot layout has no node
        metrics files (the recorder writes pod and service series only), so the node-exporter
        rules are evaluated on this model of what node-exporter would read: the cores the pods
        use, and a load average that decays toward the threads asking for a core as the kernel's
        one-minute average does. In kind every node's exporter reads the one host's counters."""
        if self._node_series is not None:
            return self._node_series
        busy: list[float] = []
        load: list[float] = []
        decay = math.exp(-_NODE_STEP / MINUTE)
        average: float | None = None
        at = self.start - _NODE_LEAD
        while at <= self.end:
            used, asked = self.cluster.host_cpu(at)
            average = asked if average is None else average * decay + asked * (1.0 - decay)
            busy.append(used / NODE_CPU_CORES)
            load.append(average)
            at += _NODE_STEP
        self._node_series = (busy, load)
        return busy, load

    def _node(self, out: list[Alert], t: int) -> None:
        """kube-prometheus' node-exporter rules ``NodeCPUHighUsage`` (busy share over 2 minutes
        above 90%) and ``NodeSystemSaturation`` (one-minute load per core above 2); their
        ``for: 15m`` is shortened to 5 minutes as the other kube-prometheus rules are."""
        index = (t - (self.start - _NODE_LEAD)) // _NODE_STEP
        span = 2 * MINUTE // _NODE_STEP
        busy, load = self._host_cpu_series()
        for node in (CONTROL_PLANE, *NODES):
            window = busy[max(0, index - span + 1) : index + 1]
            usage = 100.0 * sum(window) / len(window)
            instance = f"{node_ip(node)}:9100"
            labels = {"instance": instance, "job": "node-exporter"}
            self._track(
                out,
                t,
                usage > 90.0,
                5 * MINUTE,
                Alert(
                    "NodeCPUHighUsage",
                    {"alertname": "NodeCPUHighUsage", **labels, "severity": "info"},
                    f"CPU usage at {instance} has been above 90% for the last 15 minutes, "
                    f"is currently at {usage:.2f}%.",
                    0,
                    usage,
                    "info",
                ),
            )
            per_core = load[index] / NODE_CPU_CORES
            self._track(
                out,
                t,
                per_core > 2.0,
                5 * MINUTE,
                Alert(
                    "NodeSystemSaturation",
                    {"alertname": "NodeSystemSaturation", **labels, "severity": "warning"},
                    f"System load per core at {instance} has been above 2 for the last 15 minutes, "
                    f"is currently at {per_core:.2f}.\nThis might indicate this instance resources "
                    "saturation and can cause it becoming unresponsive.",
                    0,
                    per_core,
                    "warning",
                ),
            )

    def _kafka(self, out: list[Alert], t: int) -> None:
        kafka = self.kafka
        if kafka is None:
            return
        namespace = self.cluster.app.namespace
        for group in KAFKA_GROUPS:
            labels = {"group": group, "namespace": namespace, "topic": KAFKA_TOPIC}
            members = kafka.members_at(group, t)
            # The rule's text reads a `consumergroup` label these series (the collector's
            # kafkametrics receiver: `group`) do not carry, so it prints an empty name.
            self._track(
                out,
                t,
                members == 0,
                2 * MINUTE,
                Alert(
                    "KafkaConsumerGroupInactive",
                    {"alertname": "KafkaConsumerGroupInactive", **labels, "severity": "critical"},
                    f"Kafka consumer group  in namespace {namespace} has no active members (current: {template_value(float(members))})",
                    0,
                    float(members),
                    "critical",
                ),
            )
            lag = kafka.lag_at(group, t)
            self._track(
                out,
                t,
                lag > 100,
                5 * MINUTE,
                Alert(
                    "HighKafkaConsumerLag",
                    {"alertname": "HighKafkaConsumerLag", **labels, "severity": "warning"},
                    f"Kafka consumer group  has high lag on topic {KAFKA_TOPIC} (current: {template_value(lag)} messages)",
                    0,
                    lag,
                    "warning",
                ),
            )
        for group in KAFKA_CLIENT_METRICS:
            job = f"opentelemetry-demo/{group}"
            rate = kafka.close_rate_increase(group, t, 2 * MINUTE)
            self._track(
                out,
                t,
                rate > 0,
                MINUTE,
                Alert(
                    "HighKafkaConnectionClosureRate",
                    {"alertname": "HighKafkaConnectionClosureRate", "job": job, "severity": "warning"},
                    f"Job {job} has a closure rate above 0 (current: {template_value(rate)})",
                    0,
                    rate,
                    "warning",
                ),
            )

    def _throttling(self, out: list[Alert], t: int) -> None:
        """kube-prometheus' ``CPUThrottlingHigh``: a container's throttled CFS periods over its
        periods, both ``increase(...[5m])``, above 25% (``for: 15m`` shortened to 5 minutes as the
        other kube-prometheus rules are), read from the counters the pod metrics write."""
        cluster = self.cluster
        namespace = cluster.app.namespace
        for pod in sorted(cluster.pods, key=lambda p: p.name):
            if cluster.pod_cpu_limit_m(pod) is None or not pod.exists(t) or pod.created > t:
                continue
            now = cfs_periods(pod, t, cluster)
            before = cfs_periods(pod, t - 5 * MINUTE, cluster)
            if now is None or before is None:
                continue
            periods = now[0] - before[0]
            share = (now[1] - before[1]) / periods if periods > 0 else 0.0
            container = cluster.app.container_of(pod.workload)
            self._track(
                out,
                t,
                share > 0.25,
                5 * MINUTE,
                Alert(
                    "CPUThrottlingHigh",
                    {
                        "alertname": "CPUThrottlingHigh",
                        "container": container,
                        "namespace": namespace,
                        "pod": pod.name,
                        "severity": "info",
                    },
                    f"{humanize_percentage(share)} throttling of CPU in namespace {namespace} for container "
                    f"{container} in pod {pod.name}.",
                    0,
                    share,
                    "info",
                ),
            )

    def _kube(self, out: list[Alert], t: int) -> None:
        self._throttling(out, t)
        cluster = self.cluster
        namespace = cluster.app.namespace
        container_of = cluster.app.container_of
        base = {"job": "kube-state-metrics", "namespace": namespace, "severity": "warning"}
        failed_pods = tuple(
            sorted(
                pod.name
                for pod in cluster.pods
                if pod.exists(t) and pod.created <= t and pod.state(t).phase == "Failed"
            )
        )
        failed = len(failed_pods)
        self._track(
            out,
            t,
            failed > 0,
            2 * MINUTE,
            Alert(
                "FailedPodsDetected",
                {"alertname": "FailedPodsDetected", "namespace": namespace, "severity": "critical"},
                f"Pods in failed state in namespace {namespace} is above 0 (current: {template_value(float(failed))})",
                0,
                float(failed),
                "critical",
                failed_pods,
            ),
        )
        for pod in sorted(cluster.pods, key=lambda p: p.name):
            if not pod.exists(t) or pod.created > t:
                continue
            state = pod.state(t)
            labels = {**base, "pod": pod.name}
            self._track(
                out,
                t,
                state.phase in ("Pending", "Unknown", "Failed"),
                5 * MINUTE,
                Alert(
                    "KubePodNotReady",
                    {"alertname": "KubePodNotReady", **labels},
                    f"Pod {namespace}/{pod.name} has been in a non-ready state for longer than 15 minutes.",
                    0,
                    1.0,
                    "warning",
                ),
            )
            waiting = state.waiting if state.waiting not in ("", "CrashLoopBackOff") else ""
            if state.scheduled:
                self._track(
                    out,
                    t,
                    bool(waiting),
                    5 * MINUTE,
                    Alert(
                        "KubeContainerWaiting",
                        {
                            "alertname": "KubeContainerWaiting",
                            **labels,
                            "container": container_of(pod.workload),
                        },
                        f"pod/{pod.name} in namespace {namespace} on container {container_of(pod.workload)} has been in waiting state for longer than 1 hour.",
                        0,
                        1.0,
                        "warning",
                    ),
                )
            crashing = (
                any(s.waiting == "CrashLoopBackOff" for s in pod.states if t - 5 * MINUTE < s.at <= t)
                or state.waiting == "CrashLoopBackOff"
            )
            self._track(
                out,
                t,
                crashing,
                3 * MINUTE,
                Alert(
                    "KubePodCrashLooping",
                    {
                        "alertname": "KubePodCrashLooping",
                        **labels,
                        "container": container_of(pod.workload),
                        "reason": "CrashLoopBackOff",
                    },
                    f'Pod {namespace}/{pod.name} ({container_of(pod.workload)}) is in waiting state (reason: "CrashLoopBackOff").',
                    0,
                    1.0,
                    "warning",
                ),
            )
        for name in sorted(cluster.deployments):
            spec, _generation = cluster.deployments[name].spec(t)
            available = sum(1 for pod in cluster.pods_of(name, t) if pod.state(t).ready)
            self._track(
                out,
                t,
                spec["replicas"] > available,
                5 * MINUTE,
                Alert(
                    "KubeDeploymentReplicasMismatch",
                    {"alertname": "KubeDeploymentReplicasMismatch", **base, "deployment": name},
                    f"Deployment {namespace}/{name} has not matched the expected number of replicas for longer than 15 minutes.",
                    0,
                    float(spec["replicas"] - available),
                    "warning",
                ),
            )
        for (resource, namespace, name), record in sorted(cluster.static.items()):
            if resource != "horizontalpodautoscalers":
                continue
            body = record.at(t)
            if body is None:
                continue
            maxed = body["status"].get("currentReplicas") == body["spec"]["maxReplicas"]
            self._track(
                out,
                t,
                maxed,
                5 * MINUTE,
                Alert(
                    "KubeHpaMaxedOut",
                    {
                        "alertname": "KubeHpaMaxedOut",
                        **base,
                        "namespace": namespace,
                        "horizontalpodautoscaler": name,
                    },
                    f"HPA {namespace}/{name} has been running at max replicas for longer than 15 minutes.",
                    0,
                    float(body["spec"]["maxReplicas"]),
                    "warning",
                ),
            )


def _rfc3339_nano(ns: int) -> str:
    """Go's time.RFC3339Nano: fractional seconds without trailing zeros."""
    seconds, fraction = divmod(ns, SECOND)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{fraction:09d}".rstrip("0")
    return f"{stamp}.{digits}Z" if digits else f"{stamp}Z"


def alert_json(alert: Alert) -> dict[str, object]:
    annotations: dict[str, str] = {"description": alert.description}
    if alert.name.startswith("Kube") or alert.name in ("Watchdog", "CPUThrottlingHigh"):
        annotations["runbook_url"] = (
            f"https://runbooks.prometheus-operator.dev/runbooks/kubernetes/{alert.name.lower()}"
        )
        annotations["summary"] = {
            "Watchdog": "An alert that should always be firing to certify that Alertmanager is working properly.",
            "CPUThrottlingHigh": "Processes experience elevated CPU throttling.",
        }.get(alert.name, "A Kubernetes resource is not in its expected state.")
    return {
        "labels": alert.labels,
        "annotations": annotations,
        "state": "firing",
        "activeAt": _rfc3339_nano(alert.active_at),
        "value": prometheus_value(alert.value),
    }


# ------------------------------------------------------------------------------------ pod metrics
@dataclass(frozen=True)
class PodSample:
    metric: str
    value: float
    tags: dict[str, str]


def pod_samples(pod: Pod, t: int, cluster: Cluster, seed_noise: float) -> list[PodSample]:
    """The cAdvisor and kube-state-metrics samples of one pod at ``t``."""
    state = pod.state(t)
    workload = cluster.app.workload_by_name[pod.workload]
    namespace = cluster.app.namespace
    container = {"container": cluster.app.container_of(pod.workload), "namespace": namespace, "pod": pod.name}
    samples = [
        PodSample(
            "kube_pod_status_phase", 1.0, {"namespace": namespace, "phase": state.phase, "pod": pod.name}
        )
    ]
    samples.append(PodSample("kube_pod_container_status_restarts_total", float(state.restarts), container))
    samples.append(PodSample("kube_pod_container_status_ready", 1.0 if state.ready else 0.0, container))
    if state.waiting:
        samples.append(
            PodSample("kube_pod_container_status_waiting_reason", 1.0, {**container, "reason": state.waiting})
        )
    if state.last_terminated:
        samples.append(
            PodSample(
                "kube_pod_container_status_last_terminated_reason",
                1.0,
                {**container, "reason": str(state.last_terminated["reason"])},
            )
        )
    if state.running_since is not None and state.scheduled:
        wobble = 1.0 + 0.08 * math.sin((t / SECOND) / 97.0 + seed_noise)
        if state.memory_fraction is not None:
            memory = (
                workload.memory_limit_mi
                * 1048576.0
                * min(0.99, state.memory_fraction + (t - state.at) / MINUTE * state.memory_per_minute)
            )
        else:
            memory = workload.memory_mi * 1048576.0 * wobble
        alive = max(0, t - pod.created) / SECOND
        rate = workload.cpu_millis / 1000.0 * (1.0 + 0.05 * math.sin(seed_noise))
        limit = cluster.pod_cpu_limit_m(pod)
        # A counter: the extra CPU of every state so far (a hot loop, up to the container's limit)
        # stays counted after the state ends.
        extra = 0.0
        for index, earlier in enumerate(pod.states):
            if earlier.at > t:
                break
            until = pod.states[index + 1].at if index + 1 < len(pod.states) else t
            factor = earlier.cpu_factor if limit is None else min(earlier.cpu_factor, limit / 1000.0 / rate)
            extra += (factor - 1.0) * max(0, min(t, until) - earlier.at) / SECOND
        cpu = alive * rate + extra * rate
        tags = {**container, "node": pod.node}
        samples.append(PodSample("container_cpu_usage_seconds_total", round(cpu, 6), tags))
        samples.append(PodSample("container_memory_working_set_bytes", float(int(memory)), tags))
        periods = cfs_periods(pod, t, cluster)
        if periods is not None:
            samples.append(PodSample("container_cpu_cfs_periods_total", periods[0], tags))
            samples.append(PodSample("container_cpu_cfs_throttled_periods_total", periods[1], tags))
    return samples


CFS_PERIODS_PER_SECOND = 10  # the kernel's default CFS period, 100 ms
_SCRAPES_FOR_INCREASE = 30 * SECOND


def throttled_share(demand_cores: float, limit_cores: float) -> float:
    """The share of CFS periods in which a container asking for ``demand_cores`` on average runs
    out of its quota: its work per period spread evenly between none and twice the mean, so none
    below half the limit, half at the limit, nearly all for a process that never sleeps."""
    ratio = demand_cores / limit_cores
    return 0.0 if ratio <= 0.5 else min(1.0, 1.0 - 1.0 / (2.0 * ratio))


def cfs_periods(pod: Pod, t: int, cluster: Cluster) -> tuple[float, float] | None:
    """cAdvisor's ``container_cpu_cfs_periods_total`` and ``..._throttled_periods_total`` of the
    pod's container at ``t`` (since the pod started; None without a CPU limit, hence no quota):
    a period every 100 ms while the container runs, throttled by the share its demand gives."""
    limit = cluster.pod_cpu_limit_m(pod)
    if limit is None:
        return None
    usual = cluster.app.workload_by_name[pod.workload].cpu_millis / 1000.0
    periods = 0.0
    throttled = 0.0
    states = pod.states
    for index, state in enumerate(states):
        if state.at > t:
            break
        if state.running_since is None or not state.scheduled or state.phase == "Failed":
            continue
        # A container instance has its own counters, and a run shorter than two of the kubelet
        # scrapes (30 s apart) leaves no increase() to read (a crash loop's second-long runs).
        run_end = next(
            (later.at for later in states[index + 1 :] if later.running_since != state.running_since), t
        )
        if min(run_end, t) - state.running_since < _SCRAPES_FOR_INCREASE:
            continue
        until = states[index + 1].at if index + 1 < len(states) else t
        span = CFS_PERIODS_PER_SECOND * max(0, min(t, until) - state.at) / SECOND
        periods += span
        throttled += span * throttled_share(usual * state.cpu_factor, limit / 1000.0)
    return float(round(periods)), float(round(throttled))


_NAME_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def safe_file_part(name: str) -> str:
    return _NAME_SAFE.sub("_", name)
