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
import fcntl
import json
import os
import re
import shutil
import sys
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Protocol

import anyio
from mcp import Client, MCPError, StdioServerParameters, stdio_client
from pydantic import BaseModel, ConfigDict, Field

from itbench_eval.agents.base import (
    Agent,
    AgentOutcome,
    ModelError,
    ReportsPartialOutcome,
    RunLimits,
    TaskView,
    ToolSession,
    Transcript,
    TurnLimitExceeded,
)
from itbench_eval.agents.loader import AgentFactory, DescribesSettings, agent_label
from itbench_eval.agents.oracle import OracleAgent
from itbench_eval.prompt import build_prompt
from itbench_eval.results import RESULTS_FILE, ErrorClass, RunResult, append_result, read_results
from itbench_eval.scoring import score_diagnosis, score_names
from itbench_eval.settings import build_settings, differences_that_matter, read_settings, write_settings
from itbench_eval.tasks import Task, answer_free_view
from itbench_server.diagnosis import SubmissionFormatError, load_submission

SUBMISSION_FILE = "submission.json"
SCORE_FILE = "score.json"
AUDIT_LOG_FILE = "audit.jsonl"
TRANSCRIPT_FILE = "transcript.jsonl"
SERVER_STDERR_FILE = "server.stderr"
RUN_CONFIG_FILE = "run.json"
TRACEBACK_FILE = "traceback.txt"
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


class RunnerError(ValueError):
    """The evaluation cannot start; the message says why."""


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


