"""The model-driven agent: a tool-calling loop over one model API and the server's MCP tools.

One loop serves the three APIs (:mod:`~itbench_eval.agents.openai_chat`,
:mod:`~itbench_eval.agents.openai_responses`, :mod:`~itbench_eval.agents.anthropic_messages`);
each keeps its conversation in its own format behind :class:`ModelConversation`.

* The server's ``instructions`` are the system message, the task prompt the first user message;
  the MCP tool list becomes the API's function declarations.
* Each model request is one turn (:meth:`ToolSession.count_model_step`). Tool results go back
  as tool results, failed calls as errors the model can read and recover from: an unknown tool,
  arguments that are not a JSON object, a tool that returned an error.
* A tool result longer than the budget is cut (head and tail kept, with a marker).
* When the conversation grows past ``context_chars``, or the API answers that the context is
  too long, the oldest tool results are replaced by a marker, and the request is sent again.
* ``nudge_turns`` before the cap, the model is told how many turns are left. When the cap or
  the time budget is reached without a submission, the ``force`` policy gives it one last step
  in which the only tool it may call is ``submit_diagnosis``.
* Token use comes from each reply's ``usage``; the cost from the price table.
* Every request and reply, in full, goes to ``model_calls.jsonl`` in the run directory (a
  request records the messages added since the previous one; see :class:`CallRecorder`).

The SDKs retry 408/409/429/5xx and dropped connections themselves (``max_retries``, honouring
``retry-after``); an error left after that ends the run as ``model_error``
(:class:`~itbench_eval.agents.base.ModelError`).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import anyio
from mcp import MCPError
from mcp.types import Tool

from itbench_eval.agents.base import (
    SUBMIT_TOOL,
    AgentOutcome,
    EndedBy,
    ModelError,
    RunContext,
    RunLimits,
    ToolSession,
    Transcript,
    TurnLimitExceeded,
    result_text,
)
from itbench_eval.agents.model_config import ModelAgentConfig, ModelAPI
from itbench_eval.agents.prices import PriceTable, TokenUsage
from itbench_eval.errors import EvalError

__all__ = [
    "CONNECTION_CLOSED",
    "CONTINUE_TEXT",
    "CUT_MARKER",
    "ELIDED_MARKER",
    "FINAL_ANSWER_TEXT",
    "MAX_OVERFLOW_RETRIES",
    "MAX_TOOL_NAME",
    "MODEL_CALLS_FILE",
    "NUDGE_TEXT",
    "OVERFLOW_SHRINK",
    "CallRecorder",
    "ContextOverflowError",
    "ModelAgent",
    "ModelConversation",
    "ModelReply",
    "ModelToolCall",
    "ToolOutcome",
    "ToolSpec",
    "cut_to_budget",
    "describe_api_error",
    "is_context_overflow",
    "make_conversation",
    "read_arguments",
    "tool_specs",
    "wire_tool_name",
]

MODEL_CALLS_FILE = "model_calls.jsonl"
CONNECTION_CLOSED = -32000  # the MCP error code of a server that went away
MAX_TOOL_NAME = 64
# Context overflow retries of one step before giving up; each elides at least one tool result.
MAX_OVERFLOW_RETRIES = 50
# An overflow elides until the conversation has shrunk to this share of its size.
OVERFLOW_SHRINK = 0.75

ELIDED_MARKER = "[tool output elided to fit the context window; it was {chars} characters]"
CUT_MARKER = (
    "\n[... {cut} characters cut here: the tool output is limited to {limit} characters. "
    "Narrow the query (a filter, a smaller limit, a shorter time range) to see them ...]\n"
)
NUDGE_TEXT = (
    "You have {remaining} turns left. Finish the investigation and call submit_diagnosis with "
    "the root causes before the turns run out."
)
CONTINUE_TEXT = (
    "Continue the investigation with the tools, and call submit_diagnosis with the root causes "
    "when you have found them."
)
FINAL_ANSWER_TEXT = (
    "The {budget} is used up. Call submit_diagnosis now with the root causes you have found, "
    "with your reasoning and evidence. This is your last turn; no other tool can be called."
)

_OVERFLOW_PATTERN = re.compile(
    r"context[_ ]length[_ ]exceeded|context length|context window|maximum context|prompt is too long"
    r"|too many (input )?tokens|exceeds? the (available )?context|input is too long|reduce the length",
    re.IGNORECASE,
)


def is_context_overflow(message: str) -> bool:
    """Whether an API error message says the conversation no longer fits the model's context."""
    return bool(_OVERFLOW_PATTERN.search(message))


