"""One evaluation at a time per results directory, and ``--resume`` over a damaged results.jsonl."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from eval_agents import shared_index_cache

from itbench_eval.agents import AgentOutcome, RunContext
from itbench_eval.cli import main
from itbench_eval.results import RunResult, append_result, read_results
from itbench_eval.runner import EvalSettings, run_evaluation
from itbench_eval.tasks import Task


@pytest.fixture
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_index_cache(tmp_path_factory.getbasetemp())


def finished_row(task: Task, repeat: int) -> RunResult:
    return RunResult(
        task=task.id, agent="nop", repeat=repeat, seed=repeat - 1, score=0.0, tp=0, fp=0, fn=1,
        submitted=[], matches=[], turns=0, tool_calls=0, wall_time_s=1.0, error_class="no_submission",
        run_dir=f"runs/{task.id}/nop/r{repeat}",
    )  # fmt: skip


class SecondEvaluationAgent:
    """While its own run is in progress, starts ``itbench-eval`` again in another process."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.returncode: int | None = None
        self.stderr = ""

    async def run(self, context: RunContext) -> AgentOutcome:
        second = await anyio.run_process([sys.executable, "-m", "itbench_eval.cli", *self.argv], check=False)
        self.returncode, self.stderr = second.returncode, second.stderr.decode()
        return AgentOutcome()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_second_evaluation_on_the_same_out_is_refused_while_one_runs(
    task: Task, tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    arguments = ["--agent", "nop", "--scenarios", str(task.scenario_dir), "--repeats", "1"]
    arguments += ["--out", str(out), "--cache-dir", str(cache_dir), "--timeout", "120"]
    agent = SecondEvaluationAgent(arguments)
    config = EvalSettings(agent="nop", out_dir=out, repeats=1, timeout_s=120.0, cache_dir=cache_dir)

    [row] = await run_evaluation([task], config, lambda: agent)

    assert row.error_class == "no_submission"  # the first evaluation ran to its end
    assert (agent.returncode, agent.stderr) == (
        2,
        f"error: --out {out}: another evaluation is running on this directory (process {os.getpid()}); "
        "wait for it to end or choose another --out\n",
    )
    # Once it has ended, the directory is free again (nop's runs never end ok: exit status 1).
    assert await anyio.to_thread.run_sync(main, [*arguments, "--resume"]) == 1
    assert "another evaluation is running" not in capsys.readouterr().err


def test_resume_skips_a_malformed_results_line_with_a_warning_naming_it(
    task: Task, tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    results = out / "results.jsonl"
    append_result(results, finished_row(task, 1))
    with results.open("ab") as handle:
        handle.write(b'{"task": "half a row"}\n')
    append_result(results, finished_row(task, 2))

    status = main(
        ["--agent", "nop", "--scenarios", str(task.scenario_dir), "--repeats", "2", "--out", str(out),
         "--cache-dir", str(cache_dir), "--resume"]
    )  # fmt: skip

    assert status == 1  # nop's runs never end ok
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"warning: {results}, line 2: not a result row, skipped: ")
    assert [row.repeat for row in read_results(results, on_malformed=lambda *_: None)] == [1, 2]


def test_without_resume_a_malformed_results_line_is_a_one_line_error(
    task: Task, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text("not json\n", encoding="utf-8")

    assert main(["--agent", "nop", "--scenarios", str(task.scenario_dir), "--out", str(out)]) == 2

    assert capsys.readouterr().err.splitlines() == [
        f"error: --out {out} already holds 0 finished runs and 1 malformed line(s): pass --resume to continue "
        "them, or choose another --out"
    ]


def test_read_results_reports_malformed_lines_to_the_caller_and_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    task = Task(id="Scenario-1", scenario_dir=tmp_path, ground_truth_source="-", ground_truth_text="")
    append_result(path, finished_row(task, 1))
    with path.open("ab") as handle:
        handle.write(b"not json\n[1, 2]\n")
    append_result(path, finished_row(task, 2))
    reported: list[tuple[int, Any]] = []

    rows = read_results(path, on_malformed=lambda number, reason: reported.append((number, reason)))

    assert [row.repeat for row in rows] == [1, 2]
    assert [number for number, _ in reported] == [2, 3]
