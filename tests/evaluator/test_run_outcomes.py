"""Every run ends in exactly one class; crashes keep their traceback in the run directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from itbench_eval import runner
from itbench_eval.agents import resolve_agent
from itbench_eval.report import summarize
from itbench_eval.results import ERROR_CLASSES, RunResult
from itbench_eval.runner import EvalSettings, run_evaluation
from itbench_eval.tasks import Task

pytestmark = pytest.mark.anyio


async def run(task: Task, out: Path, cache_dir: Path, agent: str) -> RunResult:
    settings = EvalSettings(
        agent=agent, out_dir=out, repeats=1, max_turns=5, timeout_s=60.0, cache_dir=cache_dir
    )
    [row] = await run_evaluation([task], settings, resolve_agent(agent))
    return row


def test_the_outcome_classes_are_the_eight_documented_ones() -> None:
    assert ERROR_CLASSES == (
        "ok",
        "no_submission",
        "turn_cap",
        "timeout",
        "model_error",
        "tool_error",
        "agent_crash",
        "harness_error",
    )


def test_rows_written_with_the_old_class_names_are_read_with_the_new_ones() -> None:
    values = {
        "task": "t", "agent": "a", "repeat": 1, "seed": 0, "score": 0.0, "tp": 0, "fp": 0, "fn": 1,
        "submitted": [], "matches": [], "turns": 3, "tool_calls": 3, "wall_time_s": 1.0, "run_dir": "r",
    }  # fmt: skip

    turn_limit = RunResult.model_validate({**values, "error_class": "turn_limit"})
    server_error = RunResult.model_validate({**values, "error_class": "server_error"})

    assert (turn_limit.error_class, server_error.error_class) == ("turn_cap", "tool_error")


async def test_an_agent_crash_keeps_its_traceback_in_the_run_directory(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    row = await run(task, tmp_path, cache_dir, "py:eval_agents:CrashingAgent")

    assert row.error_class == "agent_crash"
    traceback = (tmp_path / row.run_dir / "traceback.txt").read_text(encoding="utf-8")
    assert "RuntimeError: the agent fell over" in traceback and "eval_agents.py" in traceback
    assert row.error == f"RuntimeError: the agent fell over (traceback: {row.run_dir}/traceback.txt)"


async def test_a_failure_of_the_evaluator_itself_is_a_harness_error_not_an_agent_score(
    task: Task, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_scorer(*args: object) -> None:
        raise ValueError("the scorer fell over")

    monkeypatch.setattr(runner, "score_diagnosis", broken_scorer)

    row = await run(task, tmp_path, cache_dir, "oracle")

    assert (row.error_class, row.score) == ("harness_error", 0.0)
    assert row.error.startswith("the evaluator failed: ValueError: the scorer fell over (traceback: ")
    assert "broken_scorer" in (tmp_path / row.run_dir / "traceback.txt").read_text(encoding="utf-8")


def test_the_summary_counts_failed_runs_apart_from_ok_runs_that_scored_zero() -> None:
    def row(repeat: int, error_class: str, score: float, forced: bool = False) -> RunResult:
        return RunResult.model_validate(
            {
                "task": "t", "agent": "openai:m", "repeat": repeat, "seed": 0, "score": score, "tp": 0,
                "fp": 0, "fn": 0, "submitted": [], "matches": [], "turns": 1, "tool_calls": 1,
                "wall_time_s": 1.0, "run_dir": "r", "error_class": error_class, "forced_final_answer": forced,
                "tokens_in": 100, "tokens_out": 10, "tokens_cached": 40, "tokens_reasoning": 2,
            }
        )  # fmt: skip

    rows = [
        row(1, "ok", 0.0),
        row(2, "ok", 1.0),
        row(3, "model_error", 0.0),
        row(4, "turn_cap", 1.0, forced=True),
    ]

    [agent] = summarize(rows).agents

    assert (agent.runs_ok, agent.zero_scores, agent.runs_failed, agent.forced_final_answers) == (2, 1, 2, 1)
    assert agent.error_classes == {"ok": 2, "turn_cap": 1, "model_error": 1}
    assert (agent.tokens_in, agent.tokens_cached, agent.tokens_reasoning) == (400, 160, 8)
