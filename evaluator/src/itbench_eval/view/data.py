"""What the pages show: the rows and summary of each results directory, re-read when
``results.jsonl`` changes, one run's files, and the trajectory of its transcript."""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from itbench_eval.groundtruth import GroundTruth
from itbench_eval.report import AgentSummary, RunDetail, Summary, summarize, tasks_for_results, unique_runs
from itbench_eval.report import fault_type as task_fault_type
from itbench_eval.results import RESULTS_FILE, ResultsFileError, RunResult, read_results
from itbench_eval.tasks import Task

__all__ = [
    "FOLD_CHARS",
    "FOLD_LINES",
    "MAX_FILE_BYTES",
    "Loaded",
    "ResultsDir",
    "Step",
    "read_jsonl",
    "read_text",
    "timeline",
]

# Above this many characters or lines a text is folded (shown by clicking).
FOLD_CHARS = 1200
FOLD_LINES = 16
# A run file is shown up to this many bytes.
MAX_FILE_BYTES = 4 << 20


@dataclass
class Loaded:
    """One results directory as last read."""

    rows: list[RunResult]
    summary: Summary
    ground_truths: dict[str, GroundTruth]
    fault_types: dict[str, str]
    notes: list[str]

    def agent(self, name: str) -> AgentSummary | None:
        return next((agent for agent in self.summary.agents if agent.agent == name), None)

    def detail(self, row: RunResult) -> RunDetail | None:
        agent = self.agent(row.agent)
        if agent is None:
            return None
        return next((d for d in agent.run_details if d.task == row.task and d.repeat == row.repeat), None)

    def row(self, task: str, agent: str, repeat: int) -> RunResult | None:
        return next((r for r in self.rows if r.key == (task, agent, repeat)), None)


@dataclass
class ResultsDir:
    """A results directory given on the command line; ``index`` names it in URLs."""

    index: int
    path: Path
    label: str
    tasks: list[Task] | None = None  # the runs' tasks; None: the bundled fixtures
    _stamp: tuple[int, int] | None = None
    _loaded: Loaded | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, index: int, path: Path, tasks: list[Task] | None = None) -> ResultsDir:
        return cls(index=index, path=path.resolve(), label=path.name or str(path), tasks=tasks)

    def stamp(self) -> tuple[int, int] | None:
        """When and how much ``results.jsonl`` last changed; ``None`` while there is none."""
        try:
            status = (self.path / RESULTS_FILE).stat()
        except OSError:
            return None
        return (status.st_mtime_ns, status.st_size)

    def load(self) -> Loaded:
        """The directory's rows and summary, read again only when ``results.jsonl`` changed."""
        with self._lock:
            stamp = self.stamp()
            if self._loaded is None or stamp != self._stamp:
                self._loaded = self._read()
                self._stamp = stamp
            return self._loaded

    def _read(self) -> Loaded:
        notes: list[str] = []

        def malformed(number: int, reason: str) -> None:
            notes.append(f"{RESULTS_FILE}, line {number}: skipped, not a result row ({reason})")

        try:
            rows = unique_runs(read_results(self.path / RESULTS_FILE, on_malformed=malformed))
        except ResultsFileError as error:
            rows, notes = [], [str(error)]
        tasks = None
        if rows:
            tasks, why = tasks_for_results(self.path, rows, self.tasks)
            notes += why
        ground_truths: dict[str, GroundTruth] = {}
        for task in tasks or ():
            with contextlib.suppress(ValueError):
                ground_truths[task.id] = task.ground_truth()
        summary = summarize(rows, tasks=tasks, results_dir=self.path, notes=notes)
        fault_types = {task: task_fault_type(truth) for task, truth in ground_truths.items()}
        return Loaded(rows, summary, ground_truths, fault_types, notes)

    def inside(self, relative: str) -> Path | None:
        """``relative`` under the directory, or ``None`` when it resolves anywhere outside it."""
        if not relative or "\x00" in relative:
            return None
        candidate = (self.path / relative).resolve()
        if candidate != self.path and not candidate.is_relative_to(self.path):
            return None
        return candidate

    def running(self, rows: list[RunResult]) -> list[tuple[str, int]]:
        """Run directories (relative) holding a transcript but no row yet: runs still going, or
        cut short; with the transcript's number of events so far."""
        finished = {row.run_dir.strip("/") for row in rows}
        found: list[tuple[str, int]] = []
        for transcript in sorted(self.path.glob("runs/*/*/r*/transcript.jsonl")):
            relative = transcript.parent.relative_to(self.path).as_posix()
            if relative not in finished and self.inside(relative) is not None:
                found.append((relative, len(read_jsonl(transcript))))
        return found

    def run_path(self, row: RunResult) -> Path | None:
        """The run's directory, when it is inside the results directory."""
        path = self.inside(row.run_dir)
        return path if path is not None and path.is_dir() else None


