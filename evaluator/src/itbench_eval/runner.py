"""Runs: every task x repeat, each against a fresh server process, scored, and recorded.

One run: start ``itbench-server serve SCENARIO_DIR`` as a stdio subprocess with its own audit
log and submission file in the run directory (``OUT/runs/<task>/<agent>/r<repeat>/``), connect
an MCP client, give the agent the prompt under its turn cap and wall-clock limit, stop the
server, read the submission it wrote, score it, and append one row to ``results.jsonl``.

The server gets a scrubbed environment (:func:`server_environment`: no API keys) and, where hard
links can be made, a view of the scenario without its answer key (``OUT/scenario-views/``, made
once per evaluation). One evaluation at a time may use an output directory: it holds an
exclusive lock on ``OUT/evaluation.lock`` while it runs.

Every run ends in exactly one class: ``ok``; ``no_submission`` (the agent returned without a
valid submission); ``turn_cap`` (a step or call past the turn cap); ``timeout`` (the wall-clock
limit, or a model agent's time budget, ran out); ``model_error`` (the model API failed after its
retries: :class:`~itbench_eval.agents.base.ModelError`); ``tool_error`` (the server did not start,
died, or broke the protocol); ``agent_crash`` (the agent raised); ``harness_error`` (the evaluator
itself failed). A submission written before the run ended is still scored. The traceback of an
error is kept in the run directory (``traceback.txt``) and its path ends the row's message.

``settings.json`` records the conditions of the evaluation (:mod:`itbench_eval.settings`);
``--resume`` refuses to continue under other conditions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol, TextIO

import anyio
import anyio.streams.text
from anyio.abc import Process
from mcp import Client, MCPError, StdioServerParameters, stdio_client
from pydantic import BaseModel, ConfigDict, Field

from itbench_eval.agents.base import (
    Agent,
    AgentOutcome,
    ConnectsItself,
    HarnessError,
    McpEndpoint,
    ModelError,
    ReadsGroundTruth,
    ReportsPartialOutcome,
    RunContext,
    RunLimits,
    TaskView,
    ToolSession,
    Transcript,
    TurnLimitExceeded,
)
from itbench_eval.agents.loader import AgentFactory, DescribesSettings, agent_label
from itbench_eval.backends import get_backend, shard_slice
from itbench_eval.errors import EvalError
from itbench_eval.forkserver import (
    ForkedProcess,
    ForkServer,
    ForkServerError,
    forked_stdio_client,
    open_forked_process,
    shared_fork_server,
)
from itbench_eval.process import process_metrics
from itbench_eval.prompt import build_prompt
from itbench_eval.results import RESULTS_FILE, ErrorClass, RunResult, append_result, read_results
from itbench_eval.scoring import ScoreResult, score_diagnosis, score_names
from itbench_eval.settings import build_settings, differences_that_matter, read_settings, write_settings
from itbench_eval.tasks import Task, answer_free_view
from itbench_eval.trajectory import agent_model, write_trajectory
from itbench_server.diagnosis import SubmissionFormatError, load_submission

__all__ = [
    "AUDIT_LOG_FILE",
    "LOCK_FILE",
    "RUN_CONFIG_FILE",
    "SCORE_FILE",
    "SERVER_STDERR_FILE",
    "SUBMISSION_FILE",
    "TOKEN_FILE",
    "TRACEBACK_FILE",
    "TRANSCRIPT_FILE",
    "VIEWS_DIR",
    "EvalSettings",
    "ProgressSink",
    "RunnerError",
    "ServerOptions",
    "default_server_command",
    "path_component",
    "run_directory",
    "run_evaluation",
    "run_label",
    "run_one",
    "server_environment",
]

SUBMISSION_FILE = "submission.json"
SCORE_FILE = "score.json"
AUDIT_LOG_FILE = "audit.jsonl"
TRANSCRIPT_FILE = "transcript.jsonl"
SERVER_STDERR_FILE = "server.stderr"
RUN_CONFIG_FILE = "run.json"
TRACEBACK_FILE = "traceback.txt"
TOKEN_FILE = "server.token"
LOCK_FILE = "evaluation.lock"
VIEWS_DIR = "scenario-views"

# What a server process inherits: the basics of a process, the locale, and the project's own
# ITBENCH_* settings; never a credential (anything named like a key, token, secret or password)
# nor the settings of judges and model agents.
_SERVER_ENV = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LANGUAGE", "TZ", "TMPDIR",
     "XDG_CACHE_HOME", "PYTHONPATH", "PYTHONHOME", "PYTHONIOENCODING", "PYTHONUTF8", "VIRTUAL_ENV"}
)  # fmt: skip
_NOT_FOR_THE_SERVER = ("ITBENCH_JUDGE_", "ITBENCH_AGENT_", "ITBENCH_MODEL_")
_CREDENTIAL = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION", re.IGNORECASE)


class RunnerError(EvalError, ValueError):
    """The evaluation cannot start; the message says why."""


class ServerOptions(BaseModel):
    """Settings of every run's server (``itbench-server serve``); None keeps the server's default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    call_timeout: float | None = Field(default=None, gt=0, description="seconds one tool call may run")
    output_budget: int | None = Field(
        default=None, ge=1_000, description="most characters in one tool result"
    )
    sql_row_limit: int | None = Field(default=None, ge=1, description="most rows run_sql returns per page")

    def arguments(self) -> list[str]:
        """The ``serve`` options these settings give."""
        given = [("--call-timeout", self.call_timeout), ("--output-budget", self.output_budget)]
        given.append(("--sql-row-limit", self.sql_row_limit))
        return [part for option, value in given if value is not None for part in (option, f"{value:g}")]


