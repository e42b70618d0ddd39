"""How every tool is written and registered.

A tool is a module-level function whose first parameter is the :class:`ToolContext` of the
server (the snapshot it reads, the server settings, and the per-server services such as the
kubectl runner); its other parameters are the tool's arguments, annotated with their bounds and
descriptions. :func:`add_tool` registers it: the context is bound, a ``QueryError`` reaches the
model as a ``ToolError`` (:func:`~itbench_server.mcp.calls.tool_errors`), the docstring, cleaned
with ``inspect.cleandoc``, is the description, and the title and annotations are set. Tools
answer in text, never with structured output.

:meth:`ToolContext.time_range` and :meth:`ToolContext.page` are the scaffolding the paged tools
share: the ``since``/``until`` range of the recording, and a bounded page of lines under a header.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar, cast, overload

from mcp.server import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from itbench_server.analysis.addresses import address_notes
from itbench_server.analysis.timeparse import format_time, parse_time_range
from itbench_server.mcp.calls import READ_ONLY, tool_errors
from itbench_server.mcp.limits import MAX_OFFSET, TIME_CHARS
from itbench_server.mcp.output import page_lines
from itbench_server.mcp.settings import ServerSettings
from itbench_server.snapshot import Snapshot

__all__ = [
    "FetchedPage",
    "Limit",
    "Offset",
    "Since",
    "TimeRange",
    "ToolContext",
    "Until",
    "add_tool",
]

P = ParamSpec("P")
T = TypeVar("T")

Since = Annotated[
    str | None,
    Field(
        max_length=TIME_CHARS,
        description="start of the time range: RFC 3339 (2025-12-15T17:25:00Z) or relative (start+3m, -10m); "
        "default: window start",
    ),
]
Until = Annotated[
    str | None,
    Field(
        max_length=TIME_CHARS,
        description="end of the time range, same forms (end-5m, +12m); default: window end",
    ),
]
Limit = Annotated[int, Field(ge=1, le=1000, description="most lines to return")]
Offset = Annotated[
    int,
    Field(ge=0, le=MAX_OFFSET, description="lines to skip (the truncation marker gives the next offset)"),
]


@dataclass(frozen=True)
class TimeRange:
    """The ``[start, end]`` a call looks at."""

    start: datetime
    end: datetime

    @property
    def text(self) -> str:
        return f"{format_time(self.start)} .. {format_time(self.end)}"


@dataclass
class ToolContext:
    """What the tools of one server share: the recording, the settings, and lazily made services."""

    snapshot: Snapshot
    settings: ServerSettings
    tool_names: list[str] = field(default_factory=list)
    """The tools registered so far, in ``tools/list`` order."""
    _services: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def budget(self) -> int:
        return self.settings.output_budget

    def service(self, name: str, make: Callable[[], T]) -> T:
        """The server's one ``name`` service, made by ``make`` on first use."""
        with self._lock:
            if name not in self._services:
                self._services[name] = make()
            return cast(T, self._services[name])

    def time_range(self, since: str | None, until: str | None) -> TimeRange:
        """``[since, until]`` as given (each end defaulting to the window's)."""
        return TimeRange(*parse_time_range(since, until, self.snapshot.window))

    def page(
        self, lines: Sequence[str], *, offset: int, limit: int, header: str = "", addresses: bool = False
    ) -> str:
        """``lines[offset:offset+limit]`` under ``header``, within the output budget, with a
        truncation marker when lines are left out. With ``addresses``, the header ends with the
        owners of the IPs and Service host:ports that the header and the page mention."""
        if addresses:
            notes = address_notes(self.snapshot, [header, *lines[offset : offset + limit]])
            if notes:
                header = f"{header}\n{notes}" if header else notes
        return page_lines(lines, offset=offset, limit=limit, budget=self.budget, header=header)


def add_tool(
    server: MCPServer[Any],
    context: ToolContext,
    function: Callable[Concatenate[ToolContext, P], Any],
    *,
    title: str,
    annotations: ToolAnnotations = READ_ONLY,
    description: str | None = None,
) -> None:
    """Register ``function`` as a tool of ``server`` bound to ``context``.

    The tool's name is the function's; its description the docstring cleaned with
    ``inspect.cleandoc`` (or ``description``); its input schema the parameters after the context.
    """
    signature = inspect.signature(function, eval_str=True)
    parameters = list(signature.parameters.values())[1:]
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def bound_async(*args: Any, **kwargs: Any) -> Any:
            return await function(context, *args, **kwargs)

        bound: Callable[..., Any] = bound_async
    else:

        @functools.wraps(function)
        def bound_sync(*args: Any, **kwargs: Any) -> Any:
            return function(context, *args, **kwargs)

        bound = bound_sync
    bound.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    server.add_tool(
        tool_errors(bound),
        name=function.__name__,
        title=title,
        description=inspect.cleandoc(description or function.__doc__ or ""),
        annotations=annotations,
        structured_output=False,
    )
    context.tool_names.append(function.__name__)


class FetchedPage(Sequence[str]):
    """Rows ``offset``.. of a result of ``total`` rows, of which only this page was fetched.

    Lets ``page_lines`` bound and mark results whose paging happens in the query.
    """

    def __init__(self, page: Sequence[str], *, offset: int, total: int) -> None:
        self._page = page
        self._offset = offset
        self._total = max(total, offset + len(page))

    def __len__(self) -> int:
        return self._total

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            start, stop, stride = index.indices(self._total)
            positions = (position - self._offset for position in range(start, stop, stride))
            return [self._page[position] for position in positions if 0 <= position < len(self._page)]
        return self._page[index - self._offset]
