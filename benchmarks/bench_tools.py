"""Speed of the MCP tools on a large generated scenario, beside ripgrep and pandas.

    python benchmarks/bench_tools.py [--repeat 10] [--clients 32] [--rounds 1] [--think 3]

Generates the scenario once (kept under benchmarks/out/, as bench_index.py does) and builds its
index once (cached under benchmarks/out/index-cache/), then measures in one run:

1. per-tool latency: every tool of the ``full`` profile over a fixed mix of the calls an
   investigation of this incident makes, each called once to warm up and then ``--repeat``
   times, through an in-memory MCP client (p50/p95 of the repeats, and the first call);
2. one log search done three ways: the ``search_logs`` tool (on the index), ``rg -c`` over the
   raw ``otel_logs_raw.tsv`` and pandas (``read_csv`` + ``str.contains``); once over every log
   line, once restricted to one service and a five-minute window;
3. one ``itbench-server serve --transport http`` process: one client alone (the baseline, three
   rounds), then ``--clients`` concurrent clients, each running the same ten calls (rotated by
   client) ``--rounds`` times back to back with no pause, then the same clients pausing
   ``--think`` seconds between calls as an agent does: latency over all calls, errors,
   throughput, and the server's peak RSS (VmHWM).

Prints Markdown tables and writes the figures to benchmarks/out/bench_tools.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import anyio
import pandas
from mcp import Client
from mcp.types import CallToolResult, TextContent

from itbench_server.mcp.server import create_server
from itbench_server.mcp.settings import ServerSettings
from itbench_server.snapshot import Snapshot, open_snapshot

OUT = Path(__file__).resolve().parent / "out"
FAULT, SEED, SIZE = "resource-quota", 1, "large"

ERROR_PATTERN = "error|exception|fail|timed? ?out|refused|unavailable"
"""What an agent greps for first: any error-like word (case-insensitive)."""

SCOPED_SERVICE = "frontend"
SCOPED_PATTERN = "econnrefused"
SCOPED_SINCE, SCOPED_UNTIL = "2025-12-06T20:05:00Z", "2025-12-06T20:10:00Z"
# The same service and window for rg: the TSV's 8th column is ServiceName, the 9th the Body;
# the window is every Timestamp from 20:05:00 to 20:09:59.999..
SCOPED_RG_PATTERN = (
    r"^2025-12-06 20:0[5-9]:[^\t]*" + r"\t[^\t]*" * 6 + rf"\t{SCOPED_SERVICE}\t[^\t]*(?i:{SCOPED_PATTERN})"
)


class ToolCall(NamedTuple):
    label: str
    tool: str
    arguments: dict[str, Any]
    requires: str = ""
    """Text the tool's input schema must hold (an argument or choice added later): the earlier code
    a run is compared with skips the call."""


def tool_mix(error_trace_id: str, quota: str) -> list[ToolCall]:
    """The calls of an investigation of this scenario (a memory quota keeps recommendation down)."""
    return [
        ToolCall("get_overview", "get_overview", {}),
        ToolCall("get_alerts", "get_alerts", {}),
        ToolCall("get_alerts service", "get_alerts", {"service": "recommendation"}),
        ToolCall(
            "search_logs lines, error regex, all logs", "search_logs", {"pattern": ERROR_PATTERN, "limit": 20}
        ),
        ToolCall(
            "search_logs lines, service + 5 min",
            "search_logs",
            {"pattern": SCOPED_PATTERN, "service": SCOPED_SERVICE, "since": "start+5m", "until": "start+10m"},
        ),
        ToolCall(
            "search_logs patterns, service errors",
            "search_logs",
            {"service": "frontend", "min_severity": "error", "mode": "patterns"},
        ),
        ToolCall("search_logs patterns, all logs", "search_logs", {"mode": "patterns", "limit": 30}),
        ToolCall(
            "search_logs counts per minute",
            "search_logs",
            {"pattern": ERROR_PATTERN, "mode": "counts", "count_by": "minute"},
        ),
        ToolCall(
            "search_logs counts per service and minute",
            "search_logs",
            {"mode": "counts", "count_by": "service_minute", "min_severity": "error"},
            requires="service_minute",
        ),
        ToolCall("query_metrics list", "query_metrics", {"mode": "list", "entity": "recommendation"}),
        ToolCall(
            "query_metrics series (rate)",
            "query_metrics",
            {
                "mode": "series",
                "metric": "traces_span_metrics_calls_total",
                "entity": "recommendation",
                "by": "span_kind",
            },
        ),
        ToolCall(
            "query_metrics series (p95 histogram)",
            "query_metrics",
            {
                "mode": "series",
                "metric": "traces_span_metrics_duration_milliseconds_bucket",
                "entity": "frontend",
                "quantile": 0.95,
            },
        ),
        ToolCall("query_metrics anomalies", "query_metrics", {"mode": "anomalies", "limit": 20}),
        ToolCall("query_traces summary", "query_traces", {"limit": 20}),
        ToolCall("query_traces summary, service", "query_traces", {"service": "frontend", "sort": "errors"}),
        ToolCall("query_traces errors", "query_traces", {"mode": "errors", "limit": 10}),
        ToolCall("query_traces trace", "query_traces", {"mode": "trace", "trace_id": error_trace_id}),
        ToolCall("get_events warnings", "get_events", {"type": "Warning"}),
        ToolCall("get_events object", "get_events", {"object": "deploy/recommendation"}),
        ToolCall("get_topology services", "get_topology", {}),
        ToolCall("get_topology kubernetes", "get_topology", {"view": "kubernetes", "namespace": "otel-demo"}),
        ToolCall("get_topology entity", "get_topology", {"entity": "deploy/recommendation", "depth": 2}),
        ToolCall("get_changes", "get_changes", {}),
        ToolCall("get_changes kind", "get_changes", {"kind": "quota,deploy"}),
        ToolCall(
            "get_changes compare",
            "get_changes",
            {"object": "deploy/recommendation", "mode": "compare"},
            requires="compare",
        ),
        ToolCall("get_timeline", "get_timeline", {"limit": 60}),
        ToolCall("get_timeline entity", "get_timeline", {"entity": "deploy/recommendation"}),
        ToolCall("lookup_address", "lookup_address", {"address": "recommendation:8080"}),
        ToolCall(
            "run_sql logs",
            "run_sql",
            {
                "sql": "SELECT service, count(*) AS errors FROM logs WHERE severity_number >= 17 "
                "GROUP BY service ORDER BY errors DESC, service"
            },
        ),
        ToolCall(
            "run_sql spans",
            "run_sql",
            {
                "sql": "SELECT service, count(*) AS spans, count(*) FILTER (WHERE status = 'Error') AS errors, "
                "round(quantile_cont(duration_ms, 0.95), 1) AS p95_ms FROM spans "
                "GROUP BY service ORDER BY errors DESC, service"
            },
        ),
        ToolCall("kubectl get pods", "kubectl", {"command": "get pods -n otel-demo"}),
        ToolCall("kubectl get quota", "kubectl", {"command": "get quota -n otel-demo"}),
        ToolCall(
            "kubectl get events",
            "kubectl",
            {"command": "get events -n otel-demo --field-selector type=Warning"},
        ),
        ToolCall(
            "kubectl describe deploy", "kubectl", {"command": "describe deploy recommendation -n otel-demo"}
        ),
        ToolCall("kubectl describe quota", "kubectl", {"command": f"describe quota {quota} -n otel-demo"}),
        ToolCall("kubectl logs", "kubectl", {"command": "logs -n otel-demo deploy/frontend --tail 50"}),
    ]


def client_sequence(error_trace_id: str, quota: str) -> list[ToolCall]:
    """The ten calls each HTTP client makes: a first pass over an incident."""
    by_label = {call.label: call for call in tool_mix(error_trace_id, quota)}
    labels = [
        "get_overview",
        "get_alerts",
        "get_events warnings",
        "search_logs patterns, service errors",
        "search_logs lines, error regex, all logs",
        "query_traces errors",
        "query_metrics anomalies",
        "get_topology entity",
        "kubectl get pods",
        "kubectl describe deploy",
    ]
    return [by_label[label] for label in labels]


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile, interpolated linearly between the closest ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def text_of(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def ensure_scenario() -> Path:
    from itbench_server.synth import generate_scenario

    target = OUT / f"scenario-{FAULT}-{SEED}-{SIZE}"
    if not (target / "otel_logs_raw.tsv").exists():
        print(f"generating {target} ...", file=sys.stderr)
        generate_scenario(FAULT, SEED, target, size=SIZE)
    return target


# 1. per-tool latency ------------------------------------------------------------------------


async def measure_tools(snapshot: Snapshot, calls: list[ToolCall], repeat: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    async with Client(create_server(snapshot, ServerSettings())) as client:
        schemas = {tool.name: json.dumps(tool.input_schema) for tool in (await client.list_tools()).tools}
        for call in calls:
            # a tool or argument added later: the earlier code it is compared with skips the call
            if call.tool not in schemas or call.requires not in schemas[call.tool]:
                print(f"skipping {call.label}: this server's {call.tool} cannot answer it", file=sys.stderr)
                continue
            times: list[float] = []
            first = 0.0
            output_chars = 0
            for attempt in range(repeat + 1):
                started = time.perf_counter()
                result = await client.call_tool(call.tool, call.arguments)
                elapsed = time.perf_counter() - started
                if result.is_error:
                    raise SystemExit(f"{call.label}: the tool answered an error: {text_of(result)}")
                if attempt == 0:
                    first, output_chars = elapsed, len(text_of(result))
                else:
                    times.append(elapsed)
            rows.append(
                {
                    "label": call.label,
                    "tool": call.tool,
                    "arguments": call.arguments,
                    "first_s": first,
                    "p50_s": percentile(times, 0.5),
                    "p95_s": percentile(times, 0.95),
                    "max_s": max(times),
                    "repeats": repeat,
                    "output_chars": output_chars,
                }
            )
    return rows


# 2. one log search three ways ---------------------------------------------------------------


def tool_matched_lines(text: str) -> int:
    found = re.match(r"(\d+) of \d+ log lines in scope match", text)
    if found is None:
        raise SystemExit(f"unexpected search_logs answer: {text[:200]!r}")
    return int(found.group(1))


def counts_total(text: str) -> int:
    return sum(int(total) for total in re.findall(r"\btotal=(\d+)", text))


async def time_tool_search(
    snapshot: Snapshot, arguments: dict[str, Any], parse: Callable[[str], int], repeat: int
) -> dict[str, Any]:
    times: list[float] = []
    matched = -1
    async with Client(create_server(snapshot, ServerSettings())) as client:
        for attempt in range(repeat + 1):
            started = time.perf_counter()
            result = await client.call_tool("search_logs", arguments)
            elapsed = time.perf_counter() - started
            matched = parse(text_of(result))
            if attempt:  # the first call warms the index's pages
                times.append(elapsed)
    return {
        "p50_s": percentile(times, 0.5),
        "p95_s": percentile(times, 0.95),
        "min_s": min(times),
        "matched_lines": matched,
    }


def open_log_bodies(snapshot: Snapshot, rewrite: bool) -> dict[str, Any]:
    """Open the prefilter's bodies file beside the index (``rewrite``: remove it first, so that
    its writing is timed, as a server's first full-log search pays it)."""
    from itbench_server.snapshot.logbodies import SUFFIX, log_bodies

    path = snapshot.index_path.with_name(snapshot.index_path.name + SUFFIX)
    if rewrite:
        path.unlink(missing_ok=True)
    existed = path.exists()
    cpu_started, started = time.process_time(), time.perf_counter()
    opened = log_bodies(snapshot)
    return {
        "written": not existed and opened is not None,
        "wall_s": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu_started,
        "mb": round(path.stat().st_size / 1e6, 1) if opened is not None else None,
    }


