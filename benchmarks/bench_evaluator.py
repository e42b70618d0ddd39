"""Evaluator overhead: what one run costs beyond the agent, and how runs scale with concurrency.

1. ``oracle`` on each fixture, one run at a time: the wall time of a run is almost all evaluator
   overhead (server start, one tool call, server stop, scoring), reported per fixture as the
   median of ``--samples`` runs, with the index cache already warm; with each run's server
   forked (``--server-start fork``, the default) and spawned (``spawn``), alternating.
2. Every fixture x 3 repeats with ``oracle`` at concurrency 1, 2 and 4, both ways: total wall
   time and runs per second.

Usage: ``python benchmarks/bench_evaluator.py [--scenarios DIR ...] [--samples 5]``; prints a
Markdown table. Timings depend on the machine; record them with the command that made them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

from itbench_eval.agents import resolve_agent
from itbench_eval.results import RESULTS_FILE, read_results
from itbench_eval.runner import TRANSCRIPT_FILE, EvalSettings, run_evaluation
from itbench_eval.tasks import Task, discover_tasks

STARTS = ("fork", "spawn")


async def timed_evaluation(tasks: list[Task], settings: EvalSettings) -> float:
    started = time.perf_counter()
    rows = await run_evaluation(tasks, settings, resolve_agent(settings.agent))
    elapsed = time.perf_counter() - started
    failed = [row for row in rows if row.error_class != "ok" or row.score != 1.0]
    if failed:
        raise SystemExit(f"oracle runs failed: {[(row.task, row.error_class, row.error) for row in failed]}")
    return elapsed


def server_start_time(out_dir: Path) -> float:
    """Seconds from the run's start to the agent's start (server spawn and MCP handshake)."""
    [row] = read_results(out_dir / RESULTS_FILE)
    transcript = (out_dir / row.run_dir / TRANSCRIPT_FILE).read_text(encoding="utf-8").splitlines()
    return next(event["t"] for event in map(json.loads, transcript) if event["type"] == "task_start")


async def main_async(scenarios: list[Path], samples: int) -> None:
    tasks = discover_tasks(scenarios)
    with tempfile.TemporaryDirectory(prefix="bench-evaluator-") as scratch:
        root = Path(scratch)
        cache_dir = root / "cache"

        def settings(out: str, **overrides: object) -> EvalSettings:
            values: dict[str, object] = {
                "agent": "oracle",
                "out_dir": root / out,
                "repeats": 1,
                "concurrency": 1,
                "cache_dir": cache_dir,
            }
            values.update(overrides)
            return EvalSettings.model_validate(values)

        # Warm the index cache so the per-run figures measure runs, not first index builds.
        warm_up = await timed_evaluation(tasks, settings("warm-up", concurrency=2))
        print(f"index build + first runs of {len(tasks)} fixtures: {warm_up:.2f} s\n")

        print("| fixture | server | median run (s) | min (s) | max (s) | median server start (s) |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for task in tasks:
            times: dict[str, list[float]] = {start: [] for start in STARTS}
            starts: dict[str, list[float]] = {start: [] for start in STARTS}
            for sample in range(samples):
                for start in STARTS:
                    out = f"single-{task.id}-{start}-{sample}"
                    times[start].append(await timed_evaluation([task], settings(out, server_start=start)))
                    starts[start].append(server_start_time(root / out))
            for start in STARTS:
                print(
                    f"| {task.id} | {start} | {statistics.median(times[start]):.2f} | {min(times[start]):.2f} "
                    f"| {max(times[start]):.2f} | {statistics.median(starts[start]):.2f} |"
                )

        print("\n| concurrency | server | runs | wall time (s) | runs/s |")
        print("| ---: | --- | ---: | ---: | ---: |")
        for concurrency in (1, 2, 4):
            for start in STARTS:
                out = f"all-c{concurrency}-{start}"
                elapsed = await timed_evaluation(
                    tasks, settings(out, repeats=3, concurrency=concurrency, server_start=start)
                )
                runs = 3 * len(tasks)
                print(f"| {concurrency} | {start} | {runs} | {elapsed:.2f} | {runs / elapsed:.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scenarios", type=Path, nargs="+", default=None, help="default: bundled fixtures/")
    parser.add_argument("--samples", type=int, default=5, help="single runs per fixture (default 5)")
    args = parser.parse_args(argv)
    anyio.run(main_async, args.scenarios or [], args.samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
