"""Index build speed on a large generated scenario, beside DuckDB's bare ingest and pandas.

    python benchmarks/bench_index.py [--size large] [--fault resource-quota] [--seed 1]
                                     [--samples 2] [--time-generation] [--stages]
                                     [--one-stream] [--scratch-dir DIR]

Generates the scenario once (kept under benchmarks/out/), then measures in one run, each in its
own process so peak memory is that step's alone:

* cold build of the index (time, MB/s of scenario files, peak RSS, CPU time),
* anchor 1: DuckDB's own ``read_csv`` of every TSV into tables of an on-disk database, with no
  normalization (the engine's limit), alternating with the cold build ``--samples`` times so
  that a machine's load falls on both,
* warm open of the built index (time to a usable snapshot),
* anchor 2: pandas ``read_csv`` of every TSV (what a shell-driven agent would do),
* with ``--time-generation``: generating the scenario anew into a scratch directory.

With ``--stages``, each cold build's wall and CPU time per stage of the build (attribute
dictionaries, rows, templates, checkpoint...) is printed too; the JSON always holds it. With
``--one-stream``, each sample also times a cold build that loads every file one after another
(``ingest.TWO_STREAMS`` off: the build's order before 2026-12-01) rather than the logs and
their templates on a second connection beside the other files.

Each step records the CPU time other processes used while it ran (from /proc/stat), to tell a
quiet run from a loaded one. Prints a Markdown table and writes the figures to
benchmarks/out/bench_index.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"

_CHILD_PRELUDE = """
import json, resource, sys, time
from pathlib import Path
def report(seconds, **extra):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak, **extra}))
"""

COLD_BUILD = """
import logging
from itbench_server.snapshot import ingest, open_snapshot
if len(sys.argv) > 3 and sys.argv[3] == "one-stream":  # every file one after another
    ingest.TWO_STREAMS = False
stages = {}
class Stages(logging.Handler):  # the build logs its per-stage wall and CPU seconds
    def emit(self, record):
        stages.update(getattr(record, "stages", {}))
build_log = logging.getLogger("itbench_server.snapshot.store")
build_log.setLevel(logging.INFO)
build_log.addHandler(Stages())
start = time.perf_counter()
snapshot = open_snapshot(sys.argv[1], cache_dir=sys.argv[2], rebuild=True)
seconds = time.perf_counter() - start
rows = {t: snapshot.query(f"SELECT count(*) FROM {t}")[0][0] for t in ("logs", "spans", "events", "objects", "samples", "alerts")}
report(seconds, rows=rows, skipped=len(snapshot.skipped()), stages=stages)
"""

WARM_OPEN = """
start = time.perf_counter()
from itbench_server.snapshot import open_snapshot
snapshot = open_snapshot(sys.argv[1], cache_dir=sys.argv[2])
snapshot.query("SELECT count(*) FROM logs")
report(time.perf_counter() - start)
"""

DUCKDB_BARE = """
import duckdb
files = sorted(Path(sys.argv[1]).rglob("*.tsv"))
start = time.perf_counter()
db = duckdb.connect(sys.argv[2])
for index, path in enumerate(files):
    db.execute(
        f"CREATE TABLE t{index} AS SELECT * FROM read_csv('{path}', delim='\\t', quote='\\"', escape='\\"', "
        "header=true, all_varchar=true)"
    )
db.execute("CHECKPOINT")
db.close()
report(time.perf_counter() - start, files=len(files))
"""

PANDAS = """
import pandas
files = sorted(Path(sys.argv[1]).rglob("*.tsv"))
start = time.perf_counter()
rows = 0
for path in files:
    frame = pandas.read_csv(path, sep="\\t", quotechar='"', dtype=str, keep_default_na=False)
    rows += len(frame)
    del frame
