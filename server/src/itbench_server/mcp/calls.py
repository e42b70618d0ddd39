"""What every tool call shares: annotations, error translation and the per-call time limit.

Tools are thin wrappers over the analysis layer. A failure the model can fix (a ``QueryError``)
must reach it as a ``ToolError`` whose message says how to fix the call; :func:`tool_errors`
does that translation for any tool function, sync or async.

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
import threading
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar, cast

import duckdb
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations

from itbench_server.errors import QueryError

__all__ = [
    "READ_ONLY",
    "CallScope",
    "time_limit_middleware",
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
