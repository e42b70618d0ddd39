"""What every tool call shares: annotations, error translation, argument and reply bounds,
the concurrency limit and the per-call time limit.

Tools are thin wrappers over the analysis layer. A failure the model can fix (a ``QueryError``)
must reach it as a ``ToolError`` whose message says how to fix the call; :func:`tool_errors`
does that translation for any tool function, sync or async.

Three middlewares bound every ``tools/call``, whatever the tool:

- :func:`argument_guard_middleware` refuses, before validation, arguments no tool can take: a
  string longer than ``MAX_ARGUMENT_CHARS``, holding a NUL character or a lone surrogate (not
  encodable as UTF-8), or more than :data:`MAX_ARGUMENT_VALUES` values or
  :data:`MAX_ARGUMENTS_CHARS` characters in all;
- :func:`concurrency_limit_middleware` runs at most ``max_calls`` calls at once. Sync tools run
  in anyio's worker threads (40 per event loop, shared with everything else), so without it a
  client sending many slow calls could hold every thread. A call that finds no free slot waits
  up to ``wait`` seconds, then answers that the server is busy;
- :func:`bounded_reply_middleware` cuts the text of any reply, errors included, to the output
  budget (tools page their own output; this is for what they cannot foresee, such as a long
  validation error) and makes it encodable as UTF-8.

The time limit works on the DuckDB cursors a call opens. :func:`time_limit_middleware` gives
each ``tools/call`` a :class:`CallScope`; every cursor opened from a snapshot view made with
``snapshot.with_cursor_hook(track_cursor)`` while the call runs joins that scope, and when the
limit passes the middleware interrupts them all, so a slow query really stops instead of
running on in an abandoned thread. The call then answers with an error that says to narrow it.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import threading
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Final, ParamSpec, TypeVar, cast

import anyio
import duckdb
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations

from itbench_server.errors import QueryError, quoted
from itbench_server.mcp.limits import MAX_ARGUMENT_CHARS
from itbench_server.mcp.output import clip_text

__all__ = [
    "MAX_ARGUMENTS_CHARS",
    "MAX_ARGUMENT_VALUES",
    "READ_ONLY",
    "CallScope",
    "argument_guard_middleware",
    "argument_problem",
    "bound_reply",
    "bounded_reply_middleware",
    "budget_spent_message",
    "busy_message",
    "concurrency_limit_middleware",
    "plain_validation_middleware",
    "plain_validation_text",
    "time_limit_message",
    "time_limit_middleware",
    "tool_call_budget_middleware",
    "tool_errors",
    "track_cursor",
]

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
"""The annotations of every investigation tool: they only read the recording."""

P = ParamSpec("P")
T = TypeVar("T")


def tool_errors(function: Callable[P, T]) -> Callable[P, T]:
    """Let a ``QueryError`` from ``function`` reach the model as a ``ToolError``.

    A query stopped by the time limit also becomes a ``ToolError`` (which the time-limit
    middleware then words), rather than a crash logged with its traceback.

    Works on sync and async tool functions; the signature (and so the tool's input schema)
    is kept. Use it under ``@server.tool(...)``::

        @server.tool(annotations=READ_ONLY)
        @tool_errors
        def get_alerts(...) -> str: ...
    """
    if inspect.iscoroutinefunction(function):
        async_function = cast(Callable[..., Awaitable[Any]], function)

        @functools.wraps(function)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await async_function(*args, **kwargs)
            except QueryError as error:
                raise ToolError(str(error)) from error
            except duckdb.InterruptException:
                raise ToolError("the call was stopped") from None

        return cast(Callable[P, T], async_wrapper)

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return function(*args, **kwargs)
        except QueryError as error:
            raise ToolError(str(error)) from error
        except duckdb.InterruptException:  # the time limit stopped a query
            raise ToolError("the call was stopped") from None

    return wrapper


class CallScope:
    """The cursors one tool call has open, so that they can be interrupted together."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self.interrupted = False

    def add(self, cursor: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            if self.interrupted:
                # The limit passed before this cursor was opened: the call is over.
                cursor.close()
                raise ToolError("the call ran out of time")
            self._cursors.append(cursor)

    def interrupt(self) -> None:
        with self._lock:
            self.interrupted = True
            cursors = list(self._cursors)
        for cursor in cursors:
            with contextlib.suppress(duckdb.Error):  # already closed
                cursor.interrupt()


_current_scope: ContextVar[CallScope | None] = ContextVar("itbench_call_scope", default=None)


def track_cursor(cursor: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Put ``cursor`` under the time limit of the running tool call (if any); returns it."""
    scope = _current_scope.get()
    if scope is not None:
        scope.add(cursor)
    return cursor


def time_limit_message(tool: str, seconds: float) -> str:
    return (
        f"Error executing tool {tool}: the call took longer than {seconds:g} s and was stopped; "
        "narrow it (a shorter time range, a namespace or entity filter, a lower limit) and try again"
    )


def time_limit_middleware(seconds: float) -> ServerMiddleware[Any]:
    """A middleware that stops any ``tools/call`` still running after ``seconds``."""

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        scope = CallScope()
        # A timer thread, not a task: an exception from call_next must pass through unwrapped.
        deadline = threading.Timer(seconds, scope.interrupt)
        deadline.daemon = True
        token = _current_scope.set(scope)  # copied into the worker thread of a sync tool
        deadline.start()
        try:
            result = await call_next(ctx)
        finally:
            deadline.cancel()
            _current_scope.reset(token)
        if scope.interrupted and _is_error(result):
            name = ctx.params.get("name", "?") if ctx.params else "?"
            return CallToolResult(
                content=[TextContent(type="text", text=time_limit_message(name, seconds))], is_error=True
            )
        return result

    return middleware


def _is_error(result: HandlerResult) -> bool:
    if isinstance(result, CallToolResult):
        return bool(result.is_error)
    if isinstance(result, dict):
        return bool(result.get("isError") or result.get("is_error"))
    return False


def _tool_name(ctx: ServerRequestContext[Any, Any]) -> str:
    name = ctx.params.get("name") if ctx.params else None
    return quoted(name, 60)[1:-1] if isinstance(name, str) else "?"


def _error(tool: str, message: str) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=f"Error executing tool {tool}: {message}")], is_error=True
    )


MAX_ARGUMENT_VALUES: Final = 100_000
"""The most values (strings, numbers, list items, object members) one call's arguments may hold."""
MAX_ARGUMENTS_CHARS: Final = 1_000_000
"""The most characters all the strings of one call's arguments may hold together."""


def argument_problem(arguments: object) -> str | None:
    """What makes ``arguments`` unacceptable to any tool, naming the argument; None when nothing does.

    Refused: a string (value or key) longer than ``MAX_ARGUMENT_CHARS``, holding a NUL character
    or a lone surrogate; more than :data:`MAX_ARGUMENT_VALUES` values, or more than
    :data:`MAX_ARGUMENTS_CHARS` characters of strings, in all. The walk is iterative, so deep
    nesting cannot exhaust the stack.
    """
    stack: list[tuple[str, object]] = [("", arguments)]
    seen = characters = 0
    while stack:
        path, value = stack.pop()
        seen += 1
        if seen > MAX_ARGUMENT_VALUES:
            return f"the arguments hold more than {MAX_ARGUMENT_VALUES} values; send fewer"
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                return f"argument {path or '(arguments)'} {problem}"
            characters += len(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                key_text = str(key)
                problem = _text_problem(key_text)
                if problem:
                    return f"a key in {path or 'the arguments'} {problem}"
                characters += len(key_text)
                step = key_text if len(key_text) <= 60 else quoted(key_text, 60)
                stack.append((f"{path}.{step}" if path else step, item))
        elif isinstance(value, list | tuple):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
        if characters > MAX_ARGUMENTS_CHARS:
            return f"the arguments hold more than {MAX_ARGUMENTS_CHARS} characters of text in all; send less"
    return None


def _text_problem(text: str) -> str | None:
    if len(text) > MAX_ARGUMENT_CHARS:
        return (
            f"is {len(text)} characters long; no argument may be longer than {MAX_ARGUMENT_CHARS} "
            "characters (the input schema gives each argument's own maximum, maxLength)"
        )
    if "\x00" in text:
        return "holds a NUL character (U+0000); arguments must be text without NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return (
            f"is not valid Unicode text: it holds a lone surrogate ({text[error.start]!r}) "
            f"at character {error.start}; send UTF-8 text"
        )
    return None


def argument_guard_middleware() -> ServerMiddleware[Any]:
    """A middleware that refuses a ``tools/call`` whose arguments :func:`argument_problem` rejects."""

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call" or not ctx.params:
            return await call_next(ctx)
        problem = argument_problem(ctx.params.get("arguments"))
        if problem is not None:
            return _error(_tool_name(ctx), problem)
        return await call_next(ctx)

    return middleware


def busy_message(max_calls: int, wait: float) -> str:
    return (
        f"the server is busy: {max_calls} calls are already running, the most it runs at once, and "
        f"none finished within {wait:g} s; wait for your other calls to answer, then try again"
    )


def concurrency_limit_middleware(max_calls: int, wait: float) -> ServerMiddleware[Any]:
    """A middleware that runs at most ``max_calls`` ``tools/call`` requests at once.

    A call beyond them waits up to ``wait`` seconds for one to finish, then answers with an
    error saying the server is busy. The limit holds for the server, across its sessions.
    """
    slots = anyio.Semaphore(max_calls)

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        acquired = False
        with anyio.move_on_after(wait):  # only the wait for a slot: the call has its own time limit
            await slots.acquire()
            acquired = True
        if not acquired:
            return _error(_tool_name(ctx), busy_message(max_calls, wait))
        try:
            return await call_next(ctx)
        finally:
            slots.release()

    return middleware


def budget_spent_message(max_calls: int, submit_tool: str) -> str:
    return (
        f"the tool-call budget of this run ({max_calls} calls) is spent: no more investigation is "
        f"possible; call {submit_tool} now with the root causes you have found"
    )


def tool_call_budget_middleware(
    max_calls: int, submit_tool: str = "submit_diagnosis"
) -> ServerMiddleware[Any]:
    """A middleware that answers every ``tools/call`` past the first ``max_calls`` with an error.

    ``submit_tool`` is never refused, so an agent whose budget is spent can still submit. This
    is how the turn cap of a black-box agent (one whose model steps the evaluator cannot count)
    is enforced: by its server. Calls are counted across the server's sessions.
    """
    spent = 0

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        nonlocal spent
        if ctx.method != "tools/call" or _tool_name(ctx) == submit_tool:
            return await call_next(ctx)
        if spent >= max_calls:
            return _error(_tool_name(ctx), budget_spent_message(max_calls, submit_tool))
        spent += 1
        return await call_next(ctx)

    return middleware


_VALIDATION_HEAD: Final = re.compile(
    r"(Error executing tool [^:]*: )(\d+) validation errors? for \w+Arguments$"
)
_ERROR_DETAIL: Final = re.compile(
    r"^(?P<message>.*?) \[type=(?P<type>\w+), input_value=(?P<value>.*), input_type=\w+\]$"
)
_CHOICES: Final = re.compile(r"^Input should be (?P<choices>'.*')$")


def plain_validation_text(text: str) -> str:
    """A schema validation error in plain words: which arguments, what was wrong and what is
    accepted, without pydantic's error codes and links; other text unchanged.

    ``mode\n  Input should be 'lines' or 'counts' [type=literal_error, input_value='x', ...]``
    becomes ``mode\n  'x' is not one of the choices: 'lines' or 'counts'``.
    """
    lines = text.split("\n")
    head = _VALIDATION_HEAD.match(lines[0])
    if head is None:
        return text
    count = int(head.group(2))
    plain = [
        f"{head.group(1)}{count} argument{'s' if count != 1 else ''} not accepted (see the tool's input schema)"
    ]
    for line in lines[1:]:
        if line.startswith("    For further information visit "):
            continue
        detail = _ERROR_DETAIL.match(line.strip()) if line.startswith("  ") else None
        if detail is None:
            plain.append(line)
            continue
        message, value = detail.group("message"), detail.group("value")
        choices = _CHOICES.match(message)
        if detail.group("type") in ("literal_error", "enum") and choices:
            plain.append(f"  {value} is not one of the choices: {choices.group('choices')}")
        elif detail.group("type") == "missing":
            plain.append(f"  {message}")
        else:
            plain.append(f"  {message} (got {value})")
    return "\n".join(plain)


def plain_validation_middleware() -> ServerMiddleware[Any]:
    """A middleware that words the schema validation errors of ``tools/call`` plainly
    (:func:`plain_validation_text`)."""

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method != "tools/call" or not _is_error(result):
            return result
        if isinstance(result, CallToolResult):
            result = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        if isinstance(result, dict) and isinstance(result.get("content"), list):
            blocks = [
                {**block, "text": plain_validation_text(block["text"])}
                if isinstance(block, dict)
                and block.get("type") == "text"
                and isinstance(block.get("text"), str)
                else block
                for block in result["content"]
            ]
            return {**result, "content": blocks}
        return result

    return middleware


def bounded_reply_middleware(budget: int) -> ServerMiddleware[Any]:
    """A middleware that cuts the text of every ``tools/call`` reply to ``budget`` characters."""

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method != "tools/call":
            return result
        return bound_reply(result, budget)

    return middleware


def bound_reply(result: HandlerResult, budget: int) -> HandlerResult:
    """``result`` with its text blocks together at most ``budget`` characters, encodable as UTF-8.

    ``result`` is what the rest of the middleware chain returned: the wire form of the reply (a
    dict, as the SDK hands it over) or a ``CallToolResult`` (as a middleware answers itself).
    """
    if isinstance(result, CallToolResult):  # in its wire form, as the SDK would send it
        result = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    if isinstance(result, dict) and isinstance(result.get("content"), list):
        bounded = _bound_blocks(result["content"], budget)
        return result if bounded is None else {**result, "content": bounded}
    return result


def _bound_blocks(blocks: list[Any], budget: int) -> list[Any] | None:
    """``blocks`` (wire dicts) with their text cut to ``budget`` in all; None when none changes."""
    left = budget
    bounded: list[Any] = []
    changed = False
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            text = block["text"].encode("utf-8", "backslashreplace").decode("utf-8")
            text = clip_text(text, max(left, 0))
            left -= len(text)
            if text != block["text"]:
                block = {**block, "text": text}
                changed = True
        bounded.append(block)
    return bounded if changed else None
