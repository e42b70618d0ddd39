"""Summaries, tables, the HTML report and comparisons, all from results.jsonl alone."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from itbench_eval.cli import main
from itbench_eval.report import (
    PlainProgress,
    ReportError,
    RichProgress,
    compare_results,
    load_results_dir,
    render_comparison,
    render_table,
    summarize,
    write_html_report,
)
from itbench_eval.results import RunResult


def row(agent: str, task: str, repeat: int, score: float, turns: int, **fields: object) -> dict[str, object]:
    values: dict[str, object] = {
        "task": task,
        "agent": agent,
        "repeat": repeat,
        "seed": repeat - 1,
        "score": score,
        "tp": 1 if score else 0,
        "fp": 1 if score == 0.5 else 0,
        "fn": 0 if score else 1,
        "submitted": [],
        "matches": [],
        "turns": turns,
        "tool_calls": turns,
        "wall_time_s": 2.0,
        "error_class": "ok",
        "run_dir": f"runs/{task}/{agent}/r{repeat}",
    }
    values.update(fields)
    return values


BASELINE_ROWS = [
    row("baseline", "Scenario-10", 1, 1.0, 8, cost_usd=0.02),
    row("baseline", "Scenario-2", 1, 0.5, 10, cost_usd=0.04),
    row("baseline", "Scenario-2", 2, 0.0, 12, error_class="no_submission", error="no submit_diagnosis"),
    row("baseline", "Scenario-10", 2, 1.0, 6),
    row("baseline", "Scenario-2", 3, 1.0, 20, error_class="timeout", wall_time_s=5.0),
]
NOP_ROWS = [
    row("nop", "Scenario-2", 1, 0.0, 0, error_class="no_submission"),
    row("nop", "Scenario-10", 1, 0.0, 0, error_class="no_submission"),
]


def write_results(directory: Path, rows: list[dict[str, object]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(values) + "\n" for values in rows)
    (directory / "results.jsonl").write_text(text, encoding="utf-8")
    return directory


def test_summary_gives_task_means_and_the_mean_over_tasks_with_its_standard_error(tmp_path: Path) -> None:
    results = write_results(tmp_path / "out", BASELINE_ROWS + NOP_ROWS)

    summary = summarize(load_results_dir(results))

    baseline, nop = summary.agents
    assert (baseline.agent, baseline.score, baseline.stderr, baseline.pass_at_1) == (
        "baseline",
        0.75,
        0.25,
        0.666667,
    )
    assert (baseline.tasks_count, baseline.runs, baseline.mean_turns, baseline.mean_wall_time_s) == (
        2,
        5,
        11.2,
        2.6,
    )
    assert baseline.cost_per_task_usd == 0.03
    assert (baseline.tokens_in, baseline.tokens_out, baseline.tokens_cached, baseline.tokens_reasoning) == (
        None,
    ) * 4
    assert baseline.error_classes == {"ok": 3, "no_submission": 1, "timeout": 1}
    assert (baseline.runs_ok, baseline.runs_failed, baseline.zero_scores, baseline.forced_final_answers) == (
        3,
        2,
        0,
        0,
    )
    scenario_2, scenario_10 = baseline.tasks
    assert scenario_2.model_dump(include={"task", "runs", "mean_score", "score_stderr", "pass_at_1", "mean_turns",
                                          "mean_wall_time_s", "mean_cost_usd", "error_classes", "runs_ok",
                                          "zero_scores"}) == {
        "task": "Scenario-2",
        "runs": 3,
        "mean_score": 0.5,
        "score_stderr": 0.288675,
        "pass_at_1": 0.333333,
        "mean_turns": 14.0,
        "mean_wall_time_s": 3.0,
        "mean_cost_usd": 0.04,
        "error_classes": {"ok": 1, "no_submission": 1, "timeout": 1},
        "runs_ok": 1,
        "zero_scores": 0,
    }  # fmt: skip
    assert (scenario_10.task, scenario_10.mean_score, scenario_10.score_ci) == (
        "Scenario-10",
        1.0,
        (1.0, 1.0),
    )
    assert (nop.agent, nop.score, nop.score_ci, nop.runs_failed) == ("nop", 0.0, (0.0, 0.0), 2)


def test_every_score_has_a_95_percent_interval_bootstrapped_over_tasks_and_repeats(tmp_path: Path) -> None:
    summary = summarize(load_results_dir(write_results(tmp_path / "out", BASELINE_ROWS)))

    [agent] = summary.agents
    # Scenario-10 always scores 1; Scenario-2's repeats (0.5, 0, 1) can all resample to 0 (1/27)
    # or all to 1: the task's interval is [0, 1], and the benchmark's lower end is above 0.
    assert agent.tasks[0].score_ci == (0.0, 1.0)
    low, high = agent.score_ci
    assert 0.25 <= low < agent.score < high == 1.0
    assert agent.metrics["itbench_aa_score"].value == agent.score
    assert agent.metrics["itbench_aa_score"].ci == agent.score_ci


def test_pass_k_and_pass_hat_k_go_up_to_the_repeats(tmp_path: Path) -> None:
    summary = summarize(load_results_dir(write_results(tmp_path / "out", BASELINE_ROWS)))

    [agent] = summary.agents
    assert [(entry.k, entry.tasks) for entry in agent.pass_k] == [(1, 2), (2, 2), (3, 1)]
    # Scenario-2 has one success in 3 runs: pass@2 = 2/3, pass^2 = 0; Scenario-10 2 in 2: 1 and 1.
    assert agent.pass_k[1].pass_at_k == pytest.approx((2 / 3 + 1) / 2, abs=1e-6)
    assert agent.pass_k[1].pass_hat_k == pytest.approx(0.5)
    assert (agent.pass_k[2].pass_at_k, agent.pass_k[2].pass_hat_k) == (1.0, 0.0)


def test_a_run_written_twice_counts_once(tmp_path: Path) -> None:
    rows = [row("nop", "Scenario-1", 1, 0.0, 0), row("nop", "Scenario-1", 1, 1.0, 0)]
    summary = summarize(load_results_dir(write_results(tmp_path / "out", rows)))

    assert (summary.agents[0].runs, summary.agents[0].score) == (1, 0.0)


def test_table_shows_each_task_and_the_overall_score(tmp_path: Path) -> None:
    summary = summarize(load_results_dir(write_results(tmp_path / "out", BASELINE_ROWS)))
    console = Console(record=True, width=120)

    render_table(summary, console)

    text = console.export_text()
    assert re.search(
        r"Scenario-2\s+│\s+3\s+│\s+50\.0% \[0\.0%, 100\.0%\]\s+│\s+33\.3%\s+│\s+14\.0\s+│\s+3\.0 s\s+│\s+\$0\.0400",
        text,
    )
    low, high = summary.agents[0].score_ci
    assert (
        f"ITBench-AA score of baseline: 75.0% [{100 * low:.1f}%, {100 * high:.1f}%] (95% CI, ± 25.0% standard "
        "error) over 2 tasks"
    ) in " ".join(text.split())
    assert "pass@1 66.7% [" in text and "pass^2 50.0% [" in text


def test_report_command_writes_a_self_contained_html_report_and_the_summary(tmp_path: Path) -> None:
    results = write_results(tmp_path / "out", BASELINE_ROWS + NOP_ROWS)

    assert main(["report", str(results)]) == 0

    page = (results / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 3
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    assert "<script" not in page
    assert 'aria-label="score per task"' in page and 'aria-label="runs per error class"' in page
    assert page.count("<circle") == len(BASELINE_ROWS) + len(NOP_ROWS)
    summary = json.loads((results / "summary.json").read_text(encoding="utf-8"))
    assert [agent["agent"] for agent in summary["agents"]] == ["baseline", "nop"]


def test_report_escapes_text_from_the_results(tmp_path: Path) -> None:
    rows = [row("py:x:<b>", "Scenario-1", 1, 0.0, 1, error="<script>alert(1)</script>")]
    results = write_results(tmp_path / "out", rows)

    page = write_html_report(results).read_text(encoding="utf-8")

    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def _headless_chromium() -> str:
    for name in ("chromium", "chromium-headless-shell", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    pytest.skip("no headless Chromium installed (.ci/run installs Debian's chromium)")


def _chromium(browser: str, *arguments: str) -> str:
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *arguments],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout


class _TableCells(HTMLParser):
    """The text of each table cell, row by row, table by table, as a browser's DOM holds them."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_headless_chromium_lays_out_the_report_tables_with_the_summary_numbers(tmp_path: Path) -> None:
    browser = _headless_chromium()
    results = write_results(tmp_path / "out", BASELINE_ROWS)
    page = write_html_report(results)
    low, high = summarize(load_results_dir(results)).agents[0].score_ci

    parser = _TableCells()
    parser.feed(_chromium(browser, "--dump-dom", page.as_uri()))

    body = {tuple(table[0][:2]): table[1:] for table in parser.tables if table and table[0]}
    assert body["agent", "ITBench-AA score [95% CI]"][0] == [
        "baseline",
        f"75.0% [{100 * low:.1f}%, {100 * high:.1f}%]",
        "25.0%",
        "66.7%",
        "2",
        "5",
        "11.2",
        "$0.0300",
    ]
    name, pass_at_1 = body["agent", "pass@1"][0][:2]
    assert name == "baseline" and pass_at_1.startswith("66.7% [")
    assert ["precision", f"75.0% [{100 * low:.1f}%, {100 * high:.1f}%]"] in body["metric", "baseline"]


