"""``generate_scenario``: one synthetic incident written in the published ITBench-AA layout."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

import yaml

from itbench_server.errors import GeneratorError
from itbench_server.synth.application import DEMO, Application
from itbench_server.synth.bookinfo import BOOKINFO, MeshStats
from itbench_server.synth.cluster import (
    MINUTE,
    SECOND,
    Cluster,
    EventRecord,
    JsonObject,
    Pod,
    iso_micro,
    platform_pod_samples,
)
from itbench_server.synth.faults import FAULT_TYPES, Fault, FaultSet, Incident, LogLine
from itbench_server.synth.formats import VARIANTS, Style, TsvWriter, quote
from itbench_server.synth.groundtruth import build_ground_truth
from itbench_server.synth.infrastructure import install_platform
from itbench_server.synth.log_templates import BACKGROUND_SERVICES, background_records
from itbench_server.synth.logs import access_log, client_error_log, request_log
from itbench_server.synth.lookalike import lookalike, suite
from itbench_server.synth.noise import Noise, add_collector_config, plant_noise
from itbench_server.synth.sizes import SIZES, SizePreset
from itbench_server.synth.telemetry import (
    BUCKETS_MS,
    KAFKA_CLIENT_METRICS,
    KAFKA_GROUPS,
    KAFKA_TOPIC,
    SLOT,
    AlertEvaluator,
    KafkaGroups,
    SpanStats,
    alert_json,
    pod_samples,
    safe_file_part,
)
from itbench_server.synth.topology import FLOWS, Flow
from itbench_server.synth.traffic import Traffic, exception_event

__all__ = [
    "APPLICATIONS",
    "FAULTS",
    "FAULT_OFFSET",
    "HOME",
    "LOG_COLUMNS",
    "POD_METRIC_COLUMNS",
    "SERVICE_METRIC_COLUMNS",
    "SIMULATED_REQUESTS_PER_SLOT",
    "SIZES",
    "TRACE_COLUMNS",
    "WINDOW",
    "Injection",
    "Layout",
    "SizePreset",
    "cached_suite",
    "describe_faults",
    "generate_lookalike",
    "generate_scenario",
    "generate_suite",
    "generator_fingerprint",
    "scenario_noise",
    "size_preset",
]

FAULTS: Final[dict[str, type[Fault]]] = {fault.name: fault for fault in FAULT_TYPES}
APPLICATIONS: Final[dict[str, Application]] = {app.name: app for app in (DEMO, BOOKINFO)}
HOME: Final = next(flow for flow in FLOWS if flow.name == "home")

LOG_COLUMNS: Final = (
    "Timestamp",
    "TimestampTime",
    "TraceId",
    "SpanId",
    "TraceFlags",
    "SeverityText",
    "SeverityNumber",
    "ServiceName",
    "Body",
    "ResourceSchemaUrl",
    "ResourceAttributes",
    "ScopeSchemaUrl",
    "ScopeName",
    "ScopeVersion",
    "ScopeAttributes",
    "LogAttributes",
    "EventName",
)
TRACE_COLUMNS: Final = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "ParentSpanId",
    "TraceState",
    "SpanName",
    "SpanKind",
    "ServiceName",
    "ResourceAttributes",
    "ScopeName",
    "ScopeVersion",
    "SpanAttributes",
    "Duration",
    "StatusCode",
    "StatusMessage",
    "Events.Timestamp",
    "Events.Name",
    "Events.Attributes",
    "Links.TraceId",
    "Links.SpanId",
    "Links.TraceState",
    "Links.Attributes",
)
POD_METRIC_COLUMNS: Final = ("metric_name", "timestamp", "value", "pod_name", "namespace", "tags")
SERVICE_METRIC_COLUMNS: Final = (
    "metric_name",
    "timestamp",
    "value",
    "service_name",
    "namespace",
    "bucket_le",
    "tags",
    "metric_type",
    "status_code",
)

WINDOW: Final = 20 * MINUTE
FAULT_OFFSET: Final = 3 * MINUTE + 30 * SECOND
SIMULATED_REQUESTS_PER_SLOT: Final = 40
_SEVERITY_NUMBER: Final = {"DEBUG": "5", "INFO": "9", "WARN": "13", "ERROR": "17", "FATAL": "21"}
_SCOPES: Final = {
    "nodejs": ("@opentelemetry/instrumentation-grpc", "0.57.2"),
    "go": ("go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc", "0.61.0"),
    "java": ("io.opentelemetry.grpc-1.6", "2.17.0-alpha"),
    "kotlin": ("io.opentelemetry.kafka-clients-0.11", "2.17.0-alpha"),
    "dotnet": ("OpenTelemetry.Instrumentation.AspNetCore", "1.12.0"),
    "python": ("opentelemetry.instrumentation.grpc", "0.55b1"),
    "rust": ("opentelemetry-http", "0.30.0"),
    "php": ("io.opentelemetry.contrib.php.slim", "1.1.0"),
    "cpp": ("currency", "1.21.0"),
    "ruby": ("OpenTelemetry::Instrumentation::Sinatra", "0.25.0"),
    "envoy": ("", ""),
    "nginx": ("", ""),
}


_BACKGROUND_CAP: Final = 20.0  # the infrastructure's log volume at most this many times the small size's


def size_preset(size: str, app: Application = DEMO) -> SizePreset:
    """A named preset, or a number of megabytes (``"50"``, ``"50MB"``) of an incident of ``app``."""
    if size in SIZES:
        return SIZES[size]
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(?:mb|MB|M|m)?", size.strip())
    if not match:
        raise GeneratorError(f"unknown size {size!r}: use one of {', '.join(SIZES)} or a number of megabytes")
    megabytes = float(match.group(1))
    if megabytes <= 0:
        raise GeneratorError(f"size must be a positive number of megabytes, got {size!r}")
    budget = max(0.0, megabytes * 1_000_000 - app.fixed_bytes)
    minutes = WINDOW / MINUTE
    # Background lines grow with the traffic (1x at the small size's rate) up to 20 times.
    small_rate = SIZES["small"].traces_per_minute
    per_rate_with_background = minutes * app.bytes_per_request + app.background_bytes / small_rate
    if budget <= _BACKGROUND_CAP * small_rate * per_rate_with_background:
        traces = budget / per_rate_with_background
    else:
        traces = (budget - _BACKGROUND_CAP * app.background_bytes) / (minutes * app.bytes_per_request)
    traces = max(0.5, traces)
    step = 60 * SECOND if megabytes < 100 else 30 * SECOND
    return SizePreset(traces, step, 0.5 if megabytes < 100 else 0.8, 0.5 if megabytes < 100 else 1.0)


@dataclass(frozen=True)
class Layout:
    """Where each file of a scenario goes (published layout, or the recorder's ``raw/``)."""

    root: Path
    raw: bool

    def tsv(self, name: str) -> Path:
        return self.root / "raw" / name if self.raw else self.root / name

    def pod_metrics(self, pod: str) -> Path:
        folder = self.root / "raw" / "metrics_pod" if self.raw else self.root / "metrics"
        return folder / f"pod_{safe_file_part(pod)}_raw.tsv"

    def service_metrics(self, service: str) -> Path:
        folder = self.root / "raw" / "metrics_service" if self.raw else self.root / "metrics"
        return folder / f"service_{safe_file_part(service)}_raw.tsv"


def _window_start(seed: int, rng: random.Random) -> int:
    base = int(datetime(2025, 12, 1, 8, 0, tzinfo=UTC).timestamp()) * SECOND
    minutes = (seed * 7919) % (40 * 24 * 60)
    return base + minutes * MINUTE + rng.randrange(0, 59) * SECOND + rng.randrange(0, 1000) * 1_000_000


def _prepare_output(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise GeneratorError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise GeneratorError(f"{out}: directory is not empty (use --force to replace a scenario there)")
        markers = ("ground_truth.yaml", "k8s_objects_raw.tsv", "raw", "alerts", "metrics")
        if not any((out / marker).exists() for marker in markers):
            raise GeneratorError(f"{out}: directory does not hold a scenario; refusing to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class Injection:
    """One fault of a scenario and the parameters that fix its target and details (a recipe's
    row); without parameters the fault draws them from the seed."""

    fault: str
    params: Mapping[str, Any] = field(default_factory=dict)


def _check_options(seed: int, variant: str) -> None:
    if variant not in VARIANTS:
        raise GeneratorError(f"unknown variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise GeneratorError(f"seed must be a non-negative integer, got {seed!r}")


def _check_fault(fault: str) -> None:
    if fault not in FAULTS:
        raise GeneratorError(f"unknown fault {fault!r}: choose one of {', '.join(FAULTS)}")


def generate_scenario(
    fault: str,
    seed: int,
    out: Path,
    *,
    size: str = "small",
    variant: str = "default",
    force: bool = False,
    params: Mapping[str, Any] | None = None,
) -> Path:
    """Write one synthetic incident into ``out`` and return ``out``.

    Deterministic: the same (fault, seed, size, variant) gives byte-identical files. The cluster,
    the fault's target and the alerts depend on (fault, seed) only; ``size`` changes how much
    traffic is written and ``variant`` only how values are printed and files are laid out.
    ``params`` fix the fault's target and details instead of drawing them from the seed;
    ``params["application"]`` picks the application (default: the first the fault runs on).
    """
    _check_fault(fault)
    _check_options(seed, variant)
    options = dict(params or {})
    # the fault's first application unless the parameters name one (``application="bookinfo"``)
    app = _application(options.pop("application", FAULTS[fault].applications[0]))
    return _write(fault, [Injection(fault, options)], seed, out, size, variant, force, app)


def generate_lookalike(
    number: int,
    seed: int,
    out: Path,
    *,
    size: str = "small",
    variant: str = "default",
    force: bool = False,
) -> Path:
    """Write an incident shaped like public scenario ``number`` (its fault, targets, parameters
    and answer-key structure) into ``out``; deterministic per (number, seed, size, variant)."""
    row = lookalike(number)
    _check_options(seed, variant)
    injections = [Injection(fault, dict(params)) for fault, params in row.injections]
    return _write(
        f"like-{number}",
        injections,
        seed,
        out,
        size,
        variant,
        force,
        _application(row.application),
        cpu_limits=row.cpu_limits,
    )


def generate_suite(
    name: str,
    out: Path,
    *,
    seed: int = 0,
    size: str = "small",
    variant: str = "default",
    force: bool = False,
    jobs: int = 1,
) -> list[Path]:
    """Write every look-alike of suite ``name`` as ``out/Scenario-<N>``; returns the directories.

    ``jobs`` scenarios are written at once (processes); the files do not depend on it.
    """
    numbers = suite(name)
    _check_options(seed, variant)
    size_preset(str(size))
    out = Path(out)
    targets = [out / f"Scenario-{number}" for number in numbers]
    for target in targets:
        if target.exists() and any(target.iterdir()) and not force:
            raise GeneratorError(f"{target}: directory is not empty (use --force to replace the suite there)")
    tasks = [
        (number, seed, target, size, variant, force) for number, target in zip(numbers, targets, strict=True)
    ]
    if jobs <= 1:
        return [_write_lookalike(task) for task in tasks]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(_write_lookalike, tasks))


def generator_fingerprint() -> str:
    """A digest of the generator's code: suites written by another generator are not reused."""
    from itbench_server import __version__

    root = Path(__file__).resolve().parent
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cached_suite(
    name: str,
    *,
    cache_dir: Path | None = None,
    seed: int = 0,
    size: str = "small",
    variant: str = "default",
    jobs: int = 1,
) -> Path:
    """The directory of suite ``name`` in the cache, written on first use (per generator, seed,
    size and variant); concurrent callers may both write it, one keeps its copy."""
    from itbench_server.snapshot.store import default_cache_dir

    suite(name)
    base = Path(cache_dir or default_cache_dir()) / "suites"
    target = base / f"{name}-{size}-{variant}-seed{seed}-{generator_fingerprint()}"
    if (target / _COMPLETE).is_file():
        return target
    base.mkdir(parents=True, exist_ok=True)
    scratch = base / f".{target.name}.{os.getpid()}.partial"
    shutil.rmtree(scratch, ignore_errors=True)
    generate_suite(name, scratch, seed=seed, size=size, variant=variant, jobs=jobs)
    (scratch / _COMPLETE).write_text("", encoding="utf-8")
    try:
        scratch.rename(target)
    except OSError:  # another process finished first (or an incomplete copy is in the way)
        if not (target / _COMPLETE).is_file():
            shutil.rmtree(target, ignore_errors=True)
            scratch.rename(target)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return target


_COMPLETE = ".complete"


def _write_lookalike(task: tuple[int, int, Path, str, str, bool]) -> Path:
    number, seed, target, size, variant, force = task
    return generate_lookalike(number, seed, target, size=size, variant=variant, force=force)


def _application(name: str) -> Application:
    if name not in APPLICATIONS:
        raise GeneratorError(f"unknown application {name!r}: choose one of {', '.join(APPLICATIONS)}")
    return APPLICATIONS[name]


def _write(
    label: str,
    injections: list[Injection],
    seed: int,
    out: Path,
    size: str,
    variant: str,
    force: bool,
    app: Application = DEMO,
    *,
    cpu_limits: bool = True,
) -> Path:
    preset = size_preset(str(size), app)
    scenario = _Scenario(
        label, injections, seed, preset, variant, Path(out), app=app, cpu_limits=cpu_limits
    )  # checks the parameters
    out = Path(out)
    _prepare_output(out, force)
    scenario.write()
    return out


def scenario_noise(fault: str, seed: int) -> Noise:
    """The background noise planted in the scenario of ``(fault, seed)`` (the same at every size
    and variant): which catalogue entries, on which objects, and the alerts they fire."""
    _check_fault(fault)
    app = _application(FAULTS[fault].applications[0])
    return _Scenario(
        fault, [Injection(fault)], seed, SIZES["tiny"], "default", Path(), simulate=False, app=app
    ).noise


class _Scenario:
    def __init__(
        self,
        label: str,
        injections: list[Injection],
        seed: int,
        preset: SizePreset,
        variant: str,
        out: Path,
        *,
        simulate: bool = True,
        app: Application = DEMO,
        cpu_limits: bool = True,
    ) -> None:
        self.app = app
        self.home = next((flow for flow in app.flows if flow.name == "home"), app.flows[0])
        self.fault_name = label
        self.seed = seed
        self.preset = preset
        self.variant = variant
        self.style = Style(variant)
        self.layout = Layout(out, raw=variant == "raw")
        key = f"{label}:{seed}"
        self.start = _window_start(seed, random.Random(f"{key}:window"))
        self.end = self.start + WINDOW
        # The span metrics count what the traces hold: every counter of the fixed-rate simulation
        # is scaled by the ratio of the written rate to the simulated one, up or down (rates,
        # shares and latencies, and so the alerts that fire, do not change with the size).
        simulated_per_second = SIMULATED_REQUESTS_PER_SLOT / (SLOT / SECOND)
        self.metric_scale = preset.traces_per_minute / 60 / simulated_per_second
        self.fault_at = self.start + FAULT_OFFSET + random.Random(f"{key}:offset").randrange(0, 30) * SECOND
        self.cluster = Cluster(random.Random(f"{key}:cluster"), self.start, self.end, app)
        self.cluster.cpu_limits = cpu_limits
        self.cluster.build_static()
        for workload in app.workloads:
            self.cluster.add_workload(workload)
        faults = []
        for index, injection in enumerate(injections):
            _check_fault(injection.fault)
            fault_type = FAULTS[injection.fault]
            if app.name not in fault_type.applications:
                raise GeneratorError(
                    f"fault {injection.fault!r} does not run on the application {app.name!r}"
                )
            rng = random.Random(f"{key}:fault" if index == 0 else f"{key}:fault:{index}")
            fault = fault_type(rng, injection.params)
            fault.check_params()
            faults.append(fault)
        self.fault = faults[0] if len(faults) == 1 else FaultSet(faults)
        self.fault.setup(self.cluster)
        self.incident = Incident(
            self.cluster, random.Random(f"{key}:incident"), self.start, self.end, self.fault_at
        )
        self.fault.inject(self.incident)
        self.fault.run_waiters(self.incident)
        if app is DEMO:  # the load generator and the collector are the demo's
            self._routine_change(random.Random(f"{key}:routine"))
            add_collector_config(self.cluster)  # after the fault, so its names do not depend on it
        self.noise = plant_noise(self.incident, self.fault, random.Random(f"{key}:noise"))
        install_platform(self.cluster)  # last, so the demo's and the fault's names do not depend on it
        if not simulate:
            return
        self.disruption = self.noise.disrupt(self.fault.disruption())
        self.stats = self._simulate(random.Random(f"{key}:simulation"))
        # Kafka and its consumer groups are the demo's
        self.kafka = (
            KafkaGroups(self.stats, self._consumer_state, self.metric_scale, f"{key}:kafka")
            if app is DEMO
            else None
        )
        self.alerts = AlertEvaluator(
            self.stats, self.cluster, self.noise.alerts, rate_scale=self.metric_scale, kafka=self.kafka
        )
        self.out_rng = random.Random(f"{key}:output")

    def _routine_change(self, rng: random.Random) -> None:
        """A harmless change unrelated to the fault, as real clusters have (a restarted workload)."""
        target = rng.choice(("load-generator", "otel-collector", None))
        if target is None or target in self.fault.involved_workloads():
            return
        at = self.start + rng.randrange(60, 150) * SECOND
        blocked = self.fault.blocks_new_pods_from(self.incident)
        if rng.random() < 0.5 and blocked is None:
            at = self.fault_at + rng.randrange(150, 420) * SECOND
        self.cluster.restart(target, at)

    def _consumer_state(self, t: int, group: str) -> str:
        """Where consumer ``group`` is at ``t``: ``member`` of its group (a running pod of it and
        of Kafka, nothing between them), ``cut`` (running, Kafka out of reach) or ``down``."""
        if not self.cluster.ready_pods(group, t):
            return "down"
        if self.cluster.ready_pods("kafka", t) and self.disruption.consumes(t, group):
            return "member"
        return "cut"

    def _simulate(self, rng: random.Random) -> SpanStats:
        sim_start = self.start - 6 * MINUTE
        stats = SpanStats(sim_start, self.end)
        # Istio's metrics, from the same simulated requests (BookInfo runs in the mesh)
        self.mesh = MeshStats(sim_start, self.end, SLOT) if self.app is BOOKINFO else None
        traffic = Traffic(self.cluster, self.disruption, rng)
        slot = sim_start
        while slot < self.end:
            for _ in range(SIMULATED_REQUESTS_PER_SLOT):
                spans = traffic.run(slot + rng.randrange(0, SLOT)).spans
                for span in spans:
                    stats.add(span)
                if self.mesh is not None:
                    self.mesh.add(spans)
            # A flooding load generator adds home-page requests on top.
            for _ in range(round(SIMULATED_REQUESTS_PER_SLOT * self.disruption.flood(slot))):
                for span in traffic.run(slot + rng.randrange(0, SLOT), self.home).spans:
                    stats.add(span)
            slot += SLOT
        return stats

    # ------------------------------------------------------------------ files
    def write(self) -> None:
        self._write_traces_and_logs()
        self._write_events()
        self._write_objects()
        self._write_metrics()
        self._write_alerts()
        self._write_ground_truth()

    def _open(self, path: Path) -> IO[str]:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("w", encoding="utf-8", newline="")

    def _log_columns(self) -> tuple[str, ...]:
        return LOG_COLUMNS[:-1] if self.style.go else LOG_COLUMNS

    # -- resource attributes, cached per pod
    def _resource(self, pod: Pod | None, service: str) -> str:
        cache: dict[str, str] = self.__dict__.setdefault("_resource_cache", {})
        key = pod.name if pod else f"-{service}"
        text = cache.get(key)
        if text is None:
            workload = self.app.workload_by_name.get(service)
            attributes = {"k8s.namespace.name": self.app.namespace, "service.name": service}
            if pod is not None:
                attributes.update(
                    {
                        "k8s.pod.name": pod.name,
                        "k8s.pod.uid": pod.uid,
                        "k8s.container.name": self.app.container_of(pod.workload),
                        "k8s.deployment.name": pod.workload,
                        "k8s.node.name": pod.node,
                    }
                )
            attributes["service.version"] = "2.0.2"
            if workload is not None:
                attributes["telemetry.sdk.language"] = workload.language
            text = quote(self.style.attrs(attributes))
            cache[key] = text
        return text

    def _write_traces_and_logs(self) -> None:
        style = self.style
        rng = self.out_rng
        traffic = Traffic(
            self.cluster, self.disruption, random.Random(f"{self.fault_name}:{self.seed}:traffic")
        )
        minutes = WINDOW / MINUTE
        count = max(1, round(self.preset.traces_per_minute * minutes))
        times = sorted(self.start + rng.randrange(0, WINDOW - 30 * SECOND) for _ in range(count))
        flows: dict[int, Flow] = {}
        for t in times:  # a flooding load generator's extra home-page requests, in proportion
            for index in range(round(self.disruption.flood(t))):
                flows[t + 1_000 * (index + 1)] = self.home
        times = sorted([*times, *flows])
        extra = sorted(self._extra_logs(), key=lambda line: line.at)
        log_columns = self._log_columns()
        empty_map = quote(style.attrs({}))
        empty_list = style.str_list([])
        go = style.go
        span_attr_cache: dict[int, str] = {}
        kind_text = {k: style.span_kind(k) for k in ("Server", "Client", "Internal", "Producer", "Consumer")}
        status_text = {s: style.status_code(s) for s in ("Unset", "Ok", "Error")}
        scope_text = {lang: (quote(name), version) for lang, (name, version) in _SCOPES.items()}
        log_attr_cache: dict[str, str] = {}

        def log_attributes(kind: str) -> str:
            text = log_attr_cache.get(kind)
            if text is None:
                text = quote(style.attrs({"log.record.kind": kind} if kind else {}))
                log_attr_cache[kind] = text
            return text

        with (
            self._open(self.layout.tsv("otel_traces_raw.tsv")) as trace_file,
            self._open(self.layout.tsv("otel_logs_raw.tsv")) as log_file,
        ):
            traces = TsvWriter(trace_file, TRACE_COLUMNS)
            logs = TsvWriter(log_file, log_columns)
            by_name = self.app.workload_by_name
            service_log = self.app.request_log or request_log

            def log_row(
                at: int,
                service: str,
                pod: Pod | None,
                severity: str,
                body: str,
                trace_id: str = "",
                span_id: str = "",
                attributes: str | None = None,
            ) -> None:
                language = by_name[service].language if service in by_name else ""
                scope_name, scope_version = scope_text.get(language, ("", ""))
                fields = [
                    style.ts(at),
                    style.ts_seconds(at),
                    trace_id,
                    span_id,
                    "1" if trace_id else "0",
                    severity,
                    _SEVERITY_NUMBER[severity],
                    service,
                    quote(body),
                    "",
                    self._resource(pod, service),
                    "",
                    scope_name,
                    scope_version,
                    empty_map,
                    attributes or log_attributes(""),
                ]
                if not go:
                    fields.append("")
                logs.write_line("\t".join(fields) + "\n")

            pending = 0
            for t in times:
                while pending < len(extra) and extra[pending].at <= t:
                    line = extra[pending]
                    pod = next((p for p in self.cluster.pods if p.name == line.pod), None)
                    log_row(line.at, line.service, pod, line.severity, line.body)
                    pending += 1
                outcome = traffic.run(t, flows.get(t))
                ingress_path = ""
                for span in outcome.spans:
                    if span.shared:
                        attributes = span_attr_cache.get(id(span.attributes))
                        if attributes is None:
                            attributes = span_attr_cache[id(span.attributes)] = quote(
                                style.attrs(span.attributes)
                            )
                    else:
                        attributes = quote(style.attrs(span.attributes))
                    language = by_name[span.service].language if span.service in by_name else ""
                    scope_name, scope_version = scope_text.get(language, ("", ""))
                    # an uninstrumented application's spans are its Envoy sidecars': no exception events
                    exception = exception_event(span, language if self.app.instrumented else "envoy")
                    if exception is not None:
                        events = (
                            style.ts_list([span.start + span.duration - 100_000]),
                            style.str_list(["exception"]),
                            quote(style.map_list([exception])),
                        )
                    else:
                        events = (empty_list, empty_list, empty_list)
                    traces.write_line(
                        "\t".join(
                            (
                                style.ts(span.start),
                                span.trace_id,
                                span.span_id,
                                span.parent_id,
                                "",
                                quote(span.name),
                                kind_text[span.kind],
                                span.service,
                                self._resource(span.pod, span.service),
                                scope_name,
                                scope_version,
                                attributes,
                                str(span.duration),
                                status_text[span.status],
                                quote(span.message),
                                *events,
                                empty_list,
                                empty_list,
                                empty_list,
                                empty_list,
                            )
                        )
                        + "\n"
                    )
                    if span.kind in ("Server", "Consumer"):
                        if span.service == "frontend-proxy":
                            ingress_path = span.attributes.get("url.path", "/")
                            if rng.random() < self.preset.access_log_share:
                                status = span.attributes.get("http.response.status_code", "200")
                                upstream = (
                                    "frontend" if not ingress_path.startswith("/images") else "image-provider"
                                )
                                upstream_pods = self.cluster.ready_pods(upstream, span.start)
                                upstream_pod = f"{upstream_pods[0].ip}:8080" if upstream_pods else "-"
                                body = access_log(span, ingress_path, status, upstream, upstream_pod, rng)
                                attributes_text = quote(
                                    style.attrs(
                                        {
                                            "event.name": "proxy.access",
                                            "url.path": ingress_path,
                                            "http.request.method": span.attributes.get(
                                                "http.request.method", "GET"
                                            ),
                                            "http.response.status_code": status,
                                            "upstream.cluster": upstream,
                                        }
                                    )
                                )
                                # Envoy stamps an access log with the request's start (%START_TIME%)
                                log_row(
                                    span.start,
                                    "frontend-proxy",
                                    span.pod,
                                    "INFO",
                                    body,
                                    span.trace_id,
                                    span.span_id,
                                    attributes_text,
                                )
                            continue
                        if span.status == "Error" or rng.random() < self.preset.log_share:
                            line = service_log(span, rng)
                            if line is not None:
                                # at the span's end, the time the styles that print one print
                                log_row(
                                    span.start + span.duration,
                                    span.service,
                                    span.pod,
                                    line[0],
                                    line[1],
                                    span.trace_id,
                                    span.span_id,
                                )
                    elif span.status == "Error":
                        line = client_error_log(span)
                        if line is not None:
                            log_row(
                                span.start + span.duration,
                                span.service,
                                span.pod,
                                line[0],
                                line[1],
                                span.trace_id,
                                span.span_id,
                            )
            for line in extra[pending:]:
                pod = next((p for p in self.cluster.pods if p.name == line.pod), None)
                log_row(line.at, line.service, pod, line.severity, line.body)
            traces.flush()
            logs.flush()

    def _usual_served(self) -> dict[str, float]:
        """Requests each service serves well per slot before the fault (the simulation's count)."""
        stats = self.stats
        before = max(1, min(stats.slots, stats.slot_of(self.fault_at)))
        served: dict[str, float] = {}
        for (service, _name, kind, status), series in stats.calls.items():
            if kind in ("Server", "Consumer") and status == "Unset":
                served[service] = served.get(service, 0.0) + sum(series[:before]) / before
        return served

    def _served_share(self, service: str, start: int, end: int, usual: float) -> float:
        """The requests ``service`` served well in [start, end) as a share of its usual rate (1 for
        a service that serves none: its lines are its own, not its requests')."""
        stats = self.stats
        if usual <= 0:
            return 1.0
        first = max(0, stats.slot_of(start))
        last = min(stats.slots, max(first + 1, stats.slot_of(end)))
        served = 0
        for (name, _span_name, kind, status), series in stats.calls.items():
            if name == service and kind in ("Server", "Consumer") and status == "Unset":
                served += sum(series[first:last])
        return min(1.5, served / (last - first) / usual)

    def _extra_logs(self) -> list[LogLine]:
        lines = list(self.incident.logs)
        rng = random.Random(f"{self.fault_name}:{self.seed}:background")
        t = self.start + 7 * SECOND
        every = self.preset.background_every
        # Background volume follows the traffic written: 1x at the small size's rate.
        volume = min(_BACKGROUND_CAP, self.preset.traces_per_minute / SIZES["small"].traces_per_minute)
        usual = self._usual_served()
        while t < self.end:
            for service in BACKGROUND_SERVICES:
                for pod in self.cluster.ready_pods(service, t)[:1]:
                    # A service that serves fewer requests (or fails them) logs less of its routine:
                    # no "Received quote" lines while it cannot reach quote.
                    share = self._served_share(service, t, t + every, usual.get(service, 0.0))
                    records = background_records(service, pod, t, every, rng, volume=volume * share)
                    for at, severity, body in records:
                        if at < self.end and pod.exists(at):
                            lines.append(LogLine(at, service, pod.name, severity, body))
            t += every
        return lines

    # -- events
    def _event_envelope(self, record: EventRecord) -> JsonObject:
        event = record.event
        go_style = self.style.go and event["source"].get("component") in (
            "default-scheduler",
            "chaos-controller-manager",
        )
        if not go_style:
            return {"type": record.watch_type, "object": event}
        converted: JsonObject = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": event["metadata"],
            "eventTime": iso_micro(
                int(
                    datetime.strptime(event["firstTimestamp"], "%Y-%m-%dT%H:%M:%SZ")
                    .replace(tzinfo=UTC)
                    .timestamp()
                )
                * SECOND
            ),
            "reportingController": event["source"].get("component", ""),
            "reportingInstance": event["source"].get("component", ""),
            "action": {"Scheduled": "Binding", "FailedScheduling": "Scheduling"}.get(
                event["reason"], event["reason"]
            ),
            "reason": event["reason"],
            "regarding": event["involvedObject"],
            "note": event["message"],
            "type": event["type"],
            "deprecatedCount": event["count"],
            "deprecatedFirstTimestamp": event["firstTimestamp"],
            "deprecatedLastTimestamp": event["lastTimestamp"],
            "deprecatedSource": event["source"],
        }
        return {"type": record.watch_type, "object": converted}

    def _write_events(self) -> None:
        style = self.style
        horizon = self.start - 60 * MINUTE if self.preset.replay_events else self.start
        records = [r for r in self.cluster.event_stream() if horizon <= r.observed < self.end]
        records.sort(key=lambda r: r.observed)
        scope = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/k8sobjectsreceiver"
        with self._open(self.layout.tsv("k8s_events_raw.tsv")) as stream:
            writer = TsvWriter(stream, self._log_columns())
            for index, record in enumerate(records):
                observed = max(record.observed, self.start + 150_000_000 + index * 1000)
                name = record.event["metadata"]["name"]
                fields = [
                    style.ts(observed),
                    style.ts_seconds(observed),
                    "",
                    "",
                    "0",
                    "",
                    "0",
                    "",
                    style.event_body(self._event_envelope(record)),
                    "",
                    style.attrs({}),
                    "",
                    scope,
                    "0.129.1",
                    style.attrs({}),
                    style.attrs({"event.domain": "k8s", "event.name": name, "k8s.resource.name": "events"}),
                ]
                if not style.go:
                    fields.append("")
                writer.write_row(fields)
            writer.flush()

    # -- objects
    def _write_objects(self) -> None:
        style = self.style
        scope = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/k8sobjectsreceiver"
        with self._open(self.layout.tsv("k8s_objects_raw.tsv")) as stream:
            writer = TsvWriter(stream, self._log_columns())
            listed = self.start + 20 * SECOND
            while listed < self.end:
                for index, (resource, body) in enumerate(self.cluster.listing(listed)):
                    at = listed + index * 250_000
                    fields = [
                        style.ts(at),
                        style.ts_seconds(at),
                        "",
                        "",
                        "0",
                        "",
                        "0",
                        "",
                        style.object_body(body),
                        "",
                        style.attrs({}),
                        "",
                        scope,
                        "0.129.1",
                        style.attrs({}),
                        style.attrs(
                            {"event.domain": "k8s", "event.name": body["kind"], "k8s.resource.name": resource}
                        ),
                    ]
                    if not style.go:
                        fields.append("")
                    writer.write_row(fields)
                listed += self.preset.listing_every
            writer.flush()

    # -- metrics
    def _sample_times(self) -> list[int]:
        step = self.preset.metric_step
        first = self.start - self.start % step + step
        return list(range(first, self.end, step))

    def _write_metrics(self) -> None:
        style = self.style
        times = self._sample_times()
        pods = sorted(
            (
                p
                for p in self.cluster.pods
                if p.created < self.end and (p.deleted is None or p.deleted > self.start)
            ),
            key=lambda p: p.name,
        )
        for pod in pods:
            rows: list[list[str]] = []
            noise = random.Random(pod.uid).random() * 6.28
            for t in times:
                if not pod.exists(t):
                    continue
                stamp = style.ts(t)
                rows.extend(
                    [
                        sample.metric,
                        stamp,
                        style.number(sample.value),
                        pod.name,
                        self.app.namespace,
                        style.attrs(sample.tags),
                    ]
                    for sample in pod_samples(pod, t, self.cluster, noise)
                )
            if not rows:
                continue
            with self._open(self.layout.pod_metrics(pod.name)) as stream:
                writer = TsvWriter(stream, POD_METRIC_COLUMNS)
                for row in rows:
                    writer.write_row(row)
                writer.flush()
        for platform_pod in sorted(self.cluster.platform_pods, key=lambda p: (p.namespace, p.name)):
            alive = [t for t in times if t >= platform_pod.created]
            if not alive:
                continue
            with self._open(self.layout.pod_metrics(platform_pod.name)) as stream:
                writer = TsvWriter(stream, POD_METRIC_COLUMNS)
                for t in alive:
                    stamp = style.ts(t)
                    for metric, value, tags in platform_pod_samples(platform_pod, t):
                        writer.write_row(
                            [
                                metric,
                                stamp,
                                style.number(value),
                                platform_pod.name,
                                platform_pod.namespace,
                                style.attrs(tags),
                            ]
                        )
                writer.flush()
        uptime = (self.start - self.cluster.installed) / SECOND
        columns = SERVICE_METRIC_COLUMNS[:-1] if style.go else SERVICE_METRIC_COLUMNS
        stats = self.stats
        scale = self.metric_scale
        namespace = self.app.namespace
        kafka = self.kafka
        first_slot_ends = stats.start + SLOT

        def counter(value: float) -> str:
            # Scaled up, whole spans; scaled down (fewer traces than the simulation), the fraction
            # is kept so that a counter rises in every window the simulation saw a span in.
            scaled = value * scale
            return style.number(float(int(scaled)) if scale >= 1 else round(scaled, 6))

        for service in self.app.traced:
            rows = []
            call_keys = sorted(key for key in stats.calls if key[0] == service)
            histogram_keys = sorted(key for key in stats.buckets if key[0] == service)
            # Counters started long before the window: add the first slot's rate times the uptime.
            call_offsets = {
                key: stats.calls[key][0] / (SLOT / SECOND) * uptime if key[3] == "Unset" else 0.0
                for key in call_keys
            }
            bucket_offsets = {
                key: [
                    base / (SLOT / SECOND) * uptime
                    for base in stats.cumulative_buckets(key, first_slot_ends)[0]
                ]
                for key in histogram_keys
            }
            for t in times:
                stamp = style.ts(t)
                upto = stats.upto(t)
                for key in call_keys:
                    _service, span_name, kind, status = key
                    value = sum(stats.calls[key][:upto]) + call_offsets[key]
                    if not value:
                        continue
                    status_code = f"STATUS_CODE_{status.upper()}"
                    tags = {
                        "namespace": namespace,
                        "service_name": service,
                        "span_kind": f"SPAN_KIND_{kind.upper()}",
                        "span_name": span_name,
                        "status_code": status_code,
                    }
                    rows.append(
                        [
                            "traces_span_metrics_calls_total",
                            stamp,
                            counter(value),
                            service,
                            namespace,
                            "",
                            style.attrs(tags),
                            "counter",
                            status_code,
                        ]
                    )
                if self.mesh is not None:
                    for metric, value, labels in self.mesh.samples(
                        service, t, self.start - self.cluster.installed, namespace
                    ):
                        rows.append(
                            [
                                metric,
                                stamp,
                                counter(value),
                                service,
                                namespace,
                                "",
                                style.attrs({**labels, "namespace": namespace}),
                                "counter",
                                "",
                            ]
                        )
                for key in histogram_keys:
                    _service, kind = key
                    counts, _sum = stats.cumulative_buckets(key, t)
                    if not counts[-1] and not bucket_offsets[key][-1]:
                        continue
                    for bound, value, offset in zip(BUCKETS_MS, counts, bucket_offsets[key], strict=True):
                        le = "+Inf" if bound == float("inf") else f"{bound:g}"
                        tags = {
                            "le": le,
                            "namespace": namespace,
                            "service_name": service,
                            "span_kind": f"SPAN_KIND_{kind.upper()}",
                        }
                        rows.append(
                            [
                                "traces_span_metrics_duration_milliseconds_bucket",
                                stamp,
                                counter(value + offset),
                                service,
                                namespace,
                                le,
                                style.attrs(tags),
                                "histogram",
                                "",
                            ]
                        )
            if kafka is not None and service in KAFKA_CLIENT_METRICS:
                job = f"opentelemetry-demo/{service}"
                for t in times:
                    tags = {"client_id": f"{service}-consumer", "job": job, "namespace": namespace}
                    rows.append(
                        [
                            "kafka_consumer_connection_close_rate",
                            style.ts(t),
                            style.number(kafka.close_rate_at(service, t)),
                            service,
                            namespace,
                            "",
                            style.attrs(tags),
                            "gauge",
                            "",
                        ]
                    )
            if not rows:
                continue
            with self._open(self.layout.service_metrics(service)) as stream:
                writer = TsvWriter(stream, columns)
                for row in rows:
                    writer.write_row(row[: len(columns)])
                writer.flush()
        if kafka is None:
            return
        # The collector's kafkametrics receiver: the consumer groups of the orders topic.
        rows = []
        for t in times:
            for group in KAFKA_GROUPS:
                tags = {"group": group, "namespace": namespace, "topic": KAFKA_TOPIC}
                for metric, value in (
                    ("kafka_consumer_group_members", float(kafka.members_at(group, t))),
                    ("kafka_consumer_group_lag_sum_ratio", kafka.lag_at(group, t)),
                ):
                    rows.append(
                        [
                            metric,
                            style.ts(t),
                            style.number(value),
                            "kafka",
                            namespace,
                            "",
                            style.attrs(tags),
                            "gauge",
                            "",
                        ]
                    )
        with self._open(self.layout.service_metrics("kafka")) as stream:
            writer = TsvWriter(stream, columns)
            for row in rows:
                writer.write_row(row[: len(columns)])
            writer.flush()

    # -- alerts
    def _write_alerts(self) -> None:
        times = [self.start + 15 * SECOND + minute * MINUTE for minute in range(int(WINDOW // MINUTE))]
        rng = random.Random(f"{self.fault_name}:{self.seed}:alerts")
        samples = []
        for t in times:
            at = t + rng.randrange(0, 999_999) * 1000
            samples.append((at, [alert_json(a) for a in self.alerts.firing(at)]))
        if self.variant == "raw":
            at, alerts = samples[-1]
            self._write_json(
                self.layout.root / f"alerts_at_{_file_stamp(at)}.json",
                {"status": "success", "data": {"alerts": alerts}},
            )
            return
        for at, alerts in samples:
            if self.variant == "go":
                path = self.layout.root / "alerts" / f"alerts_in_alerting_state_{_file_stamp(at)}Z.json"
                payload: Any = {"status": "success", "data": {"alerts": alerts}, "timestamp": iso_micro(at)}
            elif self.variant == "json":
                path = self.layout.root / "alerts" / f"alerts_at_{_file_stamp(at)}.json"
                payload = alerts
            else:
                path = self.layout.root / "alerts" / f"alerts_at_{_file_stamp(at)}.json"
                payload = {"status": "success", "data": {"alerts": alerts}}
            self._write_json(path, payload)

    def _write_json(self, path: Path, payload: Any) -> None:
        with self._open(path) as stream:
            json.dump(payload, stream, separators=(",", ":"))

    # -- ground truth
    def _write_ground_truth(self) -> None:
        fired = [a for a in self.alerts.ever_fired() if a.active_at < self.end]
        firing_keys = {
            current.key for t in range(self.start, self.end, MINUTE) for current in self.alerts.firing(t)
        }
        # Alerts the background noise fires belong to no part of the incident.
        in_window = [
            alert for alert in fired if alert.key in firing_keys and alert.key not in self.noise.alert_keys
        ]
        pod_workloads = {pod.name: pod.workload for pod in self.cluster.pods}
        payload = build_ground_truth(
            self.fault.root_cause(self.incident),
            in_window,
            pod_workloads,
            self.app.callers_of,
            self.app.namespace,
        )
        name = f"synthetic-{self.fault_name}-{self.seed}"
        if self.variant in ("default", "raw"):
            document: dict[str, Any] = {
                "apiVersion": "itbench.io/v1",
                "kind": "GroundTruth",
                "metadata": {"name": name},
                "spec": payload,
            }
        else:
            document = {**payload, "metadata": {"name": name, "version": "v1"}}
        with self._open(self.layout.root / "ground_truth.yaml") as stream:
            stream.write("---\n")
            yaml.safe_dump(document, stream, sort_keys=False, allow_unicode=True, width=120)


def _file_stamp(ns: int) -> str:
    moment = datetime.fromtimestamp(ns // 1000 / 1_000_000, UTC)
    return moment.strftime("%Y-%m-%dT%H-%M-%S.%f")


def describe_faults() -> list[tuple[str, str]]:
    """(name, one-line summary) of every fault, in catalogue order."""
    return [(name, fault.summary) for name, fault in FAULTS.items()]