report(time.perf_counter() - start, rows=rows)
"""


GENERATE = """
from itbench_server.synth import generate_scenario
start = time.perf_counter()
generate_scenario(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), size=sys.argv[4])
report(time.perf_counter() - start)
"""


def _machine_cpu_s() -> float:
    """CPU seconds the whole machine has spent (every process), from /proc/stat; 0 where absent."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    busy = sum(int(value) for index, value in enumerate(fields) if index not in (3, 4))  # not idle, iowait
    return busy / os.sysconf("SC_CLK_TCK")


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_child(code: str, *args: str) -> dict[str, object]:
    """Run one step in a fresh interpreter: its own figures, its CPU time, and the other processes'."""
    machine, children = _machine_cpu_s(), _children_cpu_s()
    result = subprocess.run(
        [sys.executable, "-c", _CHILD_PRELUDE + code, *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{result.stderr}")
    own = _children_cpu_s() - children
    figures: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    figures["cpu_s"] = round(own, 2)
    figures["other_processes_cpu_s"] = round(max(0.0, _machine_cpu_s() - machine - own), 1)
    return figures


def ensure_scenario(fault: str, seed: int, size: str) -> Path:
    from itbench_server.synth import generate_scenario

    target = OUT / f"scenario-{fault}-{seed}-{size}"
    if not (target / "otel_logs_raw.tsv").exists():
        print(f"generating {target} ...", file=sys.stderr)
        generate_scenario(fault, seed, target, size=size)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="large")
    parser.add_argument("--fault", default="resource-quota")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--samples", type=int, default=2, help="cold builds and bare ingests, alternated")
    parser.add_argument(
        "--time-generation", action="store_true", help="also generate the scenario anew, timed"
    )
    parser.add_argument(
        "--stages", action="store_true", help="also print each cold build's wall and CPU time per stage"
    )
    parser.add_argument(
        "--one-stream",
        action="store_true",
        help="also time cold builds that load every file one after another, not the logs beside the rest",
    )
    parser.add_argument(
        "--scratch-dir",
        type=Path,
        default=OUT,
        help="where the builds and bare ingests write (default: %(default)s)",
    )
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    scenario = ensure_scenario(args.fault, args.seed, args.size)
    scenario_mb = sum(p.stat().st_size for p in scenario.rglob("*") if p.is_file()) / 1e6
    tsv_mb = sum(p.stat().st_size for p in scenario.rglob("*.tsv")) / 1e6

    bare: list[dict[str, object]] = []
    cold: list[dict[str, object]] = []
    after: list[dict[str, object]] = []
    generation = None
    args.scratch_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.scratch_dir) as scratch:
        for sample in range(args.samples):
            bare.append(run_child(DUCKDB_BARE, str(scenario), str(Path(scratch) / f"bare-{sample}.duckdb")))
            Path(scratch, f"bare-{sample}.duckdb").unlink()
            cold.append(run_child(COLD_BUILD, str(scenario), str(Path(scratch) / "cache")))
            if args.one_stream:
                after.append(run_child(COLD_BUILD, str(scenario), str(Path(scratch) / "cache"), "one-stream"))
        warm = run_child(WARM_OPEN, str(scenario), str(Path(scratch) / "cache"))
        pandas = run_child(PANDAS, str(scenario))
        if args.time_generation:
            target = Path(scratch) / "generated"
            generation = run_child(GENERATE, args.fault, str(args.seed), str(target), args.size)

    ratios = [float(c["seconds"]) / float(b["seconds"]) for c, b in zip(cold, bare, strict=True)]  # type: ignore[arg-type]
    figures = {
        "scenario": str(scenario.relative_to(OUT.parent.parent)),
        "scenario_mb": round(scenario_mb, 1),
        "tsv_mb": round(tsv_mb, 1),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
        "cold_build": cold,
        "cold_build_one_stream": after,
        "warm_open": warm,
        "duckdb_bare_ingest": bare,
        "pandas_read_csv": pandas,
        "generation": generation,
        "cold_over_bare": [round(ratio, 2) for ratio in ratios],
    }
    (OUT / "bench_index.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")

    def row(name: str, step: dict[str, object]) -> str:
        seconds = float(step["seconds"])  # type: ignore[arg-type]
        return (
            f"| {name} | {seconds:.2f} s | {tsv_mb / seconds:.0f} MB/s | {float(step['peak_rss_mb']):.0f} MB "  # type: ignore[arg-type]
            f"| {step['cpu_s']} s | {step['other_processes_cpu_s']} s |"
        )

    print(f"scenario: {scenario_mb:.0f} MB on disk, {tsv_mb:.0f} MB of TSV; rows: {cold[0]['rows']}")
    print("| step | time | TSV throughput | peak RSS | CPU | other processes' CPU |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for sample, (built, read) in enumerate(zip(cold, bare, strict=True), start=1):
        print(row(f"index cold build (itbench-server), run {sample}", built))
        print(row(f"anchor: DuckDB bare read_csv into tables, run {sample}", read))
        if after:
            print(row(f"index cold build, one file after another, run {sample}", after[sample - 1]))
    print(row("anchor: pandas read_csv", pandas))
    print(row("index warm open", warm))
    if generation is not None:
        print(row(f"generating the scenario ({args.fault}, seed {args.seed}, {args.size})", generation))
    print(
        f"cold build / bare DuckDB ingest: {', '.join(f'{ratio:.2f}x' for ratio in ratios)} "
        f"(median {statistics.median(ratios):.2f}x)"
    )
    cpu_ratios = [float(c["cpu_s"]) / float(b["cpu_s"]) for c, b in zip(cold, bare, strict=True)]  # type: ignore[arg-type]
    print(f"in CPU time: {', '.join(f'{ratio:.2f}x' for ratio in cpu_ratios)}")
    if after:
        after_ratios = [float(c["seconds"]) / float(b["seconds"]) for c, b in zip(after, bare, strict=True)]  # type: ignore[arg-type]
        print(f"one file after another / bare: {', '.join(f'{ratio:.2f}x' for ratio in after_ratios)}")
    if args.stages:
        print_stages("index cold build", cold)
        if after:
            print_stages("index cold build, one file after another", after)


def print_stages(title: str, cold: list[dict[str, object]]) -> None:
    """One row per stage of the build: wall and CPU seconds of each cold build.

    CPU is the whole process's (every thread), so a stage that runs beside others (the logs and
    their templates beside the spans) counts their CPU too; "the whole build" is measured around
    all of it.
    """
    names: list[str] = []
    for built in cold:
        names += [name for name in built["stages"] if name not in names]  # type: ignore[union-attr]
    runs = range(1, len(cold) + 1)
    print(f"\n{title}, per stage:")
    print("| build stage | " + " | ".join(f"run {run}: wall / CPU" for run in runs) + " |")
    print("| --- |" + " ---: |" * len(cold))
    for name in names:
        cells = []
        for built in cold:
            stages: dict[str, list[float]] = built["stages"]  # type: ignore[assignment]
            cells.append(f"{stages[name][0]:.2f} s / {stages[name][1]:.2f} s" if name in stages else "")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
