"""The scripted model server: four wire formats, plain and streamed, failures, and no memory."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from itbench_eval.mockmodel import RequestLog, ScriptError, load_script, serve
from itbench_eval.mockmodel.script import Script
from itbench_eval.mockmodel.server import MockModel

TOOL = {
    "name": "get_overview",
    "description": "the overview",
    "parameters": {"type": "object", "properties": {}},
}
CHAT_TOOLS: list[Any] = [{"type": "function", "function": TOOL}]
RESPONSES_TOOLS: list[Any] = [{"type": "function", **TOOL, "strict": False}]
ANTHROPIC_TOOLS: list[Any] = [
    {"name": TOOL["name"], "description": TOOL["description"], "input_schema": TOOL["parameters"]}
]

TWO_STEPS = load_script(
    """
steps:
  - call: get_overview
    say: Looking first.
  - submit: [otel-demo/Deployment/ad]
usage: {input_tokens: 100, output_tokens: 10, cached_tokens: 30, reasoning_tokens: 4}
"""
)


def chat_client(base_url: str, retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="sk-test", max_retries=retries)


def anthropic_client(base_url: str, retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base_url, api_key="sk-test", max_retries=retries)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_chat_completions_get_the_first_step_and_then_the_next_after_a_tool_result(stream: bool) -> None:
    with serve(TWO_STEPS) as base_url:
        client = chat_client(base_url)
        messages: list[Any] = [{"role": "user", "content": "investigate"}]
        if stream:
            with client.chat.completions.stream(
                model="gpt-x", messages=messages, tools=CHAT_TOOLS, stream_options={"include_usage": True}
            ) as events:
                first = events.get_final_completion()
        else:
            first = client.chat.completions.create(model="gpt-x", messages=messages, tools=CHAT_TOOLS)
        [call] = first.choices[0].message.tool_calls or []
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "Incident window: 08:00 to 08:20"},
        ]
        second = client.chat.completions.create(model="gpt-x", messages=messages, tools=CHAT_TOOLS)

    assert first.choices[0].message.content == "Looking first."
    assert call.type == "function" and (call.function.name, call.function.arguments) == ("get_overview", "{}")
    assert first.usage is not None and first.usage.prompt_tokens_details is not None
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (100, 10)
    assert first.usage.prompt_tokens_details.cached_tokens == 30
    [submit] = second.choices[0].message.tool_calls or []
    assert submit.type == "function" and submit.function.name == "submit_diagnosis"
    factors = json.loads(submit.function.arguments)["contributing_factors"]
    assert [factor["name"] for factor in factors] == ["otel-demo/Deployment/ad"]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_the_responses_api_gets_function_calls_and_usage(stream: bool) -> None:
    with serve(TWO_STEPS) as base_url:
        client = chat_client(base_url)
        if stream:
            with client.responses.stream(model="gpt-x", input="investigate", tools=RESPONSES_TOOLS) as events:
                response = events.get_final_response()
        else:
            response = client.responses.create(model="gpt-x", input="investigate", tools=RESPONSES_TOOLS)

    kinds = [item.type for item in response.output]
    assert kinds == ["message", "function_call"]
    call = response.output[1]
    assert call.type == "function_call" and (call.name, call.arguments) == ("get_overview", "{}")
    assert response.usage is not None and response.usage.output_tokens_details.reasoning_tokens == 4


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_anthropic_messages_get_tool_use_blocks_and_cache_usage(stream: bool) -> None:
    with serve(TWO_STEPS) as base_url:
        client = anthropic_client(base_url)
        request: dict[str, Any] = {
            "model": "claude-x",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "investigate"}],
            "tools": ANTHROPIC_TOOLS,
        }
        if stream:
            with client.messages.stream(**request) as events:
                message = events.get_final_message()
        else:
            message = client.messages.create(**request)

    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.stop_reason == "tool_use"
    # Anthropic counts cached prompt tokens apart from input_tokens.
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (70, 30)


@pytest.mark.parametrize("method", ["generateContent", "streamGenerateContent"])
def test_gemini_generate_content_gets_a_function_call(method: str) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "investigate"}]}]}
    with serve(TWO_STEPS) as base_url:
        reply = httpx.post(f"{base_url}/v1beta/models/gemini-x:{method}?alt=sse", json=body)

    text = reply.text.removeprefix("data: ").strip() if method.startswith("stream") else reply.text
    parts = json.loads(text)["candidates"][0]["content"]["parts"]
    assert parts[1]["functionCall"]["name"] == "get_overview"


def test_a_429_with_retry_after_is_retried_by_the_sdk_and_then_answered() -> None:
    script = load_script(
        {"steps": [{"call": "get_overview", "fail": {"status": 429, "retry_after_s": 0.01, "times": 2}}]}
    )
    log = RequestLog()
    with serve(script, log=log) as base_url:
        completion = chat_client(base_url, retries=2).chat.completions.create(
            model="gpt-x", messages=[{"role": "user", "content": "go"}], tools=CHAT_TOOLS
        )

    assert completion.choices[0].finish_reason == "tool_calls"
    assert [(record["status"], record["attempt"]) for record in log.records] == [(429, 0), (429, 1), (200, 2)]


def test_a_failure_without_times_fails_every_attempt() -> None:
    script = load_script({"steps": [{"say": "never", "fail": {"status": 500, "retry_after_s": 0.001}}]})
    log = RequestLog()
    with serve(script, log=log) as base_url, pytest.raises(anthropic.InternalServerError):
        anthropic_client(base_url, retries=1).messages.create(
            model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "go"}]
        )

    assert [record["status"] for record in log.records] == [500, 500]


def test_a_conversation_past_the_context_limit_is_refused_as_too_long() -> None:
    script = load_script({"steps": [{"say": "fits"}], "context_limit_chars": 200})
    with serve(script) as base_url:
        client = chat_client(base_url)
        short = client.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "x" * 300}])

    assert short.choices[0].message.content == "fits"
    assert caught.value.code == "context_length_exceeded"


def test_malformed_arguments_are_sent_verbatim_and_unknown_tools_as_named() -> None:
    script = load_script(
        {"steps": [{"calls": [{"name": "no_such_tool"}, {"name": "get_overview", "raw_arguments": "{oops"}]}]}
    )
    with serve(script) as base_url:
        completion = chat_client(base_url).chat.completions.create(
            model="gpt-x", messages=[{"role": "user", "content": "go"}], tools=CHAT_TOOLS
        )
        message = anthropic_client(base_url).messages.create(
            model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "go"}]
        )

    calls = completion.choices[0].message.tool_calls or []
    assert [(c.function.name, c.function.arguments) for c in calls if c.type == "function"] == [
        ("no_such_tool", "{}"),
        ("get_overview", "{oops"),
    ]
    # Anthropic's input is an object; text that is not one arrives as a string.
    assert [getattr(block, "input", None) for block in message.content] == [{}, "{oops"]


def test_a_forced_tool_gets_the_forced_reply() -> None:
    script = load_script({"steps": [{"call": "get_overview"}], "forced": {"submit": ["a/Deployment/b"]}})
    with serve(script) as base_url:
        completion = chat_client(base_url).chat.completions.create(
            model="gpt-x",
            messages=[{"role": "user", "content": "go"}],
            tools=CHAT_TOOLS,
            tool_choice={"type": "function", "function": {"name": "submit_diagnosis"}},
        )

    [call] = completion.choices[0].message.tool_calls or []
    assert call.type == "function" and call.function.name == "submit_diagnosis"


def test_match_quotes_its_own_conversation_so_concurrent_conversations_never_mix() -> None:
    script = load_script(
        {
            "steps": [
                {"call": "get_overview", "delay_s": 0.05},
                {"submit": [{"name": "x/Deployment/y", "evidence": {"$match": "window of (run-\\d+)"}}]},
            ]
        }
    )

    def conversation(base_url: str, run: int) -> str:
        client = chat_client(base_url)
        messages: list[Any] = [{"role": "user", "content": f"run {run}"}]
        first = client.chat.completions.create(model="gpt-x", messages=messages, tools=CHAT_TOOLS)
        [call] = first.choices[0].message.tool_calls or []
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": f"the window of run-{run}"},
        ]
        second = client.chat.completions.create(model="gpt-x", messages=messages, tools=CHAT_TOOLS)
        [submit] = second.choices[0].message.tool_calls or []
        assert submit.type == "function"
        return json.loads(submit.function.arguments)["contributing_factors"][0]["evidence"]

    with serve(script) as base_url, ThreadPoolExecutor(max_workers=8) as pool:
        evidence = list(pool.map(lambda run: conversation(base_url, run), range(8)))

    assert evidence == [f"run-{run}" for run in range(8)]


def test_past_the_last_step_it_says_the_final_text_or_repeats_the_last_step() -> None:
    ending = load_script({"steps": [{"say": "one"}], "final_text": "that is all"})
    looping = load_script({"steps": [{"call": "get_overview"}], "after_last": "repeat_last"})
    two_turns: list[Any] = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},
        {"role": "user", "content": "e"},
    ]
    with serve(ending) as ending_url, serve(looping) as looping_url:
        said = chat_client(ending_url).chat.completions.create(model="m", messages=two_turns)
        repeated = chat_client(looping_url).chat.completions.create(model="m", messages=two_turns)

    assert said.choices[0].message.content == "that is all"
    assert repeated.choices[0].finish_reason == "tool_calls"


def test_every_request_is_recorded_to_a_jsonl_file(tmp_path: Path) -> None:
    record = tmp_path / "requests.jsonl"
    with serve(TWO_STEPS, log=RequestLog(record)) as base_url:
        chat_client(base_url).chat.completions.create(
            model="gpt-x", messages=[{"role": "user", "content": "go"}]
        )
        httpx.get(f"{base_url}/v1/models")
        missing = httpx.post(f"{base_url}/v1/embeddings", json={})

    chat, models, embeddings = (json.loads(line) for line in record.read_text(encoding="utf-8").splitlines())
    assert (chat["wire"], chat["step"], chat["status"]) == ("openai-chat", 0, 200)
    assert chat["body"]["messages"] == [{"role": "user", "content": "go"}]
    assert (models["method"], models["status"]) == ("GET", 200)
    assert (embeddings["path"], embeddings["status"], missing.status_code) == ("/v1/embeddings", 404, 404)


def test_a_slow_step_is_answered_after_its_delay() -> None:
    log = RequestLog()
    with serve(load_script({"steps": [{"say": "slow", "delay_s": 0.2}]}), log=log) as base_url:
        reply = httpx.post(f"{base_url}/v1/chat/completions", json={"model": "m", "messages": []})

    assert reply.status_code == 200
    assert log.records[0]["latency_s"] >= 0.2


def test_a_slow_step_is_cut_short_with_a_503_when_the_server_stops() -> None:
    stopping = threading.Event()
    stopping.set()
    model = MockModel(load_script({"steps": [{"say": "slow", "delay_s": 3600}]}), RequestLog(), stopping)

    status, _, _, _, summary = model.answer(
        "openai-chat", "/v1/chat/completions", {"messages": []}, b"{}", "0"
    )

    assert (status, summary["error"]) == (503, "server stopping")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"steps": []}, "steps: List should have at least 1 item"),
        ({"steps": [{"arguments": {}}]}, "a step needs call, calls, submit or say"),
        ({"steps": [{"call": "a", "submit": ["b"]}]}, "at most one of call, calls and submit"),
        ("steps: [unclosed", "not YAML or JSON"),
    ],
)
def test_a_bad_script_is_one_clear_error(source: str | dict[str, Any], message: str) -> None:
    with pytest.raises(ScriptError, match=message):
        load_script(source)


def test_the_bundled_example_script_is_valid() -> None:
    from itbench_eval import mockmodel

    example = Path(mockmodel.__file__).parent / "examples" / "investigate-and-submit.yaml"

    assert isinstance(load_script(example), Script)
