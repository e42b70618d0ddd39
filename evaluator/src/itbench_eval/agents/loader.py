"""Resolve an ``--agent`` string to a factory that makes one fresh agent per run.

Built-ins: ``oracle``, ``nop``, ``baseline``, ``replay:FILE``; third-party agents load with
``py:module:attr``, where ``attr`` is a class or a function returning an agent (called with no
arguments, once per run), or an agent object itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from itbench_eval.agents.base import Agent
from itbench_eval.agents.baseline import BaselineAgent
from itbench_eval.agents.nop import NopAgent
from itbench_eval.agents.oracle import OracleAgent
from itbench_eval.agents.replay import ReplayAgent, ReplayError, load_replay

AgentFactory = Callable[[], Agent]

BUILTIN_AGENTS: dict[str, AgentFactory] = {
    "baseline": BaselineAgent,
    "nop": NopAgent,
    "oracle": OracleAgent,
}
AGENT_FORMS = "oracle, nop, baseline, replay:FILE or py:module:attr"


class AgentSpecError(ValueError):
    """An ``--agent`` value names no agent; the message says which forms exist."""


def agent_label(spec: str) -> str:
    """The agent's name in results: the spec, with a replay file reduced to its name."""
    if spec.startswith("replay:"):
        return f"replay:{Path(spec.removeprefix('replay:')).name}"
    return spec


def _python_agent(target: str) -> AgentFactory:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise AgentSpecError(f"--agent py:{target}: expected py:module:attr")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise AgentSpecError(f"--agent py:{target}: cannot import {module_name}: {error}") from None
    try:
        value: object = module
        for part in attr.split("."):
            value = getattr(value, part)
    except AttributeError:
        raise AgentSpecError(f"--agent py:{target}: {module_name} has no attribute {attr}") from None
    if isinstance(value, Agent) and not isinstance(value, type):
        agent = value
        return lambda: agent
    if not callable(value):
        raise AgentSpecError(f"--agent py:{target}: not an agent, an agent class or a factory")
    factory = value

    def make() -> Agent:
        made = factory()
        if not isinstance(made, Agent):
            raise TypeError(f"py:{target} returned {type(made).__name__}, which has no async run method")
        return made

    return make


def resolve_agent(spec: str) -> AgentFactory:
    """The factory for ``spec``.

    Raises:
        AgentSpecError: no agent of that name, an unreadable replay file, or an import failure.
    """
    if spec in BUILTIN_AGENTS:
        return BUILTIN_AGENTS[spec]
    if spec.startswith("replay:"):
        try:
            calls = load_replay(Path(spec.removeprefix("replay:")))
        except ReplayError as error:
            raise AgentSpecError(f"--agent {spec}: {error}") from None
        return lambda: ReplayAgent(calls)
    if spec.startswith("py:"):
        return _python_agent(spec.removeprefix("py:"))
    raise AgentSpecError(f"--agent {spec}: unknown agent; expected {AGENT_FORMS}")
