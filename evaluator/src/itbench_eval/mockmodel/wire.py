"""The four wire formats the mock model speaks: reading a request, writing a reply or an error.

* OpenAI Chat Completions (``POST .../chat/completions``);
* OpenAI Responses (``POST .../responses``);
* Anthropic Messages (``POST .../messages``);
* Gemini ``generateContent`` (``POST .../models/M:generateContent``, ``:streamGenerateContent``).

Each request is reduced to a :class:`ConversationView` (how many assistant turns it holds, its
tool results, its tools, whether it forces one tool), and a :class:`Reply` is written back in
the same format, as one JSON body or as server-sent events. Streams are sent whole, framed by
``Content-Length``, which every SDK accepts.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "TOOL_SEARCH",
    "ConversationView",
    "Reply",
    "ReplyCall",
    "ReplyUsage",
    "json_stub",
    "read_request",
    "render_error",
    "render_reply",
    "wire_of_path",
]

Wire = Literal["openai-chat", "openai-responses", "anthropic", "gemini"]


@dataclass(frozen=True)
class ConversationView:
    """What the script needs to know about one request."""

    wire: Wire
    model: str
    stream: bool
    assistant_turns: int
    tool_results: list[str]
    tools: list[str]
    forced_tool: str | None
    chars: int
    include_usage: bool = False
    namespaces: dict[str, str] = field(default_factory=dict)
    """Tool name -> the namespace it is offered in (Codex groups MCP tools in one)."""
    text: str = ""
    """The whole request body as text: deferred tool names appear only there (Claude Code)."""
    json_schema: dict[str, Any] | None = None
    """The schema of a JSON-only side request (Gemini CLI's router and next-speaker checks)."""

    @property
    def tool_results_text(self) -> str:
        return "\n".join(self.tool_results)

    def resolve_tool(self, name: str) -> tuple[str, str | None] | None:
        """The offered tool a script's ``name`` means, with its namespace; None if none is offered.

        CLI agents rename MCP tools: Claude Code ``mcp__<server>__<tool>``, Gemini CLI
        ``mcp_<server>_<tool>``, Codex a ``<tool>`` inside the namespace ``mcp__<server>``.
        """
        if name in self.tools:
            return name, self.namespaces.get(name)
        for offered in self.tools:
            if offered.endswith(f"__{name}") or (offered.startswith("mcp_") and offered.endswith(f"_{name}")):
                return offered, self.namespaces.get(offered)
        return None


@dataclass(frozen=True)
class ReplyCall:
    """A tool call as sent: ``arguments`` is the JSON text, malformed on purpose or not."""

    call_id: str
    name: str
    arguments: str
    namespace: str | None = None


@dataclass(frozen=True)
class ReplyUsage:
    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class Reply:
    """One assistant turn: text, tool calls, or both."""

    response_id: str
    model: str
    text: str | None
    calls: list[ReplyCall] = field(default_factory=list)
    usage: ReplyUsage = field(default_factory=lambda: ReplyUsage(0, 0))


def _text_of(content: Any) -> str:
    """The text of a message content: a string, or a list of parts with text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
                elif "content" in part:
                    parts.append(_text_of(part["content"]))
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    if content is None:
        return ""
    return json.dumps(content)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _chat_view(body: dict[str, Any], stream: bool) -> ConversationView:
    messages = _dicts(body.get("messages"))
    tools = [str(tool.get("function", {}).get("name", "")) for tool in _dicts(body.get("tools"))]
    choice = body.get("tool_choice")
    forced = None
    if isinstance(choice, dict):
        forced = choice.get("function", {}).get("name")
    elif choice == "required" and len(tools) == 1:
        forced = tools[0]
    options = body.get("stream_options")
    return ConversationView(
        wire="openai-chat",
        model=str(body.get("model", "")),
        stream=stream,
        assistant_turns=sum(1 for message in messages if message.get("role") == "assistant"),
        tool_results=[_text_of(m.get("content")) for m in messages if m.get("role") == "tool"],
        tools=tools,
        forced_tool=forced,
        chars=len(json.dumps(messages)),
        include_usage=isinstance(options, dict) and bool(options.get("include_usage")),
    )


_RESPONSES_ASSISTANT_ITEMS = frozenset({"function_call", "reasoning"})


def _responses_view(body: dict[str, Any], stream: bool) -> ConversationView:
    raw_input = body.get("input")
    items = [{"role": "user", "content": raw_input}] if isinstance(raw_input, str) else _dicts(raw_input)
    turns = 0
    in_assistant_turn = False
    results: list[str] = []
    for item in items:
        kind = item.get("type", "message")
        assistant = kind in _RESPONSES_ASSISTANT_ITEMS or (
            kind == "message" and item.get("role") == "assistant"
        )
        if assistant and not in_assistant_turn:
            turns += 1  # a reply's items (reasoning, text, calls) come in one run: one turn
        in_assistant_turn = assistant
        if kind == "function_call_output":
            results.append(_text_of(item.get("output")))
    tools: list[str] = []
    namespaces: dict[str, str] = {}
    for tool in _dicts(body.get("tools")):
        if tool.get("type") == "namespace":
            for inner in _dicts(tool.get("tools")):
                tools.append(str(inner.get("name", "")))
                namespaces[str(inner.get("name", ""))] = str(tool.get("name", ""))
        else:
            tools.append(str(tool.get("name", "")))
    choice = body.get("tool_choice")
    forced = None
    if isinstance(choice, dict) and choice.get("type") == "function":
        forced = choice.get("name")
    elif choice == "required" and len(tools) == 1:
        forced = tools[0]
    return ConversationView(
        wire="openai-responses",
        model=str(body.get("model", "")),
        stream=stream,
        assistant_turns=turns,
        tool_results=results,
        tools=tools,
        forced_tool=forced,
        chars=len(json.dumps(items)),
        namespaces=namespaces,
    )


TOOL_SEARCH = "ToolSearch"
"""Claude Code's tool that loads deferred (MCP) tools; the mock calls it itself, off the script."""


def _only_tool_search(message: dict[str, Any]) -> bool:
    """Whether an assistant message only loaded deferred tools (a turn the script does not count)."""
    calls = [block for block in _dicts(message.get("content")) if block.get("type") == "tool_use"]
    return bool(calls) and all(block.get("name") == TOOL_SEARCH for block in calls)


def _anthropic_view(body: dict[str, Any], stream: bool) -> ConversationView:
    messages = _dicts(body.get("messages"))
    results = [
        _text_of(block.get("content"))
        for message in messages
        if message.get("role") == "user"
        for block in _dicts(message.get("content"))
        if block.get("type") == "tool_result"
    ]
    tools = [str(tool.get("name", "")) for tool in _dicts(body.get("tools"))]
    choice = body.get("tool_choice")
    forced = None
    if isinstance(choice, dict):
        if choice.get("type") == "tool":
            forced = choice.get("name")
        elif choice.get("type") == "any" and len(tools) == 1:
            forced = tools[0]
    return ConversationView(
        wire="anthropic",
        model=str(body.get("model", "")),
        stream=stream,
        assistant_turns=sum(
            1 for message in messages if message.get("role") == "assistant" and not _only_tool_search(message)
        ),
        tool_results=results,
        tools=tools,
        forced_tool=forced,
        chars=len(json.dumps(messages)),
    )


def _gemini_view(body: dict[str, Any], model: str, stream: bool) -> ConversationView:
    contents = _dicts(body.get("contents"))
    results = [
        json.dumps(part["functionResponse"].get("response"))
        for content in contents
        for part in _dicts(content.get("parts"))
        if isinstance(part.get("functionResponse"), dict)
    ]
    tools = [
        str(declaration.get("name", ""))
        for tool in _dicts(body.get("tools"))
        for declaration in _dicts(tool.get("functionDeclarations") or tool.get("function_declarations"))
    ]
    generation = body.get("generationConfig") or {}
    schema = generation.get("responseJsonSchema") or generation.get("responseSchema")
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    allowed = config.get("allowedFunctionNames") or []
    forced = allowed[0] if config.get("mode") == "ANY" and len(allowed) == 1 else None
    if forced is None and config.get("mode") == "ANY" and len(tools) == 1:
        forced = tools[0]
    return ConversationView(
        wire="gemini",
        model=model,
        stream=stream,
        assistant_turns=sum(1 for content in contents if content.get("role") == "model"),
        tool_results=results,
        tools=tools,
        forced_tool=forced,
        chars=len(json.dumps(contents)),
        json_schema=schema if isinstance(schema, dict) else None,
    )


def wire_of_path(path: str) -> Wire | None:
    """Which API a POST to ``path`` (without its query) is for; None: none."""
    if path.endswith("/chat/completions"):
        return "openai-chat"
    if path.endswith("/responses"):
        return "openai-responses"
    if path.endswith("/messages"):
        return "anthropic"
    if path.endswith((":generateContent", ":streamGenerateContent")):
        return "gemini"
    return None


def read_request(wire: Wire, path: str, body: dict[str, Any]) -> ConversationView:
    """The view of one request body sent to ``path``."""
    if wire == "openai-chat":
        view = _chat_view(body, stream=bool(body.get("stream")))
    elif wire == "openai-responses":
        view = _responses_view(body, stream=bool(body.get("stream")))
    elif wire == "anthropic":
        view = _anthropic_view(body, stream=bool(body.get("stream")))
    else:
        model = path.rsplit("/", 1)[-1].split(":", 1)[0]
        view = _gemini_view(body, model=model, stream=path.endswith(":streamGenerateContent"))
    return dataclasses.replace(view, text=json.dumps(body))


def json_stub(schema: dict[str, Any]) -> Any:
    """A value that fits ``schema``: the first enum value, empty strings, ones, nested objects."""
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    kind = (kind[0] if kind else None) if isinstance(kind, list) else kind
    kind = kind.lower() if isinstance(kind, str) else kind
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        return {name: json_stub(sub) for name, sub in properties.items() if isinstance(sub, dict)}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return False
    return ""


# ---------------------------------------------------------------------------------------------
# Replies


def _sse(events: list[tuple[str | None, Any]]) -> bytes:
    lines: list[str] = []
    for name, data in events:
        if name is not None:
            lines.append(f"event: {name}")
        lines.append("data: " + (data if isinstance(data, str) else json.dumps(data)))
        lines.append("")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _pieces(text: str, size: int = 16) -> list[str]:
    """``text`` cut into a few deltas, as a real stream would send it."""
    return [text[start : start + size] for start in range(0, len(text), size)] or [""]


def _chat_usage(usage: ReplyUsage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _chat(reply: Reply, view: ConversationView) -> tuple[str, bytes]:
    finish = "tool_calls" if reply.calls else "stop"
    tool_calls = [
        {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in reply.calls
    ]
    base = {"id": reply.response_id, "created": 0, "model": reply.model}
    if not view.stream:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if tool_calls:
            message["tool_calls"] = tool_calls
        body = {
            **base,
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": _chat_usage(reply.usage),
        }
        return "application/json", json.dumps(body).encode("utf-8")

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return {**base, "object": "chat.completion.chunk", "choices": [choice]}

    events: list[tuple[str | None, Any]] = [(None, chunk({"role": "assistant", "content": ""}))]
    if reply.text:
        events += [(None, chunk({"content": piece})) for piece in _pieces(reply.text)]
    for index, call in enumerate(reply.calls):
        start = {"index": index, "id": call.call_id, "type": "function"}
        start["function"] = {"name": call.name, "arguments": ""}
        events.append((None, chunk({"tool_calls": [start]})))
        events += [
            (None, chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
            for piece in _pieces(call.arguments)
        ]
    events.append((None, chunk({}, finish)))
    if view.include_usage:
        events.append(
            (
                None,
                {**base, "object": "chat.completion.chunk", "choices": [], "usage": _chat_usage(reply.usage)},
            )
        )
    events.append((None, "[DONE]"))
    return "text/event-stream", _sse(events)


def _responses_items(reply: Reply, in_progress: bool = False) -> list[dict[str, Any]]:
    status = "in_progress" if in_progress else "completed"
    items: list[dict[str, Any]] = []
    if reply.text:
        text = "" if in_progress else reply.text
        content = [] if in_progress else [{"type": "output_text", "text": text, "annotations": []}]
        items.append(
            {
                "type": "message",
                "id": f"msg_{reply.response_id}",
                "role": "assistant",
                "status": status,
                "content": content,
            }
        )
    items += [
        {
            "type": "function_call",
            "id": f"fc_{call.call_id}",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": "" if in_progress else call.arguments,
            "status": status,
            **({"namespace": call.namespace} if call.namespace else {}),
        }
        for call in reply.calls
    ]
    return items


def _responses_body(reply: Reply, view: ConversationView, status: str, with_output: bool) -> dict[str, Any]:
    usage = reply.usage
    return {
        "id": reply.response_id,
        "object": "response",
        "created_at": 0,
        "status": status,
        "model": reply.model,
        "output": _responses_items(reply) if with_output else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "temperature": None,
        "top_p": None,
        "usage": (
            {
                "input_tokens": usage.input_tokens,
                "input_tokens_details": {"cached_tokens": usage.cached_tokens},
                "output_tokens": usage.output_tokens,
                "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
                "total_tokens": usage.input_tokens + usage.output_tokens,
            }
            if with_output
            else None
        ),
    }


def _responses(reply: Reply, view: ConversationView) -> tuple[str, bytes]:
    if not view.stream:
        body = _responses_body(reply, view, "completed", with_output=True)
        return "application/json", json.dumps(body).encode("utf-8")
    sequence = 0
    events: list[tuple[str | None, Any]] = []

    def emit(event_type: str, **data: Any) -> None:
        nonlocal sequence
        events.append((event_type, {"type": event_type, "sequence_number": sequence, **data}))
        sequence += 1

    emit("response.created", response=_responses_body(reply, view, "in_progress", with_output=False))
    emit("response.in_progress", response=_responses_body(reply, view, "in_progress", with_output=False))
    started, done = _responses_items(reply, in_progress=True), _responses_items(reply)
    for index, (item, final) in enumerate(zip(started, done, strict=True)):
        emit("response.output_item.added", output_index=index, item=item)
        if final["type"] == "message":
            text = final["content"][0]["text"]
            empty = {"type": "output_text", "text": "", "annotations": []}
            location = {"item_id": final["id"], "output_index": index, "content_index": 0}
            emit("response.content_part.added", **location, part=empty)
            for piece in _pieces(text):
                emit("response.output_text.delta", **location, delta=piece, logprobs=[])
            emit("response.output_text.done", **location, text=text, logprobs=[])
            emit("response.content_part.done", **location, part=final["content"][0])
        else:
            for piece in _pieces(final["arguments"]):
                emit(
                    "response.function_call_arguments.delta",
                    item_id=final["id"],
                    output_index=index,
                    delta=piece,
                )
            emit(
                "response.function_call_arguments.done",
                item_id=final["id"],
                output_index=index,
                name=final["name"],
                arguments=final["arguments"],
            )
        emit("response.output_item.done", output_index=index, item=final)
    emit("response.completed", response=_responses_body(reply, view, "completed", with_output=True))
    return "text/event-stream", _sse(events)


def _anthropic_input(arguments: str) -> Any:
    """Tool input as an object; text that is not a JSON object goes as a string (malformed)."""
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError:
        return arguments
    return parsed if isinstance(parsed, dict) else arguments


def _anthropic(reply: Reply, view: ConversationView) -> tuple[str, bytes]:
    usage = reply.usage
    usage_body = {
        "input_tokens": max(usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens, 0),
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
    }
    blocks: list[dict[str, Any]] = []
    if reply.text:
        blocks.append({"type": "text", "text": reply.text})
    blocks += [
        {"type": "tool_use", "id": c.call_id, "name": c.name, "input": _anthropic_input(c.arguments)}
        for c in reply.calls
    ]
    stop_reason = "tool_use" if reply.calls else "end_turn"
    message = {
        "id": reply.response_id,
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage_body,
    }
    if not view.stream:
        return "application/json", json.dumps(message).encode("utf-8")
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage_body, "output_tokens": 1}}
    events: list[tuple[str | None, Any]] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(block["text"])]
        else:
            opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": piece}
                for piece in _pieces(json.dumps(block["input"]))
            ]
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": opening})
        )
        events += [
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            for delta in deltas
        ]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": usage.output_tokens},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return "text/event-stream", _sse(events)