class EvalSettings(BaseModel):
    """What one ``itbench-eval --agent ...`` invocation runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent: str
    out_dir: Path
    repeats: int = Field(default=3, ge=1)
    max_turns: int = Field(default=100, ge=1)
    timeout_s: float | None = Field(default=1800.0, gt=0, description="wall-clock limit of one agent run")
    startup_timeout_s: float = Field(default=600.0, gt=0, description="time a server may take to start")
    concurrency: int = Field(default=2, ge=1)
    seed: int = 0
    resume: bool = False
    cache_dir: Path | None = Field(default=None, description="the servers' index cache (--cache-dir)")
    server_command: tuple[str, ...] | None = Field(
        default=None, description="how to start the server; default: the itbench-server next to Python"
    )
    server_start: Literal["fork", "spawn"] = Field(
        default="fork",
        description="start each run's server by forking one process that has loaded the server "
        "(itbench_eval.forkserver), or as a fresh process; a server_command is always spawned",
    )
    profile: Literal["full", "aa"] = Field(
        default="full", description="the server's tool profile: investigation tools, or ITBench-AA's shell"
    )
    server_options: ServerOptions = Field(
        default_factory=lambda: ServerOptions(), description="the server's own settings for every run"
    )
    backend: Literal["local", "ray"] = Field(
        default="local", description="where runs are carried out: this process, or a Ray cluster"
    )
    ray_address: str | None = Field(
        default=None, description="the Ray cluster (--ray-address; default: a local Ray)"
    )
    shard: tuple[int, int] | None = Field(
        default=None, description="run only shard I of N of the sorted (task, repeat) list (--shard I/N)"
    )


class ProgressSink(Protocol):
    """Where the runner reports progress (see :mod:`itbench_eval.report`)."""

    def start(self, total: int, already_done: int) -> None: ...

    def run_started(self, task: str, repeat: int) -> None: ...

    def run_finished(self, row: RunResult) -> None: ...


def default_server_command() -> tuple[str, ...]:
    """The ``itbench-server`` console script beside this Python, else ``python -m``."""
    script = Path(sys.executable).with_name("itbench-server")
    if script.is_file() and os.access(script, os.X_OK):
        return (str(script),)
    return (sys.executable, "-m", "itbench_server.cli")


def server_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a server is started with: an allowlist of ``environ`` (default: ours).

    ``PATH``, ``HOME``, ``LANG``, ``LC_*``, ``TMPDIR`` and a few more process basics, and the
    ``ITBENCH_*`` server settings (``ITBENCH_CACHE_DIR``...); never a model's or judge's API key.
    """
    environ = os.environ if environ is None else environ
    return {
        name: value
        for name, value in environ.items()
        if (
            name in _SERVER_ENV
            or name.startswith("LC_")
            or (name.startswith("ITBENCH_") and not name.startswith(_NOT_FOR_THE_SERVER))
        )
        and not _CREDENTIAL.search(name)
    }


