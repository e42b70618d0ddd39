"""``--agent anthropic:MODEL``: the Anthropic Messages API, through the official ``anthropic`` SDK.

The server's instructions go in ``system``. Tools are ``{name, description, input_schema}``;
results go back in one user message of ``tool_result`` blocks, a failed call with
``is_error: true``. The assistant's content blocks, thinking blocks included, are sent back
unchanged, as extended thinking requires. Anthropic refuses a forced tool choice while thinking
is on, so the forced final answer is asked for without thinking.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

import anthropic
from anthropic.types import Message

from itbench_eval.agents.model_config import ModelAgentConfig, split_known_args, translate_model_args
from itbench_eval.agents.model_loop import (
    ModelConversation,
    ModelReply,
    ModelToolCall,
    ToolOutcome,
    ToolSpec,
    describe_api_error,
    is_context_overflow,
    read_arguments,
)
from itbench_eval.agents.prices import TokenUsage

__all__ = ["EMPTY_REPLY", "AnthropicConversation", "anthropic_usage"]

# The API refuses an assistant turn with no content; an empty reply is kept as this text.
EMPTY_REPLY = "(no reply)"


def anthropic_usage(usage: Any) -> TokenUsage | None:
    if usage is None:
        return None
    cached = usage.cache_read_input_tokens or 0
    written = usage.cache_creation_input_tokens or 0
    return TokenUsage(
        # Anthropic's input_tokens leaves out the cached and cache-written tokens.
        input_tokens=(usage.input_tokens or 0) + cached + written,
        output_tokens=usage.output_tokens or 0,
        cached_tokens=cached,
        cache_write_tokens=written,
    )


class AnthropicConversation(ModelConversation):
    api = "anthropic"

    def __init__(self, config: ModelAgentConfig, system: str, prompt: str, tools: list[ToolSpec]) -> None:
        super().__init__(config, system, prompt, tools)
        self._client = anthropic.AsyncAnthropic(
            api_key=config.api_key(),
            base_url=config.effective_base_url(),
            max_retries=config.max_retries,
            timeout=config.request_timeout_s,
        )
        self.messages.append({"role": "user", "content": prompt})
        self._tools = [
            {"name": spec.name, "description": spec.description, "input_schema": spec.parameters}
            for spec in tools
        ]
        known = set(inspect.signature(self._client.messages.create).parameters)
        args = translate_model_args(self.api, config.model_args)
        self._kwargs, self._extra_body = split_known_args(known, args)

    async def _send(self, forced_tool: str | None, step: int) -> ModelReply:
        params: dict[str, Any] = {"model": self.config.model, "messages": self.messages, "tools": self._tools}
        if self.system:
            params["system"] = self.system
        params.update(self._kwargs)
        if forced_tool is not None:
            params["tool_choice"] = {"type": "tool", "name": forced_tool}
            params.pop("thinking", None)
        if self._extra_body:
            params["extra_body"] = self._extra_body
        self._record_request(step, params)
        started = time.monotonic()
        message: Message
        if self.config.stream:
            async with self._client.messages.stream(**params) as stream:
                message = await stream.get_final_message()
        else:
            message = await self._client.messages.create(**params)
        self._record_response(step, message, started)
        blocks: list[dict[str, Any]] = []
        texts: list[str] = []
        calls: list[ModelToolCall] = []
        for block in message.content:
            wire_block = block.to_dict(exclude_none=True, warnings=False)
            wire_block.pop("parsed_output", None)  # added by the SDK's stream parser
            blocks.append(wire_block)
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                arguments, raw, problem = read_arguments(block.input)
                calls.append(ModelToolCall(block.id, block.name, arguments, raw, problem))
        self.messages.append(
            {"role": "assistant", "content": blocks or [{"type": "text", "text": EMPTY_REPLY}]}
        )
        return ModelReply(
            text="\n".join(texts),
            calls=calls,
            usage=anthropic_usage(message.usage),
            model=message.model,
            stop_reason=message.stop_reason,
        )

    def _error_detail(self, error: Exception) -> tuple[bool, str] | None:
        if not isinstance(error, anthropic.AnthropicError):
            return None
        message = describe_api_error(error)
        overflow = isinstance(error, anthropic.BadRequestError) and is_context_overflow(message)
        return overflow, message

    def add_tool_results(self, outcomes: list[ToolOutcome], note: str | None = None) -> None:
        content: list[dict[str, Any]] = []
        for outcome in outcomes:
            block = {
                "type": "tool_result",
                "tool_use_id": outcome.call_id,
                "content": outcome.text,
                "is_error": outcome.is_error,
            }
            content.append(block)
            self._track_tool_result(block, "content")
        if note:
            content.append({"type": "text", "text": note})
        self.messages.append({"role": "user", "content": content})

    def add_user_text(self, text: str) -> None:
        last = self.messages[-1] if self.messages else None
        if last is not None and last["role"] == "user":
            # Roles must alternate: text after tool results joins their user message.
            if isinstance(last["content"], str):
                last["content"] = [{"type": "text", "text": last["content"]}]
            last["content"].append({"type": "text", "text": text})
            return
        self.messages.append({"role": "user", "content": text})

    async def aclose(self) -> None:
        await self._client.close()
