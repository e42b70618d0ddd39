"""Resolving --agent: built-ins, replay files and py:module:attr plugins."""

from __future__ import annotations

from pathlib import Path

import pytest

from itbench_eval.agents import AgentSpecError, agent_label, resolve_agent
from itbench_eval.agents.baseline import BaselineAgent
from itbench_eval.agents.nop import NopAgent
from itbench_eval.agents.oracle import OracleAgent
from itbench_eval.agents.replay import RecordedCall, ReplayAgent


def test_builtin_names_make_a_fresh_agent_per_run() -> None:
    make = resolve_agent("oracle")

    first, second = make(), make()

    assert isinstance(first, OracleAgent) and first is not second
    assert isinstance(resolve_agent("nop")(), NopAgent)
    assert isinstance(resolve_agent("baseline")(), BaselineAgent)


def test_a_replay_file_is_read_when_the_agent_is_resolved(tmp_path: Path) -> None:
    replay = tmp_path / "calls.jsonl"
    replay.write_text(
        '# recorded\n{"tool": "get_alerts", "arguments": {"limit": 5}}\n\n'
        '{"tool": "submit_diagnosis", "arguments": {"contributing_factors": [{"name": "a/Pod/b"}]}}\n',
        encoding="utf-8",
    )

    agent = resolve_agent(f"replay:{replay}")()

    assert isinstance(agent, ReplayAgent)
    assert agent.calls == [
        RecordedCall(tool="get_alerts", arguments={"limit": 5}),
        RecordedCall(tool="submit_diagnosis", arguments={"contributing_factors": [{"name": "a/Pod/b"}]}),
    ]
    assert agent_label(f"replay:{replay}") == "replay:calls.jsonl"


def test_a_bad_replay_line_is_named(tmp_path: Path) -> None:
    replay = tmp_path / "calls.jsonl"
    replay.write_text('{"tool": "get_alerts"}\n{"arguments": {}}\n', encoding="utf-8")

    with pytest.raises(AgentSpecError, match=r"calls.jsonl, line 2: expected"):
        resolve_agent(f"replay:{replay}")


def test_a_missing_replay_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(AgentSpecError, match=r"replay file .*missing.jsonl: cannot read"):
        resolve_agent(f"replay:{tmp_path / 'missing.jsonl'}")


def test_py_loads_an_agent_class_from_a_module() -> None:
    agent = resolve_agent("py:itbench_eval.agents.nop:NopAgent")()

    assert isinstance(agent, NopAgent)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "gpt-9",
            "--agent gpt-9: unknown agent; expected oracle, nop, baseline, prior, random, replay:FILE, py:module:attr, openai:MODEL, openai-responses:MODEL, anthropic:MODEL, claude-code[:MODEL], codex[:MODEL], gemini-cli[:MODEL], stirrup:MODEL or cmd:TEMPLATE",
        ),
        ("py:itbench_eval.agents.nop", "--agent py:itbench_eval.agents.nop: expected py:module:attr"),
        ("py:no_such_module_x:Agent", "--agent py:no_such_module_x:Agent: cannot import no_such_module_x"),
        ("py:itbench_eval.agents.nop:Missing", "itbench_eval.agents.nop has no attribute Missing"),
        ("py:itbench_eval.agents.nop:__doc__", "not an agent, an agent class or a factory"),
    ],
)
def test_an_unknown_agent_is_a_clear_error(spec: str, message: str) -> None:
    with pytest.raises(AgentSpecError) as caught:
        resolve_agent(spec)

    assert message in str(caught.value)
