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

import html
import json
import os
import re
import statistics
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from itbench_eval.metrics import mean_with_standard_error, pass_at_1
from itbench_eval.results import ERROR_CLASSES, RESULTS_FILE, ResultsFileError, RunResult, read_results
from itbench_eval.settings import SettingsError, differences_that_matter, read_settings

SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.html"


class ReportError(ValueError):
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


class TaskSummary(BaseModel):
    """One agent on one task, over its repeats."""

    model_config = ConfigDict(extra="forbid")

    task: str
    runs: int
    mean_score: float
    score_stderr: float
    pass_at_1: float
    mean_turns: float
    mean_wall_time_s: float
    mean_cost_usd: float | None
    error_classes: dict[str, int]
    runs_ok: int
    zero_scores: int = Field(description="runs that ended ok and scored 0 (apart from runs that failed)")


class AgentSummary(BaseModel):
    """One agent over every task: ``score`` is the ITBench-AA score (a fraction, 0 to 1), the mean
    of the task means, and ``stderr`` its standard error over tasks."""

    model_config = ConfigDict(extra="forbid")

    agent: str
    score: float
    stderr: float
    pass_at_1: float
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
    tasks: list[TaskSummary]


class Summary(BaseModel):
    """Every agent found in one ``results.jsonl``, in name order."""

    model_config = ConfigDict(extra="forbid")

    agents: list[AgentSummary]


def _round(value: float) -> float:
    return round(value, 6)


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


def _summarize_task(task: str, rows: list[RunResult]) -> TaskSummary:
    runs_ok, zero_scores = _ok_and_zero(rows)
    return TaskSummary(
        task=task,
        runs=len(rows),
        mean_score=_round(mean_with_standard_error([row.score for row in rows]).mean),
        score_stderr=_round(mean_with_standard_error([row.score for row in rows]).standard_error),
        pass_at_1=_round(pass_at_1([row.score for row in rows])),
        mean_turns=_mean([float(row.turns) for row in rows]),
        mean_wall_time_s=_mean([row.wall_time_s for row in rows]),
        mean_cost_usd=_mean_known(row.cost_usd for row in rows),
        error_classes=_error_counts(rows),
        runs_ok=runs_ok,
        zero_scores=zero_scores,
    )


def _summarize_agent(agent: str, rows: list[RunResult]) -> AgentSummary:
    by_task: dict[str, list[RunResult]] = {}
    for row in sorted(rows, key=lambda row: (_task_order(row.task), row.repeat)):
        by_task.setdefault(row.task, []).append(row)
    tasks = [_summarize_task(task, task_rows) for task, task_rows in by_task.items()]
    overall = mean_with_standard_error([task.mean_score for task in tasks])
    runs_ok, zero_scores = _ok_and_zero(rows)
    return AgentSummary(
        agent=agent,
        score=_round(overall.mean),
        stderr=_round(overall.standard_error),
        pass_at_1=_mean([task.pass_at_1 for task in tasks]),
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
        tasks=tasks,
    )


def summarize(rows: Iterable[RunResult]) -> Summary:
    """Aggregate finished runs: per task over repeats, then per agent over tasks."""
    by_agent: dict[str, list[RunResult]] = {}
    for row in unique_runs(rows):
        by_agent.setdefault(row.agent, []).append(row)
    return Summary(agents=[_summarize_agent(agent, by_agent[agent]) for agent in sorted(by_agent)])


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


