"""``results.jsonl``: one line per finished run, append-only, safe against a crash at any point.

Each row is written with a single ``os.write`` of the whole line to a file opened with
``O_APPEND`` and then ``fsync``-ed, under an advisory lock, so concurrent writers never
interleave and a finished run is on disk before the next one is reported. A process killed in
the middle of a write leaves at most a torn last line without its newline: readers ignore it,
and the next writer cuts it off before appending. A run whose row is in the file is finished;
``--resume`` never runs it again. A line in the middle that is not a row (a hand edit, a disk
error) stops readers with an error naming it, unless the caller asks to be told and go on
(``--resume`` warns and runs that line's run, if it was one, again).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from itbench_eval.errors import EvalError

__all__ = [
    "ERROR_CLASSES",
    "RESULTS_FILE",
    "ResultsFileError",
    "RunResult",
    "append_result",
    "finished_keys",
    "read_results",
]

RESULTS_FILE = "results.jsonl"

# How a run ended: exactly one class per run (see docs/agents.md). Only ``ok`` ended as planned;
# the others are counted apart from runs that ended ok and scored 0.
ErrorClass = Literal[
    "ok", "no_submission", "turn_cap", "timeout", "model_error", "tool_error", "agent_crash", "harness_error"
]
ERROR_CLASSES: tuple[ErrorClass, ...] = (
    "ok",
    "no_submission",
    "turn_cap",
    "timeout",
    "model_error",
    "tool_error",
    "agent_crash",
    "harness_error",
)
# Rows written before the classes were renamed still read.
_OLD_CLASS_NAMES = {"turn_limit": "turn_cap", "server_error": "tool_error"}


class ResultsFileError(EvalError, ValueError):
    """A results file cannot be read; the message names the file and the line."""


class RunResult(BaseModel):
    """The row of one finished run (one task, one agent, one repeat)."""

    model_config = ConfigDict(extra="ignore")

    task: str
    agent: str
    repeat: int
    seed: int
    score: float
    tp: int
    fp: int
    fn: int
    submitted: list[str]
    matches: list[dict[str, Any]]
    turns: int
    tool_calls: int
    tokens_in: int | None = None
    tokens_out: int | None = None
    tokens_cached: int | None = None
    tokens_reasoning: int | None = None
    cost_usd: float | None = None
    model_requests: int | None = None
    forced_final_answer: bool = False
    wall_time_s: float
    error_class: ErrorClass
    error: str = ""
    run_dir: str
    # The run's process metrics (itbench_eval.process.ProcessMetrics as JSON), read from its audit
    # log; null in rows written without them (reports then read the run directory).
    process: dict[str, Any] | None = None

    @field_validator("error_class", mode="before")
    @classmethod
    def _renamed_class(cls, value: object) -> object:
        return _OLD_CLASS_NAMES.get(value, value) if isinstance(value, str) else value

    @property
    def key(self) -> tuple[str, str, int]:
        """What identifies a run across resumes."""
        return (self.task, self.agent, self.repeat)


def _cut_torn_tail(fd: int) -> None:
    """Drop a last line without its newline (a write cut short by a crash)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    chunk = min(size, 1 << 20)
    while True:
        data = os.pread(fd, chunk, size - chunk)
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n")
        if cut >= 0:
            os.ftruncate(fd, size - chunk + cut + 1)
            return
        if chunk == size:
            os.ftruncate(fd, 0)
            return
        chunk = min(size, chunk * 2)


def append_result(path: Path, row: RunResult) -> None:
    """Append ``row`` to ``path`` durably, as one write of one whole line."""
    line = (row.model_dump_json() + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _cut_torn_tail(fd)
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(f"{path}: short write ({written} of {len(line)} bytes)")
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock


def read_results(path: Path, *, on_malformed: Callable[[int, str], None] | None = None) -> list[RunResult]:
    """Every finished run in ``path``, in file order; a torn last line is ignored.

    ``on_malformed``, when given, is called with the line number and the reason of every line
    before the last that is not a row, and that line is skipped.

    Raises:
        ResultsFileError: the file cannot be read, or a line before the last is not a row and
            ``on_malformed`` is not given.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as error:
        raise ResultsFileError(f"{path}: cannot read: {error.strerror}") from None
    lines = data.split(b"\n")
    complete, torn = lines[:-1], lines[-1]  # after the last newline: empty, or a torn write
    del torn
    rows: list[RunResult] = []
    for number, raw in enumerate(complete, start=1):
        if not raw.strip():
            continue
        try:
            rows.append(RunResult.model_validate(json.loads(raw)))
        except (json.JSONDecodeError, UnicodeDecodeError, ValidationError, RecursionError) as error:
            reason = str(error).splitlines()[0]
            if on_malformed is None:
                raise ResultsFileError(f"{path}, line {number}: not a result row: {reason}") from None
            on_malformed(number, reason)
    return rows


def finished_keys(rows: Iterable[RunResult]) -> set[tuple[str, str, int]]:
    """The (task, agent, repeat) keys of ``rows``."""
    return {row.key for row in rows}