def time_prefilter(snapshot: Snapshot, repeat: int) -> dict[str, Any]:
    """The full-log search of the analysis layer with the literal prefilter forced off and on,
    alternated call by call (the answers must be equal), and the bodies file it reads."""
    from itbench_server.analysis import logs

    scope = logs.LogScope(snapshot.window.start, snapshot.window.end, pattern=ERROR_PATTERN, ignore_case=True)
    searches: dict[str, Callable[[bool], object]] = {
        "lines": lambda prefilter: logs.search_lines(
            snapshot, scope, offset=0, limit=20, prefilter=prefilter
        ),
        "counts": lambda prefilter: logs.log_counts(snapshot, scope, by="service", prefilter=prefilter),
        "patterns": lambda prefilter: logs.log_templates(snapshot, scope, prefilter=prefilter),
    }
    figures: dict[str, Any] = {}
    for mode, search in searches.items():
        times: dict[bool, list[float]] = {False: [], True: []}
        answers: dict[bool, object] = {}
        for attempt in range(repeat + 1):
            for prefilter in (False, True):
                begun = time.perf_counter()
                answers[prefilter] = search(prefilter)
                if attempt:
                    times[prefilter].append(time.perf_counter() - begun)
        if answers[False] != answers[True]:
            raise SystemExit(f"{mode}: the prefilter changed the answer")
        figures[mode] = {
            ("prefilter" if prefilter else "plain"): {
                "p50_s": percentile(elapsed, 0.5),
                "p95_s": percentile(elapsed, 0.95),
            }
            for prefilter, elapsed in times.items()
        }
    return figures


