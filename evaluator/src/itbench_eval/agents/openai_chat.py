"""``--agent openai:MODEL``: the OpenAI Chat Completions API, through the official ``openai`` SDK.

The API most servers speak (OpenAI, vLLM, Ollama, llama.cpp server, LiteLLM, OpenRouter...).
Tools are ``{"type": "function", "function": {name, description, parameters}}``; results go
back as ``role: tool`` messages, an error prefixed with ``ERROR:`` (the format has no error flag).
"""

from __future__ import annotations

import inspect
import time
from abc import abstractmethod
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from itbench_eval.agents.base import ModelError
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

__all__ = [
    "ERROR_PREFIX",
    "OpenAIChatConversation",
    "OpenAIConversation",
    "chat_usage",
    "openai_client",
    "openai_error_detail",
]

ERROR_PREFIX = "ERROR: "


def openai_client(config: ModelAgentConfig) -> openai.AsyncOpenAI:
    """An SDK client with the configured endpoint, key, retries and timeout."""
    return openai.AsyncOpenAI(
        api_key=config.api_key(),
        base_url=config.effective_base_url(),
        max_retries=config.max_retries,
        timeout=config.request_timeout_s,
    )


def openai_error_detail(error: Exception) -> tuple[bool, str] | None:
    """(context overflow?, message) of an ``openai`` SDK error; None for other errors."""
    if not isinstance(error, openai.OpenAIError):
        return None
    message = describe_api_error(error)
    code = getattr(error, "code", None)
    overflow = isinstance(error, openai.BadRequestError) and (
        code == "context_length_exceeded" or is_context_overflow(message)
    )
    return overflow, message


def chat_usage(usage: Any) -> TokenUsage | None:
    if usage is None:
        return None
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    return TokenUsage(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        cached_tokens=(getattr(prompt_details, "cached_tokens", None) or 0),
        reasoning_tokens=(getattr(completion_details, "reasoning_tokens", None) or 0),
    )


class OpenAIConversation(ModelConversation):
    """What the two OpenAI APIs share: the SDK client, its errors, and how a tool result is sent.

    The APIs differ in the shape of a tool result (a ``role: tool`` message or a
    ``function_call_output`` item); each subclass says which in :meth:`_tool_result`.
    """

    def __init__(self, config: ModelAgentConfig, system: str, prompt: str, tools: list[ToolSpec]) -> None:
        super().__init__(config, system, prompt, tools)
        self._client = openai_client(config)

    @abstractmethod
    def _tool_result(self, call_id: str, text: str) -> tuple[dict[str, Any], str]:
        """The wire item carrying one tool result, and the key that holds its text."""

    def _error_detail(self, error: Exception) -> tuple[bool, str] | None:
        return openai_error_detail(error)

    def add_tool_results(self, outcomes: list[ToolOutcome], note: str | None = None) -> None:
        for outcome in outcomes:
            text = ERROR_PREFIX + outcome.text if outcome.is_error else outcome.text
            item, text_key = self._tool_result(outcome.call_id, text)
            self.messages.append(item)
            self._track_tool_result(item, text_key)
        if note:
            self.add_user_text(note)

    def add_user_text(self, text: str) -> None:
        self.messages.append({"role": "user", "content": text})

    async def aclose(self) -> None:
        await self._client.close()


class OpenAIChatConversation(OpenAIConversation):
    api = "openai-chat"

    def __init__(self, config: ModelAgentConfig, system: str, prompt: str, tools: list[ToolSpec]) -> None:
        super().__init__(config, system, prompt, tools)
        if system:
            self.messages.append({"role": "system", "content": system})
        self.messages.append({"role": "user", "content": prompt})
        self._tools = [
            {
                "type": "function",
                "function": {
                    "name": spec.name,
                    "description": spec.description,
                    "parameters": spec.parameters,
                },
            }
            for spec in tools
        ]
        known = set(inspect.signature(self._client.chat.completions.create).parameters)
        args = translate_model_args(self.api, config.model_args)
        self._kwargs, self._extra_body = split_known_args(known, args)

    async def _send(self, forced_tool: str | None, step: int) -> ModelReply:
        params: dict[str, Any] = {"model": self.config.model, "messages": self.messages, "tools": self._tools}
        params.update(self._kwargs)
        if forced_tool is not None:
            # Only the forced tool, and "required": the form every compatible server honours
            # (llama.cpp, for one, ignores a named tool_choice and would answer freely).
            params["tools"] = [tool for tool in self._tools if tool["function"]["name"] == forced_tool]
            params["tool_choice"] = "required"
        if self._extra_body:
            params["extra_body"] = self._extra_body
        if self.config.stream:
            params["stream_options"] = {"include_usage": True}
        self._record_request(step, params)
        started = time.monotonic()
        completion: ChatCompletion
        if self.config.stream:
            async with self._client.chat.completions.stream(**params) as stream:
                completion = await stream.get_final_completion()
        else:
            completion = await self._client.chat.completions.create(**params)
        self._record_response(step, completion, started)
        if not completion.choices:
            raise ModelError(f"the reply to step {step} has no choices")
        choice = completion.choices[0]
        message = choice.message
        calls: list[ModelToolCall] = []
        wire_calls: list[dict[str, Any]] = []
        for tool_call in message.tool_calls or []:
            function = getattr(tool_call, "function", None)
            if function is None:  # a custom (non-function) tool call: none is declared
                continue
            arguments, raw, problem = read_arguments(function.arguments)
            calls.append(ModelToolCall(tool_call.id, function.name, arguments, raw, problem))
            wire_calls.append(
                {
                    "id": tool_call.id,
                    "type": "function",
                    "function": {"name": function.name, "arguments": raw},
                }
            )
        assistant: dict[str, Any] = {"role": "assistant", "content": message.content}
        if wire_calls:
            assistant["tool_calls"] = wire_calls
        self.messages.append(assistant)
        return ModelReply(
            text=message.content or "",
            calls=calls,
            usage=chat_usage(completion.usage),
            model=completion.model,
            stop_reason=choice.finish_reason,
        )

    def _tool_result(self, call_id: str, text: str) -> tuple[dict[str, Any], str]:
        return {"role": "tool", "tool_call_id": call_id, "content": text}, "content"
