"""The ``itbench-server synth`` subcommand: write a synthetic incident, a look-alike of a public
scenario, or the whole look-alike suite; or list the faults and the look-alikes."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from itbench_server.errors import GeneratorError

__all__ = ["add_synth_parser", "run_synth"]


def add_synth_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from itbench_server.synth.formats import VARIANTS
    from itbench_server.synth.sizes import SIZES

    parser = subparsers.add_parser(
        "synth",
        help="write a synthetic incident in the published snapshot layout",
        description=(
            "Write one synthetic incident (deterministic per fault, seed, size and variant), a look-alike of a "
            "public ITBench scenario (--like N), or all of them (--suite aa)."
        ),
    )
    parser.add_argument("--list", action="store_true", help="list the faults and the look-alikes, and exit")
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--fault", help="which fault to inject (see --list; no default: give --fault, --like or --suite)"
    )
    what.add_argument(
        "--like", type=int, metavar="N", help="an incident shaped like public scenario N (no default)"
    )
    what.add_argument(
        "--suite", metavar="NAME", help="every look-alike of a suite (aa), as OUT/Scenario-<N> (no default)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed: picks the fault's target and every random detail"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="the scenario directory to write (the suite's parent with --suite; default with --suite: the "
        "suite is kept in the cache and its directory printed last; required otherwise)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="the cache a --suite without --out goes to (default: $ITBENCH_CACHE_DIR, else "
        "$XDG_CACHE_HOME/itbench-server, else ~/.cache/itbench-server)",
    )
    parser.add_argument(
        "--size", default="small", help=f"{', '.join(SIZES)}, or a number of megabytes (default small)"
    )
    parser.add_argument(
        "--variant", default="default", choices=VARIANTS, help="value and layout variant (default: default)"
    )
    parser.add_argument(
        "--jobs", type=int, default=0, help="scenarios written at once with --suite (default: CPUs)"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace a scenario already in --out (default: refuse to)"
    )
    parser.set_defaults(handler=run_synth)


def _list() -> None:
    from itbench_server.synth.generator import describe_faults
    from itbench_server.synth.lookalike import LOOKALIKES

    faults = describe_faults()
    width = max(len(name) for name, _summary in faults)
    print("faults (--fault NAME):")
    for name, summary in faults:
        print(f"  {name:<{width}}  {summary}")
    print("look-alikes of the public scenarios (--like N; --suite aa writes all):")
    for row in sorted(LOOKALIKES, key=lambda row: row.number):
        faults_used = " + ".join(fault for fault, _params in row.injections)
        print(f"  {row.number:>3}  {faults_used:<34}  {row.what}")


def _report(out: Path, what: str) -> None:
    files = sorted(path for path in out.rglob("*") if path.is_file())
    total = sum(path.stat().st_size for path in files)
    print(f"wrote {out}: {what}")
    print(f"{len(files)} files, {total / 1_000_000:.1f} MB")


def run_synth(args: argparse.Namespace) -> int:
    from itbench_server.synth.generator import (
        cached_suite,
        generate_lookalike,
        generate_scenario,
        generate_suite,
    )

    if args.list:
        _list()
        return 0
    if not (args.fault or args.like is not None or args.suite):
        raise GeneratorError("one of --fault, --like or --suite is required (see --list)")
    jobs = args.jobs or min(4, os.cpu_count() or 1)
    if args.suite and args.out is None:
        directory = cached_suite(
            args.suite,
            cache_dir=args.cache_dir,
            seed=args.seed,
            size=args.size,
            variant=args.variant,
            jobs=jobs,
        )
        print(directory)
        return 0
    if args.out is None:
        raise GeneratorError("--out is required: the scenario directory to write")
    options = f"seed {args.seed}, size {args.size}, variant {args.variant}"
    if args.suite:
        written = generate_suite(
            args.suite,
            args.out,
            seed=args.seed,
            size=args.size,
            variant=args.variant,
            force=args.force,
            jobs=jobs,
        )
        _report(args.out, f"suite {args.suite}, {len(written)} scenarios, {options}")
        return 0
    if args.like is not None:
        out = generate_lookalike(
            args.like, args.seed, args.out, size=args.size, variant=args.variant, force=args.force
        )
        _report(out, f"a look-alike of scenario {args.like}, {options}")
        return 0
    out = generate_scenario(
        args.fault, args.seed, args.out, size=args.size, variant=args.variant, force=args.force
    )
    _report(out, f"fault {args.fault}, {options}")
    return 0
