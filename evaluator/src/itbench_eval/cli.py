"""The ``itbench-eval`` command line.

``itbench-eval --agent AGENT [options]`` (the same as ``itbench-eval run --agent AGENT ...``)
runs an agent over the tasks and prints the table; ``report DIR`` writes ``summary.json`` and a
self-contained ``report.html`` from a results directory; ``compare A B`` prints two results
directories' per-task scores side by side; ``view DIR...`` serves a local, read-only web
app over results directories (:mod:`itbench_eval.view`); ``score`` scores submission files
(:mod:`itbench_eval.score_command`); ``mock-model`` serves a scripted model
(:mod:`itbench_eval.mockmodel`).

Every error made on purpose (an :class:`~itbench_eval.errors.EvalError`) becomes one line on
stderr and exit status 2. A run command whose runs all ended in another class than ``ok`` exits
with status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from itbench_eval import __version__
from itbench_eval.console import results_console
from itbench_eval.errors import EvalError, one_line
from itbench_eval.integrations.harbor import add_export_harbor_command
from itbench_eval.mockmodel.command import add_mock_model_command
from itbench_eval.score_command import add_score_command
from itbench_server.cli_support import CACHE_DIR_DEFAULT as CACHE_DEFAULT
from itbench_server.cli_support import enable_completion, use_defaults_help

if TYPE_CHECKING:
    from itbench_eval.tasks import Task

__all__ = ["DEFAULT_SUITE", "EXIT_NO_RUN_OK", "CommandError", "build_parser", "default_results_dir", "main"]

EXIT_NO_RUN_OK = 1


class CommandError(EvalError):
    """A bad invocation; the message is printed as one line and the exit status is 2."""


DEFAULT_SUITE = "aa"
"""The task set of ``itbench-eval --agent ...`` without ``--scenarios``: ITBench-AA's look-alikes."""


def _add_run(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run an agent over the tasks (the default: itbench-eval --agent ...)",
        description="Run an agent over recorded incidents, score its diagnoses, print the table.",
    )
    from itbench_eval.agents.loader import AGENT_FORMS
    from itbench_eval.agents.model_config import add_model_agent_arguments

    parser.add_argument("--agent", required=True, help=AGENT_FORMS)
    tasks = parser.add_mutually_exclusive_group()
    tasks.add_argument(
        "--scenarios",
        type=Path,
        nargs="+",
        default=None,
        metavar="PATH",
        help="scenario dirs, dataset dirs of Scenario-* dirs, or a data.jsonl, e.g. the bundled fixtures/ "
        "(default: --suite aa)",
    )
    tasks.add_argument(
        "--suite",
        default=None,
        metavar="NAME",
        help="a generated suite: aa, look-alikes of the public ITBench-AA scenarios, made on first use "
        "(the default when --scenarios is not given)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per task (default 3)")
    parser.add_argument("--max-turns", type=int, default=100, help="turn cap per run (default 100)")
    parser.add_argument(
        "--timeout", type=float, default=1800.0, metavar="S", help="wall-clock limit per run (default 1800)"
    )
    parser.add_argument("--concurrency", type=int, default=2, metavar="N", help="runs at once (default 2)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="RESULTS_DIR",
        help="default: a new itbench-results/<agent>-<UTC time>/ (--resume needs it given)",
    )
    parser.add_argument("--resume", action="store_true", help="continue the runs already in RESULTS_DIR")
    parser.add_argument("--seed", type=int, default=0, help="seed of repeat 1; repeat k gets seed+k-1")
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help=f"the servers' index cache ({CACHE_DEFAULT})"
    )
    parser.add_argument(
        "--server-start",
        choices=["fork", "spawn"],
        default="fork",
        help="how each run's server starts: 'fork', from one process that has loaded the server "
        "(about 0.1 s; default), or 'spawn', a fresh itbench-server (about 0.8 s)",
    )
    parser.add_argument(
        "--profile",
        choices=["full", "aa"],
        default="full",
        help="the server's tools: 'full', the investigation tools (default), or 'aa', ITBench-AA's "
        "protocol (run_shell over the files, and submit_diagnosis)",
    )
    servers = parser.add_argument_group("every run's server (recorded in settings.json)")
    servers.add_argument(
        "--call-timeout",
        type=float,
        default=None,
        metavar="S",
        help="seconds one tool call may run (default: 30)",
    )
    servers.add_argument(
        "--output-budget",
        type=int,
        default=None,
        metavar="N",
        help="most characters in one tool result (default: 20000)",
    )
    servers.add_argument(
        "--sql-row-limit",
        type=int,
        default=None,
        metavar="N",
        help="most rows run_sql returns per page (default: 500)",
    )
    parser.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="where runs are carried out: 'local', this process (default), or 'ray', one Ray task per run "
        "(pip install 'itbench-eval[ray]')",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="the Ray cluster of --backend ray: auto, HOST:PORT or ray://HOST:PORT (default: RAY_ADDRESS, "
        "else a Ray started for the run)",
    )
    parser.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="run only shard I of N: every N-th run of the sorted (task, repeat) list from the I-th, for CI "
        "matrices (itbench-eval merge joins the shards; default: every run)",
    )
    add_model_agent_arguments(parser)
    cli_agents = parser.add_argument_group("CLI agents (claude-code, codex, gemini-cli, cmd:TEMPLATE)")
    cli_agents.add_argument(
        "--agent-bin",
        type=Path,
        default=None,
        metavar="PATH",
        help="the CLI to run (default: on PATH, else the repository's node_modules/.bin)",
    )
    cli_agents.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run CLI agents unconfined (not recommended: their shell can then read the answer key; "
        "recorded in settings.json)",
    )
    parser.set_defaults(handler=_run_eval)


