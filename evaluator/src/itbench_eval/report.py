"""Progress while runs go, and what is left after: ``summary.json``, a table, an HTML report.

* :class:`RichProgress` (a terminal) or :class:`PlainProgress` (one line per finished run);
* :func:`summarize`: per agent and task, the mean score over repeats, pass@1, mean turns, time
  and cost; per agent, the ITBench-AA score (the mean of the task means) and its standard error
  over tasks;
* :func:`render_table`, :func:`write_summary`, :func:`write_html_report` and
  :func:`compare_results` (``itbench-eval report`` / ``itbench-eval compare``).

Everything is computed from ``results.jsonl`` alone, so a report can be made again at any time.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import statistics
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from itbench_eval.baselines import BASELINE_AGENTS, Baselines, compute_baselines
from itbench_eval.errors import EvalError
from itbench_eval.groundtruth import GroundTruth
from itbench_eval.metrics import (
    IbmMetrics,
    ibm_metrics,
    ibm_metrics_for_diagnosis,
    mean_with_standard_error,
    pass_at_1,
)
from itbench_eval.process import ProcessMetrics, ProcessSummary, process_metrics, summarize_process
from itbench_eval.results import ERROR_CLASSES, RESULTS_FILE, ResultsFileError, RunResult, read_results
from itbench_eval.scoring import NameVerdict, ScoredName, ScoreResult, explain_names, score_names
from itbench_eval.settings import SettingsError, differences_that_matter, read_settings
from itbench_eval.stats import (
    PairedTest,
    PassK,
    paired_comparison,
    pass_k_table,
    score_interval,
)
from itbench_eval.tasks import Task
from itbench_server.diagnosis import SubmissionFormatError, load_submission

__all__ = [
    "METRIC_LABELS",
    "REPORT_FILE",
    "SUMMARY_FILE",
    "AgentSummary",
    "BaselineScore",
    "Comparison",
    "Estimate",
    "FaultTypeSummary",
    "MissedRootCause",
    "PlainProgress",
    "ReportError",
    "RichProgress",
    "RunDetail",
    "Summary",
    "TaskComparison",
    "TaskSummary",
    "WrongAnswer",
    "build_report",
    "compare_results",
    "fault_type",
    "load_results_dir",
    "make_progress",
    "process_lines",
    "render_comparison",
    "render_html",
    "render_table",
    "summarize",
    "svg_error_classes",
    "svg_score_per_task",
    "svg_score_vs_turns",
    "tasks_for_results",
    "unique_runs",
    "write_html_report",
    "write_summary",
]

SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"


class ReportError(EvalError, ValueError):
    """A results directory cannot be reported on; the message says why."""


# ---------------------------------------------------------------------------------------------
# Progress


class PlainProgress:
    """One line per finished run, for logs and CI."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._total = 0
        self._done = 0

    def start(self, total: int, already_done: int) -> None:
        self._total, self._done = total, already_done
        resumed = f" ({already_done} already finished)" if already_done else ""
        print(f"{total} runs{resumed}", file=self._stream, flush=True)

    def run_started(self, task: str, repeat: int) -> None:
        pass

    def run_finished(self, row: RunResult) -> None:
        self._done += 1
        detail = f" — {row.error}" if row.error else ""
        print(
            f"[{self._done}/{self._total}] {row.task} r{row.repeat} {row.agent}: score {row.score:.2f} "
            f"{row.error_class} ({row.turns} turns, {row.wall_time_s:.1f} s){detail}",
            file=self._stream,
            flush=True,
        )

    def close(self) -> None:
        pass


