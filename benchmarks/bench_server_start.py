"""Server start: ``itbench-server serve`` to a ready MCP session over stdio, beside what it is made of.

    python benchmarks/bench_server_start.py [--scenario fixtures/Scenario-synth-1] [--samples 7]

With the scenario's index already cached, alternating, ``--samples`` times each:

* the server: spawn ``itbench-server serve SCENARIO``, send ``initialize`` and wait for the
  answer (a ready session), then one ``get_overview`` call (the first call), then close its
  stdin and wait for it to exit (what a client waits for at the end of a run);
* anchor: a bare interpreter start (``python -c pass``);
* anchor: the interpreter importing the MCP SDK's server (``import mcp.server``), which every
  MCP server built on the SDK pays;
* anchor: importing the command line module (``import itbench_server.cli``), which parses the
  arguments of every subcommand, the generator's included.

Prints the medians and minimums in milliseconds and the CPU time other processes used meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _machine_cpu_s() -> float:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return sum(int(value) for index, value in enumerate(fields) if index not in (3, 4)) / os.sysconf(
        "SC_CLK_TCK"
    )


def _message(payload: dict[str, object]) -> bytes:
    return (json.dumps(payload) + "\n").encode()


def server_session(scenario: Path, cache_dir: Path) -> tuple[float, float, float]:
    """Seconds to the answer of ``initialize``, then to the answer of the first tool call, and
    from closing the server's stdin to its exit."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("itbench-server")),
            "serve",
            str(scenario),
            "--cache-dir",
            str(cache_dir),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(
        _message(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "b", "version": "1"},
                },
            }
        )
    )
    process.stdin.flush()
    if b'"result"' not in process.stdout.readline():
        raise SystemExit("the server did not answer initialize")
    ready = time.perf_counter() - started
    process.stdin.write(_message({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    call = {"name": "get_overview", "arguments": {}}
    process.stdin.write(_message({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call}))
    process.stdin.flush()
    process.stdout.readline()
    first_call = time.perf_counter() - started
    closed = time.perf_counter()
    process.stdin.close()
    process.wait(timeout=30)
    return ready, first_call, time.perf_counter() - closed


def python_running(code: str) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - started

    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", type=Path, default=ROOT / "fixtures" / "Scenario-synth-1")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "benchmarks" / "out" / "index-cache")
    parser.add_argument("--samples", type=int, default=7)
    args = parser.parse_args()
    server_session(args.scenario, args.cache_dir)  # builds the index if needed; not kept
    anchors = {
        "anchor: python -c pass": python_running("pass"),
        "anchor: python -c 'import mcp.server'": python_running("import mcp.server"),
        "anchor: python -c 'import itbench_server.cli'": python_running("import itbench_server.cli"),
    }
    samples: dict[str, list[float]] = {
        "serve to a ready session": [],
        "serve to the first call answered": [],
        "serve: stdin closed to process exit": [],
    }
    samples.update({label: [] for label in anchors})
    machine, wall = _machine_cpu_s(), time.perf_counter()
    for _ in range(args.samples):
        ready, first, stop = server_session(args.scenario, args.cache_dir)
        samples["serve to a ready session"].append(ready)
        samples["serve to the first call answered"].append(first)
        samples["serve: stdin closed to process exit"].append(stop)
        for label, measure in anchors.items():
            samples[label].append(measure())
    elapsed = time.perf_counter() - wall
    own = sum(sum(values) for values in samples.values())
    print(
        f"{args.samples} samples each, alternating; {elapsed:.1f} s; CPU of the machine meanwhile "
        f"{_machine_cpu_s() - machine:.1f} s (these steps use at most {own:.1f} s of it)\n"
    )
    print("| step | median ms | min ms |")
    print("| --- | ---: | ---: |")
    for label, values in samples.items():
        print(f"| {label} | {statistics.median(values) * 1000:.0f} | {min(values) * 1000:.0f} |")


if __name__ == "__main__":
    main()
