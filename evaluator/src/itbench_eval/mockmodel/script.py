"""The script a mock model answers from: steps chosen by how far the conversation has got.

A script is YAML or JSON::

    steps:
      - call: get_overview                 # a tool call (arguments default to {})
      - call: get_alerts
        arguments: {limit: 20}
        fail: {status: 429, retry_after_s: 0.01, times: 1}   # the first attempt is refused
      - submit: [otel-demo/Deployment/ad]  # short for submit_diagnosis(contributing_factors=[...])
      - say: I have submitted my diagnosis.
    after_last: say_final_text             # or repeat_last: a model that never stops
    forced: {submit: [otel-demo/Deployment/ad]}   # the reply when a request forces one tool

Step ``i`` answers a request whose conversation already holds ``i`` assistant turns, so the
script needs no memory of earlier requests: any number of conversations can go through one
server at once, and a retried request gets the same step again. The only exception is ``fail``
with ``times``: the attempt number is read from the ``x-stainless-retry-count`` header the
official SDKs send; a client without it is counted per identical request body.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from itbench_eval.errors import EvalError

__all__ = [
    "MATCH_KEY",
    "SUBMIT_TOOL",
    "FailureSpec",
    "Script",
    "ScriptError",
    "ScriptStep",
    "ToolCallSpec",
    "UsageSpec",
    "dump_script",
    "fill_matches",
    "load_script",
]

SUBMIT_TOOL = "submit_diagnosis"
MATCH_KEY = "$match"


class ScriptError(EvalError, ValueError):
    """A script cannot be read or is not valid; the message names the file and the problem."""


class UsageSpec(BaseModel):
    """The token counts a reply reports; ``None`` means estimated from the text (4 characters a token)."""

    model_config = ConfigDict(extra="forbid")

    input_tokens: int | None = Field(default=None, ge=0, description="prompt tokens, cached ones included")
    output_tokens: int | None = Field(default=None, ge=0, description="output tokens, reasoning included")
    cached_tokens: int = Field(default=0, ge=0, description="prompt tokens read from a cache")
    cache_write_tokens: int = Field(default=0, ge=0, description="prompt tokens written to a cache")
    reasoning_tokens: int = Field(default=0, ge=0)


class FailureSpec(BaseModel):
    """An HTTP error instead of the step's reply, on the first ``times`` attempts (always if unset)."""

    model_config = ConfigDict(extra="forbid")

    status: int = Field(default=500, ge=400, le=599)
    message: str = "the mock model failed on purpose"
    retry_after_s: float | None = Field(
        default=None, ge=0, description="sent as retry-after-ms; the SDKs wait that long before retrying"
    )
    times: int | None = Field(default=None, ge=1, description="failed attempts before the reply; unset: all")


