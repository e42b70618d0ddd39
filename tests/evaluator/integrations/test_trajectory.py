"""Every run directory's trajectory in ATIF: from the transcript for built-in agents, from the
server's audit log for black-box ones, valid against the ATIF schema.

Harbor (whose models define ATIF) needs Python >= 3.12 and does not install here; where it is
importable the trajectories are also validated with its own ``Trajectory`` model, otherwise with
``atif_schema.json``, written by hand from harbor 0.26.0's ``harbor/models/trajectories``.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from itbench_eval.agents import resolve_agent
from itbench_eval.agents.loader import CliOptions
from itbench_eval.agents.model_config import ModelAgentOptions
from itbench_eval.groundtruth import oracle_names
from itbench_eval.mockmodel import load_script, serve
from itbench_eval.runner import EvalSettings, run_evaluation
from itbench_eval.tasks import Task
from itbench_eval.trajectory import agent_model, build_trajectory, write_trajectory

pytestmark = pytest.mark.anyio

BLACK_BOX_AGENT = Path(__file__).parent / "blackbox_mcp_agent.py"
SCHEMA = json.loads((Path(__file__).parent / "atif_schema.json").read_text(encoding="utf-8"))


def assert_valid_atif(document: dict[str, Any]) -> None:
    """Valid ATIF: Harbor's own model where Harbor is installed, else the hand-written schema."""
    try:
        harbor = importlib.import_module("harbor.models.trajectories")
    except ImportError:
        harbor = None
    if harbor is not None:
        harbor.Trajectory.model_validate(document)
    jsonschema.validate(document, SCHEMA)
    for index, step in enumerate(document["steps"], start=1):
        assert step["step_id"] == index
        if step["source"] != "agent":
            assert not {"model_name", "tool_calls", "metrics", "reasoning_content"} & set(step)
        ids = {call["tool_call_id"] for call in step.get("tool_calls", [])}
        for result in step.get("observation", {}).get("results", []):
            assert result.get("source_call_id") in ids | {None}


async def run_once(
    spec: str, task: Task, out: Path, cache_dir: Path, options: ModelAgentOptions | None = None
) -> Path:
    settings = EvalSettings.model_validate(
        {
            "agent": spec,
            "out_dir": out,
            "repeats": 1,
            "max_turns": 10,
            "timeout_s": 60.0,
            "cache_dir": cache_dir,
        }
    )
    [row] = await run_evaluation([task], settings, resolve_agent(spec, options))
    assert row.error_class == "ok", row.error
    return out / row.run_dir


