"""How a model-driven agent is configured: which API, which model, which options.

``--agent openai:MODEL`` (Chat Completions), ``--agent openai-responses:MODEL`` (Responses API)
and ``--agent anthropic:MODEL`` (Messages) select the API; ``--base-url`` points it at another
endpoint (vLLM, Ollama, llama.cpp server, a proxy, the mock model); the key comes from
``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY`` (or the variable ``--api-key-env`` names).

``--model-arg KEY=VALUE`` options go to the API as they are, values read as JSON when they
parse (``temperature=0`` is a number, ``reasoning_effort=high`` a string). A few keys mean the
same thing on every API and are translated:

* ``max_output_tokens``: Chat ``max_completion_tokens``, Responses ``max_output_tokens``,
  Anthropic ``max_tokens``;
* ``reasoning_effort``: Chat ``reasoning_effort``, Responses ``reasoning.effort``, Anthropic
  ``output_config.effort``;
* ``thinking_budget`` (Anthropic only): ``thinking = {type: enabled, budget_tokens: N}``.

Keys the SDK method does not know go in the request body as they are (``extra_body``), so
server-specific options (vLLM's ``top_k``, ``chat_template_kwargs``...) pass through too.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from itbench_eval.errors import EvalError

__all__ = [
    "AGENT_PREFIXES",
    "ANTHROPIC_DEFAULT_MAX_TOKENS",
    "DEFAULT_API_KEY_ENV",
    "DEFAULT_BASE_URL_ENV",
    "PLACEHOLDER_API_KEY",
    "RESERVED_ARGS",
    "LoopOptions",
    "ModelAgentConfig",
    "ModelAgentOptions",
    "ModelConfigError",
    "add_model_agent_arguments",
    "check_model_args",
    "options_from_arguments",
    "parse_model_arg",
    "parse_model_args",
    "split_known_args",
    "translate_model_args",
]

ModelAPI = Literal["openai-chat", "openai-responses", "anthropic"]
FinalAnswerPolicy = Literal["force", "off"]

# The --agent prefix of each API.
AGENT_PREFIXES: dict[str, ModelAPI] = {
    "openai": "openai-chat",
    "openai-responses": "openai-responses",
    "anthropic": "anthropic",
}
DEFAULT_API_KEY_ENV: dict[ModelAPI, str] = {
    "openai-chat": "OPENAI_API_KEY",
    "openai-responses": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
}
DEFAULT_BASE_URL_ENV: dict[ModelAPI, str] = {
    "openai-chat": "OPENAI_BASE_URL",
    "openai-responses": "OPENAI_BASE_URL",
    "anthropic": "ANTHROPIC_BASE_URL",
}
# A local server needs no key, but the SDKs refuse to start without one.
PLACEHOLDER_API_KEY = "not-needed"
ANTHROPIC_DEFAULT_MAX_TOKENS = 8192
# What the loop itself sets: a model argument must not override it.
RESERVED_ARGS = frozenset(
    {
        "model",
        "messages",
        "input",
        "tools",
        "tool_choice",
        "system",
        "instructions",
        "stream",
        "stream_options",
    }
)


class ModelConfigError(EvalError, ValueError):
    """A model agent cannot be configured as asked; the message says which option is wrong."""


class LoopOptions(BaseModel):
    """How the agent loop treats the model: budgets, nudges, the forced final answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    final_answer: FinalAnswerPolicy = Field(
        default="force",
        description="force: when the turn cap or time budget is reached without a submission, "
        "one last step allows only submit_diagnosis; off: the run just ends",
    )
    nudge_turns: int = Field(
        default=5, ge=0, description="remind the model when this many turns are left (0: never)"
    )
    tool_output_chars: int = Field(
        default=20_000, ge=200, description="a tool result longer than this is cut (head and tail kept)"
    )
    context_chars: int | None = Field(
        default=None,
        ge=1000,
        description="elide the oldest tool results while the conversation is longer than this; "
        "without it only a context-overflow error from the API elides",
    )
    text_reply_limit: int = Field(
        default=2,
        ge=1,
        description="consecutive replies without a tool call after which the model has stopped",
    )
    final_answer_reserve_s: float | None = Field(
        default=None,
        gt=0,
        description="time kept for the forced final answer before the time limit "
        "(default: a tenth of the limit, at most 120 s)",
    )


