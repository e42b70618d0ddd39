"""``run_sql``: read-only SQL over the normalized tables of the index, locked down.

Queries run on a connection of their own: an in-memory DuckDB database that attaches the index
read-only, then turns off every way out of it (``enable_external_access=false`` forbids file
functions, ATTACH, COPY, EXPORT and INSTALL; extensions are never loaded; spilling to disk is
off; memory is capped) and locks its configuration so that a query cannot ``SET`` any of it
back. On top of that only one ``SELECT`` (or ``WITH ... SELECT``) statement is accepted per call.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from collections.abc import Sequence
from typing import Annotated, Any

import duckdb
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from itbench_server.mcp.calls import track_cursor
from itbench_server.mcp.settings import ServerSettings
from itbench_server.mcp.tooling import ToolContext, add_tool
from itbench_server.snapshot import TABLE_DDL, Snapshot

__all__ = [
    "SqlConsole",
    "check_single_select",
    "format_result",
    "register_sql_tool",
    "render_table",
    "run_sql",
    "run_sql_description",
    "schema_text",
]

_LOCKDOWN = (  # in this order: once external access is off, temp_directory is frozen
    "SET temp_directory = ''",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)
_CELL_WIDTH = 200
_STATEMENT_HELP = "run_sql runs exactly one read-only SELECT (or WITH ... SELECT) statement"


def schema_text() -> str:
    """The tables a query may read, one column a line, generated from ``TABLE_DDL``."""
    parts: list[str] = []
    for table, ddl in TABLE_DDL.items():
        body = ddl[ddl.index("(") + 1 : ddl.rindex(")")]
        columns = []
        for raw_line in body.splitlines():
            line = raw_line.strip()
            if not line:
                continue
            if line.startswith("--"):  # a comment that continues the previous column's
                columns[-1] += " " + line.removeprefix("--").strip()
                continue
            definition, _, comment = line.partition("--")
            column = definition.strip().rstrip(",")
            columns.append(f"  {column}" + (f"  -- {comment.strip()}" if comment else ""))
        parts.append(f"{table}:\n" + "\n".join(columns))
    return "\n".join(parts)


class SqlConsole:
    """A locked-down connection on one snapshot's index; ``run`` is safe from many threads."""

    def __init__(self, snapshot: Snapshot) -> None:
        connection = duckdb.connect(
            ":memory:",
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
        )
        path = str(snapshot.index_path).replace("'", "''")
        connection.execute(f"ATTACH '{path}' AS snapshot (READ_ONLY)")
        connection.execute(f"SET memory_limit = '{_memory_limit_mib()}MiB'")
        for statement in _LOCKDOWN:
            connection.execute(statement)
        self._connection = connection
        self._lock = threading.Lock()

    def run(self, sql: str, *, max_rows: int) -> tuple[list[str], list[tuple[Any, ...]], bool]:
        """Run one SELECT; return (columns, at most ``max_rows`` rows, whether more rows exist).

        Raises:
            ToolError: the text is not one SELECT statement, or DuckDB rejects it.
        """
        check_single_select(sql)
        with self._lock:
            cursor = self._connection.cursor()
        try:
            track_cursor(cursor)
            cursor.execute("USE snapshot")  # a cursor starts in the empty in-memory database
            relation = cursor.execute(sql)
            if relation.description is None:
                raise ToolError(_STATEMENT_HELP)
            columns = [str(column[0]) for column in relation.description]
            rows = relation.fetchmany(max_rows + 1)
        except duckdb.PermissionException:
            raise ToolError(
                "run_sql reads only the tables of the index; files, ATTACH, COPY and extensions "
                "are not available"
            ) from None
        except duckdb.InterruptException:
            raise ToolError("the query was stopped") from None
        except duckdb.Error as error:
            raise ToolError(f"DuckDB rejected the query: {_first_lines(str(error))}") from None
        finally:
            cursor.close()
        return columns, rows[:max_rows], len(rows) > max_rows

    def close(self) -> None:
        self._connection.close()