async def test_a_model_agents_trajectory_has_one_step_per_reply_with_its_calls_results_and_tokens(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    answer = oracle_names(task.ground_truth())
    script = {
        "steps": [{"call": "get_overview"}, {"say": "Found it.", "submit": answer}],
        "usage": {"input_tokens": 1000, "output_tokens": 50, "cached_tokens": 200},
    }
    with serve(load_script(script)) as base_url:
        run_dir = await run_once(
            "openai:gpt-x", task, tmp_path, cache_dir, ModelAgentOptions(base_url=f"{base_url}/v1")
        )
    path = write_trajectory(run_dir, agent="openai:gpt-x", model=None)  # the model from model_calls.jsonl
    document = json.loads(path.read_text(encoding="utf-8"))
    assert_valid_atif(document)

    assert path == run_dir / "trajectory.json"
    assert document["extra"]["source"] == "transcript.jsonl"
    assert document["extra"]["score"] == 1.0
    assert document["agent"]["model_name"] == "gpt-x"
    sources = [step["source"] for step in document["steps"]]
    assert sources == ["system", "user", "agent", "agent"]
    assert "get_overview" in document["steps"][1]["message"]  # the prompt the agent was given
    overview, submit = document["steps"][2], document["steps"][3]
    assert [call["function_name"] for call in overview["tool_calls"]] == ["get_overview"]
    assert overview["observation"]["results"][0]["content"].startswith("Incident window:")
    assert (
        overview["observation"]["results"][0]["source_call_id"] == overview["tool_calls"][0]["tool_call_id"]
    )
    metrics = overview["metrics"]
    assert (metrics["prompt_tokens"], metrics["completion_tokens"], metrics["cached_tokens"]) == (
        1000,
        50,
        200,
    )
    assert submit["message"] == "Found it."
    assert submit["tool_calls"][0]["arguments"]["contributing_factors"][0]["name"] == answer[0]
    assert document["final_metrics"]["total_prompt_tokens"] == 2000
    assert document["final_metrics"]["total_steps"] == 4


async def test_an_agent_without_a_model_gets_one_step_per_tool_call_marked_as_no_model_call(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    run_dir = await run_once("oracle", task, tmp_path, cache_dir)
    document = build_trajectory(run_dir, agent="oracle", model=None).model_dump(
        mode="json", exclude_none=True
    )
    assert_valid_atif(document)
    agent_steps = [step for step in document["steps"] if step["source"] == "agent"]
    assert agent_steps, "the oracle's submission is a step"
    assert all(step["llm_call_count"] == 0 and "metrics" not in step for step in agent_steps)
    assert agent_steps[-1]["tool_calls"][0]["function_name"] == "submit_diagnosis"
    assert agent_steps[-1]["observation"]["results"][0]["content"].startswith("Diagnosis recorded")


async def test_a_black_box_agents_trajectory_comes_from_the_servers_audit_log(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    answer = oracle_names(task.ground_truth())[0]
    spec = f"cmd:{sys.executable} {BLACK_BOX_AGENT} {{mcp_url}} {{mcp_token}} {answer}"
    settings = EvalSettings.model_validate(
        {
            "agent": spec,
            "out_dir": tmp_path,
            "repeats": 1,
            "max_turns": 10,
            "timeout_s": 60.0,
            "cache_dir": cache_dir,
        }
    )
    [row] = await run_evaluation([task], settings, resolve_agent(spec, None, CliOptions(sandbox=False)))
    assert (row.error_class, row.score) == ("ok", 1.0), row.error
    run_dir = tmp_path / row.run_dir
    audit = [json.loads(line) for line in (run_dir / "audit.jsonl").read_text(encoding="utf-8").splitlines()]

    document = json.loads(write_trajectory(run_dir, agent="cmd", model=None).read_text(encoding="utf-8"))
    assert_valid_atif(document)
    assert document["extra"]["source"] == "audit.jsonl"
    assert document["session_id"] == f"{task.id}/cmd/r1"
    calls = [step for step in document["steps"] if step["source"] == "agent"]
    assert [step["tool_calls"][0]["function_name"] for step in calls] == ["get_overview", "submit_diagnosis"]
    assert [step["timestamp"] for step in calls] == [row["time"] for row in audit]
    assert calls[-1]["tool_calls"][0]["arguments"] == audit[-1]["arguments"]
    assert "characters" in calls[0]["observation"]["results"][0]["content"]


def test_a_refused_call_and_malformed_arguments_stay_in_the_trajectory(tmp_path: Path) -> None:
    events = [
        {"type": "task_start", "task": "T", "repeat": 1, "seed": 0},
        {"type": "model_reply", "step": 1, "text": "", "usage": None, "stop_reason": "tool_calls",
         "calls": [{"name": "nope", "arguments": "{}"}, {"name": "get_overview", "arguments": "{oops"}]},
        {"type": "tool_call_refused", "tool": "nope", "arguments": "{}", "reason": "There is no tool named 'nope'."},
        {"type": "tool_call_refused", "tool": "get_overview", "arguments": "{oops", "reason": "bad JSON"},
        {"type": "turn_limit", "max_turns": 1},
        {"type": "task_end", "error_class": "turn_cap", "error": "cap", "score": 0.0},
    ]  # fmt: skip
    (tmp_path / "transcript.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in events), encoding="utf-8"
    )
    document = build_trajectory(tmp_path, agent="openai:m", model="m").model_dump(
        mode="json", exclude_none=True
    )
    assert_valid_atif(document)
    reply = document["steps"][1]
    assert [r["content"] for r in reply["observation"]["results"]] == [
        "There is no tool named 'nope'.",
        "bad JSON",
    ]
    assert reply["tool_calls"][1]["extra"] == {"raw_arguments": "{oops"}
    assert document["steps"][2]["source"] == "system" and "turn_limit" in document["steps"][2]["message"]
    assert document["extra"]["error_class"] == "turn_cap"


def test_the_model_of_an_agent_spec_is_named_only_for_model_and_cli_agents() -> None:
    assert agent_model("openai:gpt-x") == "gpt-x"
    assert agent_model("anthropic:claude-x") == "claude-x"
    assert agent_model("codex:o4-mini") == "o4-mini"
    assert agent_model("claude-code") is None
    assert agent_model("replay:answers.jsonl") is None
    assert agent_model("py:module:attr") is None
    assert agent_model("oracle") is None
