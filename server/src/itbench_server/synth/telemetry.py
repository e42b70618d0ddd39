"""Span metrics, pod metrics and alerts, computed from the traffic model and the cluster.

``SpanStats`` counts spans in 10-second slots the way the OpenTelemetry spanmetrics connector
does (calls by service, kind and status; a latency histogram of server spans). The alert rules of
the OpenTelemetry Demo and of kube-prometheus are evaluated on those counts and on the cluster's
pod states every 30 seconds, as Prometheus would, and sampled once a minute.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from itbench_server.synth.application import DEMO
from itbench_server.synth.cluster import MINUTE, SECOND, Cluster, Pod
from itbench_server.synth.traffic import MS, Span

__all__ = [
    "BUCKETS_MS",
    "DATABASE_SPAN",
    "EXCLUDED",
    "SLOT",
    "Alert",
    "AlertEvaluator",
    "PodSample",
    "SpanStats",
    "alert_json",
    "pod_samples",
    "prometheus_value",
    "safe_file_part",
]

SLOT = 10 * SECOND
BUCKETS_MS: tuple[float, ...] = (25, 100, 250, 500, 1000, 2500, 10000, math.inf)
EXCLUDED = ("flagd", "load-generator")
DATABASE_SPAN = ("accounting", "postgresql", "Client")


@dataclass
class SpanStats:
    """Span counts per 10-second slot, for metrics and alert rules."""

    start: int
    end: int
    calls: dict[tuple[str, str, str], list[int]] = field(
        default_factory=dict
    )  # (service, kind, status) -> per slot
    database: list[int] = field(default_factory=list)
    buckets: dict[str, list[list[int]]] = field(default_factory=dict)  # service -> per slot -> per bucket
    sums: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.slots = (self.end - self.start) // SLOT + 1
        self.database = [0] * self.slots

    def add(self, span: Span) -> None:
        slot = (span.start - self.start) // SLOT
        if slot < 0 or slot >= self.slots:
            return
        status = "Error" if span.status == "Error" else "Unset"
        key = (span.service, span.kind, status)
        series = self.calls.get(key)
        if series is None:
            series = self.calls[key] = [0] * self.slots
        series[slot] += 1
        if (span.service, span.name, span.kind) == DATABASE_SPAN:
            self.database[slot] += 1
        if span.kind in ("Server", "Consumer") or (
            span.service == "load-generator" and span.kind == "Client"
        ):
            histogram = self.buckets.get(span.service)
            if histogram is None:
                histogram = self.buckets[span.service] = [[0] * len(BUCKETS_MS) for _ in range(self.slots)]
                self.sums[span.service] = [0.0] * self.slots
            ms = span.duration / MS
            row = histogram[slot]
            for index, bound in enumerate(BUCKETS_MS):
                if ms <= bound:
                    row[index] += 1
                    break
            self.sums[span.service][slot] += ms

    def _range(self, t: int, width: int) -> range:
        last = min(self.slots, (t - self.start) // SLOT + 1)
        first = max(0, last - width // SLOT)
        return range(first, last)

    def count(self, service: str, status: str, t: int, width: int) -> int:
        total = 0
        for (name, _kind, state), series in self.calls.items():
            if name == service and state == status:
                total += sum(series[i] for i in self._range(t, width))
        return total

    def count_kind(self, service: str, kind: str, status: str, t: int, width: int) -> int:
        """Spans of ``kind`` with ``status`` that ``service`` recorded in the window (t - width, t]."""
        total = 0
        for (name, span_kind, state), series in self.calls.items():
            if name == service and span_kind == kind and state == status:
                total += sum(series[i] for i in self._range(t, width))
        return total

    def covered(self, t: int, width: int) -> bool:
        """Whether the window (t - width, t] lies inside the simulated span of time."""
        return t - width >= self.start

    def p95(self, service: str, t: int, width: int) -> float | None:
        histogram = self.buckets.get(service)
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

    def cumulative_calls(self, t: int) -> Iterator[tuple[tuple[str, str, str], int]]:
        upto = (t - self.start) // SLOT + 1
        for key in sorted(self.calls):
            series = self.calls[key]
            value = sum(series[: max(0, upto)])
            if value:
                yield key, value

    def cumulative_buckets(self, service: str, t: int) -> tuple[list[int], float] | None:
        histogram = self.buckets.get(service)
        if histogram is None:
            return None
        upto = max(0, (t - self.start) // SLOT + 1)
        counts = [0] * len(BUCKETS_MS)
        for row in histogram[:upto]:
            for index, value in enumerate(row):
                counts[index] += value
        running = 0
        cumulative = []
        for value in counts:
            running += value
            cumulative.append(running)
        return cumulative, sum(self.sums[service][:upto])


@dataclass
class Alert:
    name: str
    labels: dict[str, str]
    description: str
    active_at: int
    value: float
    severity: str

    @property
    def key(self) -> tuple[str, ...]:
        return (self.name, *sorted(f"{k}={v}" for k, v in self.labels.items()))


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
    ) -> None:
        self.stats = stats
        self.rate_scale = rate_scale  # written requests per simulated request (the span metrics')
        self.cluster = cluster
        self.extra = list(extra)  # (from, until, alert): alerts of things the rules do not model
        self.start = stats.start
        self.end = stats.end
        self._streaks: dict[tuple[str, ...], int] = {}
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
            rate = errors / 120.0 * self.rate_scale
            # BookInfo's rule fires on any error and says so; the demo's says 3 or 1 (its slip)
            threshold = (3 if service.startswith("frontend") else 1) if app is DEMO else 0
            self._track(
                out,
                t,
                errors > 0,
                3 * MINUTE,
                Alert(
                    "HighRequestErrorRate",
                    {"alertname": "HighRequestErrorRate", **labels},
                    f"Request error rate in service {service} in namespace {namespace} is above {threshold} (current: {rate:.4g})",
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
                    f"Latency in service {service} in namespace {namespace} is above {limit} (current: {(p95 or 0) / 1000:.4g}s)",
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
        self._kube(out, t)
        out.extend(alert for since, until, alert in self.extra if since <= t < until)
        return out

    def _kube(self, out: list[Alert], t: int) -> None:
        cluster = self.cluster
        namespace = cluster.app.namespace
        container_of = cluster.app.container_of
        base = {"job": "kube-state-metrics", "namespace": namespace, "severity": "warning"}
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
    if alert.name.startswith("Kube") or alert.name == "Watchdog":
        annotations["runbook_url"] = (
            f"https://runbooks.prometheus-operator.dev/runbooks/kubernetes/{alert.name.lower()}"
        )
        annotations["summary"] = {
            "Watchdog": "An alert that should always be firing to certify that Alertmanager is working properly.",
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
        cpu = alive * rate + (state.cpu_factor - 1.0) * rate * max(0, t - state.at) / SECOND
        tags = {**container, "node": pod.node}
        samples.append(PodSample("container_cpu_usage_seconds_total", round(cpu, 6), tags))
        samples.append(PodSample("container_memory_working_set_bytes", float(int(memory)), tags))
    return samples


_NAME_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def safe_file_part(name: str) -> str:
    return _NAME_SAFE.sub("_", name)