def _memory_limit_mib() -> int:
    """Half the machine's memory (at least 1 GiB): a runaway query fails instead of starving others."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 4096
    return max(1024, total // 2 // 2**20)


def check_single_select(sql: str) -> None:
    """Raise ``ToolError`` unless ``sql`` is exactly one SELECT statement."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise ToolError(f"the query does not parse: {_first_lines(str(error))}") from None
    if len(statements) != 1:
        raise ToolError(f"{_STATEMENT_HELP}; got {len(statements)} statements")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise ToolError(f"{_STATEMENT_HELP}, not {kind.name}")


def render_table(columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> list[str]:
    """Rows as lines of an aligned text table: a header line, a rule, then one line a row."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(column) for column in columns]
    for row in cells:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    lines = [
        "  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True)).rstrip(),
        "  ".join("-" * width for width in widths),
    ]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    return lines


def _cell(value: Any) -> str:
    if value is None:
        text = "NULL"
    elif isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value)
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ")
    if len(text) > _CELL_WIDTH:
        text = text[: _CELL_WIDTH - 1] + "…"
    return text


def _first_lines(message: str, count: int = 3, width: int = 300) -> str:
    """The first ``count`` lines of a DuckDB error, each cut to ``width`` characters (an error
    quotes the offending line of the query, which may be all 20,000 characters of it)."""
    lines = [line for line in message.splitlines() if line.strip()]
    cut = [line if len(line) <= width else line[:width] + "…" for line in lines[:count]]
    return re.sub(r"\s+", " ", " / ".join(cut))


def format_result(
    columns: Sequence[str], rows: Sequence[tuple[Any, ...]], *, more: bool, offset: int, budget: int
) -> str:
    """The answer of ``run_sql``: the table, a row count, and a truncation line when cut."""
    if not rows:
        return f"(no rows{' at this offset' if offset else ''})\n" + "  ".join(columns)
    lines = render_table(columns, rows)
    header, rule, body = lines[0], lines[1], lines[2:]
    reserve = 160
    kept: list[str] = []
    used = len(header) + len(rule) + 2
    for line in body:
        if used + len(line) + 1 > budget - reserve:
            break
        kept.append(line)
        used += len(line) + 1
    if not kept:  # the first row alone is wider than the budget: show it cut rather than nothing
        whole = "\n".join([header, rule, body[0]])
        room = budget - reserve
        text = whole[:room] + f" …[cut at {room} of {len(whole)} characters; select fewer columns]"
        if len(body) > 1 or more:
            text += f"\n[truncated: rows after row {offset + 1}; call again with offset={offset + 1}]"
        return text
    shown_to = offset + len(kept)
    text = "\n".join([header, rule, *kept])
    if len(kept) < len(body) or more:
        text += (
            f"\n[truncated: rows {offset + 1}-{shown_to} shown, more follow; call again with "
            f"offset={shown_to}, or narrow the query (WHERE, GROUP BY, LIMIT)]"
        )
    else:
        text += f"\n({len(kept)} row{'s' if len(kept) != 1 else ''})"
    return text


def run_sql(
    context: ToolContext,
    sql: Annotated[str, Field(description="one SELECT (or WITH ... SELECT) statement", max_length=20_000)],
    offset: Annotated[
        int, Field(ge=0, le=100_000, description="rows of the result to skip (for paging)")
    ] = 0,
) -> str:
    console = context.service("sql", lambda: SqlConsole(context.snapshot))
    columns, rows, more = console.run(sql, max_rows=offset + context.settings.sql_row_limit)
    return format_result(columns, rows[offset:], more=more, offset=offset, budget=context.budget)


def run_sql_description(settings: ServerSettings) -> str:
    return (
        "Run one read-only DuckDB SELECT over the normalized tables of the recording, for "
        "questions the other tools do not answer (joins, custom aggregations). At most "
        f"{settings.sql_row_limit} rows per call (page with offset); no file access. "
        "Timestamps are UTC; attribute maps are JSON text: use "
        "json_extract_string(resource_attributes, '$.\"k8s.pod.name\"').\n\nTables:\n" + schema_text()
    )


def register_sql_tool(server: MCPServer, context: ToolContext) -> None:
    """Add ``run_sql`` to ``server``; its locked-down connection is opened by the first call
    (and then lives as long as the server), not at start."""
    add_tool(
        server, context, run_sql, title="Run read-only SQL", description=run_sql_description(context.settings)
    )