_MAX_COMPONENT = 80


def path_component(label: str) -> str:
    """``label`` made safe as one directory name: at most 80 characters, a digest keeping long ones apart."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._") or "agent"
    if len(safe) <= _MAX_COMPONENT:
        return safe
    digest = hashlib.sha256(label.encode("utf-8")).hexdigest()[:12]
    return f"{safe[: _MAX_COMPONENT - 13]}-{digest}"


def run_label(settings: EvalSettings) -> str:
    """The agent's name in results: its ``--agent`` label, marked with the tool profile unless ``full``."""
    label = agent_label(settings.agent)
    return label if settings.profile == "full" else f"{label} ({settings.profile})"


def run_directory(out_dir: Path, task_id: str, label: str, repeat: int) -> Path:
    return out_dir / "runs" / path_component(task_id) / path_component(label) / f"r{repeat}"


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def _exception_leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _exception_leaves(inner)]
    return [error]


def _describe(error: BaseException) -> str:
    leaves = _exception_leaves(error)
    return "; ".join(f"{type(leaf).__name__}: {leaf}".rstrip(": ") for leaf in leaves)


def _is_connection_failure(error: BaseException) -> bool:
    """Whether ``error`` means the server went away rather than the agent failing."""
    for leaf in _exception_leaves(error):
        if isinstance(leaf, MCPError) and leaf.code == -32000:  # CONNECTION_CLOSED
            return True
        if isinstance(leaf, anyio.ClosedResourceError | anyio.BrokenResourceError | anyio.EndOfStream):
            return True
    return False


class _Outcome:
    """What happened in one run, filled as it goes."""

    def __init__(self) -> None:
        self.error_class: ErrorClass = "ok"
        self.error = ""
        self.agent: AgentOutcome | None = None
        self.session: ToolSession | None = None
        self.tracebacks: list[str] = []

    def fail(self, error_class: ErrorClass, error: str) -> None:
        if self.error_class == "ok":
            self.error_class, self.error = error_class, error

    def crash(
        self, error_class: ErrorClass, error: str, exception: BaseException, overrides: bool = False
    ) -> None:
        """Fail with ``exception``'s traceback kept; ``overrides`` replaces an earlier class."""
        self.tracebacks.append("".join(traceback.format_exception(exception)))
        if overrides:
            self.error_class, self.error = "ok", ""
        self.fail(error_class, error)


