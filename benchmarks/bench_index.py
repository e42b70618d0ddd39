"""Index build speed on a large generated scenario, beside DuckDB's bare ingest and pandas.

    python benchmarks/bench_index.py [--size large] [--fault resource-quota] [--seed 1]

Generates the scenario once (kept under benchmarks/out/), then measures in one run, each in its
own process so peak memory is that step's alone:

* cold build of the index (time, MB/s of scenario files, peak RSS),
* warm open of the built index (time to a usable snapshot),
* anchor 1: DuckDB's own ``read_csv`` of every TSV into tables of an on-disk database, with no
  normalization (the engine's limit),
* anchor 2: pandas ``read_csv`` of every TSV (what a shell-driven agent would do).

Prints a Markdown table and writes the figures to benchmarks/out/bench_index.json.
"""

from __future__ import annotations

import argparse
import json
import platform
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
from itbench_server.snapshot import open_snapshot
start = time.perf_counter()
snapshot = open_snapshot(sys.argv[1], cache_dir=sys.argv[2], rebuild=True)
seconds = time.perf_counter() - start
rows = {t: snapshot.query(f"SELECT count(*) FROM {t}")[0][0] for t in ("logs", "spans", "events", "objects", "samples", "alerts")}
report(seconds, rows=rows, skipped=len(snapshot.skipped()))
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


def run_child(code: str, *args: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", _CHILD_PRELUDE + code, *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


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
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    scenario = ensure_scenario(args.fault, args.seed, args.size)
    scenario_mb = sum(p.stat().st_size for p in scenario.rglob("*") if p.is_file()) / 1e6
    tsv_mb = sum(p.stat().st_size for p in scenario.rglob("*.tsv")) / 1e6

    with tempfile.TemporaryDirectory(dir=OUT) as scratch:
        bare = run_child(DUCKDB_BARE, str(scenario), str(Path(scratch) / "bare.duckdb"))
        cold = run_child(COLD_BUILD, str(scenario), str(Path(scratch) / "cache"))
        warm = run_child(WARM_OPEN, str(scenario), str(Path(scratch) / "cache"))
        pandas = run_child(PANDAS, str(scenario))

    figures = {
        "scenario": str(scenario.relative_to(OUT.parent.parent)),
        "scenario_mb": round(scenario_mb, 1),
        "tsv_mb": round(tsv_mb, 1),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "cold_build": cold,
        "warm_open": warm,
        "duckdb_bare_ingest": bare,
        "pandas_read_csv": pandas,
        "cold_over_bare": round(float(cold["seconds"]) / float(bare["seconds"]), 2),  # type: ignore[arg-type]
    }
    (OUT / "bench_index.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")

    def row(name: str, step: dict[str, object]) -> str:
        seconds = float(step["seconds"])  # type: ignore[arg-type]
        return f"| {name} | {seconds:.2f} s | {tsv_mb / seconds:.0f} MB/s | {float(step['peak_rss_mb']):.0f} MB |"  # type: ignore[arg-type]

    print(f"scenario: {scenario_mb:.0f} MB on disk, {tsv_mb:.0f} MB of TSV; rows: {cold['rows']}")
    print("| step | time | TSV throughput | peak RSS |")
    print("| --- | ---: | ---: | ---: |")
    print(row("index cold build (itbench-server)", cold))
    print(row("anchor: DuckDB bare read_csv into tables", bare))
    print(row("anchor: pandas read_csv", pandas))
    print(f"| index warm open | {float(warm['seconds']):.3f} s | | {float(warm['peak_rss_mb']):.0f} MB |")  # type: ignore[arg-type]
    print(f"cold build / bare DuckDB ingest = {figures['cold_over_bare']}x")


if __name__ == "__main__":
    main()