def _check_directory(path: Path, option: str) -> None:
    """Create ``path`` now if missing, so that a directory that cannot be made is one line before any
    run starts rather than the failure of every run."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CommandError(
            f"{option} {path}: cannot create the directory: {error.strerror or error}"
        ) from None


def default_results_dir(agent: str) -> Path:
    """``itbench-results/<agent>-<UTC time>``: a fresh directory per invocation."""
    from datetime import UTC, datetime

    from itbench_eval.agents.loader import agent_label
    from itbench_eval.runner import path_component

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("itbench-results") / f"{path_component(agent_label(agent))}-{stamp}"


def _run_eval(args: argparse.Namespace) -> int:
    import anyio
    from pydantic import ValidationError

    from itbench_eval.agents.loader import CliOptions, resolve_agent
    from itbench_eval.agents.model_config import options_from_arguments
    from itbench_eval.report import make_progress, render_table, summarize, write_summary
    from itbench_eval.runner import TRACEBACK_FILE, EvalSettings, ServerOptions, run_evaluation
    from itbench_eval.tasks import discover_tasks, suite_tasks

    if args.out is None:
        if args.resume:
            raise CommandError("--resume needs --out RESULTS_DIR, the directory of the runs to continue")
        args.out = default_results_dir(args.agent)
    try:
        settings = EvalSettings(
            agent=args.agent,
            out_dir=args.out,
            repeats=args.repeats,
            max_turns=args.max_turns,
            timeout_s=args.timeout,
            concurrency=args.concurrency,
            seed=args.seed,
            resume=args.resume,
            cache_dir=args.cache_dir,
            server_start=args.server_start,
            profile=args.profile,
            server_options=ServerOptions(
                call_timeout=args.call_timeout,
                output_budget=args.output_budget,
                sql_row_limit=args.sql_row_limit,
            ),
            backend=args.backend,
            ray_address=args.ray_address,
            shard=_shard(args.shard),
        )
    except ValidationError as error:
        detail = error.errors()[0]
        location = [str(part) for part in detail["loc"]]
        field = location[1] if location[0] == "server_options" and len(location) > 1 else location[0]
        option = {"timeout_s": "--timeout", "out_dir": "--out"}.get(field, "--" + field.replace("_", "-"))
        raise CommandError(f"{option}: {detail['msg']}") from None
    if args.cache_dir is not None:
        _check_directory(args.cache_dir, "--cache-dir")
    model_options = options_from_arguments(args)
    factory = resolve_agent(
        args.agent, model_options, CliOptions(binary=args.agent_bin, sandbox=not args.no_sandbox)
    )
    tasks = (
        discover_tasks(args.scenarios)
        if args.scenarios
        else suite_tasks(args.suite or DEFAULT_SUITE, cache_dir=args.cache_dir)
    )
    progress = make_progress(sys.stderr)
    try:
        rows = anyio.run(run_evaluation, tasks, settings, factory, progress)
    finally:
        progress.close()
    summary = summarize(rows, tasks=tasks, results_dir=args.out)
    write_summary(args.out, summary)
    render_table(summary, results_console())
    for row in rows:
        if (args.out / row.run_dir / TRACEBACK_FILE).is_file():
            print(
                f"{row.task} r{row.repeat}: {row.error_class}, traceback in {args.out / row.run_dir / TRACEBACK_FILE}",
                file=sys.stderr,
            )
    print(f"results in {args.out}; itbench-eval report {args.out} writes report.html", file=sys.stderr)
    if not any(row.error_class == "ok" for row in rows):
        # Nothing ended as planned: a broken agent, endpoint or setup must not pass for a score of 0.
        classes = ", ".join(sorted({row.error_class for row in rows})) or "no runs"
        print(f"error: no run ended ok ({classes})", file=sys.stderr)
        return EXIT_NO_RUN_OK
    return 0


def _shard(text: str | None) -> tuple[int, int] | None:
    from itbench_eval.backends import ShardError, parse_shard

    if text is None:
        return None
    try:
        return parse_shard(text)
    except ShardError as error:
        raise CommandError(str(error)) from None


def _add_merge(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "merge",
        help="join the results directories of --shard I/N runs into one",
        description="Join shards' results into one results directory: their settings.json must agree; rows "
        "are deduplicated by (task, agent, repeat) and run directories hard-linked or copied.",
    )
    parser.add_argument("out", type=Path, metavar="OUT", help="the merged results directory (new)")
    parser.add_argument(
        "shard_dirs", type=Path, nargs="+", metavar="SHARD_DIR", help="the shards' results directories"
    )
    parser.set_defaults(handler=_run_merge)


def _run_merge(args: argparse.Namespace) -> int:
    from itbench_eval.backends.merge import merge_results

    rows = merge_results(args.out, args.shard_dirs)
    print(f"merged {len(rows)} runs from {len(args.shard_dirs)} shard(s) into {args.out}", file=sys.stderr)
    return 0


def _add_runs_tasks(parser: argparse.ArgumentParser, *, uses: str, cache_help: str) -> None:
    """--scenarios / --suite / --cache-dir: where the tasks of existing runs are found."""
    tasks = parser.add_mutually_exclusive_group()
    tasks.add_argument(
        "--scenarios",
        type=Path,
        nargs="+",
        default=None,
        metavar="PATH",
        help=f"the runs' scenarios, for {uses} (default: bundled fixtures/)",
    )
    tasks.add_argument(
        "--suite", default=None, metavar="NAME", help="the runs' generated suite (aa; default: --scenarios)"
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help=f"{cache_help} ({CACHE_DEFAULT})")


def _runs_tasks(args: argparse.Namespace) -> list[Task] | None:
    """The tasks --suite or --scenarios name; None leaves the choice to the command (the fixtures)."""
    from itbench_eval.tasks import discover_tasks, suite_tasks

    if args.suite:
        return suite_tasks(args.suite, cache_dir=args.cache_dir)
    if args.scenarios:
        return discover_tasks(args.scenarios)
    return None


def _add_report(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write summary.json and report.html for a results directory",
        description="Summarize a results directory: intervals, pass@k and pass^k, the baselines on the "
        "same tasks, process metrics, each name's verdict, failures by fault type.",
    )
    parser.add_argument(
        "results_dir", type=Path, metavar="RESULTS_DIR", help="a results directory (itbench-eval run --out)"
    )
    _add_runs_tasks(
        parser,
        uses="baselines, verdicts and process metrics",
        cache_help="where baselines are cached: the index cache",
    )
    parser.add_argument("--no-baselines", action="store_true", help="leave the baselines out")
    parser.add_argument(
        "--no-baseline-runs",
        action="store_true",
        help="leave out the baseline that needs a server (baseline)",
    )
    parser.set_defaults(handler=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from itbench_eval.report import build_report, render_table, write_html_report

    tasks = _runs_tasks(args)
    rows, summary = build_report(
        args.results_dir,
        tasks=tasks,
        cache_dir=args.cache_dir,
        with_baselines=not args.no_baselines,
        run_baseline=not args.no_baseline_runs,
    )
    path = write_html_report(args.results_dir, summary, rows)
    render_table(summary, results_console())
    print(f"wrote {path} and {args.results_dir / 'summary.json'}")
    return 0


def _add_compare(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="per-task scores of two results directories, with deltas",
        description="Print two results directories' per-task scores side by side, their differences and a "
        "paired test over the tasks they share; refuses results made under different conditions.",
    )
    parser.add_argument("results_a", type=Path, metavar="A", help="the first results directory")
    parser.add_argument("results_b", type=Path, metavar="B", help="the second results directory")
    parser.add_argument(
        "--force",
        action="store_true",
        help="compare even results made under different conditions (settings.json; default: refuse)",
    )
    parser.set_defaults(handler=_run_compare)


def _run_compare(args: argparse.Namespace) -> int:
    from itbench_eval.report import compare_results, render_comparison

    comparison = compare_results(args.results_a, args.results_b, force=args.force)
    render_comparison(comparison, results_console())
    return 0


def _add_view(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "view",
        help="browse results directories in a local, read-only web app (follows running evaluations)",
        description="Serve a leaderboard, the task x agent x repeat matrix, each run's trajectory beside "
        "its answer key, and two results directories side by side, on loopback only.",
    )
    parser.add_argument(
        "results_dirs", type=Path, nargs="+", metavar="RESULTS_DIR", help="one or more results directories"
    )
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="default 8765; 0 picks a free port")
    parser.add_argument("--no-open", action="store_true", help="do not open a browser")
    _add_runs_tasks(
        parser,
        uses="answer keys, verdicts and fault types",
        cache_help="where a generated suite is cached: the index cache",
    )
    parser.set_defaults(handler=_run_view)


def _run_view(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port {args.port}: not a port number (0 to 65535)")
    from itbench_eval.view import serve

    tasks = _runs_tasks(args)
    serve(args.results_dirs, tasks=tasks, host=args.host, port=args.port, open_browser=not args.no_open)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="itbench-eval",
        description="Drive agents through recorded Kubernetes incidents over MCP and score their diagnoses.",
        epilog="itbench-eval --agent AGENT [options] is short for itbench-eval run --agent AGENT [options].",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(subparsers)
    _add_report(subparsers)
    _add_compare(subparsers)
    _add_merge(subparsers)
    _add_view(subparsers)
    add_score_command(subparsers)
    add_mock_model_command(subparsers)
    add_export_harbor_command(subparsers)
    return use_defaults_help(parser)


def _with_default_command(argv: Sequence[str]) -> list[str]:
    """``itbench-eval --agent ...`` means ``itbench-eval run --agent ...``."""
    argv = list(argv)
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        return ["run", *argv]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    enable_completion(parser)
    args = parser.parse_args(_with_default_command(sys.argv[1:] if argv is None else argv))
    try:
        return args.handler(args)
    except EvalError as error:
        # Every error raised on purpose (itbench_eval.errors) is one line, never a traceback.
        print(f"error: {one_line(error)}", file=sys.stderr)
        return 2
    except OSError as error:  # a path no check foresaw: still one line, not a traceback
        where = f"{error.filename}: " if error.filename is not None else ""
        print(f"error: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("itbench-eval: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