def test_headless_chromium_draws_the_score_bars_in_proportion_to_the_task_means(tmp_path: Path) -> None:
    from PIL import Image  # matplotlib's dependency, so there with the evaluator

    browser = _headless_chromium()
    page = write_html_report(write_results(tmp_path / "out", BASELINE_ROWS))
    screenshot = tmp_path / "report.png"

    _chromium(browser, "--window-size=1024,3000", f"--screenshot={screenshot}", page.as_uri())

    image = Image.open(screenshot).convert("RGB")
    assert image.size == (1024, 3000)
    bar = (0x33, 0x66, 0xCC)  # the baseline's colour in the "score per task" plot
    runs: set[int] = set()
    for y in range(image.height):
        run = 0
        for x in range(image.width):
            run = run + 1 if image.getpixel((x, y)) == bar else 0
            if run >= 100 and (x + 1 == image.width or image.getpixel((x + 1, y)) != bar):
                runs.add(run)
    # Scenario-2 scores 0.5 on average and Scenario-10 1.0: bars of 210 and 420 pixels (scale 420 px).
    assert runs == {210, 420}


def test_compare_gives_per_task_scores_side_by_side_with_deltas(tmp_path: Path) -> None:
    a = write_results(tmp_path / "a", NOP_ROWS)
    b = write_results(tmp_path / "b", BASELINE_ROWS)

    comparison = compare_results(a, b)

    assert comparison.model_dump(include={"agent_a", "agent_b", "score_a", "score_b", "tasks"}) == {
        "agent_a": "nop",
        "agent_b": "baseline",
        "score_a": 0.0,
        "score_b": 0.75,
        "tasks": [
            {"task": "Scenario-2", "score_a": 0.0, "score_b": 0.5, "delta": 0.5},
            {"task": "Scenario-10", "score_a": 0.0, "score_b": 1.0, "delta": 1.0},
        ],
    }
    assert comparison.settings_differences == []
    console = Console(record=True, width=140)
    render_comparison(comparison, console)
    assert re.search(
        r"overall\s+│\s+0\.0% \[0\.0%, 0\.0%\]\s+│\s+75\.0% \[.*\]\s+│\s+\+75\.0%", console.export_text()
    )