class RichProgress:
    """A live progress bar with the running mean score, for a terminal."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._bar = self._progress.add_task("runs", total=0, status="")
        self._scores: list[float] = []
        self._errors: Counter[str] = Counter()
        self._running = 0

    def start(self, total: int, already_done: int) -> None:
        self._progress.update(self._bar, total=total, completed=already_done)
        self._progress.start()

    def _status(self) -> str:
        mean = f"mean score {statistics.fmean(self._scores):.2f}" if self._scores else "no run finished"
        errors = ", ".join(f"{name} {count}" for name, count in sorted(self._errors.items()))
        return f"{mean}; running {self._running}" + (f"; {errors}" if errors else "")

    def run_started(self, task: str, repeat: int) -> None:
        self._running += 1
        self._progress.update(self._bar, status=self._status())

    def run_finished(self, row: RunResult) -> None:
        self._running -= 1
        self._scores.append(row.score)
        if row.error_class != "ok":
            self._errors[row.error_class] += 1
        self._progress.update(self._bar, advance=1, status=self._status())

    def close(self) -> None:
        self._progress.stop()


def make_progress(stream: TextIO | None = None) -> PlainProgress | RichProgress:
    """A rich bar on a terminal, plain lines otherwise (and under ``CI=true``)."""
    stream = stream if stream is not None else sys.stdout
    if stream is not None and stream.isatty() and os.environ.get("CI", "").lower() not in ("1", "true"):
        return RichProgress(Console(file=stream))
    return PlainProgress(stream)


# ---------------------------------------------------------------------------------------------
# Summary


class Estimate(BaseModel):
    """A number (a fraction, 0 to 1) and its 95% interval ``[low, high]``."""

    model_config = ConfigDict(extra="forbid")

    value: float
    ci: tuple[float, float]


class WrongAnswer(BaseModel):
    """A name submitted and counted false, how many runs named it, and why it was false."""

    model_config = ConfigDict(extra="forbid")

    name: str
    runs: int
    outcome: str


class MissedRootCause(BaseModel):
    """A root-cause set (its group ids) and how many runs missed it."""

    model_config = ConfigDict(extra="forbid")

    groups: list[str]
    runs: int


class RunDetail(BaseModel):
    """One run: its score, precision and recall, each name's verdict, what it missed, IBM's
    metrics and how it investigated."""

    model_config = ConfigDict(extra="forbid")

    task: str
    repeat: int
    score: float
    precision: float
    recall: float | None = Field(description="root-cause sets named / root-cause sets; null when unknown")
    error_class: str
    names: list[NameVerdict]
    missed_root_causes: list[list[str]] | None
    ibm: dict[str, float | None] | None
    process: ProcessMetrics | None


class TaskSummary(BaseModel):
    """One agent on one task, over its repeats."""

    model_config = ConfigDict(extra="forbid")

    task: str
    fault_type: str | None = None
    runs: int
    mean_score: float
    score_stderr: float
    score_ci: tuple[float, float] = Field(description="95% interval, bootstrap over the task's repeats")
    pass_at_1: float
    mean_turns: float
    mean_wall_time_s: float
    mean_cost_usd: float | None
    error_classes: dict[str, int]
    runs_ok: int
    zero_scores: int = Field(description="runs that ended ok and scored 0 (apart from runs that failed)")
    wrong_answers: list[WrongAnswer] = Field(default_factory=list, description="most named first")
    missed_root_causes: list[MissedRootCause] = Field(default_factory=list)
    process: ProcessSummary | None = None


class FaultTypeSummary(BaseModel):
    """One agent on the tasks of one fault type."""

    model_config = ConfigDict(extra="forbid")

    fault_type: str
    tasks: list[str]
    score: Estimate
    wrong_answers: list[WrongAnswer]


class BaselineScore(BaseModel):
    """A baseline over the tasks an agent ran."""

    model_config = ConfigDict(extra="forbid")

    agent: str
    tasks: int
    score: Estimate
    chance: float | None = Field(default=None, description="random: the exact expected score")


class AgentSummary(BaseModel):
    """One agent over every task: ``score`` is the ITBench-AA score (a fraction, 0 to 1), the mean
    of the task means; ``score_ci`` its 95% interval (nested bootstrap: tasks, then repeats);
    ``stderr`` its standard error over tasks."""

    model_config = ConfigDict(extra="forbid")

    agent: str
    score: float
    score_ci: tuple[float, float]
    stderr: float
    pass_at_1: float
    pass_k: list[PassK] = Field(description="pass@k and pass^k for k up to the repeats, with intervals")
    metrics: dict[str, Estimate] = Field(
        description="the ITBench-AA score, precision and recall, and IBM's metrics, side by side"
    )
    tasks_count: int
    runs: int
    mean_turns: float
    mean_wall_time_s: float
    cost_per_task_usd: float | None
    tokens_in: int | None
    tokens_out: int | None
    tokens_cached: int | None
    tokens_reasoning: int | None
    error_classes: dict[str, int]
    runs_ok: int
    runs_failed: int = Field(description="runs that ended in any class but ok")
    zero_scores: int = Field(description="runs that ended ok and scored 0")
    forced_final_answers: int
    process: ProcessSummary | None = Field(description="from the runs' audit logs; null when none was read")
    baselines: list[BaselineScore] = Field(description="nop, baseline, prior, random on the same tasks")
    fault_types: list[FaultTypeSummary]
    tasks: list[TaskSummary]
    run_details: list[RunDetail]


class Summary(BaseModel):
    """Every agent found in one ``results.jsonl``, in name order."""

    model_config = ConfigDict(extra="forbid")

    agents: list[AgentSummary]
    baselines_fingerprint: str | None = Field(default=None, description="the cached task set's")
    notes: list[str] = Field(default_factory=list, description="what the report could not compute, and why")


def _round(value: float) -> float:
    return round(value, 6)


def _round_ci(interval: tuple[float, float]) -> tuple[float, float]:
    return (_round(interval[0]), _round(interval[1]))


def _mean(values: Sequence[float]) -> float:
    return _round(statistics.fmean(values)) if values else 0.0


def _mean_known(values: Iterable[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return _round(statistics.fmean(known)) if known else None


def _sum_known(values: Iterable[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return sum(known) if known else None


def _error_counts(rows: Iterable[RunResult]) -> dict[str, int]:
    counts = Counter(row.error_class for row in rows)
    return {name: counts[name] for name in ERROR_CLASSES if counts[name]}


def _ok_and_zero(rows: Sequence[RunResult]) -> tuple[int, int]:
    """(runs that ended ok, of them the runs that scored 0): a wrong answer, not a failure."""
    ok = [row for row in rows if row.error_class == "ok"]
    return len(ok), sum(1 for row in ok if row.score == 0)


def unique_runs(rows: Iterable[RunResult]) -> list[RunResult]:
    """``rows`` with one row per (task, agent, repeat): the first written wins."""
    seen: dict[tuple[str, str, int], RunResult] = {}
    for row in rows:
        seen.setdefault(row.key, row)
    return list(seen.values())


def _task_order(name: str) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _estimate(values_by_task: Mapping[str, Sequence[float]]) -> Estimate:
    """The mean over tasks of the task means, and its nested-bootstrap interval."""
    kept = {task: list(values) for task, values in values_by_task.items() if values}
    if not kept:
        return Estimate(value=0.0, ci=(0.0, 0.0))
    value = statistics.fmean(statistics.fmean(values) for values in kept.values())
    return Estimate(value=_round(value), ci=_round_ci(score_interval(kept)))


def fault_type(ground_truth: GroundTruth) -> str:
    """A task's fault type: its answer key's first fault mechanism, else its category."""
    for fault in ground_truth.fault:
        if fault.fault_mechanism:
            return fault.fault_mechanism
        if fault.category:
            return fault.category
    return "unknown"


class _Context:
    """What a summary can draw on beyond the rows: the answer keys and the run directories."""

    def __init__(self, tasks: Sequence[Task] | None, results_dir: Path | None) -> None:
        self.ground_truths: dict[str, GroundTruth] = {}
        for task in tasks or ():
            with contextlib.suppress(ValueError):
                self.ground_truths[task.id] = task.ground_truth()
        self.results_dir = results_dir

    def run_dir(self, row: RunResult) -> Path | None:
        if self.results_dir is None or not row.run_dir:
            return None
        return self.results_dir / row.run_dir


def _matches(row: RunResult) -> list[ScoredName]:
    scored: list[ScoredName] = []
    for match in row.matches:
        with contextlib.suppress(ValueError):
            scored.append(ScoredName.model_validate(match))
    return scored


def _ibm_numbers(metrics: IbmMetrics) -> dict[str, float | None]:
    top = {entry.k: entry for entry in metrics.top_k}
    return {
        "entity_precision": metrics.entity.precision,
        "entity_recall": metrics.entity.recall,
        "entity_f1": metrics.entity.f1,
        "top1_f1": top[1].f1 if 1 in top else None,
        "top3_f1": top[3].f1 if 3 in top else None,
        "propagation_f1": metrics.propagation.f1 if metrics.propagation is not None else None,
        "proximity": metrics.proximity,
    }


def _ibm_of_run(row: RunResult, ground_truth: GroundTruth, run_dir: Path | None) -> IbmMetrics:
    submission = run_dir / "submission.json" if run_dir is not None else None
    if submission is not None and submission.is_file():
        with contextlib.suppress(SubmissionFormatError):
            return ibm_metrics_for_diagnosis(ground_truth, load_submission(submission))
    return ibm_metrics(ground_truth, row.submitted)


def _saved_score(run_dir: Path | None) -> ScoreResult | None:
    if run_dir is None or not (run_dir / "score.json").is_file():
        return None
    try:
        return ScoreResult.model_validate_json((run_dir / "score.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _run_detail(row: RunResult, context: _Context) -> RunDetail:
    ground_truth = context.ground_truths.get(row.task)
    run_dir = context.run_dir(row)
    matches = _matches(row)
    root_sets: int | None = None
    missed: list[list[str]] | None = None
    ibm: dict[str, float | None] | None = None
    process: ProcessMetrics | None = None
    if row.process is not None:
        with contextlib.suppress(ValueError):
            process = ProcessMetrics.model_validate(row.process)
    if ground_truth is not None:
        rescored = score_names(ground_truth, [match.name for match in matches]) if matches else None
        root_sets = len(ground_truth.root_cause_set_ids)
        missed = (
            rescored.missed_root_causes
            if rescored is not None
            else [list(ground_truth.alias_sets[set_id]) for set_id in ground_truth.root_cause_set_ids]
        )
        ibm = {
            key: _round(value) if value is not None else None
            for key, value in _ibm_numbers(_ibm_of_run(row, ground_truth, run_dir)).items()
        }
        if process is None and run_dir is not None and run_dir.is_dir():
            process = process_metrics(run_dir, ground_truth)
    else:
        saved = _saved_score(run_dir)
        if saved is not None:
            root_sets, missed = len(saved.root_cause_sets), saved.missed_root_causes
    counted = row.tp + row.fp
    return RunDetail(
        task=row.task,
        repeat=row.repeat,
        score=row.score,
        precision=_round(row.tp / counted) if counted else 0.0,
        recall=_round(1 - row.fn / root_sets) if root_sets else None,
        error_class=row.error_class,
        names=explain_names(ground_truth, matches),
        missed_root_causes=missed,
        ibm=ibm,
        process=process,
    )


def _wrong_answers(details: Iterable[RunDetail], limit: int = 3) -> list[WrongAnswer]:
    counts: Counter[str] = Counter()
    outcomes: dict[str, Counter[str]] = {}
    for detail in details:
        for name in dict.fromkeys(verdict.name for verdict in detail.names if verdict.counted_as == "fp"):
            counts[name] += 1
        for verdict in detail.names:
            if verdict.counted_as == "fp":
                outcomes.setdefault(verdict.name, Counter())[verdict.outcome] += 1
    ranked = sorted(counts, key=lambda name: (-counts[name], name))[:limit]
    return [
        WrongAnswer(name=name, runs=counts[name], outcome=outcomes[name].most_common(1)[0][0])
        for name in ranked
    ]


def _missed(details: Sequence[RunDetail]) -> list[MissedRootCause]:
    counts: Counter[tuple[str, ...]] = Counter()
    for detail in details:
        for groups in detail.missed_root_causes or []:
            counts[tuple(groups)] += 1
    return [MissedRootCause(groups=list(groups), runs=runs) for groups, runs in counts.most_common()]


def _process_summary(details: Sequence[RunDetail]) -> ProcessSummary | None:
    metrics = [
        detail.process for detail in details if detail.process is not None and detail.process.audit_found
    ]
    return summarize_process(metrics) if metrics else None


def _summarize_task(
    task: str, rows: list[RunResult], details: list[RunDetail], context: _Context
) -> TaskSummary:
    scores = [row.score for row in rows]
    runs_ok, zero_scores = _ok_and_zero(rows)
    ground_truth = context.ground_truths.get(task)
    return TaskSummary(
        task=task,
        fault_type=fault_type(ground_truth) if ground_truth is not None else None,
        runs=len(rows),
        mean_score=_round(mean_with_standard_error(scores).mean),
        score_stderr=_round(mean_with_standard_error(scores).standard_error),
        score_ci=_round_ci(score_interval({task: scores})),
        pass_at_1=_round(pass_at_1(scores)),
        mean_turns=_mean([float(row.turns) for row in rows]),
        mean_wall_time_s=_mean([row.wall_time_s for row in rows]),
        mean_cost_usd=_mean_known(row.cost_usd for row in rows),
        error_classes=_error_counts(rows),
        runs_ok=runs_ok,
        zero_scores=zero_scores,
        wrong_answers=_wrong_answers(details),
        missed_root_causes=_missed(details),
        process=_process_summary(details),
    )


def _metric_estimates(details: Sequence[RunDetail]) -> dict[str, Estimate]:
    """Per-run numbers by task, estimated over tasks: the AA score beside IBM's metrics."""
    columns: dict[str, dict[str, list[float]]] = {"itbench_aa_score": {}, "precision": {}, "recall": {}}
    for detail in details:
        columns["itbench_aa_score"].setdefault(detail.task, []).append(detail.score)
        columns["precision"].setdefault(detail.task, []).append(detail.precision)
        if detail.recall is not None:
            columns["recall"].setdefault(detail.task, []).append(detail.recall)
        for key, value in (detail.ibm or {}).items():
            if value is not None:
                columns.setdefault(f"ibm_{key}", {}).setdefault(detail.task, []).append(value)
    return {name: _estimate(by_task) for name, by_task in columns.items() if by_task}


