"""``--agent openai-responses:MODEL``: the OpenAI Responses API, through the official ``openai`` SDK.

The conversation is kept on this side (no ``previous_response_id``): each request sends every
input item so far, the model's own output items (reasoning, messages, function calls) passed
back as they came. The server's instructions go in ``instructions``. Tools are flat
``{"type": "function", name, description, parameters, "strict": false}``; results go back as
``function_call_output`` items, an error prefixed with ``ERROR:``.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from openai.types.responses import Response

from itbench_eval.agents.base import ModelError
from itbench_eval.agents.model_config import ModelAgentConfig, split_known_args, translate_model_args
from itbench_eval.agents.model_loop import (
    ModelReply,
    ModelToolCall,
    ToolSpec,
    read_arguments,
)
from itbench_eval.agents.openai_chat import OpenAIConversation
from itbench_eval.agents.prices import TokenUsage

__all__ = ["OpenAIResponsesConversation", "responses_usage"]


def responses_usage(usage: Any) -> TokenUsage | None:
    if usage is None:
        return None
    input_details = getattr(usage, "input_tokens_details", None)
    output_details = getattr(usage, "output_tokens_details", None)
    return TokenUsage(
        input_tokens=usage.input_tokens or 0,
        output_tokens=usage.output_tokens or 0,
        cached_tokens=(getattr(input_details, "cached_tokens", None) or 0),
        reasoning_tokens=(getattr(output_details, "reasoning_tokens", None) or 0),
    )


class OpenAIResponsesConversation(OpenAIConversation):
    api = "openai-responses"
    conversation_key = "input"

    def __init__(self, config: ModelAgentConfig, system: str, prompt: str, tools: list[ToolSpec]) -> None:
        super().__init__(config, system, prompt, tools)
        self.messages.append({"role": "user", "content": prompt})
        self._tools = [
            {
                "type": "function",
                "name": spec.name,
                "description": spec.description,
                "parameters": spec.parameters,
                "strict": False,  # the server's schemas are not written for strict mode
            }
            for spec in tools
        ]
        known = set(inspect.signature(self._client.responses.create).parameters)
        args = translate_model_args(self.api, config.model_args)
        self._kwargs, self._extra_body = split_known_args(known, args)

    async def _send(self, forced_tool: str | None, step: int) -> ModelReply:
        params: dict[str, Any] = {"model": self.config.model, "input": self.messages, "tools": self._tools}
        if self.system:
            params["instructions"] = self.system
        params.update(self._kwargs)
        if forced_tool is not None:
            params["tools"] = [tool for tool in self._tools if tool.get("name") == forced_tool]
            params["tool_choice"] = "required"
        if self._extra_body:
            params["extra_body"] = self._extra_body
        self._record_request(step, params)
        started = time.monotonic()
        response: Response
        if self.config.stream:
            async with self._client.responses.stream(**params) as stream:
                response = await stream.get_final_response()
        else:
            response = await self._client.responses.create(**params)
        self._record_response(step, response, started)
        if response.status == "failed":
            detail = response.error.message if response.error is not None else "no detail"
            raise ModelError(f"the response to step {step} failed: {detail}")
        texts: list[str] = []
        calls: list[ModelToolCall] = []
        for item in response.output:
            # Passed back as they came: reasoning items must accompany the calls they led to.
            wire_item = item.to_dict(exclude_none=True, warnings=False)
            wire_item.pop("parsed_arguments", None)  # fields the SDK's parser adds are not input
            content = wire_item.get("content")
            for part in content if isinstance(content, list) else []:
                if isinstance(part, dict):
                    part.pop("parsed", None)
            self.messages.append(wire_item)
            if item.type == "function_call":
                arguments, raw, problem = read_arguments(item.arguments)
                calls.append(ModelToolCall(item.call_id, item.name, arguments, raw, problem))
            elif item.type == "message":
                texts.extend(part.text for part in item.content if part.type == "output_text")
        reason = (
            response.incomplete_details.reason if response.incomplete_details is not None else response.status
        )
        return ModelReply(
            text="\n".join(texts),
            calls=calls,
            usage=responses_usage(response.usage),
            model=response.model,
            stop_reason=reason,
        )

    def _tool_result(self, call_id: str, text: str) -> tuple[dict[str, Any], str]:
        return {"type": "function_call_output", "call_id": call_id, "output": text}, "output"
