"""Resolve an ``--agent`` string to a factory that makes one fresh agent per run.

Built-ins: ``oracle``, ``nop``, ``baseline``, ``replay:FILE``; model-driven agents
``openai:MODEL`` (Chat Completions), ``openai-responses:MODEL`` (Responses API) and
``anthropic:MODEL`` (Messages), configured by :class:`ModelAgentOptions`; third-party agents load
with ``py:module:attr``, where ``attr`` is a class or a function returning an agent (called with
no arguments, once per run), or an agent object itself.

A factory may also describe the agent's settings (:class:`DescribesSettings`): the runner
writes them to ``settings.json``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from itbench_eval.agents.base import Agent
from itbench_eval.agents.baseline import BaselineAgent
from itbench_eval.agents.cli.base import CliAgentConfig
from itbench_eval.agents.model_config import (
    AGENT_PREFIXES,
    ModelAgentConfig,
    ModelAgentOptions,
    ModelConfigError,
    check_model_args,
)
from itbench_eval.agents.nop import NopAgent
from itbench_eval.agents.oracle import OracleAgent
from itbench_eval.agents.prior import PriorAgentFactory
from itbench_eval.agents.random_agent import RandomAgent
from itbench_eval.agents.replay import ReplayAgent, ReplayError, load_replay
from itbench_eval.errors import EvalError

__all__ = [
    "AGENT_FORMS",
    "BUILTIN_AGENTS",
    "CLI_PREFIXES",
    "AgentSpecError",
    "CliAgentFactory",
    "CliOptions",
    "DescribesSettings",
    "ModelAgentFactory",
    "agent_label",
    "resolve_agent",
]

AgentFactory = Callable[[], Agent]

BUILTIN_AGENTS: dict[str, AgentFactory] = {
    "baseline": BaselineAgent,
    "nop": NopAgent,
    "oracle": OracleAgent,
    "random": RandomAgent,
}
AGENT_FORMS = (
    "oracle, nop, baseline, prior, random, replay:FILE, py:module:attr, openai:MODEL, "
    "openai-responses:MODEL, anthropic:MODEL, claude-code[:MODEL], codex[:MODEL], gemini-cli[:MODEL], "
    "stirrup:MODEL or cmd:TEMPLATE"
)
CLI_PREFIXES = ("claude-code", "codex", "gemini-cli", "stirrup")


class AgentSpecError(EvalError, ValueError):
    """An ``--agent`` value names no agent; the message says which forms exist."""


@runtime_checkable
class DescribesSettings(Protocol):
    """A factory that can say how its agents are configured (model, arguments, policies)."""

    def agent_settings(self) -> dict[str, Any]: ...


class ModelAgentFactory:
    """Makes a :class:`~itbench_eval.agents.model_loop.ModelAgent` per run, all with one config."""

    def __init__(self, config: ModelAgentConfig) -> None:
        from itbench_eval.agents.prices import PriceTableError, load_price_table

        self.config = config
        try:
            self.prices = load_price_table(config.prices_path)
        except PriceTableError as error:
            raise AgentSpecError(str(error)) from None

    def __call__(self) -> Agent:
        from itbench_eval.agents.model_loop import ModelAgent

        return ModelAgent(self.config, self.prices)

    def agent_settings(self) -> dict[str, Any]:
        config = self.config
        return {
            "api": config.api,
            "model": config.model,
            "base_url": config.effective_base_url(),
            "api_key_env": config.key_env,
            "model_args": config.model_args,
            "stream": config.stream,
            "max_retries": config.max_retries,
            "request_timeout_s": config.request_timeout_s,
            **config.loop.model_dump(mode="json"),
            "price_table_as_of": self.prices.as_of.isoformat(),
            "price_table": str(config.prices_path) if config.prices_path else "bundled",
            "model_priced": self.prices.price_for(config.model) is not None,
        }


def _model_agent(prefix: str, model: str, options: ModelAgentOptions | None) -> ModelAgentFactory:
    spec = f"{prefix}:{model}"
    if not model:
        raise AgentSpecError(f"--agent {spec}: name the model, e.g. {prefix}:gpt-4o")
    options = options or ModelAgentOptions()
    config = ModelAgentConfig(api=AGENT_PREFIXES[prefix], model=model, **dict(options))
    try:
        check_model_args(config.api, config.model_args)
        config.api_key()  # fail now rather than in every run
    except ModelConfigError as error:
        raise AgentSpecError(str(error)) from None
    return ModelAgentFactory(config)


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


class CliOptions(BaseModel):
    """The options of the command-line agents (``--agent-bin``, ``--no-sandbox``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    binary: Path | None = None
    sandbox: bool = True


class CliAgentFactory:
    """Makes one CLI agent per run, all with one configuration."""

    def __init__(self, config: CliAgentConfig) -> None:
        self.config = config

    def __call__(self) -> Agent:
        from itbench_eval.agents.cli import CLI_AGENTS

        return CLI_AGENTS[self.config.kind](self.config)

    def agent_settings(self) -> dict[str, Any]:
        return {
            "cli": self.config.kind,
            "model": self.config.model,
            "base_url": self.config.base_url,
            "binary": str(self.config.binary) if self.config.binary else None,
            "sandbox": self.config.sandbox,
            "template": self.config.template,
        }


def _cli_agent(
    kind: str, model: str, model_options: ModelAgentOptions | None, cli_options: CliOptions | None
) -> CliAgentFactory:
    from itbench_eval.agents.cli import CLI_AGENTS
    from itbench_eval.agents.cli.base import CliSetupError

    options = model_options or ModelAgentOptions()
    cli = cli_options or CliOptions()
    config = CliAgentConfig.model_validate(
        {
            "kind": kind,
            "model": (model or None) if kind != "cmd" else None,
            "template": model if kind == "cmd" else None,
            "binary": cli.binary,
            "base_url": options.base_url,
            "api_key_env": options.api_key_env,
            "sandbox": cli.sandbox,
        }
    )
    try:
        CLI_AGENTS[kind](config).binary()  # fail now, naming the npm package to install
    except CliSetupError as error:
        raise AgentSpecError(f"--agent {kind}{':' + model if model else ''}: {error}") from None
    return CliAgentFactory(config)


def resolve_agent(
    spec: str, model_options: ModelAgentOptions | None = None, cli_options: CliOptions | None = None
) -> AgentFactory:
    """The factory for ``spec``; ``model_options`` configure the model-driven and CLI forms.

    Raises:
        AgentSpecError: no agent of that name, an unreadable replay file, an import failure, or a
            model agent that cannot be configured (no API key, a bad model argument or price table).
    """
    prefix, colon, model = spec.partition(":")
    if colon and prefix in AGENT_PREFIXES:
        return _model_agent(prefix, model, model_options)
    if prefix in CLI_PREFIXES or (prefix == "cmd" and colon):
        return _cli_agent(prefix, model, model_options, cli_options)
    if spec == "prior":
        return PriorAgentFactory()  # a fresh one: it is bound to one task set (bind_tasks)
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
