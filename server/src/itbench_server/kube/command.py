"""``itbench-server kube-api SCENARIO_DIR``: the read-only Kubernetes API of an incident, alone.

It serves until interrupted and prints (or writes) a kubeconfig, so that any Kubernetes client,
kubectl, k9s or the ``kubernetes`` Python client, can browse the recorded incident.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from itbench_server.analysis.timeparse import format_time, parse_time
from itbench_server.cli_support import CACHE_DIR_HELP, check_port, check_writable_file

__all__ = ["add_kube_api_parser", "run_kube_api"]


def add_kube_api_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "kube-api",
        help="serve a recorded incident as a read-only Kubernetes API and print a kubeconfig",
        description="Serve the recorded cluster as a read-only Kubernetes API on 127.0.0.1 and print a "
        "kubeconfig for it. Add /at/<time>/ to the server URL to view another moment.",
    )
    parser.add_argument("scenario_dir", type=Path, help="a Scenario-<N>/ directory (one incident)")
    parser.add_argument(
        "--at",
        default=None,
        help="the moment the kubeconfig views: RFC 3339 (2025-12-15T17:25:00Z) or relative "
        "(start+3m, end-10m); default: the end of the recording",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--namespace", default=None, help="default namespace of the kubeconfig's context (default: none)"
    )
    parser.add_argument(
        "--kubeconfig-out",
        type=Path,
        default=None,
        help="write the kubeconfig to this file (default: to stdout)",
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help=CACHE_DIR_HELP)
    parser.set_defaults(handler=run_kube_api)


def run_kube_api(args: argparse.Namespace) -> int:
    from itbench_server.kube.facade import KubeFacade
    from itbench_server.snapshot import open_snapshot

    check_port(args.port)
    if args.kubeconfig_out is not None:
        check_writable_file(args.kubeconfig_out, "--kubeconfig-out")
    with open_snapshot(args.scenario_dir, cache_dir=args.cache_dir) as snapshot:
        moment = parse_time(args.at, snapshot.window, what="--at") if args.at else snapshot.window.end
        with KubeFacade(snapshot, default_at=moment, port=args.port) as facade:
            kubeconfig = facade.kubeconfig(namespace=args.namespace)
            if args.kubeconfig_out is not None:
                args.kubeconfig_out.touch(mode=0o600)
                args.kubeconfig_out.write_text(kubeconfig)
                where = f"KUBECONFIG={args.kubeconfig_out}"
            else:
                sys.stdout.write(kubeconfig)
                sys.stdout.flush()
                where = "the kubeconfig above"
            print(
                f"serving {args.scenario_dir} as of {format_time(moment)} at {facade.url} "
                f"(window {format_time(snapshot.window.start)} .. {format_time(snapshot.window.end)}); "
                f"use {where}; add /at/<time> to the server URL for another moment; Ctrl-C stops",
                file=sys.stderr,
            )
            with contextlib.suppress(KeyboardInterrupt):
                facade.wait()
    return 0
