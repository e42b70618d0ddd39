"""The fixed cost of one Streamable HTTP request, beside the same call through the in-memory client.

    python benchmarks/bench_http_floor.py [--scenario fixtures/Scenario-synth-1] [--repeat 40]

Starts ``itbench-server serve SCENARIO --transport http --port 0`` (the ``itbench-server`` beside
this Python; set ``PYTHONPATH`` to measure other code), opens an MCP session with plain ``httpx``
on one kept-alive connection, and times ``tools/list`` and ``run_sql SELECT 1`` (calls that do
almost no work, so what remains is the transport), alternating with the same ``run_sql`` call
through an in-memory ``mcp.Client`` of a server in this process. Prints p50/p95/min in
milliseconds and the CPU time other processes used meanwhile.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client

from itbench_server.mcp.server import create_server
from itbench_server.snapshot import open_snapshot

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "bench_http_floor", "version": "1"},
    },
}


def _machine_cpu_s() -> float:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return sum(int(value) for index, value in enumerate(fields) if index not in (3, 4)) / os.sysconf(
        "SC_CLK_TCK"
    )


def _summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):.1f} | {p95:.1f} | {ordered[0]:.1f}"


async def measure(scenario: Path, cache_dir: Path, repeat: int) -> dict[str, list[float]]:
    server_binary = Path(sys.executable).with_name("itbench-server")
    process = subprocess.Popen(
        [
            str(server_binary),
            "serve",
            str(scenario),
            "--cache-dir",
            str(cache_dir),
            "--transport",
            "http",
            "--port",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    samples: dict[str, list[float]] = {
        "http tools/list": [],
        "http run_sql SELECT 1": [],
        "in-memory run_sql SELECT 1": [],
    }
    try:
        assert process.stderr is not None
        line = process.stderr.readline()  # "... serving MCP over Streamable HTTP at <url>"
        if " at " not in line:
            raise SystemExit(f"the server did not start: {line}{process.stderr.read()}")
        url = line.split(" at ", 1)[1].split()[0]
        snapshot = open_snapshot(scenario, cache_dir=cache_dir)
        async with httpx.AsyncClient(timeout=30) as http, Client(create_server(snapshot)) as memory:
            response = await http.post(url, headers=HEADERS, json=INITIALIZE)
            headers = dict(HEADERS)
            if session := response.headers.get("mcp-session-id"):
                headers["mcp-session-id"] = session
            await http.post(
                url, headers=headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"}
            )
            call: dict[str, Any] = {"name": "run_sql", "arguments": {"sql": "SELECT 1"}}
            for index in range(repeat + 1):  # the first round warms up and is not kept
                timed: dict[str, float] = {}
                started = time.perf_counter()
                await http.post(
                    url, headers=headers, json={"jsonrpc": "2.0", "id": 2 * index + 1, "method": "tools/list"}
                )
                timed["http tools/list"] = time.perf_counter() - started
                started = time.perf_counter()
                answer = await http.post(
                    url,
                    headers=headers,
                    json={"jsonrpc": "2.0", "id": 2 * index + 2, "method": "tools/call", "params": call},
                )
                timed["http run_sql SELECT 1"] = time.perf_counter() - started
                if answer.status_code != 200 or '"isError":true' in answer.text:
                    raise SystemExit(f"run_sql over HTTP failed: {answer.status_code} {answer.text[:300]}")
                started = time.perf_counter()
                await memory.call_tool("run_sql", call["arguments"])
                timed["in-memory run_sql SELECT 1"] = time.perf_counter() - started
                if index:
                    for label, seconds in timed.items():
                        samples[label].append(seconds * 1000)
        snapshot.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", type=Path, default=ROOT / "fixtures" / "Scenario-synth-1")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "benchmarks" / "out" / "index-cache")
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    before = _machine_cpu_s(), time.process_time(), time.perf_counter()
    samples = anyio.run(measure, args.scenario, args.cache_dir, args.repeat)
    wall = time.perf_counter() - before[2]
    others = _machine_cpu_s() - before[0] - (time.process_time() - before[1])
    print(
        f"{args.repeat} requests each, alternating; {wall:.1f} s, other processes' CPU (and the server's) {others:.1f} s\n"
    )
    print("| request | p50 ms | p95 ms | min ms |")
    print("| --- | ---: | ---: | ---: |")
    for label, values in samples.items():
        print(f"| {label} | {_summary(values)} |")


if __name__ == "__main__":
    main()