async def _drive_agent(agent: Agent, context: RunContext, outcome: _Outcome) -> None:
    """Run ``agent`` under its limits; every way it can end goes into ``outcome``."""
    limits = context.limits
    session = context.session
    outcome.session = session
    context.transcript.write(
        "task_start", task=context.task.task_id, repeat=context.task.repeat, seed=context.task.seed
    )
    try:
        with anyio.move_on_after(limits.timeout_s) as scope:
            returned = await agent.run(context)
            outcome.agent = returned if isinstance(returned, AgentOutcome) else None
        if scope.cancelled_caught:
            outcome.fail("timeout", f"the wall-clock limit of {limits.timeout_s:g} s ran out")
    except TurnLimitExceeded as error:
        outcome.fail("turn_cap", str(error))
    except Exception as error:
        leaves = _exception_leaves(error)
        if session is not None and session.turn_limit_hit:
            pass  # reported below, whatever the agent made of the error
        elif harness := next((leaf for leaf in leaves if isinstance(leaf, HarnessError)), None):
            outcome.fail("harness_error", str(harness))
        elif any(isinstance(leaf, ModelError) for leaf in leaves):
            outcome.crash("model_error", _describe(error).removeprefix("ModelError: "), error)
        elif _is_connection_failure(error):
            outcome.crash("tool_error", f"the server went away: {_describe(error)}", error)
        else:
            outcome.crash("agent_crash", _describe(error), error)
    if outcome.agent is None and isinstance(agent, ReportsPartialOutcome):
        # Cut short: what the agent spent until then still counts.
        with contextlib.suppress(Exception):
            outcome.agent = agent.partial_outcome()
    submitted = session.submitted if session is not None else (context.run_dir / SUBMISSION_FILE).exists()
    forced = outcome.agent is not None and outcome.agent.forced_final_answer
    final = f"; a final answer was forced ({'submitted' if submitted else 'no submission'})" if forced else ""
    if session is not None and session.turn_limit_hit:
        outcome.fail(
            "turn_cap", f"the turn cap of {limits.max_turns} was reached before the run ended{final}"
        )
    if outcome.agent is not None and outcome.agent.ended_by == "time_budget":
        outcome.fail("timeout", f"the time budget of the {limits.timeout_s:g} s limit ran out{final}")


class _ServerFailed(EvalError):
    """The server did not start; the message says why."""


def _server_args(
    settings: EvalSettings, scenario: Path, run_dir: Path, *, endpoint_for: int | None
) -> list[str]:
    """The arguments of ``itbench-server`` for one run (``endpoint_for``: a tool-call budget over HTTP)."""
    args = ["serve", str(scenario.resolve()), "--audit-log", str(run_dir / AUDIT_LOG_FILE)]
    args += ["--submission-out", str(run_dir / SUBMISSION_FILE), "--profile", settings.profile]
    args += settings.server_options.arguments()
    if settings.cache_dir is not None:
        args += ["--cache-dir", str(settings.cache_dir.resolve())]
    if endpoint_for is not None:
        args += ["--transport", "http", "--host", "127.0.0.1", "--port", "0"]
        args += ["--token-file", str(run_dir / TOKEN_FILE), "--max-tool-calls", str(endpoint_for)]
    return args


async def _fork_server(settings: EvalSettings, stderr: TextIO) -> ForkServer | None:
    """The forking server to start this run's server from; None: spawn it (a ``server_command``,
    ``server_start="spawn"``, or a forking server that cannot start, which ``stderr`` is told)."""
    if settings.server_command is not None or settings.server_start != "fork":
        return None
    try:
        return await anyio.to_thread.run_sync(shared_fork_server, server_environment())
    except ForkServerError as error:
        stderr.write(f"itbench-eval: {error}; starting the server as a fresh process\n")
        return None


@contextlib.asynccontextmanager
async def _stdio_server(
    command: Sequence[str], args: list[str], run_dir: Path, stderr: TextIO, fork_server: ForkServer | None
) -> AsyncIterator[Client]:
    """The run's server as a stdio subprocess (or forked one), with an MCP client connected to it."""
    if fork_server is not None:
        transport = forked_stdio_client(
            fork_server, args, cwd=run_dir, environment=server_environment(), errlog=stderr
        )
    else:
        parameters = StdioServerParameters(
            command=command[0], args=[*command[1:], *args], env=server_environment(), cwd=run_dir
        )
        transport = stdio_client(parameters, errlog=stderr)
    async with Client(transport) as client:
        yield client


_SERVING = re.compile(r"serving MCP over Streamable HTTP at (?P<url>http://\S+)")