def _scores_by_task(rows: Iterable[RunResult]) -> dict[str, list[float]]:
    by_task: dict[str, list[float]] = {}
    for row in rows:
        by_task.setdefault(row.task, []).append(row.score)
    return by_task


def _baseline_scores(tasks: Sequence[str], baselines: Baselines | None, agent: str) -> list[BaselineScore]:
    if baselines is None:
        return []
    found: list[BaselineScore] = []
    wanted = set(tasks)
    for name in BASELINE_AGENTS:
        if name == agent:
            continue
        by_task = {
            task: scores
            for task, scores in _scores_by_task(row for row in baselines.rows if row.agent == name).items()
            if task in wanted
        }
        if not by_task:
            continue
        chance = (
            _round(statistics.fmean(baselines.chance[task] for task in by_task))
            if name == "random" and all(task in baselines.chance for task in by_task)
            else None
        )
        found.append(BaselineScore(agent=name, tasks=len(by_task), score=_estimate(by_task), chance=chance))
    return found


def _fault_types(tasks: Sequence[TaskSummary], details: Sequence[RunDetail]) -> list[FaultTypeSummary]:
    by_type: dict[str, list[TaskSummary]] = {}
    for task in tasks:
        if task.fault_type is not None:
            by_type.setdefault(task.fault_type, []).append(task)
    summaries: list[FaultTypeSummary] = []
    for name, members in sorted(by_type.items()):
        names = {task.task for task in members}
        kept = [detail for detail in details if detail.task in names]
        summaries.append(
            FaultTypeSummary(
                fault_type=name,
                tasks=[task.task for task in members],
                score=_estimate({task: [d.score for d in kept if d.task == task] for task in names}),
                wrong_answers=_wrong_answers(kept),
            )
        )
    return summaries


