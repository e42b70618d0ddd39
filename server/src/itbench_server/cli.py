"""The ``itbench-server`` command line.

Subcommands: ``index`` (build a scenario's index and print what it holds), ``overview`` (print
the start-here summary of an incident), ``serve`` (the MCP server), ``kube-api`` (the read-only
Kubernetes API alone), ``synth`` (write a synthetic incident).

Every error the package raises on purpose becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from itbench_server import __version__
from itbench_server.errors import ItbenchError


def _add_index(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("index", help="build (or reuse) a scenario's index and describe it")
    parser.add_argument("scenario_dir", type=Path, help="a Scenario-<N>/ directory")
    parser.add_argument("--cache-dir", type=Path, default=None, help="where indexes are kept")
    parser.add_argument("--rebuild", action="store_true", help="build anew even if a cached index fits")
    parser.set_defaults(handler=_run_index)


def _run_index(args: argparse.Namespace) -> int:
    from itbench_server.snapshot import describe_snapshot, open_snapshot

    with open_snapshot(args.scenario_dir, cache_dir=args.cache_dir, rebuild=args.rebuild) as snapshot:
        print(describe_snapshot(snapshot))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="itbench-server",
        description="Serve recorded Kubernetes incidents as read-only MCP investigation tools.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_index(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ItbenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
