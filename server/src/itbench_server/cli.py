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
from itbench_server.cli_support import (
    CACHE_DIR_HELP,
    EXIT_INTERRUPTED,
    check_writable_file,
    enable_completion,
    os_error_line,
    stop_at_once_on_interrupt,
    use_defaults_help,
)
from itbench_server.errors import ItbenchError
from itbench_server.kube.command import add_kube_api_parser
from itbench_server.synth.command import add_synth_parser

__all__ = ["build_parser", "exit_without_teardown", "main"]


def _add_index(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "index",
        help="build (or reuse) a scenario's index and describe it",
        description="Build the DuckDB index of one recorded incident (or reuse the cached one that fits "
        "its files) and print what it holds: the window, the rows of each source, the files passed over.",
    )
    parser.add_argument("scenario_dir", type=Path, help="a Scenario-<N>/ directory (one incident)")
    parser.add_argument("--cache-dir", type=Path, default=None, help=CACHE_DIR_HELP)
    parser.add_argument(
        "--rebuild", action="store_true", help="build anew even if a cached index fits (default: reuse it)"
    )
    parser.set_defaults(handler=_run_index)


def _run_index(args: argparse.Namespace) -> int:
    from itbench_server.snapshot import describe_snapshot, open_snapshot

    with open_snapshot(args.scenario_dir, cache_dir=args.cache_dir, rebuild=args.rebuild) as snapshot:
        print(describe_snapshot(snapshot))
    return 0


def _add_overview(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "overview",
        help="print the start-here summary an agent gets from get_overview",
        description="Print the start-here summary of one incident, as the get_overview tool gives it: "
        "the window, the firing alerts, the workloads at the window's end, how to investigate.",
    )
    parser.add_argument("scenario_dir", type=Path, help="a Scenario-<N>/ directory (one incident)")
    parser.add_argument("--cache-dir", type=Path, default=None, help=CACHE_DIR_HELP)
    parser.set_defaults(handler=_run_overview)


def _run_overview(args: argparse.Namespace) -> int:
    import anyio

    from itbench_server.mcp.overview import overview_text
    from itbench_server.mcp.server import create_server
    from itbench_server.snapshot import open_snapshot

    with open_snapshot(args.scenario_dir, cache_dir=args.cache_dir) as snapshot:
        tools = anyio.run(create_server(snapshot).list_tools)
        print(overview_text(snapshot, [tool.name for tool in tools], budget=1_000_000))
    return 0