def _summarize_agent(
    agent: str, rows: list[RunResult], context: _Context, baselines: Baselines | None
) -> AgentSummary:
    rows = sorted(rows, key=lambda row: (_task_order(row.task), row.repeat))
    details = [_run_detail(row, context) for row in rows]
    by_task: dict[str, list[RunResult]] = {}
    for row in rows:
        by_task.setdefault(row.task, []).append(row)
    tasks = [
        _summarize_task(task, task_rows, [d for d in details if d.task == task], context)
        for task, task_rows in by_task.items()
    ]
    overall = mean_with_standard_error([task.mean_score for task in tasks])
    scores = _scores_by_task(rows)
    runs_ok, zero_scores = _ok_and_zero(rows)
    return AgentSummary(
        agent=agent,
        score=_round(overall.mean),
        score_ci=_round_ci(score_interval(scores)),
        stderr=_round(overall.standard_error),
        pass_at_1=_mean([task.pass_at_1 for task in tasks]),
        pass_k=[
            entry.model_copy(
                update={
                    "pass_at_k": _round(entry.pass_at_k),
                    "pass_hat_k": _round(entry.pass_hat_k),
                    "pass_at_k_ci": _round_ci(entry.pass_at_k_ci),
                    "pass_hat_k_ci": _round_ci(entry.pass_hat_k_ci),
                }
            )
            for entry in pass_k_table(scores)
        ],
        metrics=_metric_estimates(details),
        tasks_count=len(tasks),
        runs=len(rows),
        mean_turns=_mean([float(row.turns) for row in rows]),
        mean_wall_time_s=_mean([row.wall_time_s for row in rows]),
        cost_per_task_usd=_mean_known(task.mean_cost_usd for task in tasks),
        tokens_in=_sum_known(row.tokens_in for row in rows),
        tokens_out=_sum_known(row.tokens_out for row in rows),
        tokens_cached=_sum_known(row.tokens_cached for row in rows),
        tokens_reasoning=_sum_known(row.tokens_reasoning for row in rows),
        error_classes=_error_counts(rows),
        runs_ok=runs_ok,
        runs_failed=len(rows) - runs_ok,
        zero_scores=zero_scores,
        forced_final_answers=sum(1 for row in rows if row.forced_final_answer),
        process=_process_summary(details),
        baselines=_baseline_scores(list(by_task), baselines, agent),
        fault_types=_fault_types(tasks, details),
        tasks=tasks,
        run_details=details,
    )


def summarize(
    rows: Iterable[RunResult],
    *,
    tasks: Sequence[Task] | None = None,
    results_dir: Path | None = None,
    baselines: Baselines | None = None,
    notes: Sequence[str] = (),
) -> Summary:
    """Aggregate finished runs: per task over repeats, then per agent over tasks.

    With the ``tasks`` (their answer keys), unmatched names are told apart by why, and IBM's
    metrics and (for rows without them) the process metrics are computed from the run
    directories under ``results_dir``. ``baselines`` are shown beside every agent on its tasks.
    """
    by_agent: dict[str, list[RunResult]] = {}
    for row in unique_runs(rows):
        by_agent.setdefault(row.agent, []).append(row)
    context = _Context(tasks, results_dir)
    return Summary(
        agents=[_summarize_agent(agent, by_agent[agent], context, baselines) for agent in sorted(by_agent)],
        baselines_fingerprint=baselines.fingerprint if baselines is not None else None,
        notes=list(notes)
        + ([f"baseline {name}: {why}" for name, why in baselines.unavailable.items()] if baselines else []),
    )


def load_results_dir(results_dir: Path) -> list[RunResult]:
    """The rows of ``results_dir/results.jsonl``.

    Raises:
        ReportError: no such directory, no results in it, or an unreadable results file.
    """
    if not results_dir.is_dir():
        raise ReportError(f"{results_dir}: no such directory")
    try:
        rows = read_results(results_dir / RESULTS_FILE)
    except ResultsFileError as error:
        raise ReportError(str(error)) from None
    if not rows:
        raise ReportError(f"{results_dir}: no finished run in {RESULTS_FILE}")
    return rows


def tasks_for_results(
    results_dir: Path, rows: Sequence[RunResult], tasks: Sequence[Task] | None
) -> tuple[list[Task] | None, list[str]]:
    """The tasks of ``rows``, from ``tasks`` (else the bundled fixtures), checked against the
    data fingerprints in ``settings.json``; ``None`` and why when they cannot be had."""
    from itbench_eval.settings import scenario_fingerprint
    from itbench_eval.tasks import TaskError, discover_tasks

    wanted = {row.task for row in rows}
    given = tasks is not None
    if tasks is None:
        try:
            tasks = discover_tasks(None)
        except TaskError as error:
            return None, [
                f"no task set ({error}): give --scenarios for baselines, verdicts and process metrics"
            ]
    found = [task for task in tasks if task.id in wanted]
    missing = sorted(wanted - {task.id for task in found}, key=_task_order)
    if missing:
        where = "the given scenarios" if given else "the bundled fixtures"
        return None, [
            f"{where} lack the task(s) {', '.join(missing)}: give --scenarios for baselines, "
            "verdicts and process metrics"
        ]
    try:
        recorded = read_settings(results_dir)
    except SettingsError as error:
        return None, [str(error)]
    if recorded is not None:
        changed = [
            task.id
            for task in found
            if task.id in recorded.scenarios
            and recorded.scenarios[task.id] != scenario_fingerprint(task.scenario_dir)
        ]
        if changed:
            return None, [
                f"the data of {', '.join(changed)} differs from the runs' (settings.json): "
                "give the --scenarios the runs used"
            ]
    return found, []