def _gemini(reply: Reply, view: ConversationView) -> tuple[str, bytes]:
    parts: list[dict[str, Any]] = []
    if reply.text:
        parts.append({"text": reply.text})
    parts += [
        {"functionCall": {"name": c.name, "args": _anthropic_input(c.arguments), "id": c.call_id}}
        for c in reply.calls
    ]
    usage = reply.usage
    body = {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {
            "promptTokenCount": usage.input_tokens,
            "candidatesTokenCount": usage.output_tokens - usage.reasoning_tokens,
            "thoughtsTokenCount": usage.reasoning_tokens,
            "cachedContentTokenCount": usage.cached_tokens,
            "totalTokenCount": usage.input_tokens + usage.output_tokens,
        },
        "modelVersion": reply.model,
        "responseId": reply.response_id,
    }
    if view.stream:
        return "text/event-stream", _sse([(None, body)])
    return "application/json", json.dumps(body).encode("utf-8")


def render_reply(reply: Reply, view: ConversationView) -> tuple[str, bytes]:
    """(content type, body) of ``reply`` in the request's format."""
    renderers = {
        "openai-chat": _chat,
        "openai-responses": _responses,
        "anthropic": _anthropic,
        "gemini": _gemini,
    }
    return renderers[view.wire](reply, view)


ErrorKind = Literal["failure", "context_overflow", "bad_request", "not_found"]

_OPENAI_ERROR_TYPES = {429: "rate_limit_error", 400: "invalid_request_error", 404: "not_found_error"}
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_GEMINI_STATUSES = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}


def render_error(wire: Wire | None, status: int, message: str, kind: ErrorKind = "failure") -> bytes:
    """An error body the way each API writes it (context overflows with their usual code)."""
    if wire == "anthropic":
        error_type = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        body: dict[str, Any] = {"type": "error", "error": {"type": error_type, "message": message}}
    elif wire == "gemini":
        body = {
            "error": {"code": status, "message": message, "status": _GEMINI_STATUSES.get(status, "INTERNAL")}
        }
    else:
        code = "context_length_exceeded" if kind == "context_overflow" else None
        if status == 429:
            code = "rate_limit_exceeded"
        error_type = _OPENAI_ERROR_TYPES.get(status, "server_error")
        body = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    return json.dumps(body).encode("utf-8")