class ToolCallSpec(BaseModel):
    """One tool call in a reply."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str | None = Field(
        default=None, description="sent verbatim instead of the arguments: a malformed call"
    )


class ScriptStep(BaseModel):
    """One reply: tool calls, text, or both; optionally delayed or preceded by failures."""

    model_config = ConfigDict(extra="forbid")

    call: str | None = Field(default=None, description="name of a tool to call")
    arguments: dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str | None = None
    calls: list[ToolCallSpec] | None = Field(default=None, description="several calls in one reply")
    submit: list[str | dict[str, Any]] | None = Field(
        default=None, description="root causes to submit: names, or contributing_factors entries"
    )
    say: str | None = Field(default=None, description="assistant text (with calls: said before them)")
    fail: FailureSpec | None = None
    delay_s: float = Field(default=0.0, ge=0, description="wait this long before answering: a slow reply")
    usage: UsageSpec | None = None

    @model_validator(mode="after")
    def _says_or_calls_something(self) -> ScriptStep:
        given = [self.call is not None, self.calls is not None, self.submit is not None]
        if sum(given) > 1:
            raise ValueError("a step has at most one of call, calls and submit")
        if not any(given) and self.say is None:
            raise ValueError("a step needs call, calls, submit or say")
        return self

    def tool_calls(self) -> list[ToolCallSpec]:
        """The calls this step makes, ``submit`` expanded to a ``submit_diagnosis`` call."""
        if self.call is not None:
            return [ToolCallSpec(name=self.call, arguments=self.arguments, raw_arguments=self.raw_arguments)]
        if self.calls is not None:
            return list(self.calls)
        if self.submit is not None:
            factors = [
                {"name": item, "reasoning": "scripted", "evidence": "scripted"}
                if isinstance(item, str)
                else item
                for item in self.submit
            ]
            return [ToolCallSpec(name=SUBMIT_TOOL, arguments={"contributing_factors": factors})]
        return []


class Script(BaseModel):
    """Every reply a mock model gives, by step."""

    model_config = ConfigDict(extra="forbid")

    steps: list[ScriptStep] = Field(min_length=1)
    after_last: Literal["say_final_text", "repeat_last"] = Field(
        default="say_final_text", description="the reply past the last step"
    )
    final_text: str = "Done."
    forced: ScriptStep | None = Field(
        default=None, description="the reply when a request forces one tool (else the step as usual)"
    )
    usage: UsageSpec = Field(default_factory=UsageSpec, description="token counts of every reply")
    context_limit_chars: int | None = Field(
        default=None, ge=1, description="refuse conversations longer than this as a context overflow"
    )
    model: str | None = Field(
        default=None, description="the model name replies carry; default: the request's"
    )

    def tool_names(self) -> list[str]:
        """Every tool the script calls, in order of first use (the forced reply's too)."""
        names: list[str] = []
        for step in [*self.steps, *([self.forced] if self.forced else [])]:
            names += [call.name for call in step.tool_calls() if call.name not in names]
        return names

    def step_for(self, assistant_turns: int, forced_tool: str | None) -> tuple[int, ScriptStep]:
        """The step answering a conversation with ``assistant_turns`` turns, and its index."""
        if forced_tool is not None and self.forced is not None:
            return assistant_turns, self.forced
        if assistant_turns < len(self.steps):
            return assistant_turns, self.steps[assistant_turns]
        if self.after_last == "repeat_last":
            return assistant_turns, self.steps[-1]
        return assistant_turns, ScriptStep(say=self.final_text)


def load_script(source: Path | str | dict[str, Any]) -> Script:
    """A script from a YAML/JSON file, YAML/JSON text, or an already parsed mapping.

    Raises:
        ScriptError: the file cannot be read or parsed, or the script is not valid.
    """
    where = "script"
    if isinstance(source, Path):
        where = f"script {source}"
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ScriptError(f"{where}: cannot read: {error}") from None
    elif isinstance(source, str):
        text = source
    else:
        text = None
    data: object = source if text is None else None
    if text is not None:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ScriptError(f"{where}: not YAML or JSON: {str(error).splitlines()[0]}") from None
    try:
        return Script.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "(top)"
        raise ScriptError(f"{where}: {location}: {first['msg']}") from None


def fill_matches(value: Any, conversation_text: str) -> Any:
    """``value`` with every ``{"$match": REGEX}`` replaced by what REGEX finds in the tool results.

    The replacement is the first match's first group (or the whole match without groups), or
    the empty string when nothing matches: a script can quote evidence from its own
    conversation, which shows that tool results reach the model and that runs do not mix.
    """
    if isinstance(value, dict):
        if set(value) == {MATCH_KEY} and isinstance(value[MATCH_KEY], str):
            found = re.search(value[MATCH_KEY], conversation_text, re.MULTILINE)
            if found is None:
                return ""
            return found.group(1) if found.groups() else found.group(0)
        return {key: fill_matches(item, conversation_text) for key, item in value.items()}
    if isinstance(value, list):
        return [fill_matches(item, conversation_text) for item in value]
    return value


def dump_script(script: Script) -> str:
    """The script as JSON (what a recorded request log refers to)."""
    return json.dumps(script.model_dump(mode="json", exclude_none=True), indent=2)