def _add_serve(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a recorded incident as an MCP server",
        description="Serve one recorded incident as a read-only MCP server, over stdio (one client: "
        "the process that started it; Ctrl-C stops) or Streamable HTTP.",
    )
    parser.add_argument("scenario_dir", type=Path, help="a Scenario-<N>/ directory (one incident)")
    parser.add_argument(
        "--transport", choices=["stdio", "http"], default="stdio", help="stdio (default) or Streamable HTTP"
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000; 0 picks a free one)")
    parser.add_argument(
        "--profile",
        choices=["full", "aa"],
        default="full",
        help="which tools to serve: 'full', the investigation tools (default), or 'aa', ITBench-AA's "
        "protocol: run_shell, a bash shell confined to the scenario's files (needs bubblewrap), and "
        "submit_diagnosis",
    )
    parser.add_argument(
        "--audit-log",
        type=Path,
        default=None,
        help="append one JSON line per tool call here (default: no audit log)",
    )
    parser.add_argument(
        "--submission-out",
        type=Path,
        default=None,
        help="write the submitted diagnosis (JSON) here (default: not written)",
    )
    parser.add_argument(
        "--output-budget", type=int, default=None, help="most characters in one tool result (default 20000)"
    )
    parser.add_argument(
        "--call-timeout", type=float, default=None, help="seconds one tool call may run (default 30)"
    )
    parser.add_argument(
        "--sql-row-limit", type=int, default=None, help="most rows run_sql returns per page (default 500)"
    )
    parser.add_argument(
        "--max-tool-calls",
        type=int,
        default=None,
        help="answer at most this many tool calls (submit_diagnosis excepted), then say the budget is "
        "spent: the turn cap of an agent whose steps cannot be counted (default: no budget)",
    )
    tokens = parser.add_mutually_exclusive_group()
    tokens.add_argument(
        "--token-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="read the bearer token HTTP clients must send from the first line of this file "
        "(default: $ITBENCH_SERVER_TOKEN; none: no token is asked)",
    )
    tokens.add_argument(
        "--token",
        default=None,
        help="the bearer token itself (visible to other users in ps; prefer --token-file or "
        "$ITBENCH_SERVER_TOKEN, the default)",
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help=CACHE_DIR_HELP)
    parser.set_defaults(handler=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    import os

    import anyio
    from pydantic import ValidationError

    from itbench_server.mcp.http import check_exposure, resolve_token, serve_http
    from itbench_server.mcp.server import create_server
    from itbench_server.mcp.settings import ServerSettings
    from itbench_server.snapshot import open_snapshot

    token = resolve_token(args.token, args.token_file, os.environ)
    if args.transport == "http":
        check_exposure(args.host, token)
    if args.audit_log is not None:
        check_writable_file(args.audit_log, "--audit-log")
    if args.submission_out is not None:
        check_writable_file(args.submission_out, "--submission-out", create=False)
    given = {
        "output_budget": args.output_budget,
        "call_timeout": args.call_timeout,
        "sql_row_limit": args.sql_row_limit,
        "max_tool_calls": args.max_tool_calls,
    }
    options = {name: value for name, value in given.items() if value is not None}
    try:
        settings = ServerSettings(
            profile=args.profile, audit_log=args.audit_log, submission_out=args.submission_out, **options
        )
    except ValidationError as error:
        problem = error.errors()[0]
        raise ItbenchError(f"--{str(problem['loc'][0]).replace('_', '-')}: {problem['msg']}") from None
    with open_snapshot(args.scenario_dir, cache_dir=args.cache_dir) as snapshot:
        server = create_server(snapshot, settings)
        if args.transport == "http":
            anyio.run(lambda: serve_http(server, host=args.host, port=args.port, token=token))
        else:
            with stop_at_once_on_interrupt("itbench-server"):
                print(
                    f"itbench-server: serving {args.scenario_dir} over stdio; Ctrl-C stops",
                    file=sys.stderr,
                    flush=True,
                )
                anyio.run(server.run_stdio_async)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="itbench-server",
        description="Serve recorded Kubernetes incidents as read-only MCP investigation tools.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_index(subparsers)
    _add_overview(subparsers)
    _add_serve(subparsers)
    add_kube_api_parser(subparsers)
    add_synth_parser(subparsers)
    return use_defaults_help(parser)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    enable_completion(parser)
    args = parser.parse_args(argv)
    try:
        status = args.handler(args)
    except ItbenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a path the checks did not foresee: still one line, not a traceback
        print(f"error: {os_error_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("itbench-server: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if argv is None and args.handler is _run_serve:
        exit_without_teardown(status)
    return status


def exit_without_teardown(status: int) -> None:
    """End the process at once, once ``serve`` has released everything it holds.

    Freeing every module and model the MCP SDK loaded takes the interpreter 0.1-0.35 s after
    ``serve`` returns, which every evaluation run waits for (docs/benchmarks.md). The exit
    handlers (kubectl's API server and private directory, logging) still run, and the standard
    streams are flushed; only the teardown is skipped. Only for the program itself (``main``
    given the command line, or a server forked by :mod:`itbench_server.forkserver`), never for
    a caller that goes on.
    """
    import atexit
    import contextlib
    import os

    atexit._run_exitfuncs()  # what the interpreter's own exit would run
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # the client may have closed the pipe
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    sys.exit(main())
