"""Model agents end to end: the real runner and server, the scripted model server as the model."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from itbench_eval.agents import resolve_agent
from itbench_eval.agents.model_config import LoopOptions, ModelAgentOptions
from itbench_eval.agents.model_loop import CUT_MARKER, MODEL_CALLS_FILE, NUDGE_TEXT
from itbench_eval.groundtruth import oracle_names
from itbench_eval.mockmodel import RequestLog, load_script, serve
from itbench_eval.results import RunResult
from itbench_eval.runner import EvalSettings, run_evaluation
from itbench_eval.tasks import Task, discover_tasks

pytestmark = pytest.mark.anyio

# The first fixture's root causes, read from its answer key (as the oracle does).
RIGHT_ANSWERS = oracle_names(discover_tasks()[0].ground_truth())
WINDOW = {"$match": "(Incident window: [^\n]*)"}
INVESTIGATION: dict[str, Any] = {
    "steps": [
        {"call": "get_overview"},
        {"call": "get_changes", "arguments": {"limit": 50}},
        {"call": "get_events", "arguments": {"type": "Warning", "limit": 50}},
        {"submit": [{"name": name, "reasoning": "scripted", "evidence": WINDOW} for name in RIGHT_ANSWERS]},
    ],
    "usage": {"input_tokens": 1200, "output_tokens": 60, "cached_tokens": 400, "reasoning_tokens": 10},
}
API_SPECS = {"chat": "openai:gpt-x", "responses": "openai-responses:gpt-x", "anthropic": "anthropic:claude-x"}


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    return discover_tasks()


@pytest.fixture
def prices(tmp_path: Path) -> Path:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "as_of: 2026-01-31\nmodels:\n"
        "  gpt-x: {input: 2.0, cached_input: 0.5, output: 8.0}\n"
        "  claude-x: {input: 3.0, cached_input: 0.3, output: 15.0}\n",
        encoding="utf-8",
    )
    return path


class Evaluation:
    """One evaluation of a model agent against a scripted model."""

    def __init__(self, rows: list[RunResult], requests: list[dict[str, Any]], out: Path) -> None:
        self.rows = rows
        self.requests = [record for record in requests if record.get("method") == "POST"]
        self.out = out

    @property
    def row(self) -> RunResult:
        [row] = self.rows
        return row

    def run_file(self, name: str, row: RunResult | None = None) -> Path:
        return self.out / (row or self.row).run_dir / name

    def events(self, kind: str, row: RunResult | None = None) -> list[dict[str, Any]]:
        lines = self.run_file("transcript.jsonl", row).read_text(encoding="utf-8").splitlines()
        return [event for event in map(json.loads, lines) if event["type"] == kind]


async def evaluate(
    script: dict[str, Any],
    tasks: Sequence[Task],
    out: Path,
    cache_dir: Path,
    *,
    spec: str = "openai:gpt-x",
    stream: bool = False,
    prices: Path | None = None,
    model_args: dict[str, Any] | None = None,
    loop: LoopOptions | None = None,
    max_retries: int = 2,
    **overrides: Any,
) -> Evaluation:
    log = RequestLog()
    with serve(load_script(script), log=log) as base_url:
        options = ModelAgentOptions(
            base_url=base_url if spec.startswith("anthropic") else f"{base_url}/v1",
            stream=stream,
            prices_path=prices,
            model_args=model_args or {},
            loop=loop or LoopOptions(),
            max_retries=max_retries,
        )
        values: dict[str, Any] = {
            "agent": spec,
            "out_dir": out,
            "repeats": 1,
            "max_turns": 10,
            "timeout_s": 60.0,
            "cache_dir": cache_dir,
        }
        values.update(overrides)
        rows = await run_evaluation(tasks, EvalSettings.model_validate(values), resolve_agent(spec, options))
    return Evaluation(rows, log.records, out)


def tool_results_sent(request: dict[str, Any]) -> list[str]:
    """The tool results (and their error flags) a logged request carried, in any API's format."""
    body = request["body"]
    if request["wire"] == "openai-chat":
        return [m["content"] for m in body["messages"] if m["role"] == "tool"]
    if request["wire"] == "openai-responses":
        return [item["output"] for item in body["input"] if item.get("type") == "function_call_output"]
    return [
        ("ERROR: " if block["is_error"] else "") + block["content"]
        for message in body["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if block["type"] == "tool_result"
    ]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("api", ["chat", "responses", "anthropic"])
async def test_a_scripted_model_investigates_and_submits_the_right_answer(
    api: str, stream: bool, tasks: list[Task], tmp_path: Path, cache_dir: Path, prices: Path
) -> None:
    spec = API_SPECS[api]
    result = await evaluate(
        INVESTIGATION, tasks[:1], tmp_path, cache_dir, spec=spec, stream=stream, prices=prices,
        model_args={"temperature": 0, "max_output_tokens": 2000},
    )  # fmt: skip

    row = result.row
    assert (row.error_class, row.score, row.submitted) == ("ok", 1.0, RIGHT_ANSWERS)
    assert (row.turns, row.tool_calls) == (4, 4)
    reasoning = 0 if api == "anthropic" else 40  # Anthropic does not report reasoning tokens apart
    assert (row.tokens_in, row.tokens_out, row.tokens_cached, row.tokens_reasoning) == (
        4800,
        240,
        1600,
        reasoning,
    )
    input_price, cached_price, output_price = (3.0, 0.3, 15.0) if api == "anthropic" else (2.0, 0.5, 8.0)
    expected_cost = (3200 * input_price + 1600 * cached_price + 240 * output_price) / 1e6
    assert row.cost_usd == pytest.approx(expected_cost)
    # The evidence quotes get_overview's answer: tool results reach the model.
    submission = json.loads(result.run_file("submission.json").read_text(encoding="utf-8"))
    assert submission["contributing_factors"][0]["evidence"].startswith("Incident window: 20")
    # Every request: the server's instructions as the system message, the options passed through.
    first = result.requests[0]["body"]
    system = {"chat": lambda b: b["messages"][0]["content"], "responses": lambda b: b["instructions"]}.get(
        api, lambda b: b["system"]
    )(first)
    assert system.startswith("This server holds one recorded Kubernetes incident")
    assert first["temperature"] == 0
    budget_key = {
        "chat": "max_completion_tokens",
        "responses": "max_output_tokens",
        "anthropic": "max_tokens",
    }
    assert first[budget_key[api]] == 2000
    assert [request["stream"] for request in result.requests] == [stream] * 4
    calls = [
        json.loads(line)
        for line in result.run_file(MODEL_CALLS_FILE).read_text(encoding="utf-8").splitlines()
    ]
    assert [event["type"] for event in calls] == ["header"] + ["request", "response"] * 4


async def test_a_model_that_never_submits_gets_a_forced_final_answer_at_the_turn_cap(
    tasks: list[Task], tmp_path: Path, cache_dir: Path
) -> None:
    script = {
        "steps": [{"call": "get_overview"}],
        "after_last": "repeat_last",
        "forced": {"submit": RIGHT_ANSWERS},
    }

    result = await evaluate(
        script, tasks[:1], tmp_path, cache_dir, max_turns=3, loop=LoopOptions(nudge_turns=1)
    )

    row = result.row
    assert (row.error_class, row.forced_final_answer, row.score, row.turns) == ("turn_cap", True, 1.0, 3)
    assert [request["forced_tool"] for request in result.requests] == [None, None, None, "submit_diagnosis"]
    # The nudge came with the results of step 2, when one turn was left; the forced answer after step 3.
    step_3_messages = result.requests[2]["body"]["messages"]
    assert step_3_messages[-1]["content"] == NUDGE_TEXT.format(remaining=1)
    last_message = result.requests[-1]["body"]["messages"][-1]
    assert last_message["content"].startswith("The turn budget is used up. Call submit_diagnosis now")
    assert [event["reason"] for event in result.events("forced_final_answer")] == ["turn_cap"]
    [summary] = result.events("model_summary")
    assert (summary["ended_by"], summary["model_requests"]) == ("turn_cap", 4)
    assert summary["note"] == "forced final answer submitted"


async def test_without_the_forced_final_answer_the_turn_cap_ends_the_run_without_a_submission(
    tasks: list[Task], tmp_path: Path, cache_dir: Path
) -> None:
    script = {"steps": [{"call": "get_overview"}], "after_last": "repeat_last"}

    result = await evaluate(
        script, tasks[:1], tmp_path, cache_dir, max_turns=3, loop=LoopOptions(final_answer="off")
    )

    assert (result.row.error_class, result.row.forced_final_answer, result.row.score) == (
        "turn_cap",
        False,
        0.0,
    )
    assert len(result.requests) == 3


async def test_a_model_that_stops_talking_without_submitting_ends_as_no_submission(
    tasks: list[Task], tmp_path: Path, cache_dir: Path
) -> None:
    script = {
        "steps": [{"call": "get_overview"}, {"say": "I think it is the ad service."}],
        "after_last": "repeat_last",
    }

    result = await evaluate(script, tasks[:1], tmp_path, cache_dir)

    assert (result.row.error_class, result.row.forced_final_answer, result.row.turns) == (
        "no_submission",
        False,
        3,
    )
    # After the first reply without a call, the model was asked to go on once.
    assert result.requests[-1]["body"]["messages"][-1]["content"].startswith("Continue the investigation")


@pytest.mark.parametrize("api", ["chat", "responses", "anthropic"])
async def test_an_unknown_tool_and_bad_arguments_come_back_as_errors_and_the_model_goes_on(
    api: str, tasks: list[Task], tmp_path: Path, cache_dir: Path
) -> None:
    script = {
        "steps": [
            {
                "calls": [
                    {"name": "get_logs_please"},
                    {"name": "get_alerts", "raw_arguments": "{oops"},
                    {"name": "get_alerts", "arguments": {"limit": "many"}},
                ]
            },
            {"submit": RIGHT_ANSWERS},
        ]
    }

    result = await evaluate(script, tasks[:1], tmp_path, cache_dir, spec=API_SPECS[api])

    assert (result.row.error_class, result.row.score) == ("ok", 1.0)
    unknown, malformed, invalid = tool_results_sent(result.requests[1])
    assert unknown.startswith("ERROR: There is no tool named 'get_logs_please'. The tools are: get_alerts,")
    assert malformed.startswith(
        "ERROR: The arguments of get_alerts could not be used: they are not valid JSON"
    )
    assert invalid.startswith("ERROR: ") and "limit" in invalid  # the server's own validation error
    assert result.row.tool_calls == 2  # the third call reached the server, then the submission
    assert len(result.events("tool_call_refused")) == 2


async def test_a_429_is_retried_by_the_sdk_and_the_run_goes_on(
    tasks: list[Task], tmp_path: Path, cache_dir: Path
) -> None:
    script = {
        "steps": [
            {"call": "get_overview", "fail": {"status": 429, "retry_after_s": 0.01, "times": 1}},
            {"submit": RIGHT_ANSWERS},
        ]
    }

    result = await evaluate(script, tasks[:1], tmp_path, cache_dir, spec="anthropic:claude-x")

    assert (result.row.error_class, result.row.score, result.row.turns) == ("ok", 1.0, 2)
    assert [(r["step"], r["status"]) for r in result.requests] == [(0, 429), (0, 200), (1, 200)]


async def test_a_model_api_that_keeps_failing_ends_the_run_as_model_error_with_its_traceback(
    tasks: list[Task], tmp_path: Path, cache_dir: Path
) -> None:
    script = {"steps": [{"say": "never", "fail": {"status": 500, "retry_after_s": 0.001}}]}

    result = await evaluate(script, tasks[:1], tmp_path, cache_dir, max_retries=1)

    row = result.row
    assert row.error_class == "model_error"
    assert row.error.startswith("InternalServerError (HTTP 500): ")
    assert len(result.requests) == 2  # the first try and one retry
    assert (row.model_requests, row.tokens_in, row.cost_usd) == (1, None, None)  # no reply: unknown, not 0
    traceback = result.run_file("traceback.txt").read_text(encoding="utf-8")
    assert "ModelError" in traceback and "InternalServerError" in traceback
    assert row.error.endswith(f"(traceback: {row.run_dir}/traceback.txt)")


async def test_a_context_overflow_elides_the_oldest_tool_results_and_the_run_goes_on(
    tasks: list[Task], tmp_path: Path, cache_dir: Path
) -> None:
    script = {
        "steps": [{"call": "get_overview"}] * 4 + [{"submit": RIGHT_ANSWERS}],
        "context_limit_chars": 11_000,
    }

    result = await evaluate(script, tasks[:1], tmp_path, cache_dir, spec="openai-responses:gpt-x")

    assert (result.row.error_class, result.row.score, result.row.turns) == ("ok", 1.0, 5)
    assert 400 in [request["status"] for request in result.requests]
    assert result.events("context_elided")
    sent = tool_results_sent(result.requests[-1])
    assert sent[0].startswith("[tool output elided to fit the context window; it was ")
    assert sent[-1].startswith("Incident window:")  # the newest result is whole


async def test_a_context_budget_elides_before_sending_and_a_long_tool_output_is_cut(
    tasks: list[Task], tmp_path: Path, cache_dir: Path
) -> None:
    script = {"steps": [{"call": "get_overview"}] * 3 + [{"submit": RIGHT_ANSWERS}]}
    loop = LoopOptions(context_chars=8_000, tool_output_chars=1_000)

    result = await evaluate(script, tasks[:1], tmp_path, cache_dir, spec="anthropic:claude-x", loop=loop)

    assert (result.row.error_class, result.row.score) == ("ok", 1.0)
    sent = tool_results_sent(result.requests[-1])
    assert all(len(text) <= 1_000 for text in sent)
    assert CUT_MARKER.split("{cut}")[0].strip() in sent[-1]
    assert len(result.events("tool_output_cut")) == 3


async def test_a_conversation_that_cannot_fit_even_elided_is_a_model_error_not_a_crash(
    tasks: list[Task], tmp_path: Path, cache_dir: Path
) -> None:
    script = {"steps": [{"call": "get_overview"}], "context_limit_chars": 500}

    result = await evaluate(script, tasks[:1], tmp_path, cache_dir)

    assert result.row.error_class == "model_error"
    assert "too long for the model and no tool output is left to elide" in result.row.error


async def test_the_time_budget_ends_the_investigation_with_a_forced_final_answer_as_a_timeout(
    tasks: list[Task], tmp_path: Path, cache_dir: Path
) -> None:
    script = {
        "steps": [{"call": "get_overview", "delay_s": 60}],
        "forced": {"submit": RIGHT_ANSWERS},
    }
    # 4 s for the run, 2 s kept for the final answer: the slow first reply is abandoned at 2 s.
    loop = LoopOptions(final_answer_reserve_s=2.0)

    result = await evaluate(script, tasks[:1], tmp_path, cache_dir, timeout_s=4.0, loop=loop)

    row = result.row
    assert (row.error_class, row.forced_final_answer, row.score) == ("timeout", True, 1.0)
    assert [event["reason"] for event in result.events("forced_final_answer")] == ["time_budget"]


async def test_a_server_that_fails_under_a_model_agent_is_a_tool_error(
    tasks: list[Task], tmp_path: Path, cache_dir: Path
) -> None:
    failing = (sys.executable, "-c", "import sys; print('cannot index', file=sys.stderr); sys.exit(2)")

    result = await evaluate(INVESTIGATION, tasks[:1], tmp_path, cache_dir, server_command=failing)

    assert (result.row.error_class, result.requests) == ("tool_error", [])


async def test_four_concurrent_runs_against_one_scripted_model_never_mix(
    tasks: list[Task], tmp_path: Path, cache_dir: Path
) -> None:
    script = {
        "steps": [
            {"call": "get_overview", "delay_s": 0.1},
            {"call": "get_alerts", "arguments": {"limit": 5}},
            {"submit": [{"name": "otel-demo/Deployment/frontend", "evidence": WINDOW}]},
        ]
    }

    result = await evaluate(script, tasks[:4], tmp_path, cache_dir, concurrency=4)

    assert len(result.rows) == 4 and {row.error_class for row in result.rows} == {"ok"}
    windows = set()
    for row in result.rows:
        [overview] = [e for e in result.events("tool_result", row) if e["tool"] == "get_overview"]
        own_window = overview["text"].splitlines()[0]
        submission = json.loads(result.run_file("submission.json", row).read_text(encoding="utf-8"))
        assert submission["contributing_factors"][0]["evidence"] == own_window
        assert [e["tool"] for e in result.events("tool_call", row)] == [
            "get_overview",
            "get_alerts",
            "submit_diagnosis",
        ]
        windows.add(own_window)
    assert len(windows) == 4  # four different incidents, each answered from its own conversation
    assert len(result.requests) == 12


async def test_a_final_answer_that_hangs_is_cut_by_the_wall_clock_limit_and_the_tokens_spent_still_count(
    tasks: list[Task], tmp_path: Path, cache_dir: Path
) -> None:
    script = {
        "steps": [{"call": "get_overview"}, {"call": "get_alerts", "delay_s": 60}],
        "forced": {"submit": RIGHT_ANSWERS, "delay_s": 60},
        "usage": {"input_tokens": 1000, "output_tokens": 50},
    }
    loop = LoopOptions(final_answer_reserve_s=2.0)

    result = await evaluate(script, tasks[:1], tmp_path, cache_dir, timeout_s=4.0, loop=loop)

    row = result.row
    assert (row.error_class, row.error) == ("timeout", "the wall-clock limit of 4 s ran out")
    assert (row.forced_final_answer, row.submitted, row.score) == (True, [], 0.0)
    assert (row.tokens_in, row.tokens_out, row.model_requests) == (1000, 50, 3)  # only the first replied