class ContextOverflowError(EvalError):
    """The API refused the request because the conversation is too long for the model."""


# ---------------------------------------------------------------------------------------------
# Tools


@dataclass(frozen=True)
class ToolSpec:
    """One MCP tool as a function declaration: ``name`` is what the model sees."""

    name: str
    mcp_name: str
    description: str
    parameters: dict[str, Any]


def wire_tool_name(name: str) -> str:
    """``name`` made acceptable to every API: ``[A-Za-z0-9_-]``, at most 64 characters."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name) or "tool"
    if len(safe) <= MAX_TOOL_NAME:
        return safe
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{safe[: MAX_TOOL_NAME - 9]}_{digest}"


def tool_specs(tools: Sequence[Tool]) -> list[ToolSpec]:
    """The declarations of ``tools``, their input schemas as they are (plus ``properties``,
    which the MCP spec leaves optional and OpenAI requires)."""
    specs: list[ToolSpec] = []
    for tool in tools:
        schema = dict(tool.input_schema or {})
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        specs.append(ToolSpec(wire_tool_name(tool.name), tool.name, tool.description or "", schema))
    return specs


@dataclass(frozen=True)
class ModelToolCall:
    """A tool call as the model made it; ``problem`` says why its arguments cannot be used."""

    call_id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str
    problem: str | None = None


def read_arguments(raw: object) -> tuple[dict[str, Any] | None, str, str | None]:
    """(arguments, their text, the problem) of a call's arguments as an API returned them."""
    if isinstance(raw, dict):
        return raw, json.dumps(raw), None
    text = raw if isinstance(raw, str) else json.dumps(raw)
    if isinstance(raw, str) and not raw.strip():
        return {}, text, None  # some servers send "" for a call without arguments
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        return None, text, f"they are not valid JSON ({error.msg} at character {error.pos})"
    if not isinstance(parsed, dict):
        return None, text, f"they are a JSON {type(parsed).__name__}, not an object"
    return parsed, text, None


@dataclass(frozen=True)
class ModelReply:
    """One assistant turn, whatever the API."""

    text: str
    calls: list[ModelToolCall]
    usage: TokenUsage | None
    model: str | None
    stop_reason: str | None


@dataclass(frozen=True)
class ToolOutcome:
    """What goes back to the model for one call."""

    call_id: str
    name: str
    text: str
    is_error: bool