def path_component(label: str) -> str:
    """``label`` made safe as one directory name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._") or "agent"


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


async def _drive_agent(
    client: Client,
    agent: Agent,
    task_view: TaskView,
    limits: RunLimits,
    transcript: Transcript,
    outcome: _Outcome,
) -> None:
    session = ToolSession(client, limits, transcript)
    outcome.session = session
    prompt = build_prompt(limits.max_turns)
    transcript.write("task_start", task=task_view.task_id, repeat=task_view.repeat, seed=task_view.seed)
    try:
        with anyio.move_on_after(limits.timeout_s) as scope:
            returned = await agent.run(session, prompt, limits, task_view, transcript)
            outcome.agent = returned if isinstance(returned, AgentOutcome) else None
        if scope.cancelled_caught:
            outcome.fail("timeout", f"the wall-clock limit of {limits.timeout_s:g} s ran out")
    except TurnLimitExceeded as error:
        outcome.fail("turn_cap", str(error))
    except Exception as error:
        if session.turn_limit_hit:
            pass  # reported below, whatever the agent made of the error
        elif any(isinstance(leaf, ModelError) for leaf in _exception_leaves(error)):
            outcome.crash("model_error", _describe(error).removeprefix("ModelError: "), error)
        elif _is_connection_failure(error):
            outcome.crash("tool_error", f"the server went away: {_describe(error)}", error)
        else:
            outcome.crash("agent_crash", _describe(error), error)
    if outcome.agent is None and isinstance(agent, ReportsPartialOutcome):
        # Cut short: what the agent spent until then still counts.
        with contextlib.suppress(Exception):
            outcome.agent = agent.partial_outcome()
    forced = outcome.agent is not None and outcome.agent.forced_final_answer
    final = (
        f"; a final answer was forced ({'submitted' if session.submitted else 'no submission'})"
        if forced
        else ""
    )
    if session.turn_limit_hit:
        outcome.fail(
            "turn_cap", f"the turn cap of {limits.max_turns} was reached before the run ended{final}"
        )
    if outcome.agent is not None and outcome.agent.ended_by == "time_budget":
        outcome.fail("timeout", f"the time budget of the {limits.timeout_s:g} s limit ran out{final}")


async def run_one(
    task: Task,
    repeat: int,
    settings: EvalSettings,
    factory: AgentFactory,
    *,
    server_dir: Path | None = None,
) -> RunResult:
    """Run ``task`` once with a fresh agent and a fresh server; never raises for a failed run.

    ``server_dir`` is the directory the server is given (default: the task's scenario directory),
    such as an :func:`~itbench_eval.tasks.answer_free_view` of it.
    """
    label = agent_label(settings.agent)
    # The server runs in the run directory, so every path handed to it must be absolute.
    out_dir = settings.out_dir.resolve()
    run_dir = run_directory(out_dir, task.id, label, repeat)
    if run_dir.exists():
        shutil.rmtree(run_dir)  # a run cut short before its row was written
    run_dir.mkdir(parents=True)
    seed = settings.seed + repeat - 1
    limits = RunLimits(max_turns=settings.max_turns, timeout_s=settings.timeout_s)
    submission_path = run_dir / SUBMISSION_FILE
    command = settings.server_command or default_server_command()
    args = [*command[1:], "serve", str((server_dir or task.scenario_dir).resolve())]
    args += ["--audit-log", str(run_dir / AUDIT_LOG_FILE), "--submission-out", str(submission_path)]
    if settings.cache_dir is not None:
        args += ["--cache-dir", str(settings.cache_dir.resolve())]
    parameters = StdioServerParameters(command=command[0], args=args, env=server_environment(), cwd=run_dir)

    outcome = _Outcome()
    started = time.monotonic()
    transcript = Transcript(run_dir / TRANSCRIPT_FILE)
    try:
        agent = factory()
        if isinstance(agent, OracleAgent):
            agent.receive_ground_truth(task.ground_truth())
    except Exception as error:
        outcome.fail("agent_crash", f"the agent could not be made: {_describe(error)}")
        agent = None

    if agent is not None:
        task_view = TaskView(task_id=task.id, repeat=repeat, seed=seed)
        with (run_dir / SERVER_STDERR_FILE).open("w", encoding="utf-8") as server_stderr:
            try:
                with anyio.move_on_after(settings.startup_timeout_s) as whole:
                    async with AsyncExitStack() as stack:
                        client = await stack.enter_async_context(
                            Client(stdio_client(parameters, errlog=server_stderr))
                        )
                        # Started: from now on the agent's own limit applies, plus time to stop.
                        whole.deadline = anyio.current_time() + (settings.timeout_s or float("inf")) + 30.0
                        await _drive_agent(client, agent, task_view, limits, transcript, outcome)
                if whole.cancelled_caught and outcome.session is None:
                    outcome.fail(
                        "tool_error", f"the server did not start within {settings.startup_timeout_s:g} s"
                    )
                elif whole.cancelled_caught:
                    outcome.fail("tool_error", "the server did not stop in time")
            except Exception as error:
                detail = _last_line(run_dir / SERVER_STDERR_FILE)
                message = f"the server failed: {_describe(error)}"
                outcome.crash("tool_error", f"{message} ({detail})" if detail else message, error)
    wall_time = time.monotonic() - started

    ground_truth = task.ground_truth()
    submitted: list[str] = []
    try:
        if submission_path.exists():
            try:
                diagnosis = load_submission(submission_path)
            except SubmissionFormatError as error:
                outcome.fail("no_submission", str(error))
                score = score_names(ground_truth, [])
            else:
                submitted = diagnosis.root_causes()
                score = score_diagnosis(ground_truth, diagnosis)
        else:
            outcome.fail("no_submission", "the agent did not call submit_diagnosis")
            score = score_names(ground_truth, [])
    except Exception as error:
        # The evaluator's own failure: no score can be trusted, whatever the agent did.
        outcome.crash("harness_error", f"the evaluator failed: {_describe(error)}", error, overrides=True)
        submitted, score = [], score_names(ground_truth, [])
    if outcome.tracebacks:
        (run_dir / TRACEBACK_FILE).write_text("\n".join(outcome.tracebacks), encoding="utf-8")
        outcome.error += f" (traceback: {(run_dir / TRACEBACK_FILE).relative_to(out_dir)})"
    (run_dir / SCORE_FILE).write_text(score.model_dump_json(indent=2) + "\n", encoding="utf-8")
    transcript.write("task_end", error_class=outcome.error_class, error=outcome.error, score=score.score)
    transcript.close()

    session = outcome.session
    agent_outcome = outcome.agent or AgentOutcome()
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
        turns=session.turns if session else 0,
        tool_calls=session.tool_calls if session else 0,
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
        agent=agent_label(settings.agent),
        agent_settings=factory.agent_settings() if isinstance(factory, DescribesSettings) else None,
        max_turns=settings.max_turns,
        timeout_s=settings.timeout_s,
        repeats=settings.repeats,
        seed=settings.seed,
        scenarios=[(task.id, task.scenario_dir) for task in tasks],
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
    run_dir = run_directory(out_dir, task.id, agent_label(settings.agent), repeat)
    message = f"the evaluator failed: {_describe(error)}"
    with contextlib.suppress(OSError):
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / TRACEBACK_FILE).write_text("".join(traceback.format_exception(error)), encoding="utf-8")
        message += f" (traceback: {(run_dir / TRACEBACK_FILE).relative_to(out_dir)})"
    return RunResult(
        task=task.id, agent=agent_label(settings.agent), repeat=repeat, seed=settings.seed + repeat - 1,
        score=0.0, tp=0, fp=0, fn=0, submitted=[], matches=[], turns=0, tool_calls=0, wall_time_s=0.0,
        error_class="harness_error", error=message, run_dir=str(run_dir.relative_to(out_dir)),
    )  # fmt: skip


async def _run_evaluation(
    tasks: Sequence[Task], settings: EvalSettings, factory: AgentFactory, progress: ProgressSink | None
) -> list[RunResult]:
    done = _check_out_dir(settings)
    _record_settings(tasks, settings, factory)
    (settings.out_dir / RUN_CONFIG_FILE).write_text(
        json.dumps(settings.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8"
    )
    label = agent_label(settings.agent)
    finished = {row.key for row in done}
    wanted = [(task, repeat) for repeat in range(1, settings.repeats + 1) for task in tasks]
    pending = [(task, repeat) for task, repeat in wanted if (task.id, label, repeat) not in finished]
    if progress is not None:
        progress.start(total=len(wanted), already_done=len(wanted) - len(pending))

    results_path = settings.out_dir / RESULTS_FILE
    limiter = anyio.CapacityLimiter(settings.concurrency)
    server_dirs: dict[str, Path] = {}

    async def worker(task: Task, repeat: int) -> None:
        async with limiter:
            if progress is not None:
                progress.run_started(task.id, repeat)
            try:
                row = await run_one(task, repeat, settings, factory, server_dir=server_dirs.get(task.id))
            except Exception as error:  # a bug around the run: one row says so, the others go on
                row = _harness_error_row(task, repeat, settings, error)
            append_result(results_path, row)
            if progress is not None:
                progress.run_finished(row)

    try:
        server_dirs.update(
            _server_dirs(list({task.id: task for task, _ in pending}.values()), settings.out_dir)
        )
        async with anyio.create_task_group() as group:
            for task, repeat in pending:
                group.start_soon(worker, task, repeat)
    finally:
        shutil.rmtree(settings.out_dir / VIEWS_DIR, ignore_errors=True)
    return read_results(results_path, on_malformed=lambda number, reason: None)
