"""Runs against real server processes: error classes, turn caps, limits, accounting, resume."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from itbench_eval.agents import resolve_agent
from itbench_eval.agents.oracle import OracleAgent
from itbench_eval.groundtruth import oracle_names
from itbench_eval.results import RunResult, read_results
from itbench_eval.runner import EvalSettings, RunnerError, path_component, run_evaluation
from itbench_eval.tasks import Task

pytestmark = pytest.mark.anyio


def settings(out: Path, cache_dir: Path, agent: str, **overrides: object) -> EvalSettings:
    values: dict[str, object] = {
        "agent": agent,
        "out_dir": out,
        "repeats": 1,
        "max_turns": 5,
        "timeout_s": 60.0,
        "concurrency": 2,
        "cache_dir": cache_dir,
    }
    values.update(overrides)
    return EvalSettings.model_validate(values)


async def run(task: Task, config: EvalSettings) -> list[RunResult]:
    return await run_evaluation([task], config, resolve_agent(config.agent))


async def test_the_call_past_the_turn_cap_ends_the_run_as_turn_cap(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    [row] = await run(task, settings(tmp_path, cache_dir, "py:eval_agents:LoopingAgent", max_turns=4))

    assert (row.error_class, row.turns, row.tool_calls, row.score) == ("turn_cap", 4, 4, 0.0)
    assert row.error == "the turn cap of 4 was reached before the run ended"
    audit = (tmp_path / row.run_dir / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(audit) == 4  # the fifth call never reached the server


async def test_every_run_directory_gets_an_atif_trajectory_of_its_calls(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    [row] = await run(task, settings(tmp_path, cache_dir, "py:eval_agents:LoopingAgent", max_turns=3))

    trajectory = json.loads((tmp_path / row.run_dir / "trajectory.json").read_text(encoding="utf-8"))
    calls = [call["function_name"] for step in trajectory["steps"] for call in step.get("tool_calls") or []]
    assert trajectory["schema_version"].startswith("ATIF")
    assert calls == ["get_overview"] * 3


async def test_a_model_driven_agent_is_capped_by_model_steps_not_tool_calls(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    [row] = await run(
        task, settings(tmp_path, cache_dir, "py:eval_agents:StepCountingLoopingAgent", max_turns=3)
    )

    assert (row.error_class, row.turns, row.tool_calls) == ("turn_cap", 3, 6)


async def test_an_agent_that_swallows_the_cap_error_still_ends_as_turn_cap(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    [row] = await run(task, settings(tmp_path, cache_dir, "py:eval_agents:CapSwallowingAgent", max_turns=3))

    assert (row.error_class, row.tool_calls) == ("turn_cap", 3)


async def test_the_wall_clock_limit_ends_the_run_as_timeout_and_keeps_its_submission(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    [row] = await run(
        task, settings(tmp_path, cache_dir, "py:eval_agents:SubmitThenSleepAgent", timeout_s=3.0)
    )

    assert row.error_class == "timeout"
    assert row.error == "the wall-clock limit of 3 s ran out"
    assert row.submitted == ["otel-demo/Deployment/frontend"]
    assert row.wall_time_s >= 3.0


async def test_an_agent_that_raises_is_an_agent_crash(task: Task, tmp_path: Path, cache_dir: Path) -> None:
    [row] = await run(task, settings(tmp_path, cache_dir, "py:eval_agents:CrashingAgent"))

    assert (row.error_class, row.tool_calls) == ("agent_crash", 1)
    assert row.error == f"RuntimeError: the agent fell over (traceback: {row.run_dir}/traceback.txt)"


async def test_a_server_that_does_not_start_is_a_tool_error(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    failing = (sys.executable, "-c", "import sys; print('no index here', file=sys.stderr); sys.exit(2)")

    [row] = await run(task, settings(tmp_path, cache_dir, "oracle", server_command=failing))

    assert row.error_class == "tool_error"
    assert row.error.startswith("the server failed: ")
    assert row.error.endswith(f"(no index here) (traceback: {row.run_dir}/traceback.txt)")


async def test_nop_leaves_no_submission_and_scores_zero(task: Task, tmp_path: Path, cache_dir: Path) -> None:
    [row] = await run(task, settings(tmp_path, cache_dir, "nop"))

    assert (row.error_class, row.score, row.tp, row.fp, row.turns, row.submitted) == (
        "no_submission",
        0.0,
        0,
        0,
        0,
        [],
    )
    assert row.fn == len(task.ground_truth().root_cause_set_ids)


async def test_tokens_and_cost_an_agent_reports_are_recorded(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    [row] = await run(task, settings(tmp_path, cache_dir, "py:eval_agents:TokenReportingAgent"))

    assert (row.error_class, row.tokens_in, row.tokens_out, row.cost_usd) == ("ok", 1200, 80, 0.0125)


async def test_replay_reissues_the_recorded_calls_and_is_scored(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    names = oracle_names(task.ground_truth())
    replay = tmp_path / "calls.jsonl"
    calls = [
        {"tool": "get_overview", "arguments": {}},
        {"tool": "get_alerts", "arguments": {}},
        {
            "tool": "submit_diagnosis",
            "arguments": {"contributing_factors": [{"name": name} for name in names]},
        },
    ]
    replay.write_text("".join(json.dumps(call) + "\n" for call in calls), encoding="utf-8")

    [row] = await run(task, settings(tmp_path / "out", cache_dir, f"replay:{replay}"))

    assert (row.agent, row.error_class, row.score, row.turns, row.submitted) == (
        "replay:calls.jsonl",
        "ok",
        1.0,
        3,
        names,
    )
    transcript = (tmp_path / "out" / row.run_dir / "transcript.jsonl").read_text(encoding="utf-8")
    events = [json.loads(line) for line in transcript.splitlines()]
    assert [(event["type"], event.get("tool")) for event in events] == [
        ("task_start", None),
        ("tool_call", "get_overview"),
        ("tool_result", "get_overview"),
        ("tool_call", "get_alerts"),
        ("tool_result", "get_alerts"),
        ("tool_call", "submit_diagnosis"),
        ("tool_result", "submit_diagnosis"),
        ("task_end", None),
    ]
    assert events[-1] | {"seq": 0, "t": 0} == {
        "seq": 0,
        "t": 0,
        "type": "task_end",
        "error_class": "ok",
        "error": "",
        "score": 1.0,
    }


async def test_repeats_get_their_own_run_directory_and_seed(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    config = settings(tmp_path, cache_dir, "oracle", repeats=3, seed=40, concurrency=3)

    rows = sorted(await run(task, config), key=lambda row: row.repeat)

    assert [(row.repeat, row.seed, row.score, row.run_dir) for row in rows] == [
        (repeat, 39 + repeat, 1.0, f"runs/{task.id}/oracle/r{repeat}") for repeat in (1, 2, 3)
    ]
    for row in rows:
        run_dir = tmp_path / row.run_dir
        assert sorted(path.name for path in run_dir.iterdir()) == [
            "audit.jsonl",
            "score.json",
            "server.stderr",
            "submission.json",
            "trajectory.json",
            "transcript.jsonl",
        ]


async def test_resume_runs_only_what_is_not_finished(task: Task, tmp_path: Path, cache_dir: Path) -> None:
    first = await run(task, settings(tmp_path, cache_dir, "oracle", repeats=1))
    both = await run(task, settings(tmp_path, cache_dir, "oracle", repeats=2, resume=True))
    again = await run(task, settings(tmp_path, cache_dir, "oracle", repeats=2, resume=True))

    assert [row.repeat for row in first] == [1]
    assert both[0] == first[0]
    assert [row.repeat for row in both] == [1, 2]
    assert again == both == read_results(tmp_path / "results.jsonl")


async def test_an_output_directory_with_results_needs_resume(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    await run(task, settings(tmp_path, cache_dir, "nop"))

    with pytest.raises(RunnerError, match="already holds 1 finished runs: pass --resume"):
        await run(task, settings(tmp_path, cache_dir, "nop"))


def test_the_agent_sees_no_ground_truth(task: Task) -> None:
    from itbench_eval.agents import TaskView
    from itbench_eval.prompt import build_prompt

    assert set(TaskView.model_fields) == {"task_id", "repeat", "seed"}
    for name in oracle_names(task.ground_truth()):
        assert name.split("/")[-1] not in build_prompt(100).split()
    assert not isinstance(resolve_agent("py:eval_agents:TokenReportingAgent")(), OracleAgent)


async def test_a_server_that_never_answers_is_a_tool_error_after_the_startup_limit(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    silent = (sys.executable, "-c", "import sys; sys.stdin.read()")

    [row] = await run(
        task, settings(tmp_path, cache_dir, "oracle", server_command=silent, startup_timeout_s=1.0)
    )

    assert (row.error_class, row.error) == ("tool_error", "the server did not start within 1 s")


def test_a_long_agent_label_becomes_a_short_distinct_directory_name() -> None:
    long_a = "cmd:/usr/bin/python3 /opt/agent.py {mcp_url} " + "a" * 300
    long_b = "cmd:/usr/bin/python3 /opt/agent.py {mcp_url} " + "a" * 299 + "b"

    names = [path_component(long_a), path_component(long_b)]

    assert [len(name) for name in names] == [80, 80]
    assert names[0] != names[1]
    assert names[0].startswith("cmd_usr_bin_python3_opt_agent.py_mcp_url_aaaa")
    assert path_component("openai:gpt-4o") == "openai_gpt-4o"