class ModelAgentOptions(BaseModel):
    """The options of ``--agent openai:...`` and its kin, apart from the API and the model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str | None = None
    api_key_env: str | None = Field(default=None, description="default: OPENAI_API_KEY or ANTHROPIC_API_KEY")
    model_args: dict[str, Any] = Field(default_factory=dict)
    stream: bool = False
    max_retries: int = Field(
        default=2, ge=0, description="the SDK's retries of 408/409/429/5xx and lost connections"
    )
    request_timeout_s: float = Field(default=600.0, gt=0, description="the SDK's timeout of one request")
    loop: LoopOptions = Field(default_factory=LoopOptions)
    prices_path: Path | None = Field(default=None, description="a price table replacing the bundled one")


class ModelAgentConfig(ModelAgentOptions):
    """Everything a model-driven agent needs apart from the MCP session."""

    api: ModelAPI
    model: str = Field(min_length=1)

    @property
    def key_env(self) -> str:
        return self.api_key_env or DEFAULT_API_KEY_ENV[self.api]

    def effective_base_url(self) -> str | None:
        """``--base-url``, else the SDK's own environment variable, else None (the vendor's API)."""
        return self.base_url or os.environ.get(DEFAULT_BASE_URL_ENV[self.api]) or None

    def api_key(self) -> str:
        """The key from the environment; a placeholder for an endpoint given by URL.

        Raises:
            ModelConfigError: no key and no base URL (the vendor's API would refuse every call).
        """
        key = os.environ.get(self.key_env)
        if key:
            return key
        if self.effective_base_url() is not None:
            return PLACEHOLDER_API_KEY
        raise ModelConfigError(
            f"--agent {self.agent_spec()}: set {self.key_env} (or give --base-url for a server that needs no key)"
        )

    def agent_spec(self) -> str:
        prefix = next(name for name, api in AGENT_PREFIXES.items() if api == self.api)
        return f"{prefix}:{self.model}"


def parse_model_arg(text: str) -> tuple[str, Any]:
    """``KEY=VALUE``, the value read as JSON when it parses (``0``, ``true``, ``{"a": 1}``), else a string.

    Raises:
        ModelConfigError: no ``=`` or an empty key.
    """
    key, equals, raw = text.partition("=")
    key = key.strip()
    if not equals or not key:
        raise ModelConfigError(f"--model-arg {text}: expected KEY=VALUE, e.g. temperature=0")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def parse_model_args(texts: list[str] | None) -> dict[str, Any]:
    """Every ``--model-arg``; a key given twice keeps its last value."""
    return dict(parse_model_arg(text) for text in texts or [])


def check_model_args(api: ModelAPI, model_args: dict[str, Any]) -> None:
    """Refuse model arguments that cannot work with ``api``.

    Raises:
        ModelConfigError: a reserved key, or an option of another API.
    """
    for key in model_args:
        if key in RESERVED_ARGS:
            hint = " (use --stream)" if key.startswith("stream") else ""
            raise ModelConfigError(
                f"--model-arg {key}: set by the agent loop itself, not a model argument{hint}"
            )
    if "thinking_budget" in model_args:
        if api != "anthropic":
            raise ModelConfigError(
                "--model-arg thinking_budget: Anthropic only; use reasoning_effort=... here"
            )
        budget = model_args["thinking_budget"]
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1024:
            raise ModelConfigError("--model-arg thinking_budget: a whole number of tokens, at least 1024")


def split_known_args(known: set[str], args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(keyword arguments the SDK method takes, the rest for ``extra_body``)."""
    kwargs = {key: value for key, value in args.items() if key in known}
    extra = {key: value for key, value in args.items() if key not in known}
    return kwargs, extra


def translate_model_args(api: ModelAPI, model_args: dict[str, Any]) -> dict[str, Any]:
    """``model_args`` with the cross-API keys turned into ``api``'s own parameters."""
    args = dict(model_args)
    max_output = args.pop("max_output_tokens", None)
    effort = args.pop("reasoning_effort", None)
    if api == "openai-chat":
        if max_output is not None:
            args.setdefault("max_completion_tokens", max_output)
        if effort is not None:
            args["reasoning_effort"] = effort
    elif api == "openai-responses":
        if max_output is not None:
            args["max_output_tokens"] = max_output
        if effort is not None:
            reasoning = dict(args.get("reasoning") or {})
            reasoning.setdefault("effort", effort)
            args["reasoning"] = reasoning
    else:
        budget = args.pop("thinking_budget", None)
        if max_output is not None:
            args.setdefault("max_tokens", max_output)
        if effort is not None:
            output_config = dict(args.get("output_config") or {})
            output_config.setdefault("effort", effort)
            args["output_config"] = output_config
        if budget is not None:
            args["thinking"] = {"type": "enabled", "budget_tokens": budget}
        max_tokens = args.setdefault("max_tokens", ANTHROPIC_DEFAULT_MAX_TOKENS)
        if budget is not None and isinstance(max_tokens, int) and max_tokens <= budget:
            # The thinking budget is part of max_tokens: leave room for the answer.
            args["max_tokens"] = budget + ANTHROPIC_DEFAULT_MAX_TOKENS
    return args


def add_model_agent_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``itbench-eval run`` options of the model agents, as one argument group."""
    group = parser.add_argument_group("model agents (openai:MODEL, openai-responses:MODEL, anthropic:MODEL)")
    group.add_argument(
        "--base-url",
        default=None,
        metavar="URL",
        help="the API endpoint: http://HOST:PORT/v1 for OpenAI-compatible servers, http://HOST:PORT for "
        "Anthropic (default: the vendor's, or OPENAI_BASE_URL / ANTHROPIC_BASE_URL)",
    )
    group.add_argument(
        "--api-key-env",
        default=None,
        metavar="NAME",
        help="the environment variable holding the key (default OPENAI_API_KEY or ANTHROPIC_API_KEY)",
    )
    group.add_argument(
        "--model-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a request option, repeatable: temperature=0, reasoning_effort=high, max_output_tokens=4096, "
        "thinking_budget=8000 (Anthropic), any other the server takes; VALUE is read as JSON if it parses",
    )
    group.add_argument("--stream", action="store_true", help="stream the model's replies (SSE)")
    group.add_argument(
        "--final-answer",
        choices=("force", "off"),
        default="force",
        help="force (default): at the turn cap or time budget without a submission, one last step in which "
        "only submit_diagnosis may be called; off: the run just ends",
    )
    group.add_argument(
        "--nudge-turns",
        type=int,
        default=5,
        metavar="N",
        help="tell the model when N turns are left (default 5; 0: never)",
    )
    group.add_argument(
        "--tool-output-chars",
        type=int,
        default=20_000,
        metavar="N",
        help="cut longer tool results, keeping head and tail (default 20000)",
    )
    group.add_argument(
        "--context-chars",
        type=int,
        default=None,
        metavar="N",
        help="elide the oldest tool results while the conversation is longer (default: only when the API "
        "says the context is full)",
    )
    group.add_argument(
        "--max-retries", type=int, default=2, metavar="N", help="the SDK's retries of 429/5xx (default 2)"
    )
    group.add_argument(
        "--request-timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="the SDK's timeout of one model request (default 600)",
    )
    group.add_argument(
        "--prices",
        type=Path,
        default=None,
        metavar="FILE",
        help="a price table replacing the bundled one (default: the bundled one)",
    )


def options_from_arguments(args: argparse.Namespace) -> ModelAgentOptions:
    """The :class:`ModelAgentOptions` of parsed ``itbench-eval run`` arguments.

    Raises:
        ModelConfigError: a malformed ``--model-arg`` or an option out of range (named as on the
            command line).
    """
    option_names = {
        "final_answer": "--final-answer",
        "nudge_turns": "--nudge-turns",
        "tool_output_chars": "--tool-output-chars",
        "context_chars": "--context-chars",
        "max_retries": "--max-retries",
        "request_timeout_s": "--request-timeout",
    }
    try:
        loop = LoopOptions(
            final_answer=args.final_answer,
            nudge_turns=args.nudge_turns,
            tool_output_chars=args.tool_output_chars,
            context_chars=args.context_chars,
        )
        return ModelAgentOptions(
            base_url=args.base_url,
            api_key_env=args.api_key_env,
            model_args=parse_model_args(args.model_arg),
            stream=args.stream,
            max_retries=args.max_retries,
            request_timeout_s=args.request_timeout,
            loop=loop,
            prices_path=args.prices,
        )
    except ValidationError as error:
        detail = error.errors()[0]
        field = str(detail["loc"][0]) if detail["loc"] else ""
        raise ModelConfigError(f"{option_names.get(field, field)}: {detail['msg']}") from None