def test_compare_command_prints_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_results(tmp_path / "a", NOP_ROWS)
    b = write_results(tmp_path / "b", BASELINE_ROWS)

    assert main(["compare", str(a), str(b)]) == 0

    out = capsys.readouterr().out
    assert re.search(r"Scenario-10\s+│\s+0\.0%\s+│\s+100\.0%\s+│\s+\+100\.0%", out)
    assert "no detectable difference (p = 0.500, 2 shared tasks)" in " ".join(out.split())


def test_compare_names_a_task_missing_on_one_side(tmp_path: Path) -> None:
    a = write_results(tmp_path / "a", NOP_ROWS[:1])
    b = write_results(tmp_path / "b", BASELINE_ROWS)

    tasks = compare_results(a, b).tasks

    assert tasks[1].model_dump() == {"task": "Scenario-10", "score_a": None, "score_b": 1.0, "delta": None}


def test_compare_refuses_a_directory_with_several_agents(tmp_path: Path) -> None:
    both = write_results(tmp_path / "both", BASELINE_ROWS + NOP_ROWS)
    with pytest.raises(ReportError, match="several agents \\(baseline, nop\\)"):
        compare_results(both, both)


def test_report_on_a_directory_without_results_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert main(["report", str(tmp_path / "missing")]) == 2

    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"error: {tmp_path}: no finished run in results.jsonl",
        f"error: {tmp_path / 'missing'}: no such directory",
    ]


def test_plain_progress_prints_one_line_per_finished_run(tmp_path: Path) -> None:
    stream = io.StringIO()
    progress = PlainProgress(stream)
    progress.start(total=3, already_done=1)
    progress.run_finished(RunResult.model_validate(BASELINE_ROWS[2]))

    assert stream.getvalue().splitlines() == [
        "3 runs (1 already finished)",
        "[2/3] Scenario-2 r2 baseline: score 0.00 no_submission (12 turns, 2.0 s) — no submit_diagnosis",
    ]


def test_the_report_svg_plots_are_well_formed_xml(tmp_path: Path) -> None:
    page = write_html_report(write_results(tmp_path / "out", BASELINE_ROWS + NOP_ROWS)).read_text(
        encoding="utf-8"
    )

    plots = re.findall(r"<svg.*?</svg>", page, flags=re.DOTALL)
    assert len(plots) == 3
    for plot in plots:
        assert ElementTree.fromstring(plot).tag == "{http://www.w3.org/2000/svg}svg"


def test_rich_progress_draws_a_bar_with_the_running_mean_score() -> None:
    stream = io.StringIO()
    progress = RichProgress(Console(file=stream, force_terminal=True, width=120))
    progress.start(total=2, already_done=0)
    progress.run_started("Scenario-2", 1)
    progress.run_finished(RunResult.model_validate(BASELINE_ROWS[1]))
    progress.close()

    text = stream.getvalue()
    assert "1/2" in text
    assert "mean score 0.50" in text
