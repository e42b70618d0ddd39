"""What the sandbox costs: a trivial command, confined and not, and the two tools that use it.

    python benchmarks/bench_sandbox.py [--repeat 30] [--scenario fixtures/Scenario-synth-1]

Measures in one run, each timed ``--repeat`` times after one warm-up (median, p95, min):

1. the anchor: ``/usr/bin/true`` started by ``subprocess.run``, nothing else;
2. ``true`` through :func:`itbench_server.sandbox.run_confined` unconfined (the launcher, limits,
   output capture) and confined (bubblewrap, namespaces, mounts);
3. the ``run_shell`` tool of the ``aa`` profile with ``true`` and with ``wc -l`` of the logs,
   through an in-memory MCP client;
4. the ``kubectl`` tool with ``get pods -A``, confined and unconfined (``ITBENCH_SANDBOX=off`` in a
   second process, since the setting is read once).

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import anyio
from mcp import Client

from itbench_server.mcp.server import create_server
from itbench_server.mcp.settings import ServerSettings
from itbench_server.sandbox import SandboxSpec, run_confined, sandbox_status
from itbench_server.snapshot import open_snapshot

ROOT = Path(__file__).resolve().parents[1]


def timed(function: Callable[[], object], repeat: int) -> list[float]:
    function()  # warm-up
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def row(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"| {name} | {statistics.median(samples):.1f} | {p95:.1f} | {ordered[0]:.1f} |"


def tool_samples(
    scenario: Path, cache: Path, profile: str, tool: str, arguments: dict[str, str], repeat: int
) -> list[float]:
    async def measure() -> list[float]:
        with open_snapshot(scenario, cache_dir=cache) as snapshot:
            settings = ServerSettings.model_validate({"profile": profile})
            async with Client(create_server(snapshot, settings)) as client:
                await client.call_tool(tool, arguments)  # warm-up (starts the kube facade)
                samples = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    result = await client.call_tool(tool, arguments)
                    samples.append((time.perf_counter() - started) * 1000)
                    assert not result.is_error, result
                return samples

    return anyio.run(measure)


def main() -> None:
    parser = argparse.ArgumentParser(description="What the sandbox costs, beside a bare subprocess.")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--scenario", type=Path, default=ROOT / "fixtures" / "Scenario-synth-1")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "benchmarks" / "out" / "index-cache")
    parser.add_argument("--kubectl-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.kubectl_only:  # the unconfined kubectl figure, in a process that read ITBENCH_SANDBOX=off
        samples = tool_samples(
            args.scenario, args.cache_dir, "full", "kubectl", {"command": "get pods -A"}, args.repeat
        )
        print(" ".join(f"{sample:.3f}" for sample in samples))
        return

    status = sandbox_status()
    print(f"sandbox: {status.reason}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}\n")
    print("| what | median ms | p95 ms | min ms |\n|---|---:|---:|---:|")
    print(
        row(
            "anchor: subprocess.run(['/usr/bin/true'])",
            timed(lambda: subprocess.run(["/usr/bin/true"], check=True), args.repeat),
        )
    )
    spec = SandboxSpec()
    print(
        row(
            "run_confined(true), unconfined",
            timed(lambda: run_confined(["/usr/bin/true"], spec, timeout=30, confine=False), args.repeat),
        )
    )
    if status.confined:
        print(
            row(
                "run_confined(true), bubblewrap",
                timed(lambda: run_confined(["/usr/bin/true"], spec, timeout=30), args.repeat),
            )
        )
        for command in ("true", "wc -l otel_logs*.tsv"):
            samples = tool_samples(
                args.scenario, args.cache_dir, "aa", "run_shell", {"command": command}, args.repeat
            )
            print(row(f"run_shell `{command}` (MCP, in-memory client)", samples))
        samples = tool_samples(
            args.scenario, args.cache_dir, "full", "kubectl", {"command": "get pods -A"}, args.repeat
        )
        print(row("kubectl `get pods -A`, bubblewrap", samples))
    unconfined = subprocess.run(
        [sys.executable, __file__, "--kubectl-only", "--repeat", str(args.repeat), "--scenario", str(args.scenario),
         "--cache-dir", str(args.cache_dir)],
        env={**os.environ, "ITBENCH_SANDBOX": "off"}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    print(row("kubectl `get pods -A`, unconfined", [float(value) for value in unconfined.stdout.split()]))


if __name__ == "__main__":
    main()