@contextlib.asynccontextmanager
async def _http_server(
    command: Sequence[str],
    args: list[str],
    run_dir: Path,
    stderr: TextIO,
    startup_timeout: float,
    fork_server: ForkServer | None,
) -> AsyncIterator[McpEndpoint]:
    """The run's server over Streamable HTTP on loopback, behind a fresh token; yields where it listens."""
    token = secrets.token_urlsafe(32)
    token_file = run_dir / TOKEN_FILE
    token_file.touch(mode=0o600)
    token_file.write_text(token + "\n", encoding="utf-8")
    if fork_server is not None:
        process: Process | ForkedProcess = await open_forked_process(
            fork_server, args, cwd=run_dir, environment=server_environment()
        )
    else:
        process = await anyio.open_process(
            [*command, *args], env=server_environment(), cwd=run_dir, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
    assert process.stderr is not None
    listening = anyio.Event()
    url: list[str] = []

    async def drain() -> None:
        assert process.stderr is not None
        async for line in anyio.streams.text.TextReceiveStream(process.stderr):
            stderr.write(line)
            stderr.flush()
            if not url and (found := _SERVING.search(line)):
                url.append(found["url"])
                listening.set()
        listening.set()  # the server exited before listening

    async with process, anyio.create_task_group() as group:
        group.start_soon(drain)
        try:
            with anyio.move_on_after(startup_timeout):
                await listening.wait()
            if not url:
                raise _ServerFailed(
                    f"the server did not start listening within {startup_timeout:g} s"
                    if process.returncode is None
                    else f"the server exited with status {await process.wait()} before listening"
                )
            yield McpEndpoint(url=url[0], token=token)
        finally:
            if process.returncode is None:
                process.terminate()
                with anyio.move_on_after(10) as stopping:
                    await process.wait()
                if stopping.cancelled_caught:
                    process.kill()
            group.cancel_scope.cancel()
            with contextlib.suppress(OSError):
                token_file.unlink()


def _prepare_agent(factory: AgentFactory, task: Task, outcome: _Outcome) -> Agent | None:
    """A fresh agent for this run (handed the answer key if it reads it); None if it cannot be made."""
    try:
        agent = factory()
        if isinstance(agent, ReadsGroundTruth):
            agent.receive_ground_truth(task.ground_truth())
    except Exception as error:
        outcome.fail("agent_crash", f"the agent could not be made: {_describe(error)}")
        return None
    return agent


async def _serve_and_drive(
    agent: Agent, context: RunContext, settings: EvalSettings, server_dir: Path, outcome: _Outcome
) -> None:
    """Start the run's server (stdio, or HTTP for an agent that connects itself), run the agent, stop."""
    run_dir = context.run_dir
    command = settings.server_command or default_server_command()
    external = isinstance(agent, ConnectsItself)
    args = _server_args(
        settings, server_dir, run_dir, endpoint_for=context.limits.max_turns if external else None
    )
    setup = getattr(agent, "setup", None)
    teardown = getattr(agent, "teardown", None)
    with (run_dir / SERVER_STDERR_FILE).open("w", encoding="utf-8") as server_stderr:
        try:
            with anyio.move_on_after(settings.startup_timeout_s) as whole:
                fork_server = await _fork_server(settings, server_stderr)
                if external:
                    server = _http_server(
                        command, args, run_dir, server_stderr, settings.startup_timeout_s, fork_server
                    )
                else:
                    server = _stdio_server(command, args, run_dir, server_stderr, fork_server)
                async with server as connection:
                    # Started: from now on the agent's own limit applies, plus time to stop.
                    whole.deadline = anyio.current_time() + (settings.timeout_s or float("inf")) + 60.0
                    if isinstance(connection, McpEndpoint):
                        context = dataclasses.replace(context, endpoint=connection)
                    else:
                        context = dataclasses.replace(
                            context, session=ToolSession(connection, context.limits, context.transcript)
                        )
                    if setup is not None:
                        await setup(context)
                    try:
                        await _drive_agent(agent, context, outcome)
                    finally:
                        if teardown is not None:
                            with anyio.CancelScope(shield=True):
                                await teardown(context)
            if whole.cancelled_caught and outcome.session is None and not external:
                outcome.fail(
                    "tool_error", f"the server did not start within {settings.startup_timeout_s:g} s"
                )
            elif whole.cancelled_caught:
                outcome.fail("tool_error", "the server did not stop in time")
        except _ServerFailed as error:
            detail = _last_line(run_dir / SERVER_STDERR_FILE)
            outcome.fail("tool_error", f"{error} ({detail})" if detail else str(error))
        except Exception as error:
            detail = _last_line(run_dir / SERVER_STDERR_FILE)
            message = f"the server failed: {_describe(error)}"
            outcome.crash("tool_error", f"{message} ({detail})" if detail else message, error)


def _score_submission(task: Task, run_dir: Path, outcome: _Outcome) -> tuple[list[str], ScoreResult]:
    """The names the run submitted and their score; an unreadable submission scores as none."""
    ground_truth = task.ground_truth()
    submission_path = run_dir / SUBMISSION_FILE
    try:
        if not submission_path.exists():
            outcome.fail("no_submission", "the agent did not call submit_diagnosis")
            return [], score_names(ground_truth, [])
        try:
            diagnosis = load_submission(submission_path)
        except SubmissionFormatError as error:
            outcome.fail("no_submission", str(error))
            return [], score_names(ground_truth, [])
        return diagnosis.root_causes(), score_diagnosis(ground_truth, diagnosis)
    except Exception as error:
        # The evaluator's own failure: no score can be trusted, whatever the agent did.
        outcome.crash("harness_error", f"the evaluator failed: {_describe(error)}", error, overrides=True)
        return [], score_names(ground_truth, [])


def _tool_calls_in_audit_log(run_dir: Path) -> int:
    """How many tool calls the server logged (for agents whose calls the runner does not see)."""
    try:
        with (run_dir / AUDIT_LOG_FILE).open(encoding="utf-8") as log:
            return sum(1 for line in log if line.strip())
    except OSError:
        return 0


async def run_one(
    task: Task,
    repeat: int,
    settings: EvalSettings,
    factory: AgentFactory,
    *,
    server_dir: Path | None = None,
) -> RunResult:
    """Run ``task`` once with a fresh agent and a fresh server; never raises for a failed run.

    Four steps: make the agent, serve and drive it, score what it submitted, record the row.
    ``server_dir`` is the directory the server is given (default: the task's scenario directory),
    such as an :func:`~itbench_eval.tasks.answer_free_view` of it.
    """
    label = run_label(settings)
    # The server runs in the run directory, so every path handed to it must be absolute.
    out_dir = settings.out_dir.resolve()
    run_dir = run_directory(out_dir, task.id, label, repeat)
    if run_dir.exists():
        shutil.rmtree(run_dir)  # a run cut short before its row was written
    run_dir.mkdir(parents=True)
    seed = settings.seed + repeat - 1
    limits = RunLimits(max_turns=settings.max_turns, timeout_s=settings.timeout_s)
    outcome = _Outcome()
    started = time.monotonic()
    transcript = Transcript(run_dir / TRANSCRIPT_FILE)

    agent = _prepare_agent(factory, task, outcome)
    if agent is not None:
        context = RunContext(
            task=TaskView(task_id=task.id, repeat=repeat, seed=seed),
            prompt=build_prompt(limits.max_turns, profile=settings.profile),
            limits=limits,
            transcript=transcript,
            run_dir=run_dir,
            profile=settings.profile,
        )
        await _serve_and_drive(agent, context, settings, server_dir or task.scenario_dir, outcome)
    wall_time = time.monotonic() - started

    submitted, score = _score_submission(task, run_dir, outcome)
    if outcome.tracebacks:
        (run_dir / TRACEBACK_FILE).write_text("\n".join(outcome.tracebacks), encoding="utf-8")
        outcome.error += f" (traceback: {(run_dir / TRACEBACK_FILE).relative_to(out_dir)})"
    (run_dir / SCORE_FILE).write_text(score.model_dump_json(indent=2) + "\n", encoding="utf-8")
    transcript.write("task_end", error_class=outcome.error_class, error=outcome.error, score=score.score)
    transcript.close()
    with contextlib.suppress(Exception):  # a trajectory that cannot be built never fails the run
        write_trajectory(run_dir, agent=settings.agent, model=agent_model(settings.agent))

    session = outcome.session
    agent_outcome = outcome.agent or AgentOutcome()
    tool_calls = session.tool_calls if session else _tool_calls_in_audit_log(run_dir)
    return RunResult(
        task=task.id,
        agent=label,
        repeat=repeat,
        seed=seed,
        score=score.score,
        tp=score.tp,
        fp=score.fp,
        fn=score.fn,
        submitted=submitted,
        matches=[match.model_dump(mode="json") for match in score.matches],
        turns=session.turns if session else (agent_outcome.model_requests or tool_calls),
        tool_calls=tool_calls,
        tokens_in=agent_outcome.tokens_in,
        tokens_out=agent_outcome.tokens_out,
        tokens_cached=agent_outcome.tokens_cached,
        tokens_reasoning=agent_outcome.tokens_reasoning,
        cost_usd=agent_outcome.cost_usd,
        model_requests=agent_outcome.model_requests,
        forced_final_answer=agent_outcome.forced_final_answer,
        wall_time_s=round(wall_time, 3),
        error_class=outcome.error_class,
        error=outcome.error,
        run_dir=str(run_dir.relative_to(out_dir)),
        process=process_metrics(run_dir, task.ground_truth()).model_dump(mode="json"),
    )


def _check_out_dir(settings: EvalSettings) -> list[RunResult]:
    """The runs already finished in the output directory; refused without ``resume``."""
    results_path = settings.out_dir / RESULTS_FILE
    malformed: list[int] = []

    def skip(number: int, reason: str) -> None:
        malformed.append(number)
        if settings.resume:
            print(
                f"warning: {results_path}, line {number}: not a result row, skipped: {reason}",
                file=sys.stderr,
            )

    done = read_results(results_path, on_malformed=skip)
    if (done or malformed) and not settings.resume:
        bad = f" and {len(malformed)} malformed line(s)" if malformed else ""
        raise RunnerError(
            f"--out {settings.out_dir} already holds {len(done)} finished runs{bad}: pass --resume to continue "
            "them, or choose another --out"
        )
    return done


@contextlib.contextmanager
def _exclusive(out_dir: Path) -> Iterator[None]:
    """Hold the lock that lets one evaluation at a time use ``out_dir``."""
    fd = os.open(out_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
            raise RunnerError(
                f"--out {out_dir}: another evaluation is running on this directory"
                + (f" (process {holder})" if holder.isdigit() else "")
                + "; wait for it to end or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _server_dirs(tasks: Sequence[Task], out_dir: Path) -> dict[str, Path]:
    """Answer-free views of the tasks' scenarios, where hard links can be made (else none)."""
    views: dict[str, Path] = {}
    failures: list[str] = []
    for task in tasks:
        try:
            views[task.id] = answer_free_view(
                task.scenario_dir, out_dir / VIEWS_DIR / path_component(task.id)
            )
        except OSError as error:
            failures.append(f"{task.scenario_dir} ({error.strerror or error})")
    if failures:
        print(
            f"warning: no answer-free view of {len(failures)} scenario(s) in {out_dir / VIEWS_DIR} (hard links "
            f"cannot be made there: {failures[0]}); their servers are given the scenario directory itself, "
            "whose answer key the server never reads",
            file=sys.stderr,
        )
    return views


async def run_evaluation(
    tasks: Sequence[Task],
    settings: EvalSettings,
    factory: AgentFactory,
    progress: ProgressSink | None = None,
) -> list[RunResult]:
    """Run every (task, repeat) not yet finished in ``settings.out_dir``; return all rows there.

    Rows are appended to ``results.jsonl`` as runs finish, so a crash loses no finished run. With
    ``resume``, a line of it that is not a row is skipped with a warning on stderr.

    Raises:
        RunnerError: the output directory is not a directory, another evaluation is running on
            it, or it holds results and ``resume`` is off.
    """
    if settings.out_dir.exists() and not settings.out_dir.is_dir():
        raise RunnerError(f"--out {settings.out_dir}: not a directory")
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(settings.out_dir):
        return await _run_evaluation(tasks, settings, factory, progress)


def _record_settings(tasks: Sequence[Task], settings: EvalSettings, factory: AgentFactory) -> None:
    """Write ``settings.json``; on ``resume``, first refuse conditions other than those recorded."""
    recorded = build_settings(
        agent=run_label(settings),
        agent_settings=factory.agent_settings() if isinstance(factory, DescribesSettings) else None,
        max_turns=settings.max_turns,
        timeout_s=settings.timeout_s,
        repeats=settings.repeats,
        seed=settings.seed,
        scenarios=[(task.id, task.scenario_dir) for task in tasks],
        profile=settings.profile,
        server_options=settings.server_options.model_dump(exclude_none=True),
    )
    if settings.resume:
        try:
            previous = read_settings(settings.out_dir)
        except ValueError as error:
            raise RunnerError(str(error)) from None
        differences = differences_that_matter(previous, recorded) if previous is not None else []
        if differences:
            raise RunnerError(
                f"--resume {settings.out_dir}: its runs were made under other conditions "
                f"({'; '.join(differences)}): run with the same options, or choose another --out"
            )
    write_settings(settings.out_dir, recorded)


def _harness_error_row(task: Task, repeat: int, settings: EvalSettings, error: BaseException) -> RunResult:
    """The row of a run the evaluator could not carry out at all (its traceback kept if possible)."""
    out_dir = settings.out_dir.resolve()
    run_dir = run_directory(out_dir, task.id, run_label(settings), repeat)
    message = f"the evaluator failed: {_describe(error)}"
    with contextlib.suppress(OSError):
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / TRACEBACK_FILE).write_text("".join(traceback.format_exception(error)), encoding="utf-8")
        message += f" (traceback: {(run_dir / TRACEBACK_FILE).relative_to(out_dir)})"
    return RunResult(
        task=task.id, agent=run_label(settings), repeat=repeat, seed=settings.seed + repeat - 1,
        score=0.0, tp=0, fp=0, fn=0, submitted=[], matches=[], turns=0, tool_calls=0, wall_time_s=0.0,
        error_class="harness_error", error=message, run_dir=str(run_dir.relative_to(out_dir)),
    )  # fmt: skip


async def _run_evaluation(
    tasks: Sequence[Task], settings: EvalSettings, factory: AgentFactory, progress: ProgressSink | None
) -> list[RunResult]:
    done = _check_out_dir(settings)
    bind_tasks = getattr(factory, "bind_tasks", None)  # an agent built from the task set (the prior)
    if callable(bind_tasks):
        bind_tasks({task.id: task.ground_truth() for task in tasks})
    _record_settings(tasks, settings, factory)
    (settings.out_dir / RUN_CONFIG_FILE).write_text(
        json.dumps(settings.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8"
    )
    label = run_label(settings)
    finished = {row.key for row in done}
    every = [(task, repeat) for repeat in range(1, settings.repeats + 1) for task in tasks]
    wanted = shard_slice(every, settings.shard, key=lambda task: task.id)
    pending = [(task, repeat) for task, repeat in wanted if (task.id, label, repeat) not in finished]
    if progress is not None:
        progress.start(total=len(wanted), already_done=len(wanted) - len(pending))

    results_path = settings.out_dir / RESULTS_FILE
    server_dirs: dict[str, Path] = {}

    def started(job: tuple[Task, int]) -> None:
        if progress is not None:
            progress.run_started(job[0].id, job[1])

    def emit(row: RunResult) -> None:
        append_result(results_path, row)
        if progress is not None:
            progress.run_finished(row)

    try:
        server_dirs.update(
            _server_dirs(list({task.id: task for task, _ in pending}.values()), settings.out_dir)
        )
        await get_backend(settings).run_all(pending, settings, factory, server_dirs, started, emit)
    finally:
        shutil.rmtree(settings.out_dir / VIEWS_DIR, ignore_errors=True)
    return read_results(results_path, on_malformed=lambda number, reason: None)
