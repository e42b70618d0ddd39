"""Server start: ``itbench-server serve`` to a ready MCP session over stdio, beside what it is made of.

    python benchmarks/bench_server_start.py [--scenario fixtures/Scenario-synth-1] [--samples 7]

With the scenario's index already cached, alternating, ``--samples`` times each:

* the server: spawn ``itbench-server serve SCENARIO``, send ``initialize`` and wait for the
  answer (a ready session), then one ``get_overview`` call (the first call), then close its
  stdin and wait for it to exit (what a client waits for at the end of a run);
* the same, the server forked by the evaluator's forking server (``itbench_eval.forkserver``,
  what ``itbench-eval`` does by default), whose own start, once per evaluation, is printed apart;
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
from typing import IO

from itbench_eval.forkserver import ForkServer
from itbench_eval.runner import server_environment

ROOT = Path(__file__).resolve().parent.parent


def _machine_cpu_s() -> float:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return sum(int(value) for index, value in enumerate(fields) if index not in (3, 4)) / os.sysconf(
        "SC_CLK_TCK"
    )


def _message(payload: dict[str, object]) -> bytes:
    return (json.dumps(payload) + "\n").encode()


Session = tuple[IO[bytes], IO[bytes], Callable[[], None]]  # its stdin, its stdout, wait for its exit


def spawned_server(scenario: Path, cache_dir: Path) -> Session:
    """``itbench-server serve`` as a fresh process."""
    command = [str(Path(sys.executable).with_name("itbench-server")), "serve", str(scenario)]
    process = subprocess.Popen(
        [*command, "--cache-dir", str(cache_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None

    def wait_for_exit() -> None:
        process.wait(timeout=30)

    return process.stdin, process.stdout, wait_for_exit


def forked_server(fork_server: ForkServer) -> Callable[[Path, Path], Session]:
    """``itbench-server serve`` forked by the evaluator's forking server (already started)."""

    def start(scenario: Path, cache_dir: Path) -> Session:
        to_server, from_us = os.pipe()
        to_us, from_server = os.pipe()
        with open(os.devnull, "wb") as null:
            process = fork_server.fork(
                ["serve", str(scenario), "--cache-dir", str(cache_dir)], cwd=ROOT,
                environment=server_environment(), stdin=to_server, stdout=from_server, stderr=null.fileno(),
            )  # fmt: skip
        os.close(to_server)
        os.close(from_server)
        stdout = open(to_us, "rb")  # noqa: SIM115

        def wait_for_exit() -> None:
            stdout.read()  # its end of the pipe closes when it exits
            stdout.close()
            process.close()

        return open(from_us, "wb"), stdout, wait_for_exit

    return start


def server_session(
    start: Callable[[Path, Path], Session], scenario: Path, cache_dir: Path
) -> tuple[float, float, float]:
    """Seconds to the answer of ``initialize``, then to the answer of the first tool call, and
    from closing the server's stdin to its exit."""
    started = time.perf_counter()
    stdin, stdout, wait_for_exit = start(scenario, cache_dir)
    stdin.write(
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
    stdin.flush()
    if b'"result"' not in stdout.readline():
        raise SystemExit("the server did not answer initialize")
    ready = time.perf_counter() - started
    stdin.write(_message({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    call = {"name": "get_overview", "arguments": {}}
    stdin.write(_message({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call}))
    stdin.flush()
    stdout.readline()
    first_call = time.perf_counter() - started
    closed = time.perf_counter()
    stdin.close()
    wait_for_exit()
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
    server_session(spawned_server, args.scenario, args.cache_dir)  # builds the index if needed; not kept
    started = time.perf_counter()
    fork_server = ForkServer.start(server_environment())
    fork_server_start = time.perf_counter() - started
    forked = forked_server(fork_server)
    anchors = {
        "anchor: python -c pass": python_running("pass"),
        "anchor: python -c 'import mcp.server'": python_running("import mcp.server"),
        "anchor: python -c 'import itbench_server.cli'": python_running("import itbench_server.cli"),
    }
    sessions = {"serve": spawned_server, "forked serve": forked}
    steps = ("to a ready session", "to the first call answered", "stdin closed to process exit")
    samples: dict[str, list[float]] = {f"{name}: {step}": [] for name in sessions for step in steps}
    samples.update({label: [] for label in anchors})
    machine, wall = _machine_cpu_s(), time.perf_counter()
    for _ in range(args.samples):
        for name, start in sessions.items():
            for step, seconds in zip(
                steps, server_session(start, args.scenario, args.cache_dir), strict=True
            ):
                samples[f"{name}: {step}"].append(seconds)
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
    print(f"\nthe forking server's own start (once per evaluator process): {fork_server_start * 1000:.0f} ms")
    fork_server.close()


if __name__ == "__main__":
    main()
