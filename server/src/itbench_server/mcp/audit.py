"""The audit log: one JSON line per ``tools/call``, the trajectory of record for any agent.

Each line holds ``time`` (UTC, when the call arrived), ``tool``, ``arguments``, ``latency_ms``,
``output_chars`` (the characters of text the caller received), ``is_error``, ``error`` (the
error text, or null) and ``truncated`` (whether the output carried a truncation marker). Lines
are appended and flushed one at a time under a lock, so concurrent calls never interleave.

The arguments are recorded as given, except for a call whose arguments no tool accepts (see
``argument_problem``; such a call is refused): its ``arguments`` are the start of their JSON text
and its length, so that a hostile client cannot fill the disk. Text that is not valid Unicode (a
lone surrogate) is written as JSON escapes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.types import CallToolResult

from itbench_server.errors import quoted
from itbench_server.mcp.calls import argument_problem

__all__ = ["TRUNCATION_MARKER", "AuditLog"]

TRUNCATION_MARKER = re.compile(r"^\[truncated: ", re.MULTILINE)
"""How a bounded output says it left something out (see ``itbench_server.mcp.output``)."""


class AuditLog:
    """Appends one record per tool call to ``path``; usable as an ``MCPServer`` middleware."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: escape it rather than fail the call
            line = json.dumps(record, ensure_ascii=True, default=str) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as file:
            file.write(line)
            file.flush()

    @property
    def middleware(self) -> ServerMiddleware[Any]:
        async def audit(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
            if ctx.method != "tools/call":
                return await call_next(ctx)
            params = dict(ctx.params or {})
            record: dict[str, Any] = {
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "tool": params.get("name"),
                "arguments": _recordable(params.get("arguments") or {}),
            }
            started = time.perf_counter()
            try:
                result = await call_next(ctx)
            except BaseException as error:
                # A protocol-level failure (malformed request, MCPError): the caller got no result.
                record |= _timing(started) | {
                    "output_chars": 0,
                    "is_error": True,
                    "error": str(error) or type(error).__name__,
                    "truncated": False,
                }
                self.write(record)
                raise
            record |= _timing(started) | _describe(result)
            self.write(record)
            return result

        return audit


def _recordable(arguments: Any) -> Any:
    """``arguments`` as the log records them: whole, unless the call will be refused for them."""
    if argument_problem(arguments) is None:
        return arguments
    try:
        text = json.dumps(arguments, ensure_ascii=True, default=str)
    except (ValueError, RecursionError):
        text = "(not representable as JSON)"
    return quoted(text, 1_000)


def _timing(started: float) -> dict[str, Any]:
    return {"latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _describe(result: HandlerResult) -> dict[str, Any]:
    if isinstance(result, dict):
        result = CallToolResult.model_validate(result)
    if not isinstance(result, CallToolResult):
        return {"output_chars": 0, "is_error": False, "error": None, "truncated": False}
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content, ensure_ascii=False)
    is_error = bool(result.is_error)
    return {
        "output_chars": len(text),
        "is_error": is_error,
        "error": text if is_error else None,
        "truncated": bool(TRUNCATION_MARKER.search(text)),
    }
