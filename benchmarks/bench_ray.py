"""The Ray backend's overhead on one machine: N runs of ``oracle``, local backend vs Ray.

A one-node Ray cluster is started on loopback (``ray start --head``, ``--num-cpus`` as given),
then the same N runs (one fixture x N repeats, the index cache warm) are made with the local
backend and with ``--backend ray`` at the same concurrency; the cluster is stopped at the end.
Prints a Markdown table: total wall time, runs per second and the mean wall time of a run as
each backend recorded it. The difference of the totals divided by N is Ray's cost per run.

Usage: ``python benchmarks/bench_ray.py [--runs 8] [--concurrency 2] [--num-cpus 2]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

from itbench_eval.agents import resolve_agent
from itbench_eval.results import RunResult
from itbench_eval.runner import EvalSettings, run_evaluation
from itbench_eval.tasks import Task, discover_tasks


def _ray(*args: str) -> None:
    ray = Path(sys.executable).with_name("ray")
    subprocess.run([str(ray), *args], check=True, capture_output=True, timeout=300)


async def timed(task: Task, settings: EvalSettings) -> tuple[float, list[RunResult]]:
    started = time.perf_counter()
    rows = await run_evaluation([task], settings, resolve_agent(settings.agent))
    elapsed = time.perf_counter() - started
    failed = [row for row in rows if row.error_class != "ok" or row.score != 1.0]
    if failed:
        raise SystemExit(
            f"oracle runs failed: {[(row.repeat, row.error_class, row.error) for row in failed]}"
        )
    return elapsed, rows


def main() -> None:
    parser = argparse.ArgumentParser(description="The Ray backend's overhead: N runs, local vs Ray.")
    parser.add_argument("--runs", type=int, default=8, help="runs per backend (repeats of one fixture)")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--num-cpus", type=int, default=2, help="the Ray node's CPUs")
    args = parser.parse_args()
    task = discover_tasks()[0]
    work = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    ray_temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    def settings(name: str, **extra: object) -> EvalSettings:
        values: dict[str, object] = {
            "agent": "oracle", "out_dir": work / name, "repeats": args.runs, "max_turns": 5,
            "timeout_s": 120.0, "concurrency": args.concurrency, "cache_dir": work / "cache",
        }  # fmt: skip
        return EvalSettings.model_validate({**values, **extra})

    try:
        anyio.run(timed, task, settings("warm", repeats=1))  # builds the index once
        started = time.perf_counter()
        _ray("start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--temp-dir", ray_temp,
             "--num-cpus", str(args.num_cpus), "--include-dashboard", "false", "--disable-usage-stats")  # fmt: skip
        cluster_start = time.perf_counter() - started
        local_s, local_rows = anyio.run(timed, task, settings("local"))
        ray_s, ray_rows = anyio.run(
            timed, task, settings("ray", backend="ray", ray_address=f"127.0.0.1:{port}")
        )
    finally:
        subprocess.run([str(Path(sys.executable).with_name("ray")), "stop", "--force"], capture_output=True)
        shutil.rmtree(ray_temp, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)

    print(f"{args.runs} runs of oracle on {task.id}, concurrency {args.concurrency}, Ray node of "
          f"{args.num_cpus} CPUs (started in {cluster_start:.1f} s)\n")  # fmt: skip
    print("| backend | total (s) | runs/s | mean run wall time (s) |")
    print("| --- | ---: | ---: | ---: |")
    for name, total, rows in (("local", local_s, local_rows), ("ray", ray_s, ray_rows)):
        mean = sum(row.wall_time_s for row in rows) / len(rows)
        print(f"| {name} | {total:.2f} | {len(rows) / total:.2f} | {mean:.2f} |")
    print(f"\nRay's cost per run: {(ray_s - local_s) / args.runs:+.2f} s")


if __name__ == "__main__":
    main()