def write_summary(results_dir: Path, summary: Summary) -> Path:
    path = results_dir / SUMMARY_FILE
    path.write_text(json.dumps(summary.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    return path


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _interval(ci: tuple[float, float]) -> str:
    return f"[{_percent(ci[0])}, {_percent(ci[1])}]"


def _with_ci(value: float, ci: tuple[float, float]) -> str:
    return f"{_percent(value)} {_interval(ci)}"


def _signed(value: float) -> str:
    return f"{100 * value:+.1f}%"


def _optional(value: float | None, template: str) -> str:
    return template.format(value) if value is not None else "—"


METRIC_LABELS = {
    "itbench_aa_score": "ITBench-AA score",
    "precision": "precision",
    "recall": "recall",
    "ibm_entity_precision": "IBM entity precision",
    "ibm_entity_recall": "IBM entity recall",
    "ibm_entity_f1": "IBM entity F1",
    "ibm_top1_f1": "IBM top-1 F1",
    "ibm_top3_f1": "IBM top-3 F1",
    "ibm_propagation_f1": "IBM propagation F1",
    "ibm_proximity": "IBM proximity",
}


def _pass_k_text(agent: AgentSummary) -> str:
    parts = [f"pass@{entry.k} {_with_ci(entry.pass_at_k, entry.pass_at_k_ci)}" for entry in agent.pass_k]
    parts += [
        f"pass^{entry.k} {_with_ci(entry.pass_hat_k, entry.pass_hat_k_ci)}"
        for entry in agent.pass_k
        if entry.k > 1
    ]
    return "; ".join(parts)


def _wrong_text(answers: Sequence[WrongAnswer]) -> str:
    return ", ".join(
        f"{answer.name} ({answer.outcome.replace('_', ' ')}, {answer.runs}×)" for answer in answers
    )


def process_lines(process: ProcessSummary) -> list[str]:
    """The process metrics in words, one line each."""

    def share(value: float | None) -> str:
        return _percent(value) if value is not None else "—"

    first = (
        f"first at turn {process.mean_first_root_cause_turn:.1f} on average"
        + (
            f", {process.mean_first_root_cause_s:.1f} s after the first call"
            if process.mean_first_root_cause_s is not None
            else ""
        )
        if process.mean_first_root_cause_turn is not None
        else "never"
    )
    kinds = ", ".join(f"{kind} {count}" for kind, count in process.evidence_kinds.items()) or "none"
    tools = ", ".join(f"{tool} {count}" for tool, count in process.tools_used.items()) or "none"
    return [
        f"looked at a root cause's own evidence before submitting: {share(process.looked_at_root_cause_evidence)} "
        f"of {process.runs} runs (runs per kind: {kinds})",
        f"a root cause named in the calls' arguments: {share(process.root_cause_named)} of runs; {first}",
        f"tool errors {share(process.tool_error_rate)} of calls; repeated identical calls "
        f"{share(process.repeated_call_rate)}; {process.mean_calls or 0:.1f} calls and "
        f"{process.mean_output_chars or 0:,.0f} characters read per run",
        f"tools: {tools}",
    ]


def render_table(summary: Summary, console: Console) -> None:
    """Print, per agent: a row per task, the overall score with its interval, pass@k and pass^k,
    the metrics side by side, the baselines on the same tasks, the process metrics, the
    failure analysis by fault type and each name's verdict."""
    for note in summary.notes:
        console.print(f"[bold]note[/bold]: {note}", highlight=False)
    for agent in summary.agents:
        table = Table(title=f"{agent.agent}", title_justify="left")
        table.add_column("task", no_wrap=True)
        for header in ("runs", "score [95% CI]", "pass@1", "mean turns", "mean time", "cost/run"):
            table.add_column(header, justify="right")
        table.add_column("ended")  # how the runs ended: failures apart from zero scores
        for task in agent.tasks:
            table.add_row(
                task.task,
                str(task.runs),
                _with_ci(task.mean_score, task.score_ci),
                _percent(task.pass_at_1),
                f"{task.mean_turns:.1f}",
                f"{task.mean_wall_time_s:.1f} s",
                _optional(task.mean_cost_usd, "${:.4f}"),
                ", ".join(f"{name} {count}" for name, count in task.error_classes.items()),
            )
        console.print(table)
        stderr = f", ± {_percent(agent.stderr)} standard error" if agent.tasks_count > 1 else ""
        errors = ", ".join(f"{name} {count}" for name, count in agent.error_classes.items())
        console.print(
            f"ITBench-AA score of {agent.agent}: [bold]{_with_ci(agent.score, agent.score_ci)}[/bold] "
            f"(95% CI{stderr}) over {agent.tasks_count} tasks ({agent.runs} runs: {errors}; "
            f"{agent.zero_scores} of the {agent.runs_ok} ok runs scored 0)",
            highlight=False,
        )
        console.print(_pass_k_text(agent), highlight=False)
        if agent.tokens_in is not None:
            cost = _optional(agent.cost_per_task_usd, "${:.4f} per task")
            console.print(
                f"tokens: {agent.tokens_in} in ({agent.tokens_cached or 0} cached), {agent.tokens_out} out "
                f"({agent.tokens_reasoning or 0} reasoning); cost {cost}",
                highlight=False,
            )
        metrics = Table(title=f"{agent.agent}: metrics side by side", title_justify="left")
        metrics.add_column("metric")
        metrics.add_column("value [95% CI]", justify="right")
        for key, estimate in agent.metrics.items():
            metrics.add_row(METRIC_LABELS.get(key, key), _with_ci(estimate.value, estimate.ci))
        console.print(metrics)
        if agent.baselines:
            baselines = Table(title=f"{agent.agent} beside the baselines, same tasks", title_justify="left")
            baselines.add_column("agent")
            baselines.add_column("tasks", justify="right")
            baselines.add_column("score [95% CI]", justify="right")
            baselines.add_column(f"{agent.agent} − it", justify="right")
            baselines.add_row(
                agent.agent, str(agent.tasks_count), _with_ci(agent.score, agent.score_ci), "", style="bold"
            )
            for baseline in agent.baselines:
                chance = f" (chance {_percent(baseline.chance)})" if baseline.chance is not None else ""
                baselines.add_row(
                    baseline.agent + chance,
                    str(baseline.tasks),
                    _with_ci(baseline.score.value, baseline.score.ci),
                    _signed(agent.score - baseline.score.value),
                )
            console.print(baselines)
        if agent.process is not None:
            console.print(f"[bold]process of {agent.agent}[/bold] (from the audit logs):", highlight=False)
            for line in process_lines(agent.process):
                console.print(f"  {line}", highlight=False)
        if agent.fault_types:
            faults = Table(title=f"{agent.agent} by fault type", title_justify="left")
            faults.add_column("fault type")
            faults.add_column("tasks", justify="right")
            faults.add_column("score [95% CI]", justify="right")
            faults.add_column("common wrong answers")
            for fault in agent.fault_types:
                faults.add_row(
                    fault.fault_type,
                    str(len(fault.tasks)),
                    _with_ci(fault.score.value, fault.score.ci),
                    _wrong_text(fault.wrong_answers) or "—",
                )
            console.print(faults)
        failing = [task for task in agent.tasks if task.mean_score < 1]
        if failing:
            fails = Table(title=f"{agent.agent}: where it fails (tasks below 100%)", title_justify="left")
            for header in (
                "task",
                "fault type",
                "score [95% CI]",
                "common wrong answers",
                "missed root causes",
            ):
                fails.add_column(header, justify="right" if header.startswith("score") else "left")
            for task in failing:
                fails.add_row(
                    task.task,
                    task.fault_type or "—",
                    _with_ci(task.mean_score, task.score_ci),
                    _wrong_text(task.wrong_answers) or "—",
                    "; ".join(f"{', '.join(m.groups)} ({m.runs}×)" for m in task.missed_root_causes) or "—",
                )
            console.print(fails)
        verdicts = Table(title=f"{agent.agent}: each name's verdict", title_justify="left")
        verdicts.add_column("task", no_wrap=True)
        verdicts.add_column("name")
        verdicts.add_column("verdict")
        verdicts.add_column("runs", justify="right")
        verdicts.add_column("group, or why none")
        for task, name, outcome, runs, why in _verdict_rows(agent):
            verdicts.add_row(task, name, outcome, str(runs), why)
        console.print(verdicts)


def _group_or_why(verdict: NameVerdict) -> str:
    """The group a name matched, or why it matched none (or counted false)."""
    if verdict.outcome in ("root_cause", "duplicate") and verdict.group_id is not None:
        return verdict.group_id
    return verdict.why


def _verdict_rows(agent: AgentSummary) -> list[tuple[str, str, str, int, str]]:
    """Per task, each distinct (name, verdict) over its runs, then each missed root cause."""
    rows: list[tuple[str, str, str, int, str]] = []
    for task in agent.tasks:
        counts: Counter[tuple[str, str, str]] = Counter()
        for detail in agent.run_details:
            if detail.task == task.task:
                counts.update(
                    (verdict.name, verdict.outcome.replace("_", " "), _group_or_why(verdict))
                    for verdict in detail.names
                )
        rows += [(task.task, name, label, runs, where) for (name, label, where), runs in counts.items()]
        rows += [
            (task.task, "—", "missed root cause", missed.runs, ", ".join(missed.groups))
            for missed in task.missed_root_causes
        ]
    return rows


# ---------------------------------------------------------------------------------------------
# Compare


class TaskComparison(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str
    score_a: float | None
    score_b: float | None
    delta: float | None


class Comparison(BaseModel):
    """Per-task mean scores of two results directories, B minus A, and the paired test."""

    model_config = ConfigDict(extra="forbid")

    agent_a: str
    agent_b: str
    score_a: float
    score_a_ci: tuple[float, float]
    score_b: float
    score_b_ci: tuple[float, float]
    tasks: list[TaskComparison]
    paired: PairedTest | None = Field(description="B against A over the shared tasks; null when none")
    settings_differences: list[str] = Field(
        default_factory=list, description="how the conditions differed (compared anyway with --force)"
    )


def _single_agent(results_dir: Path) -> tuple[AgentSummary, list[RunResult]]:
    rows = unique_runs(load_results_dir(results_dir))
    agents = sorted({row.agent for row in rows})
    if len(agents) != 1:
        raise ReportError(
            f"{results_dir}: holds the results of several agents ({', '.join(agents)}); compare needs one"
        )
    return summarize(rows).agents[0], rows


def _settings_differences(dir_a: Path, dir_b: Path) -> list[str]:
    try:
        settings_a, settings_b = read_settings(dir_a), read_settings(dir_b)
    except SettingsError as error:
        raise ReportError(str(error)) from None
    if settings_a is None or settings_b is None:
        return []  # results from before settings.json: nothing to check
    return differences_that_matter(settings_a, settings_b, across_profiles=True)


def compare_results(dir_a: Path, dir_b: Path, *, force: bool = False) -> Comparison:
    """Compare the agent of ``dir_a`` with the agent of ``dir_b``, task by task, with a paired
    permutation test over the tasks both ran (:func:`~itbench_eval.stats.paired_comparison`).

    Raises:
        ReportError: unreadable results, or (unless ``force``) results made under different
            conditions (:func:`~itbench_eval.settings.differences_that_matter`).
    """
    differences = _settings_differences(dir_a, dir_b)
    if differences and not force:
        raise ReportError(
            f"{dir_a} and {dir_b} were made under different conditions: {'; '.join(differences)}. "
            "Pass --force to compare them anyway"
        )
    (a, rows_a), (b, rows_b) = _single_agent(dir_a), _single_agent(dir_b)
    scores_a = {task.task: task.mean_score for task in a.tasks}
    scores_b = {task.task: task.mean_score for task in b.tasks}
    tasks = sorted(scores_a.keys() | scores_b.keys(), key=_task_order)
    rows = []
    for task in tasks:
        score_a, score_b = scores_a.get(task), scores_b.get(task)
        delta = _round(score_b - score_a) if score_a is not None and score_b is not None else None
        rows.append(TaskComparison(task=task, score_a=score_a, score_b=score_b, delta=delta))
    paired = paired_comparison(_scores_by_task(rows_a), _scores_by_task(rows_b))
    if paired is not None:
        paired = paired.model_copy(
            update={
                "difference": _round(paired.difference),
                "difference_ci": _round_ci(paired.difference_ci),
                "p_value": _round(paired.p_value),
            }
        )
    return Comparison(
        agent_a=a.agent,
        agent_b=b.agent,
        score_a=a.score,
        score_a_ci=a.score_ci,
        score_b=b.score,
        score_b_ci=b.score_ci,
        tasks=rows,
        paired=paired,
        settings_differences=differences,
    )


def render_comparison(comparison: Comparison, console: Console) -> None:
    for difference in comparison.settings_differences:
        console.print(f"[bold]different conditions[/bold]: {difference}", highlight=False)
    table = Table(title_justify="left")
    table.add_column("task", no_wrap=True)
    table.add_column(f"A: {comparison.agent_a}", justify="right")
    table.add_column(f"B: {comparison.agent_b}", justify="right")
    table.add_column("B − A", justify="right")
    for row in comparison.tasks:
        table.add_row(
            row.task,
            _optional(None if row.score_a is None else 100 * row.score_a, "{:.1f}%"),
            _optional(None if row.score_b is None else 100 * row.score_b, "{:.1f}%"),
            _signed(row.delta) if row.delta is not None else "—",
        )
    table.add_row(
        "overall",
        _with_ci(comparison.score_a, comparison.score_a_ci),
        _with_ci(comparison.score_b, comparison.score_b_ci),
        _signed(comparison.score_b - comparison.score_a),
        style="bold",
    )
    console.print(table)
    paired = comparison.paired
    if paired is None:
        console.print("paired test: the two share no task", highlight=False)
        return
    low, high = paired.difference_ci
    console.print(
        f"paired over {paired.tasks} shared tasks: B − A {_signed(paired.difference)} "
        f"[{_signed(low)}, {_signed(high)}] (95% CI, percentage points); "
        f"{paired.method}: [bold]{paired.verdict}[/bold]",
        highlight=False,
    )


# ---------------------------------------------------------------------------------------------
# HTML

_PALETTE = ("#3366cc", "#dc7633", "#2e8b57", "#9b59b6", "#c0392b", "#16a085", "#7f8c8d", "#d4ac0d")
_ERROR_COLOURS = {
    "ok": "#2e8b57",
    "no_submission": "#7f8c8d",
    "turn_cap": "#dc7633",
    "timeout": "#d4ac0d",
    "model_error": "#2874a6",
    "tool_error": "#8e44ad",
    "agent_crash": "#c0392b",
    "harness_error": "#17202a",
}
_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th.text, td.text { text-align: left; max-width: 480px; overflow-wrap: anywhere; }
figure { margin: 1em 0; } figcaption { color: #555; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
.legend span { display: inline-block; margin-right: 1.2em; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
"""


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _legend(names: Sequence[str], colours: dict[str, str]) -> str:
    items = "".join(
        f'<span><i class="swatch" style="background:{colours[name]}"></i>{_esc(name)}</span>'
        for name in names
    )
    return f'<div class="legend">{items}</div>'


def svg_score_per_task(summary: Summary, colours: dict[str, str]) -> str:
    """Horizontal bars: each task's mean score, one bar per agent."""
    tasks = sorted({task.task for agent in summary.agents for task in agent.tasks}, key=_task_order)
    bar, gap, label_width, plot_width = 12, 8, 160, 420
    agents = summary.agents
    group = bar * len(agents) + gap
    height = group * len(tasks) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_width + plot_width + 60}" '
        f'height="{height}" role="img" aria-label="score per task">'
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = label_width + tick * plot_width
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 20}" stroke="#eee"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle">{tick:.2f}</text>')
    for index, task in enumerate(tasks):
        top = index * group
        parts.append(
            f'<text x="{label_width - 6}" y="{top + group / 2}" text-anchor="end">{_esc(task)}</text>'
        )
        for offset, agent in enumerate(agents):
            score = next((t.mean_score for t in agent.tasks if t.task == task), None)
            if score is None:
                continue
            y = top + offset * bar
            width = max(score * plot_width, 1.0)
            parts.append(
                f'<rect x="{label_width}" y="{y}" width="{width:.1f}" height="{bar - 2}" '
                f'fill="{colours[agent.agent]}">'
                f"<title>{_esc(agent.agent)} {_esc(task)}: {score:.3f}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def svg_score_vs_turns(rows: Sequence[RunResult], colours: dict[str, str]) -> str:
    """A scatter plot of every run: turns used against score."""
    width, height, left, bottom = 560, 300, 50, 40
    plot_w, plot_h = width - left - 20, height - bottom - 20
    max_turns = max([row.turns for row in rows] + [1])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        'aria-label="score against turns">'
    ]
    parts.append(
        f'<line x1="{left}" y1="{20 + plot_h}" x2="{left + plot_w}" y2="{20 + plot_h}" stroke="#999"/>'
    )
    parts.append(f'<line x1="{left}" y1="20" x2="{left}" y2="{20 + plot_h}" stroke="#999"/>')
    for tick in (0.0, 0.5, 1.0):
        y = 20 + plot_h * (1 - tick)
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:.1f}</text>')
    for tick in sorted({0, max_turns // 2, max_turns}):
        x = left + plot_w * tick / max_turns
        parts.append(f'<text x="{x:.1f}" y="{20 + plot_h + 16}" text-anchor="middle">{tick}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">turns</text>')
    parts.append(
        f'<text x="12" y="{20 + plot_h / 2}" transform="rotate(-90 12 {20 + plot_h / 2})" '
        'text-anchor="middle">score</text>'
    )
    for row in rows:
        x = left + plot_w * row.turns / max_turns
        y = 20 + plot_h * (1 - row.score)
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colours[row.agent]}" fill-opacity="0.7">'
            f"<title>{_esc(row.agent)} {_esc(row.task)} r{row.repeat}: score {row.score:.3f}, "
            f"{row.turns} turns</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def svg_error_classes(rows: Sequence[RunResult]) -> str:
    """Bars: how many runs ended in each error class."""
    counts = Counter(row.error_class for row in rows)
    classes = [name for name in ERROR_CLASSES if counts[name]]
    bar, label_width, plot_width = 22, 120, 360
    most = max(counts.values(), default=1)
    height = bar * len(classes) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_width + plot_width + 60}" '
        f'height="{height}" role="img" aria-label="runs per error class">'
    ]
    for index, name in enumerate(classes):
        y = 5 + index * bar
        width = plot_width * counts[name] / most
        parts.append(f'<text x="{label_width - 6}" y="{y + bar / 2 + 3}" text-anchor="end">{name}</text>')
        parts.append(
            f'<rect x="{label_width}" y="{y}" width="{width:.1f}" height="{bar - 6}" '
            f'fill="{_ERROR_COLOURS[name]}"/>'
        )
        parts.append(f'<text x="{label_width + width + 6:.1f}" y="{y + bar / 2 + 3}">{counts[name]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], text_columns: frozenset[int] = frozenset()
) -> str:
    head = "".join(
        f'<th class="text">{_esc(header)}</th>' if index in text_columns else f"<th>{_esc(header)}</th>"
        for index, header in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="text">{_esc(cell)}</td>' if index in text_columns else f"<td>{_esc(cell)}</td>"
            for index, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(rows: Sequence[RunResult], summary: Summary, title: str) -> str:
    """A self-contained page: overall scores with intervals, pass@k and pass^k, the metrics side
    by side, the baselines, the process metrics, the failure analysis, three plots, each name's
    verdict and every run."""
    rows = sorted(unique_runs(rows), key=lambda row: (row.agent, _task_order(row.task), row.repeat))
    agent_names = [agent.agent for agent in summary.agents]
    colours = {name: _PALETTE[index % len(_PALETTE)] for index, name in enumerate(agent_names)}
    notes = "".join(f"<p><b>note</b>: {_esc(note)}</p>" for note in summary.notes)
    overall = _table(
        (
            "agent",
            "ITBench-AA score [95% CI]",
            "± stderr",
            "pass@1",
            "tasks",
            "runs",
            "mean turns",
            "cost/task",
        ),
        (
            (
                agent.agent,
                _with_ci(agent.score, agent.score_ci),
                _percent(agent.stderr) if agent.tasks_count > 1 else "—",
                _percent(agent.pass_at_1),
                str(agent.tasks_count),
                str(agent.runs),
                f"{agent.mean_turns:.1f}",
                _optional(agent.cost_per_task_usd, "${:.4f}"),
            )
            for agent in summary.agents
        ),
    )
    most_k = max((len(agent.pass_k) for agent in summary.agents), default=0)
    pass_k = _table(
        ("agent", *(f"pass@{k}" for k in range(1, most_k + 1)), *(f"pass^{k}" for k in range(2, most_k + 1))),
        (
            (
                agent.agent,
                *(_k_cell(agent, k, "at") for k in range(1, most_k + 1)),
                *(_k_cell(agent, k, "hat") for k in range(2, most_k + 1)),
            )
            for agent in summary.agents
        ),
    )
    metric_keys = list(dict.fromkeys(key for agent in summary.agents for key in agent.metrics))
    side_by_side = _table(
        ("metric", *agent_names),
        (
            (
                METRIC_LABELS.get(key, key),
                *(
                    _with_ci(agent.metrics[key].value, agent.metrics[key].ci) if key in agent.metrics else "—"
                    for agent in summary.agents
                ),
            )
            for key in metric_keys
        ),
    )
    baselines = (
        "".join(
            f"<h3>{_esc(agent.agent)}</h3>"
            + _table(
                ("agent", "tasks", "score [95% CI]", f"{agent.agent} − it"),
                [(agent.agent, str(agent.tasks_count), _with_ci(agent.score, agent.score_ci), "")]
                + [
                    (
                        baseline.agent
                        + (f" (chance {_percent(baseline.chance)})" if baseline.chance is not None else ""),
                        str(baseline.tasks),
                        _with_ci(baseline.score.value, baseline.score.ci),
                        _signed(agent.score - baseline.score.value),
                    )
                    for baseline in agent.baselines
                ],
            )
            for agent in summary.agents
            if agent.baselines
        )
        or "<p>No baselines: the task set was not at hand (see the notes).</p>"
    )
    process = (
        "".join(
            f"<h3>{_esc(agent.agent)}</h3><ul>"
            + "".join(f"<li>{_esc(line)}</li>" for line in process_lines(agent.process))
            + "</ul>"
            for agent in summary.agents
            if agent.process is not None
        )
        or "<p>No audit log was read.</p>"
    )
    faults = (
        "".join(
            f"<h3>{_esc(agent.agent)}</h3>"
            + _table(
                ("fault type", "tasks", "score [95% CI]", "common wrong answers"),
                (
                    (
                        fault.fault_type,
                        ", ".join(fault.tasks),
                        _with_ci(fault.score.value, fault.score.ci),
                        _wrong_text(fault.wrong_answers) or "—",
                    )
                    for fault in agent.fault_types
                ),
                text_columns=frozenset({1, 3}),
            )
            for agent in summary.agents
            if agent.fault_types
        )
        or "<p>No fault types: the answer keys were not at hand.</p>"
    )
    per_task = "".join(
        f"<h3>{_esc(agent.agent)}</h3>"
        + _table(
            (
                "task",
                "fault",
                "runs",
                "score [95% CI]",
                "pass@1",
                "mean turns",
                "mean time",
                "cost/run",
                "wrong answers",
                "missed root causes",
                "looked at root-cause evidence",
                "error classes",
            ),
            (
                (
                    task.task,
                    task.fault_type or "—",
                    str(task.runs),
                    _with_ci(task.mean_score, task.score_ci),
                    _percent(task.pass_at_1),
                    f"{task.mean_turns:.1f}",
                    f"{task.mean_wall_time_s:.1f} s",
                    _optional(task.mean_cost_usd, "${:.4f}"),
                    _wrong_text(task.wrong_answers) or "—",
                    "; ".join(f"{', '.join(m.groups)} ({m.runs}×)" for m in task.missed_root_causes) or "—",
                    _percent(task.process.looked_at_root_cause_evidence)
                    if task.process is not None and task.process.looked_at_root_cause_evidence is not None
                    else "—",
                    ", ".join(f"{name} {count}" for name, count in task.error_classes.items()),
                )
                for task in agent.tasks
            ),
            text_columns=frozenset({1, 8, 9, 11}),
        )
        for agent in summary.agents
    )
    verdicts = "".join(
        f"<h3>{_esc(agent.agent)}</h3>"
        + _table(
            ("task", "repeat", "score", "name", "verdict", "group, or why none"),
            [
                (
                    detail.task,
                    str(detail.repeat),
                    _percent(detail.score),
                    verdict.name,
                    verdict.outcome.replace("_", " "),
                    _group_or_why(verdict),
                )
                for detail in agent.run_details
                for verdict in detail.names
            ]
            + [
                (
                    detail.task,
                    str(detail.repeat),
                    _percent(detail.score),
                    "—",
                    "missed root cause",
                    ", ".join(groups),
                )
                for detail in agent.run_details
                for groups in detail.missed_root_causes or []
            ],
            text_columns=frozenset({3, 4, 5}),
        )
        for agent in summary.agents
    )
    runs = _table(
        (
            "task",
            "agent",
            "repeat",
            "score",
            "tp",
            "fp",
            "fn",
            "turns",
            "time",
            "class",
            "submitted",
            "error",
        ),
        (
            (
                row.task,
                row.agent,
                str(row.repeat),
                _percent(row.score),
                str(row.tp),
                str(row.fp),
                str(row.fn),
                str(row.turns),
                f"{row.wall_time_s:.1f} s",
                row.error_class,
                ", ".join(row.submitted),
                row.error,
            )
            for row in rows
        ),
        text_columns=frozenset({1, 9, 10, 11}),
    )
    legend = _legend(agent_names, colours)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
        f"<style>{_CSS}</style></head><body>"
        f"<h1>{_esc(title)}</h1>{notes}"
        "<p>Scores are percentages; intervals are 95% bootstrap intervals over tasks, repeats "
        "resampled within each task (see docs/scoring.md).</p>"
        f"<h2>Overall</h2>{overall}"
        f"<h2>pass@k and pass^k</h2>{pass_k}"
        f"<h2>Metrics side by side</h2>{side_by_side}"
        f"<h2>Beside the baselines, on the same tasks</h2>{baselines}"
        f"<h2>Process (from the server's audit log)</h2>{process}"
        f"<h2>By fault type</h2>{faults}"
        f"<h2>Score per task</h2><figure>{legend}{svg_score_per_task(summary, colours)}"
        "<figcaption>Mean score over repeats.</figcaption></figure>"
        f"<h2>Score against turns</h2><figure>{legend}{svg_score_vs_turns(rows, colours)}"
        "<figcaption>One point per run.</figcaption></figure>"
        f"<h2>How runs ended</h2><figure>{svg_error_classes(rows)}</figure>"
        f"<h2>Per task</h2>{per_task}"
        f"<h2>Each name's verdict</h2>{verdicts}"
        f"<h2>Runs</h2>{runs}"
        "</body></html>\n"
    )


def _k_cell(agent: AgentSummary, k: int, which: str) -> str:
    entry = next((entry for entry in agent.pass_k if entry.k == k), None)
    if entry is None:
        return "—"
    if which == "at":
        return _with_ci(entry.pass_at_k, entry.pass_at_k_ci)
    return _with_ci(entry.pass_hat_k, entry.pass_hat_k_ci)


def build_report(
    results_dir: Path,
    *,
    tasks: Sequence[Task] | None = None,
    cache_dir: Path | None = None,
    with_baselines: bool = True,
    run_baseline: bool = True,
) -> tuple[list[RunResult], Summary]:
    """The rows of ``results_dir`` and their summary, with the task set's baselines (cached) and
    the run directories' details when the tasks are at hand (``tasks``, else the bundled
    fixtures when they are the runs' tasks).

    Raises:
        ReportError: the directory holds no readable results.
    """
    rows = load_results_dir(results_dir)
    found, notes = tasks_for_results(results_dir, rows, tasks)
    baselines: Baselines | None = None
    if found is not None and with_baselines:
        repeats = max((row.repeat for row in rows), default=1)
        baselines = compute_baselines(found, repeats=repeats, cache_dir=cache_dir, run_baseline=run_baseline)
    summary = summarize(rows, tasks=found, results_dir=results_dir, baselines=baselines, notes=notes)
    return rows, summary


def write_html_report(
    results_dir: Path, summary: Summary | None = None, rows: Sequence[RunResult] | None = None
) -> Path:
    """Write ``report.html`` (and ``summary.json``) for ``results_dir``; return the report's path.

    Without ``summary`` (and its ``rows``) they are made from ``results.jsonl`` alone.

    Raises:
        ReportError: the directory holds no readable results.
    """
    if summary is None or rows is None:
        rows = load_results_dir(results_dir)
        summary = summarize(rows, results_dir=results_dir)
    write_summary(results_dir, summary)
    path = results_dir / REPORT_FILE
    path.write_text(
        render_html(rows, summary, f"ITBench-AA evaluation: {results_dir.name}"), encoding="utf-8"
    )
    return path