def read_text(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """A file's text (at most ``limit`` bytes, undecodable bytes replaced); empty when unreadable."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit)
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file; lines that are not objects (a torn last line) are skipped."""
    events: list[dict[str, Any]] = []
    for line in read_text(path).splitlines():
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                events.append(value)
    return events


@dataclass
class Step:
    """One entry of a run's timeline."""

    kind: str  # model, tool, refused, start, end, note
    title: str
    t: float | None = None
    latency_s: float | None = None
    error: bool = False
    text: str = ""
    arguments: str = ""
    output: str = ""
    facts: list[tuple[str, str]] = field(default_factory=list)


def _json_text(value: object) -> str:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
        if isinstance(value, str):
            return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def timeline(events: list[dict[str, Any]]) -> list[Step]:
    """A transcript's events as steps: each model reply with its latency, each tool call with its
    arguments, output and latency, refusals and errors, and whatever else the agent recorded."""
    steps: list[Step] = []
    requested: dict[object, float] = {}
    open_calls: dict[str, list[Step]] = {}
    for event in events:
        kind = str(event.get("type", "event"))
        t = _number(event.get("t"))
        rest = {k: v for k, v in event.items() if k not in ("seq", "t", "type")}
        if kind == "model_request":
            if t is not None:
                requested[event.get("step")] = t
            continue
        if kind == "model_reply":
            started = requested.pop(event.get("step"), None)
            usage = event.get("usage") if isinstance(event.get("usage"), dict) else None
            facts = [("stop", str(event.get("stop_reason")))] if event.get("stop_reason") else []
            if usage:
                facts += [(str(k), str(v)) for k, v in usage.items() if v is not None]
            calls = event.get("calls") or []
            names = ", ".join(str(call.get("name")) for call in calls if isinstance(call, dict))
            steps.append(
                Step(
                    "model",
                    f"model, step {event.get('step')}" + (f": calls {names}" if names else ""),
                    t=t,
                    latency_s=(t - started) if t is not None and started is not None else None,
                    text=str(event.get("text") or ""),
                    facts=facts,
                )
            )
        elif kind == "tool_call":
            step = Step("tool", str(event.get("tool")), t=t, arguments=_json_text(event.get("arguments", {})))
            steps.append(step)
            open_calls.setdefault(str(event.get("tool")), []).append(step)
        elif kind == "tool_result":
            waiting = open_calls.get(str(event.get("tool"))) or []
            if waiting:
                step = waiting.pop(0)
            else:  # a result whose call was not recorded
                step = Step("tool", str(event.get("tool")), t=t)
                steps.append(step)
            step.latency_s = _number(event.get("latency_s"))
            step.error = bool(event.get("is_error"))
            step.output = str(event.get("text") or "")
        elif kind == "tool_call_refused":
            steps.append(
                Step(
                    "refused",
                    f"{event.get('tool')} refused",
                    t=t,
                    error=True,
                    arguments=_json_text(event.get("arguments", {})),
                    text=str(event.get("reason") or ""),
                )
            )
        elif kind in ("task_start", "task_end"):
            error = str(event.get("error") or "")
            steps.append(
                Step(
                    "start" if kind == "task_start" else "end",
                    kind.replace("_", " "),
                    t=t,
                    error=bool(error) or event.get("error_class") not in (None, "ok"),
                    text=error,
                    facts=[(k, str(v)) for k, v in rest.items() if k != "error"],
                )
            )
        else:
            steps.append(
                Step(
                    "note",
                    kind.replace("_", " "),
                    t=t,
                    error="error" in kind,
                    text=_json_text(rest) if rest else "",
                )
            )
    return steps