def cut_to_budget(text: str, limit: int) -> str:
    """``text`` if it fits ``limit`` characters, else its head and tail around a marker."""
    if len(text) <= limit:
        return text
    keep = max(limit - len(CUT_MARKER) - 20, limit // 2)
    head, tail = keep * 2 // 3, keep - keep * 2 // 3
    cut = len(text) - head - tail
    return text[:head] + CUT_MARKER.format(cut=cut, limit=limit) + text[len(text) - tail :]


# ---------------------------------------------------------------------------------------------
# The record of every model call


class CallRecorder:
    """``model_calls.jsonl``: every request and reply in full, one JSON object a line.

    A ``request`` event holds the request's parameters; its conversation is given as
    ``messages_kept`` (how many leading messages are the same as in the previous request) and
    ``messages_added`` (the rest, in full), so the file grows with the conversation, not with its
    square. The tool declarations are written when they change (``tools``, else ``tools_sha``).
    A ``response`` event holds the reply as the SDK parsed it; an ``error`` event the failure.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")
        self._sent: list[str] = []
        self._tools_sha: str | None = None
        self._started = time.monotonic()

    def _write(self, event: dict[str, Any]) -> None:
        event = {"t": round(time.monotonic() - self._started, 4), **event}
        self._file.write(json.dumps(event, default=str, ensure_ascii=False) + "\n")
        self._file.flush()

    def header(self, **fields: Any) -> None:
        self._write({"type": "header", **fields})

    def request(self, step: int, params: dict[str, Any], conversation_key: str) -> None:
        params = dict(params)
        conversation = list(params.pop(conversation_key, []))
        tools = params.pop("tools", None)
        encoded = [json.dumps(message, default=str, sort_keys=True) for message in conversation]
        kept = 0
        while kept < min(len(encoded), len(self._sent)) and encoded[kept] == self._sent[kept]:
            kept += 1
        self._sent = encoded
        event: dict[str, Any] = {"type": "request", "step": step, "params": params}
        if tools is not None:
            sha = hashlib.sha256(json.dumps(tools, sort_keys=True, default=str).encode()).hexdigest()[:16]
            event["tools_sha"] = sha
            if sha != self._tools_sha:
                event["tools"] = tools
                self._tools_sha = sha
        event["messages_kept"] = kept
        event["messages_added"] = conversation[kept:]
        self._write(event)

    def response(self, step: int, response: Any, latency_s: float) -> None:
        self._write(
            {"type": "response", "step": step, "latency_s": round(latency_s, 4), "response": response}
        )

    def error(self, step: int, error: BaseException, latency_s: float) -> None:
        detail: dict[str, Any] = {"error": f"{type(error).__name__}: {error}"}
        status = getattr(error, "status_code", None)
        if status is not None:
            detail["status"] = status
        body = getattr(error, "body", None)
        if body is not None:
            detail["body"] = body
        self._write({"type": "error", "step": step, "latency_s": round(latency_s, 4), **detail})

    def close(self) -> None:
        self._file.close()


# ---------------------------------------------------------------------------------------------
# A conversation in one API's format


class ModelConversation(ABC):
    """The conversation with one model, in its API's format, and the API calls that extend it.

    Subclasses keep ``messages`` (what is sent) and register each tool result's text with
    :meth:`_track_tool_result`, so that the oldest can be elided when the context is too long.
    """

    api: ClassVar[ModelAPI]
    conversation_key: ClassVar[str] = "messages"

    def __init__(self, config: ModelAgentConfig, system: str, prompt: str, tools: list[ToolSpec]) -> None:
        self.config = config
        self.system = system
        self.tools = tools
        self.messages: list[dict[str, Any]] = []
        self._tool_results: list[tuple[dict[str, Any], str]] = []  # (container, key of its text)
        self._elided = 0
        self.recorder: CallRecorder | None = None

    # -- what each API implements

    @abstractmethod
    async def _send(self, forced_tool: str | None, step: int) -> ModelReply:
        """Send the conversation; append the reply to it; raise the SDK's own errors."""

    @abstractmethod
    def _error_detail(self, error: Exception) -> tuple[bool, str] | None:
        """(is the API error a context overflow, its message), or None for a non-API error."""

    @abstractmethod
    def add_tool_results(self, outcomes: list[ToolOutcome], note: str | None = None) -> None:
        """Append the results of the last reply's calls, and ``note`` as user text after them."""

    @abstractmethod
    def add_user_text(self, text: str) -> None:
        """Append a user message (merged into a trailing user message where the API needs it)."""

    @abstractmethod
    async def aclose(self) -> None: ...

    # -- shared

    def _track_tool_result(self, container: dict[str, Any], key: str) -> None:
        self._tool_results.append((container, key))

    def _record_request(self, step: int, params: dict[str, Any]) -> None:
        if self.recorder is not None:
            self.recorder.request(step, params, self.conversation_key)

    def _record_response(self, step: int, response: Any, started: float) -> None:
        if self.recorder is not None:
            # warnings=False: a malformed reply (tool input that is not an object) is recorded as it came.
            dump = (
                response.model_dump(mode="json", exclude_none=True, warnings=False)
                if hasattr(response, "model_dump")
                else response
            )
            self.recorder.response(step, dump, time.monotonic() - started)

    @property
    def elided(self) -> int:
        """How many tool results have been elided so far."""
        return self._elided

    def size_chars(self) -> int:
        """The length of the conversation as sent, in characters (a proxy for tokens)."""
        return len(self.system) + len(json.dumps(self.messages, default=str))

    def elide_oldest_tool_result(self) -> int:
        """Replace the oldest tool result still whole by a marker; the characters saved (0: none left)."""
        for container, key in self._tool_results:
            text = container.get(key)
            if isinstance(text, str) and not text.startswith("[tool output elided"):
                marker = ELIDED_MARKER.format(chars=len(text))
                if len(marker) >= len(text):
                    continue
                container[key] = marker
                self._elided += 1
                return len(text) - len(marker)
        return 0

    async def request(self, forced_tool: str | None, step: int) -> ModelReply:
        """The model's next turn (appended to the conversation).

        Raises:
            ContextOverflowError: the API says the conversation is too long.
            ModelError: any other API failure left after the SDK's retries.
        """
        started = time.monotonic()
        try:
            return await self._send(forced_tool, step)
        except Exception as error:
            detail = self._error_detail(error)
            if detail is None:
                raise
            if self.recorder is not None:
                self.recorder.error(step, error, time.monotonic() - started)
            overflow, message = detail
            if overflow:
                raise ContextOverflowError(message) from error
            raise ModelError(message) from error


def make_conversation(
    config: ModelAgentConfig, system: str, prompt: str, tools: list[ToolSpec]
) -> ModelConversation:
    """A conversation with ``config``'s API (its SDK imported only now)."""
    if config.api == "openai-chat":
        from itbench_eval.agents.openai_chat import OpenAIChatConversation

        return OpenAIChatConversation(config, system, prompt, tools)
    if config.api == "openai-responses":
        from itbench_eval.agents.openai_responses import OpenAIResponsesConversation

        return OpenAIResponsesConversation(config, system, prompt, tools)
    from itbench_eval.agents.anthropic_messages import AnthropicConversation

    return AnthropicConversation(config, system, prompt, tools)


def describe_api_error(error: Exception) -> str:
    """One line for an SDK error: its class, HTTP status and message."""
    status = getattr(error, "status_code", None)
    message = getattr(error, "message", None) or str(error)
    prefix = f"{type(error).__name__} (HTTP {status})" if status is not None else type(error).__name__
    return f"{prefix}: {message}"


# ---------------------------------------------------------------------------------------------
# The agent


class ModelAgent:
    """Drives one model through the investigation; one instance per run."""

    def __init__(self, config: ModelAgentConfig, prices: PriceTable) -> None:
        self.config = config
        self.prices = prices
        self._usage = TokenUsage()
        self._replies = 0
        self._replies_without_usage = 0
        self._requests = 0
        self._forced = False
        self._ended_by: EndedBy | None = None
        self._answering_model: str | None = None
        self._notes: list[str] = []

    # -- accounting

    def partial_outcome(self) -> AgentOutcome:
        """What was spent so far: tokens from every reply's usage, their cost, the requests."""
        # No reply at all (every request failed or was abandoned): nothing is known, not zero.
        known = self._replies > 0 and self._replies_without_usage == 0
        usage = self._usage
        cost = None
        if known:
            cost = self.prices.cost_usd(self.config.model, usage)
            if cost is None and self._answering_model:
                cost = self.prices.cost_usd(self._answering_model, usage)
        notes = list(self._notes)
        if self._replies_without_usage:
            notes.append(f"{self._replies_without_usage} replies without usage: tokens and cost unknown")
        return AgentOutcome(
            tokens_in=usage.input_tokens if known else None,
            tokens_out=usage.output_tokens if known else None,
            tokens_cached=usage.cached_tokens if known else None,
            tokens_reasoning=usage.reasoning_tokens if known else None,
            cost_usd=cost,
            model_requests=self._requests,
            forced_final_answer=self._forced,
            ended_by=self._ended_by,
            note="; ".join(notes),
        )

    def _account(self, reply: ModelReply) -> None:
        self._replies += 1
        if reply.usage is None:
            self._replies_without_usage += 1
        else:
            self._usage = self._usage + reply.usage
        if reply.model:
            self._answering_model = reply.model

    # -- one step

    async def _ask(
        self, conversation: ModelConversation, transcript: Transcript, step: int, forced_tool: str | None
    ) -> ModelReply:
        """One model turn, eliding old tool results until the conversation fits."""
        budget = self.config.loop.context_chars
        if budget is not None:
            while conversation.size_chars() > budget and conversation.elide_oldest_tool_result():
                pass
        for _ in range(MAX_OVERFLOW_RETRIES):
            self._requests += 1
            transcript.write(
                "model_request", step=step, forced_tool=forced_tool, chars=conversation.size_chars()
            )
            try:
                reply = await conversation.request(forced_tool, step)
            except ContextOverflowError as overflow:
                size = conversation.size_chars()
                target = int(size * OVERFLOW_SHRINK)
                saved = conversation.elide_oldest_tool_result()
                if not saved:
                    raise ModelError(
                        f"the conversation ({size} characters) is too long for the model and no tool "
                        f"output is left to elide: {overflow}"
                    ) from overflow
                while conversation.size_chars() > target and conversation.elide_oldest_tool_result():
                    pass
                transcript.write(
                    "context_elided", step=step, chars_before=size, chars_after=conversation.size_chars(),
                    elided_total=conversation.elided, reason=str(overflow),
                )  # fmt: skip
                continue
            self._account(reply)
            transcript.write(
                "model_reply",
                step=step,
                text=reply.text,
                calls=[{"name": call.name, "arguments": call.raw_arguments} for call in reply.calls],
                usage=reply.usage.model_dump() if reply.usage else None,
                stop_reason=reply.stop_reason,
            )
            return reply
        raise ModelError(f"the context still overflowed after {MAX_OVERFLOW_RETRIES} elisions")

    async def _execute(
        self,
        session: ToolSession,
        transcript: Transcript,
        call: ModelToolCall,
        by_name: dict[str, ToolSpec],
        allowed: set[str] | None = None,
    ) -> ToolOutcome:
        """Run one call through the session; a call that cannot be run is an error for the model."""

        def refuse(message: str) -> ToolOutcome:
            transcript.write(
                "tool_call_refused", tool=call.name, arguments=call.raw_arguments, reason=message
            )
            return ToolOutcome(call.call_id, call.name, message, is_error=True)

        spec = by_name.get(call.name)
        if spec is None:
            names = ", ".join(sorted(by_name))
            return refuse(f"There is no tool named {call.name!r}. The tools are: {names}.")
        if allowed is not None and call.name not in allowed:
            return refuse(f"Only {', '.join(sorted(allowed))} may be called now.")
        if call.arguments is None:
            return refuse(
                f"The arguments of {call.name} could not be used: {call.problem}. "
                "Call it again with one JSON object that matches its schema."
            )
        try:
            result = await session.call_tool(spec.mcp_name, call.arguments)
        except MCPError as error:
            if error.code == CONNECTION_CLOSED:
                raise
            return ToolOutcome(call.call_id, call.name, f"Error calling {call.name}: {error}", is_error=True)
        text = result_text(result)
        limit = self.config.loop.tool_output_chars
        if len(text) > limit:
            transcript.write("tool_output_cut", tool=call.name, chars=len(text), limit=limit)
            text = cut_to_budget(text, limit)
        return ToolOutcome(call.call_id, call.name, text, is_error=bool(result.is_error))

    # -- the loop

    def _soft_deadline(self, limits: RunLimits, started: float) -> float:
        """When to stop asking for investigation steps, keeping time for a forced final answer."""
        if limits.timeout_s is None:
            return float("inf")
        reserve = self.config.loop.final_answer_reserve_s
        if reserve is None:
            reserve = min(limits.timeout_s / 10, 120.0)
        return started + max(limits.timeout_s - reserve, 0.0)

    async def run(self, context: RunContext) -> AgentOutcome:
        session = context.require_session()
        prompt = context.prompt
        limits = context.limits
        transcript = context.transcript
        started = anyio.current_time()
        soft_deadline = self._soft_deadline(limits, started)
        listed = await session.list_tools()
        tools = tool_specs(listed.tools)
        by_name = {spec.name: spec for spec in tools}
        submit = next((spec for spec in tools if spec.mcp_name == SUBMIT_TOOL), None)
        conversation = make_conversation(self.config, session.instructions or "", prompt, tools)
        recorder = CallRecorder(transcript.path.parent / MODEL_CALLS_FILE)
        conversation.recorder = recorder
        recorder.header(
            api=self.config.api,
            model=self.config.model,
            base_url=self.config.effective_base_url(),
            stream=self.config.stream,
            model_args=self.config.model_args,
            system=conversation.system,
            prompt=prompt,
        )
        loop = self.config.loop
        text_replies = 0
        try:
            while True:
                if anyio.current_time() >= soft_deadline:
                    self._ended_by = "time_budget"
                    break
                try:
                    session.count_model_step()
                except TurnLimitExceeded:
                    self._ended_by = "turn_cap"
                    break
                step = session.model_steps
                reply = None
                left = soft_deadline - anyio.current_time()
                with anyio.move_on_after(left if left != float("inf") else None):
                    reply = await self._ask(conversation, transcript, step, forced_tool=None)
                if reply is None:  # the time budget ran out during the request
                    self._notes.append("a request abandoned at the time budget is not in the token counts")
                    self._ended_by = "time_budget"
                    break
                outcomes = [await self._execute(session, transcript, call, by_name) for call in reply.calls]
                if session.submitted:
                    self._ended_by = "submitted"
                    break
                remaining = limits.max_turns - session.model_steps
                note = None
                if loop.nudge_turns and remaining == loop.nudge_turns:
                    note = NUDGE_TEXT.format(remaining=remaining)
                    transcript.write("nudge", step=step, remaining=remaining)
                if reply.calls:
                    text_replies = 0
                    conversation.add_tool_results(outcomes, note)
                    continue
                text_replies += 1
                if text_replies >= loop.text_reply_limit:
                    self._ended_by = "model_stopped"
                    break
                conversation.add_user_text(f"{note}\n\n{CONTINUE_TEXT}" if note else CONTINUE_TEXT)
            if (
                self._ended_by in ("turn_cap", "time_budget")
                and loop.final_answer == "force"
                and submit is not None
                and not session.submitted
            ):
                await self._final_answer(session, transcript, conversation, submit, by_name)
        finally:
            # Shielded: a run cancelled at its time limit still closes its HTTP client.
            with anyio.CancelScope(shield=True):
                await conversation.aclose()
            recorder.close()
        if conversation.elided:
            self._notes.append(f"{conversation.elided} tool results elided to fit the context")
        outcome = self.partial_outcome()
        transcript.write("model_summary", **outcome.model_dump(exclude_none=True))
        return outcome

    async def _final_answer(
        self,
        session: ToolSession,
        transcript: Transcript,
        conversation: ModelConversation,
        submit: ToolSpec,
        by_name: dict[str, ToolSpec],
    ) -> None:
        """One last step in which only ``submit_diagnosis`` may be called."""
        self._forced = True
        budget = "turn budget" if self._ended_by == "turn_cap" else "time budget"
        transcript.write("forced_final_answer", reason=self._ended_by)
        conversation.add_user_text(FINAL_ANSWER_TEXT.format(budget=budget))
        reply = await self._ask(conversation, transcript, session.model_steps + 1, forced_tool=submit.name)
        for call in reply.calls:
            await self._execute(session, transcript, call, by_name, allowed={submit.name})
            if session.submitted:
                break
        self._notes.append(
            "forced final answer " + ("submitted" if session.submitted else "made no submission")
        )
