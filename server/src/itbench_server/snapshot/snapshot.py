"""An opened scenario: its directory, its read-only DuckDB index and the incident window."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from itbench_server.errors import IndexBuildError

__all__ = ["SkippedInput", "Snapshot", "TimeWindow"]


@dataclass(frozen=True)
class TimeWindow:
    """The span of time the recording covers (UTC, naive datetimes as DuckDB returns them)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class SkippedInput:
    """Something ingest could not read: a whole file (``line`` is None) or one line of it."""

    file: str
    line: int | None
    reason: str


class Snapshot:
    """A scenario opened for queries.

    The index is opened read-only, so any number of processes may share it. ``cursor()`` gives
    each caller (thread) its own cursor on one shared connection, as DuckDB requires.
    """

    def __init__(self, scenario_dir: Path, index_path: Path) -> None:
        self.scenario_dir = scenario_dir
        self.index_path = index_path
        try:
            self._connection = duckdb.connect(str(index_path), read_only=True)
        except duckdb.Error as error:
            raise IndexBuildError(f"{index_path}: cannot open the index: {error}") from None
        self._lock = threading.Lock()
        self._cursor_hook: Callable[[duckdb.DuckDBPyConnection], duckdb.DuckDBPyConnection] | None = None
        self.window = self._read_window()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor for one thread; close it (or use it as a context manager) when done."""
        with self._lock:
            cursor = self._connection.cursor()
        return self._cursor_hook(cursor) if self._cursor_hook else cursor

    def with_cursor_hook(
        self, hook: Callable[[duckdb.DuckDBPyConnection], duckdb.DuckDBPyConnection]
    ) -> Snapshot:
        """A view of the same opened index (nothing is reopened) whose new cursors pass through ``hook``.

        The MCP layer uses it to put every query of a tool call under that call's time limit.
        """
        view = copy.copy(self)
        view._cursor_hook = hook
        return view

    def query(self, sql: str, parameters: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one read-only query and return all rows."""
        with self.cursor() as cursor:
            return cursor.execute(sql, parameters or []).fetchall()

    def meta(self) -> dict[str, str]:
        """The ``meta`` table as a dict (format version, source fingerprint, build time...)."""
        return dict(self.query("SELECT key, value FROM meta ORDER BY key"))

    def skipped(self) -> list[SkippedInput]:
        """What ingest could not read, in file and line order."""
        rows = self.query("SELECT file, line, reason FROM skipped ORDER BY file, line NULLS FIRST")
        return [SkippedInput(file, line, reason) for file, line, reason in rows]

    def inventory(self) -> list[tuple[str, str, int, int]]:
        """(file, table, rows, bytes) for every file ingest looked at, sorted by file."""
        return self.query("SELECT file, table_name, rows, bytes FROM inventory ORDER BY file")

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _read_window(self) -> TimeWindow:
        meta = self.meta()
        try:
            return TimeWindow(
                datetime.fromisoformat(meta["window_start"]), datetime.fromisoformat(meta["window_end"])
            )
        except (KeyError, ValueError):
            raise IndexBuildError(
                f"{self.index_path}: the index has no incident window; rebuild it"
            ) from None
