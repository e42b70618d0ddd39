"""The pieces of the model agents: model arguments, prices, tool output budgets, the --agent forms."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from itbench_eval.agents import AgentSpecError, resolve_agent
from itbench_eval.agents.loader import ModelAgentFactory
from itbench_eval.agents.model_config import (
    ModelAgentOptions,
    ModelConfigError,
    check_model_args,
    parse_model_args,
    translate_model_args,
)
from itbench_eval.agents.model_loop import (
    ModelAgent,
    cut_to_budget,
    is_context_overflow,
    read_arguments,
    wire_tool_name,
)
from itbench_eval.agents.prices import PriceTableError, TokenUsage, load_price_table


def test_model_arguments_are_read_as_json_when_they_parse_and_as_text_otherwise() -> None:
    args = parse_model_args(["temperature=0", "reasoning_effort=high", 'stop=["x"]', "seed=7", "top_p=0.5"])

    assert args == {"temperature": 0, "reasoning_effort": "high", "stop": ["x"], "seed": 7, "top_p": 0.5}


def test_a_model_argument_without_a_value_is_refused() -> None:
    with pytest.raises(ModelConfigError, match="expected KEY=VALUE"):
        parse_model_args(["temperature"])


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        ("openai-chat", {"max_completion_tokens": 500, "reasoning_effort": "high"}),
        ("openai-responses", {"max_output_tokens": 500, "reasoning": {"effort": "high"}}),
        ("anthropic", {"max_tokens": 500, "output_config": {"effort": "high"}}),
    ],
)
def test_the_cross_api_arguments_become_each_apis_own(api: Any, expected: dict[str, Any]) -> None:
    assert translate_model_args(api, {"max_output_tokens": 500, "reasoning_effort": "high"}) == expected


def test_an_anthropic_thinking_budget_enables_thinking_and_leaves_room_for_the_answer() -> None:
    args = translate_model_args("anthropic", {"thinking_budget": 16000})

    assert args == {"thinking": {"type": "enabled", "budget_tokens": 16000}, "max_tokens": 16000 + 8192}
    assert translate_model_args("anthropic", {})["max_tokens"] == 8192  # the API requires one


@pytest.mark.parametrize(
    ("api", "args", "message"),
    [
        ("openai-chat", {"thinking_budget": 2048}, "Anthropic only"),
        ("anthropic", {"thinking_budget": 10}, "at least 1024"),
        ("openai-chat", {"stream": True}, "use --stream"),
        ("anthropic", {"tools": []}, "set by the agent loop itself"),
    ],
)
def test_model_arguments_that_cannot_work_are_refused(api: Any, args: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelConfigError, match=message):
        check_model_args(api, args)


def test_the_bundled_price_table_is_dated_and_matches_dated_and_prefixed_model_names() -> None:
    table = load_price_table()

    assert table.as_of >= datetime.date(2025, 1, 1)
    assert table.price_for("gpt-4o-2024-08-06") == table.models["gpt-4o"]
    assert table.price_for("gpt-4o-mini-2024-07-18") == table.models["gpt-4o-mini"]
    assert table.price_for("openai/gpt-4.1") == table.models["gpt-4.1"]
    assert table.price_for("claude-sonnet-4-5-20250929") == table.models["claude-sonnet-4-5"]
    assert table.price_for("my-local-llama") is None


def test_cost_counts_cached_and_cache_written_tokens_at_their_own_prices(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "as_of: 2026-01-31\nmodels:\n  m: {input: 2.0, cached_input: 0.5, cache_write: 2.5, output: 10.0}\n",
        encoding="utf-8",
    )
    table = load_price_table(prices)
    usage = TokenUsage(
        input_tokens=1_000_000, cached_tokens=400_000, cache_write_tokens=100_000, output_tokens=50_000
    )

    # 500k uncached x 2 + 400k cached x 0.5 + 100k written x 2.5 + 50k out x 10, per million.
    assert table.cost_usd("m", usage) == pytest.approx(1.0 + 0.2 + 0.25 + 0.5)
    assert table.cost_usd("unknown", usage) is None
    assert table.as_of == datetime.date(2026, 1, 31)


def test_a_price_table_that_is_not_one_is_named(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("models: {m: {input: 1}}\n", encoding="utf-8")

    with pytest.raises(PriceTableError, match=r"--prices .*prices.yaml: as_of: Field required"):
        load_price_table(prices)


def test_a_long_tool_output_keeps_its_head_and_tail_around_a_marker() -> None:
    text = "".join(f"line {number}\n" for number in range(10_000))

    cut = cut_to_budget(text, 2000)

    assert len(cut) <= 2000
    assert cut.startswith("line 0\nline 1\n") and cut.endswith("line 9999\n")
    assert "characters cut here: the tool output is limited to 2000 characters" in cut
    assert cut_to_budget("short", 2000) == "short"


@pytest.mark.parametrize(
    ("raw", "arguments", "problem"),
    [
        ('{"limit": 5}', {"limit": 5}, None),
        ({"limit": 5}, {"limit": 5}, None),
        ("", {}, None),
        (
            "{oops",
            None,
            "they are not valid JSON (Expecting property name enclosed in double quotes at character 1)",
        ),
        ("[1, 2]", None, "they are a JSON list, not an object"),
        ("just text", None, "they are not valid JSON (Expecting value at character 0)"),
    ],
)
def test_tool_call_arguments_are_an_object_or_a_problem_the_model_is_told(
    raw: object, arguments: dict[str, Any] | None, problem: str | None
) -> None:
    parsed, _, found = read_arguments(raw)

    assert (parsed, found) == (arguments, problem)


@pytest.mark.parametrize(
    "message",
    [
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
        "prompt is too long: 210000 tokens > 200000 maximum",
        "the request exceeds the available context size, try increasing it",
        "Error code: 400 - {'code': 'context_length_exceeded'}",
    ],
)
def test_context_overflow_messages_of_the_usual_servers_are_recognised(message: str) -> None:
    assert is_context_overflow(message)


def test_rate_limits_are_not_taken_for_context_overflows() -> None:
    assert not is_context_overflow("Rate limit reached for requests per minute")


def test_tool_names_are_made_safe_for_every_api() -> None:
    assert wire_tool_name("get_overview") == "get_overview"
    assert wire_tool_name("ns.tool name") == "ns_tool_name"
    long_name = wire_tool_name("x" * 100)
    assert len(long_name) == 64 and long_name != wire_tool_name("x" * 99)


def test_a_model_agent_needs_a_key_unless_given_a_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)

    with pytest.raises(AgentSpecError, match="set OPENAI_API_KEY"):
        resolve_agent("openai:gpt-4o")
    with pytest.raises(AgentSpecError, match="set ANTHROPIC_API_KEY"):
        resolve_agent("anthropic:claude-sonnet-4-5")
    local = resolve_agent("openai:llama3", ModelAgentOptions(base_url="http://127.0.0.1:11434/v1"))
    assert isinstance(local(), ModelAgent)


def test_each_model_agent_form_selects_its_api_and_describes_its_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    options = ModelAgentOptions(model_args={"temperature": 0})

    factories = {
        spec: resolve_agent(spec, options) for spec in ("openai:a", "openai-responses:b", "anthropic:c")
    }

    apis = {
        spec: factory.agent_settings()["api"]
        for spec, factory in factories.items()
        if isinstance(factory, ModelAgentFactory)
    }
    assert apis == {
        "openai:a": "openai-chat",
        "openai-responses:b": "openai-responses",
        "anthropic:c": "anthropic",
    }
    settings = factories["openai:a"]
    assert isinstance(settings, ModelAgentFactory)
    described = settings.agent_settings()
    assert described["model_args"] == {"temperature": 0}
    assert described["final_answer"] == "force"
    assert described["price_table_as_of"] == load_price_table().as_of.isoformat()


@pytest.mark.parametrize(
    ("spec", "options", "message"),
    [
        ("openai:", None, "name the model"),
        ("anthropic:c", ModelAgentOptions(model_args={"stream": True}), "use --stream"),
        ("openai:a", ModelAgentOptions(prices_path=Path("/no/such/prices.yaml")), "cannot read"),
    ],
)
def test_a_model_agent_that_cannot_be_configured_is_a_clear_error(
    spec: str, options: ModelAgentOptions | None, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")

    with pytest.raises(AgentSpecError, match=message):
        resolve_agent(spec, options)