def time_ripgrep(rg: str, pattern: str, path: Path, repeat: int, *, ignore_case: bool) -> dict[str, Any]:
    command = [rg, "--no-config", "--count", *(["--ignore-case"] if ignore_case else []), pattern, str(path)]
    times: list[float] = []
    matched = -1
    for attempt in range(repeat + 1):
        started = time.perf_counter()
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        if completed.returncode not in (0, 1):  # 1: no match
            raise SystemExit(f"rg failed: {completed.stderr}")
        matched = int(completed.stdout.strip() or 0)
        if attempt:  # the first run brings the file into the page cache
            times.append(elapsed)
    return {
        "p50_s": percentile(times, 0.5),
        "p95_s": percentile(times, 0.95),
        "min_s": min(times),
        "matched_lines": matched,
        "command": command,
    }


def time_pandas(logs_tsv: Path, repeat: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """pandas: read the TSV once, then the whole-log search and the scoped search on the frame."""
    started = time.perf_counter()
    frame = pandas.read_csv(logs_tsv, sep="\t", quotechar='"', dtype=str, keep_default_na=False)
    read_s = time.perf_counter() - started

    def timed(search: Callable[[], int]) -> dict[str, Any]:
        times: list[float] = []
        matched = -1
        for _ in range(repeat):
            begun = time.perf_counter()
            matched = search()
            times.append(time.perf_counter() - begun)
        return {"p50_s": percentile(times, 0.5), "min_s": min(times), "matched_lines": matched}

    whole = timed(lambda: int(frame["Body"].str.contains(ERROR_PATTERN, case=False, regex=True).sum()))

    def scoped_search() -> int:
        since = SCOPED_SINCE.replace("T", " ").removesuffix("Z")
        until = SCOPED_UNTIL.replace("T", " ").removesuffix("Z")
        in_scope = (
            (frame["ServiceName"] == SCOPED_SERVICE)
            & (frame["Timestamp"] >= since)
            & (frame["Timestamp"] < until)
        )
        bodies: pandas.Series = frame.loc[in_scope, "Body"]
        return int(bodies.str.contains(SCOPED_PATTERN, case=False, regex=True).sum())

    scoped = timed(scoped_search)
    read = {"read_csv_s": read_s, "rows": len(frame)}
    return read, whole, scoped


async def compare_log_search(snapshot: Snapshot, logs_tsv: Path, repeat: int) -> dict[str, Any]:
    rg = shutil.which("rg") or "/usr/bin/rg"
    rg_version = subprocess.run([rg, "--version"], capture_output=True, text=True, check=True).stdout
    prefilter = time_prefilter(snapshot, repeat)
    whole_tool_lines = await time_tool_search(
        snapshot, {"pattern": ERROR_PATTERN, "limit": 1}, tool_matched_lines, repeat
    )
    whole_tool_counts = await time_tool_search(
        snapshot, {"pattern": ERROR_PATTERN, "mode": "counts", "count_by": "service"}, counts_total, repeat
    )
    whole_rg = time_ripgrep(rg, ERROR_PATTERN, logs_tsv, repeat, ignore_case=True)
    scoped_tool = await time_tool_search(
        snapshot,
        {
            "pattern": SCOPED_PATTERN,
            "service": SCOPED_SERVICE,
            "since": SCOPED_SINCE,
            "until": SCOPED_UNTIL,
            "limit": 1,
        },
        tool_matched_lines,
        repeat,
    )
    scoped_rg = time_ripgrep(rg, SCOPED_RG_PATTERN, logs_tsv, repeat, ignore_case=False)
    # rg cannot skip the other services and times; the bare pattern is its lower bound.
    scoped_rg_unfiltered = time_ripgrep(rg, SCOPED_PATTERN, logs_tsv, repeat, ignore_case=True)
    pandas_read, whole_pandas, scoped_pandas = time_pandas(logs_tsv, max(3, repeat // 3))
    for row in (whole_pandas, scoped_pandas):
        row["p50_with_read_s"] = row["p50_s"] + pandas_read["read_csv_s"]
    return {
        "logs_tsv_mb": round(logs_tsv.stat().st_size / 1e6, 1),
        "rg_version": rg_version.splitlines()[0],
        "whole": {
            "pattern": ERROR_PATTERN,
            "ignore_case": True,
            "search_logs_lines": whole_tool_lines,
            "search_logs_counts": whole_tool_counts,
            "rg": whole_rg,
            "pandas": whole_pandas,
            "rg_over_tool_lines": whole_rg["p50_s"] / whole_tool_lines["p50_s"],
            "rg_over_tool_counts": whole_rg["p50_s"] / whole_tool_counts["p50_s"],
        },
        "scoped": {
            "pattern": SCOPED_PATTERN,
            "service": SCOPED_SERVICE,
            "since": SCOPED_SINCE,
            "until": SCOPED_UNTIL,
            "search_logs_lines": scoped_tool,
            "rg": scoped_rg,
            "rg_pattern_only": scoped_rg_unfiltered,
            "pandas": scoped_pandas,
            "rg_over_tool": scoped_rg["p50_s"] / scoped_tool["p50_s"],
            "rg_pattern_only_over_tool": scoped_rg_unfiltered["p50_s"] / scoped_tool["p50_s"],
        },
        "pandas_read": pandas_read,
        "prefilter": prefilter,
    }


# 3. concurrent Streamable-HTTP clients -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(process: subprocess.Popen[bytes], port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listened on port {port} within {timeout:g} s")


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise SystemExit(f"/proc/{pid}/status has no {field}")


class CallRecord(NamedTuple):
    label: str
    seconds: float
    error: str | None


async def run_http_client(
    url: str,
    sequence: list[ToolCall],
    rounds: int,
    pause: tuple[float, float],
    start: anyio.Event,
    ready: list[float],
    records: list[CallRecord],
) -> None:
    """One session: its calls in order, waiting ``pause[0]`` first and ``pause[1]`` after each."""
    connect_started = time.perf_counter()
    try:
        async with Client(url) as client:
            ready.append(time.perf_counter() - connect_started)
            await start.wait()
            await anyio.sleep(pause[0])
            for _ in range(rounds):
                for call in sequence:
                    began = time.perf_counter()
                    try:
                        result = await client.call_tool(call.tool, call.arguments)
                        error = text_of(result)[:200] if result.is_error else None
                    except Exception as exception:  # a failed call is counted, not fatal
                        error = f"{type(exception).__name__}: {exception}"
                    records.append(CallRecord(call.label, time.perf_counter() - began, error))
                    await anyio.sleep(pause[1])
    except Exception as exception:
        ready.append(float("nan"))
        records.append(CallRecord("connect", time.perf_counter() - connect_started, repr(exception)))


async def drive_clients(
    url: str, sequence: list[ToolCall], clients: int, rounds: int, think: float = 0.0
) -> dict[str, Any]:
    """Connect ``clients`` sessions, then start them all at once.

    With ``think`` seconds between a client's calls (an agent reading the answer), the clients'
    first calls are spread evenly over one think time instead of all landing together.
    """
    records: list[CallRecord] = []
    connect_times: list[float] = []
    start = anyio.Event()
    load_started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for index in range(clients):
            rotated = sequence[index % len(sequence) :] + sequence[: index % len(sequence)]
            pause = (think * index / clients, think)
            group.start_soon(run_http_client, url, rotated, rounds, pause, start, connect_times, records)
        with anyio.fail_after(120):
            while len(connect_times) < clients:
                await anyio.sleep(0.01)
        load_started = time.perf_counter()
        start.set()
    wall_s = time.perf_counter() - load_started
    calls = [record for record in records if record.label != "connect"]
    latencies = [record.seconds for record in calls]
    errors = [record for record in records if record.error is not None]
    per_label = {
        call.label: {
            "p50_s": percentile([r.seconds for r in calls if r.label == call.label], 0.5),
            "p95_s": percentile([r.seconds for r in calls if r.label == call.label], 0.95),
        }
        for call in sequence
    }
    return {
        "clients": clients,
        "rounds": rounds,
        "think_s": think,
        "calls": len(calls),
        "errors": len(errors),
        "error_examples": sorted({record.error or "" for record in errors})[:5],
        "connect_p50_s": percentile(connect_times, 0.5),
        "wall_s": wall_s,
        "throughput_calls_per_s": len(calls) / wall_s,
        "p50_s": percentile(latencies, 0.5),
        "p95_s": percentile(latencies, 0.95),
        "max_s": max(latencies),
        "per_call": per_label,
    }


async def load_http(
    scenario: Path, cache_dir: Path, sequence: list[ToolCall], clients: int, rounds: int, think: float
) -> dict[str, Any]:
    """One ``serve --transport http`` process: one client alone (the baseline), then ``clients``
    calling back to back, then ``clients`` pausing ``think`` seconds between calls."""
    port = free_port()
    with tempfile.TemporaryFile() as server_stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "itbench_server.cli",
                "serve",
                str(scenario),
                "--cache-dir",
                str(cache_dir),
                "--transport",
                "http",
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=server_stderr,
        )
        try:
            started = time.perf_counter()
            wait_for_port(process, port, timeout=120)
            startup_s = time.perf_counter() - started
            url = f"http://127.0.0.1:{port}/mcp"
            single = await drive_clients(url, sequence, 1, max(rounds, 3))
            after_single_rss_kb = memory_kb(process.pid, "VmRSS")
            concurrent = await drive_clients(url, sequence, clients, rounds)
            paced = await drive_clients(url, sequence, clients, rounds, think) if think > 0 else None
            peak_rss_kb = memory_kb(process.pid, "VmHWM")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return {
        "server_startup_s": startup_s,
        "single_client": single,
        "concurrent": concurrent,
        "paced": paced,
        "server_rss_after_single_client_mb": after_single_rss_kb / 1024,
        "server_peak_rss_mb": peak_rss_kb / 1024,
    }


# report -----------------------------------------------------------------------------------


def print_report(figures: dict[str, Any]) -> None:
    print(f"## MCP tools ({figures['date']}, {figures['machine']})\n")
    bodies = figures["log_bodies"]
    if bodies["mb"] is not None:
        done = "written" if bodies["written"] else "opened (written by an earlier run)"
        print(
            f"- the log search's bodies file ({bodies['mb']} MB beside the index): {done} in "
            f"{ms(bodies['wall_s'])} ({ms(bodies['cpu_s'])} CPU)"
        )
    for phase, use in figures["cpu_by_phase"].items():
        print(
            f"- {phase}: {use['wall_s']:.1f} s; CPU: this benchmark {use['benchmark_cpu_s']:.1f} s, "
            f"other processes {use['other_processes_cpu_s']:.1f} s"
        )
    print()
    print("### Per-tool latency (in-memory client)\n")
    print("| call | first | p50 | p95 | output chars |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in figures["tools"]:
        print(
            f"| {row['label']} | {ms(row['first_s'])} | {ms(row['p50_s'])} | {ms(row['p95_s'])} "
            f"| {row['output_chars']} |"
        )

    if figures["log_search"] is not None:
        print_log_search(figures["log_search"])
    if figures["http"] is not None:
        print_http(figures["http"])


def print_log_search(search: dict[str, Any]) -> None:
    whole, scoped = search["whole"], search["scoped"]
    print(
        f"\n### One log search, three ways ({search['logs_tsv_mb']} MB of logs, {search['pandas_read']['rows']} lines)\n"
    )
    print("| search | matched lines | p50 | p95 |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| all logs, `{whole['pattern']}` (case-insensitive) | | | |")
    for mode in ("lines", "counts"):
        row = whole[f"search_logs_{mode}"]
        print(
            f"| - search_logs, {mode} mode | {row['matched_lines']} | {ms(row['p50_s'])} | {ms(row['p95_s'])} |"
        )
    print(
        f"| - rg -c -i | {whole['rg']['matched_lines']} | {ms(whole['rg']['p50_s'])} | {ms(whole['rg']['p95_s'])} |"
    )
    print(
        f"| - pandas str.contains (+ read_csv {ms(search['pandas_read']['read_csv_s'])}) "
        f"| {whole['pandas']['matched_lines']} | {ms(whole['pandas']['p50_s'])} (+read: {ms(whole['pandas']['p50_with_read_s'])}) | |"
    )
    print(
        f"| service {scoped['service']}, {scoped['since']}..{scoped['until']}, `{scoped['pattern']}` | | | |"
    )
    print(
        f"| - search_logs | {scoped['search_logs_lines']['matched_lines']} | {ms(scoped['search_logs_lines']['p50_s'])} "
        f"| {ms(scoped['search_logs_lines']['p95_s'])} |"
    )
    print(
        f"| - rg -c, one anchored regex | {scoped['rg']['matched_lines']} | {ms(scoped['rg']['p50_s'])} "
        f"| {ms(scoped['rg']['p95_s'])} |"
    )
    print(
        f"| - rg -c -i, the pattern alone (no service/time filter; rg's lower bound) "
        f"| {scoped['rg_pattern_only']['matched_lines']} | {ms(scoped['rg_pattern_only']['p50_s'])} "
        f"| {ms(scoped['rg_pattern_only']['p95_s'])} |"
    )
    print(
        f"| - pandas filter + str.contains | {scoped['pandas']['matched_lines']} "
        f"| {ms(scoped['pandas']['p50_s'])} (+read: {ms(scoped['pandas']['p50_with_read_s'])}) | |"
    )
    print(
        f"\nrg time / search_logs time: all logs {whole['rg_over_tool_lines']:.2f}x (lines), "
        f"{whole['rg_over_tool_counts']:.2f}x (counts); service + window {scoped['rg_over_tool']:.1f}x "
        f"(pattern alone: {scoped['rg_pattern_only_over_tool']:.1f}x)"
    )
    prefilter = search["prefilter"]
    print("\nThe literal prefilter, forced off and on, alternated (analysis calls; the answers are equal):\n")
    print("| all logs, the same pattern | plain RE2 p50 / p95 | prefilter p50 / p95 |")
    print("| --- | ---: | ---: |")
    for mode in ("lines", "counts", "patterns"):
        plain, narrowed = prefilter[mode]["plain"], prefilter[mode]["prefilter"]
        print(
            f"| {mode} | {ms(plain['p50_s'])} / {ms(plain['p95_s'])} "
            f"| {ms(narrowed['p50_s'])} / {ms(narrowed['p95_s'])} |"
        )


def print_http(http: dict[str, Any]) -> None:
    single, concurrent, paced = http["single_client"], http["concurrent"], http["paced"]
    loads = [load for load in (single, concurrent, paced) if load is not None]
    print(f"\n### Streamable HTTP, one server process (peak RSS {http['server_peak_rss_mb']:.0f} MB)\n")
    print("| clients | pause between calls | calls | errors | p50 | p95 | max | throughput | wall |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for load in loads:
        print(
            f"| {load['clients']} | {load['think_s']:g} s | {load['calls']} | {load['errors']} | {ms(load['p50_s'])} "
            f"| {ms(load['p95_s'])} | {ms(load['max_s'])} | {load['throughput_calls_per_s']:.1f} calls/s "
            f"| {load['wall_s']:.1f} s |"
        )
    print(
        "\n| call | "
        + " | ".join(f"{load['clients']} clients, {load['think_s']:g} s pause: p50 / p95" for load in loads)
        + " |"
    )
    print("| --- |" + " ---: |" * len(loads))
    for label in single["per_call"]:
        cells = [
            f"{ms(load['per_call'][label]['p50_s'])} / {ms(load['per_call'][label]['p95_s'])}"
            for load in loads
        ]
        print(f"| {label} | " + " | ".join(cells) + " |")


class CpuMeter:
    """CPU seconds spent on the machine, and by this process and its waited-for children.

    The difference is what other processes took while a phase ran: on a shared machine it says
    how far the phase's figures were disturbed.
    """

    def __init__(self) -> None:
        self._machine, self._own, self._wall = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        fields = Path("/proc/stat").read_text(encoding="ascii").splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
        machine = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
        own = sum(
            usage.ru_utime + usage.ru_stime
            for usage in (
                resource.getrusage(resource.RUSAGE_SELF),
                resource.getrusage(resource.RUSAGE_CHILDREN),
            )
        )
        return machine, own, time.perf_counter()

    def read(self) -> dict[str, float]:
        machine, own, wall = self._sample()
        return {
            "wall_s": wall - self._wall,
            "benchmark_cpu_s": own - self._own,
            "other_processes_cpu_s": max(0.0, (machine - self._machine) - (own - self._own)),
        }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    cpu: dict[str, dict[str, float]] = {}
    OUT.mkdir(parents=True, exist_ok=True)
    scenario = ensure_scenario()
    cache_dir = OUT / "index-cache"
    started = time.perf_counter()
    snapshot = open_snapshot(scenario, cache_dir=cache_dir)
    open_s = time.perf_counter() - started
    try:
        (error_trace_id,) = snapshot.query(
            "SELECT trace_id FROM spans WHERE status = 'Error' ORDER BY ts, trace_id LIMIT 1"
        )[0]
        (quota,) = snapshot.query(
            "SELECT min(name) FROM objects WHERE kind = 'ResourceQuota' AND namespace = 'otel-demo'"
        )[0]
        log_bodies = open_log_bodies(snapshot, args.rewrite_log_bodies)
        print("measuring per-tool latency ...", file=sys.stderr)
        meter = CpuMeter()
        tools = await measure_tools(snapshot, tool_mix(str(error_trace_id), str(quota)), args.repeat)
        cpu["tools"] = meter.read()
        log_search = None
        if "log-search" in args.phases:
            print("measuring the log search three ways ...", file=sys.stderr)
            meter = CpuMeter()
            log_search = await compare_log_search(snapshot, scenario / "otel_logs_raw.tsv", args.repeat)
            cpu["log_search"] = meter.read()
    finally:
        snapshot.close()
    http = None
    if "http" in args.phases:
        print(f"measuring {args.clients} concurrent HTTP clients ...", file=sys.stderr)
        meter = CpuMeter()
        http = await load_http(
            scenario,
            cache_dir,
            client_sequence(str(error_trace_id), str(quota)),
            args.clients,
            args.rounds,
            args.think,
        )
        cpu["http"] = meter.read()
    return {
        "command": " ".join(["python", "benchmarks/bench_tools.py", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
        "scenario": str(scenario.relative_to(OUT.parent.parent)),
        "index_open_s": open_s,
        "log_bodies": log_bodies,
        "cpu_by_phase": cpu,
        "tools": tools,
        "log_search": log_search,
        "http": http,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=10, help="timed calls per tool call (default 10)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients (default 32)")
    parser.add_argument("--rounds", type=int, default=1, help="times each client runs its ten calls")
    parser.add_argument(
        "--think",
        type=float,
        default=3.0,
        help="seconds between a client's calls in the paced run (0: skip it)",
    )
    parser.add_argument(
        "--phases",
        default="tools,log-search,http",
        help="what to measure, separated by commas: tools, log-search (needs rg), http (default: all)",
    )
    parser.add_argument(
        "--rewrite-log-bodies",
        action="store_true",
        help="remove the log search's bodies file beside the cached index first, to time its writing",
    )
    args = parser.parse_args()
    args.phases = {phase.strip() for phase in args.phases.split(",")}
    if args.repeat < 2 or args.clients < 1 or args.rounds < 1 or args.think < 0:
        parser.error("--repeat must be at least 2, --clients and --rounds at least 1, --think not negative")

    figures = anyio.run(run, args)
    (OUT / "bench_tools.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print_report(figures)


if __name__ == "__main__":
    main()
