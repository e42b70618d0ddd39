"""The ``itbench-server synth`` subcommand: write a synthetic incident, or list the faults."""

from __future__ import annotations

import argparse
from pathlib import Path

from itbench_server.errors import GeneratorError


def add_synth_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from itbench_server.synth.formats import VARIANTS
    from itbench_server.synth.generator import SIZES

    parser = subparsers.add_parser(
        "synth",
        help="write a synthetic incident in the published snapshot layout",
        description="Write one synthetic incident (deterministic per fault, seed, size and variant).",
    )
    parser.add_argument("--list", action="store_true", help="list the faults and exit")
    parser.add_argument("--fault", help="which fault to inject (see --list)")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed: picks the fault's target and every random detail"
    )
    parser.add_argument("--out", type=Path, help="the scenario directory to write")
    parser.add_argument(
        "--size", default="small", help=f"{', '.join(SIZES)}, or a number of megabytes (default small)"
    )
    parser.add_argument(
        "--variant", default="default", choices=VARIANTS, help="value and layout variant (default: default)"
    )
    parser.add_argument("--force", action="store_true", help="replace a scenario already in --out")
    parser.set_defaults(handler=run_synth)


def run_synth(args: argparse.Namespace) -> int:
    from itbench_server.synth.generator import describe_faults, generate_scenario

    if args.list:
        faults = describe_faults()
        width = max(len(name) for name, _summary in faults)
        for name, summary in faults:
            print(f"{name:<{width}}  {summary}")
        return 0
    if not args.fault:
        raise GeneratorError("--fault is required (see --list)")
    if args.out is None:
        raise GeneratorError("--out is required: the scenario directory to write")
    out = generate_scenario(
        args.fault, args.seed, args.out, size=args.size, variant=args.variant, force=args.force
    )
    files = sorted(path for path in out.rglob("*") if path.is_file())
    total = sum(path.stat().st_size for path in files)
    print(f"wrote {out}: fault {args.fault}, seed {args.seed}, size {args.size}, variant {args.variant}")
    print(f"{len(files)} files, {total / 1_000_000:.1f} MB")
    return 0