def write_summary(results_dir: Path, summary: Summary) -> Path:
    path = results_dir / SUMMARY_FILE
    path.write_text(json.dumps(summary.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    return path


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _optional(value: float | None, template: str) -> str:
    return template.format(value) if value is not None else "—"


def render_table(summary: Summary, console: Console) -> None:
    """Print one table per agent (a row per task) and its overall score."""
    for agent in summary.agents:
        table = Table(title=f"{agent.agent}", title_justify="left")
        table.add_column("task", no_wrap=True)
        for header in ("runs", "mean score", "pass@1", "mean turns", "mean time", "cost/run"):
            table.add_column(header, justify="right")
        table.add_column("ended")  # how the runs ended: failures apart from zero scores
        for task in agent.tasks:
            table.add_row(
                task.task,
                str(task.runs),
                _percent(task.mean_score),
                _percent(task.pass_at_1),
                f"{task.mean_turns:.1f}",
                f"{task.mean_wall_time_s:.1f} s",
                _optional(task.mean_cost_usd, "${:.4f}"),
                ", ".join(f"{name} {count}" for name, count in task.error_classes.items()),
            )
        console.print(table)
        stderr = f" ± {_percent(agent.stderr)}" if agent.tasks_count > 1 else ""
        errors = ", ".join(f"{name} {count}" for name, count in agent.error_classes.items())
        console.print(
            f"ITBench-AA score of {agent.agent}: [bold]{_percent(agent.score)}{stderr}[/bold] over "
            f"{agent.tasks_count} tasks ({agent.runs} runs: {errors}; {agent.zero_scores} of the "
            f"{agent.runs_ok} ok runs scored 0); pass@1 {_percent(agent.pass_at_1)}",
            highlight=False,
        )
        if agent.tokens_in is not None:
            cost = _optional(agent.cost_per_task_usd, "${:.4f} per task")
            console.print(
                f"tokens: {agent.tokens_in} in ({agent.tokens_cached or 0} cached), {agent.tokens_out} out "
                f"({agent.tokens_reasoning or 0} reasoning); cost {cost}",
                highlight=False,
            )


# ---------------------------------------------------------------------------------------------
# Compare


class TaskComparison(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str
    score_a: float | None
    score_b: float | None
    delta: float | None


class Comparison(BaseModel):
    """Per-task mean scores of two results directories, and B minus A."""

    model_config = ConfigDict(extra="forbid")

    agent_a: str
    agent_b: str
    score_a: float
    score_b: float
    tasks: list[TaskComparison]
    settings_differences: list[str] = Field(
        default_factory=list, description="how the conditions differed (compared anyway with --force)"
    )


def _single_agent(results_dir: Path) -> AgentSummary:
    summary = summarize(load_results_dir(results_dir))
    if len(summary.agents) != 1:
        names = ", ".join(agent.agent for agent in summary.agents)
        raise ReportError(f"{results_dir}: holds the results of several agents ({names}); compare needs one")
    return summary.agents[0]


def _settings_differences(dir_a: Path, dir_b: Path) -> list[str]:
    try:
        settings_a, settings_b = read_settings(dir_a), read_settings(dir_b)
    except SettingsError as error:
        raise ReportError(str(error)) from None
    if settings_a is None or settings_b is None:
        return []  # results from before settings.json: nothing to check
    return differences_that_matter(settings_a, settings_b)


def compare_results(dir_a: Path, dir_b: Path, *, force: bool = False) -> Comparison:
    """Compare the agent of ``dir_a`` with the agent of ``dir_b``, task by task.

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
    a, b = _single_agent(dir_a), _single_agent(dir_b)
    scores_a = {task.task: task.mean_score for task in a.tasks}
    scores_b = {task.task: task.mean_score for task in b.tasks}
    tasks = sorted(scores_a.keys() | scores_b.keys(), key=_task_order)
    rows = []
    for task in tasks:
        score_a, score_b = scores_a.get(task), scores_b.get(task)
        delta = _round(score_b - score_a) if score_a is not None and score_b is not None else None
        rows.append(TaskComparison(task=task, score_a=score_a, score_b=score_b, delta=delta))
    return Comparison(
        agent_a=a.agent,
        agent_b=b.agent,
        score_a=a.score,
        score_b=b.score,
        tasks=rows,
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
            _optional(row.score_a, "{:.3f}"),
            _optional(row.score_b, "{:.3f}"),
            _optional(row.delta, "{:+.3f}"),
        )
    delta = comparison.score_b - comparison.score_a
    table.add_row(
        "overall", f"{comparison.score_a:.3f}", f"{comparison.score_b:.3f}", f"{delta:+.3f}", style="bold"
    )
    console.print(table)


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
    """A self-contained page: overall scores, per-task tables, three plots and every run."""
    rows = sorted(unique_runs(rows), key=lambda row: (row.agent, _task_order(row.task), row.repeat))
    agent_names = [agent.agent for agent in summary.agents]
    colours = {name: _PALETTE[index % len(_PALETTE)] for index, name in enumerate(agent_names)}
    overall = _table(
        ("agent", "ITBench-AA score", "± stderr", "pass@1", "tasks", "runs", "mean turns", "cost/task"),
        (
            (
                agent.agent,
                _percent(agent.score),
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
    per_task = "".join(
        f"<h3>{_esc(agent.agent)}</h3>"
        + _table(
            ("task", "runs", "mean score", "pass@1", "mean turns", "mean time", "cost/run", "error classes"),
            (
                (
                    task.task,
                    str(task.runs),
                    f"{task.mean_score:.3f}",
                    _percent(task.pass_at_1),
                    f"{task.mean_turns:.1f}",
                    f"{task.mean_wall_time_s:.1f} s",
                    _optional(task.mean_cost_usd, "${:.4f}"),
                    ", ".join(f"{name} {count}" for name, count in task.error_classes.items()),
                )
                for task in agent.tasks
            ),
            text_columns=frozenset({7}),
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
                f"{row.score:.3f}",
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
        f"<h1>{_esc(title)}</h1>"
        f"<h2>Overall</h2>{overall}"
        f"<h2>Score per task</h2><figure>{legend}{svg_score_per_task(summary, colours)}"
        "<figcaption>Mean score over repeats.</figcaption></figure>"
        f"<h2>Score against turns</h2><figure>{legend}{svg_score_vs_turns(rows, colours)}"
        "<figcaption>One point per run.</figcaption></figure>"
        f"<h2>How runs ended</h2><figure>{svg_error_classes(rows)}</figure>"
        f"<h2>Per task</h2>{per_task}"
        f"<h2>Runs</h2>{runs}"
        "</body></html>\n"
    )


def write_html_report(results_dir: Path) -> Path:
    """Write ``report.html`` (and ``summary.json``) for ``results_dir``; return the report's path.

    Raises:
        ReportError: the directory holds no readable results.
    """
    rows = load_results_dir(results_dir)
    summary = summarize(rows)
    write_summary(results_dir, summary)
    path = results_dir / REPORT_FILE
    path.write_text(
        render_html(rows, summary, f"ITBench-AA evaluation: {results_dir.name}"), encoding="utf-8"
    )
    return path
