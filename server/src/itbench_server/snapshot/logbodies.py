"""The log bodies in one file beside the index, memory-mapped, for a literal prefilter.

``search_logs`` runs its regular expression in DuckDB (RE2) over every body in scope. When the
expression needs some literal text (:func:`itbench_server.snapshot.regexliterals.required_literals`),
Hyperscan finds that text in this file, a few milliseconds for every body of a 1 GB incident,
and RE2 then reads only the lines that hold it (:meth:`LogBodies.candidates`).

The file (``<index>.logbodies``) holds every ``logs`` row's body, UTF-8, in the table's row
order, then the offset of each body, then the rows whose body is not ASCII. It is written on
first use, not at ingest: by one process at a time (a lock file beside it; a process that finds
the lock taken searches without the prefilter meanwhile), to a temporary file renamed into
place, so that the many read-only server processes of a cache share one file and its pages.
Its header names the index file it was made from (inode, size, modification time, rows): an
index rebuilt at the same path gets a new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import mmap
import os
import struct
import threading
from collections.abc import Callable
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import duckdb

from itbench_server.snapshot.regexliterals import AllOf, AnyOf, Literal, Requirement
from itbench_server.snapshot.snapshot import Snapshot

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["MOST_HITS_PER_ROW", "SUFFIX", "LogBodies", "log_bodies"]

logger = logging.getLogger(__name__)

SUFFIX: Final = ".logbodies"

MOST_HITS_PER_ROW: Final = 0.25
"""A prefilter that finds (or, from a few slices of the bodies, expects) more literal occurrences
than this share of the log lines gives up, and the plain scan runs: each occurrence costs a call
into Python (about 0.5 us), and so many candidates would cost about as much to match as every
line."""

_MAGIC: Final = b"ITBLOGB1"
_HEADER: Final = struct.Struct("<8s6Q")  # magic, rows, index inode, size, mtime_ns, bodies, non-ASCII rows
_BODIES_AT: Final = 64
_FETCH_ROWS: Final = 16384
_SAMPLES: Final = 16
_SAMPLE_BYTES: Final = 64 << 10

_opened: dict[tuple[str, tuple[int, int, int]], LogBodies] = {}
_opened_lock = threading.Lock()


def _aligned(position: int) -> int:
    return (position + 7) // 8 * 8


def _identity(index_path: Path) -> tuple[int, int, int]:
    stat = os.stat(index_path)
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


class LogBodies:
    """Every log body of one index, memory-mapped (the pages are shared by every process)."""

    def __init__(self, mapped: mmap.mmap, rows: int, bodies_bytes: int, non_ascii_rows: int) -> None:
        import numpy as np

        self.rows = rows
        self._mapped = mapped
        self._bodies = memoryview(mapped)[_BODIES_AT : _BODIES_AT + bodies_bytes]
        offsets_at = _aligned(_BODIES_AT + bodies_bytes)
        self._offsets = np.frombuffer(mapped, dtype="<u8", count=rows + 1, offset=offsets_at)
        self._non_ascii = np.frombuffer(
            mapped, dtype="<u8", count=non_ascii_rows, offset=offsets_at + 8 * (rows + 1)
        )

    def candidates(self, need: Requirement) -> npt.NDArray[np.bool_] | None:
        """One flag per row (in the table's order): False where the body cannot satisfy ``need``.

        Rows whose body is not ASCII are always candidates (RE2 folds some non-ASCII letters onto
        ASCII ones under case-insensitive matching). None when the literals are too frequent for
        the prefilter to pay.
        """
        import hyperscan
        import numpy as np

        literals = _literals_of(need)
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        try:
            database.compile(
                expressions=[literal.text for literal in literals],
                ids=list(range(len(literals))),
                flags=[hyperscan.HS_FLAG_CASELESS if literal.caseless else 0 for literal in literals],
                literal=True,
            )
        except hyperscan.error:
            logger.warning("Hyperscan refused the literals %r", literals)
            return None
        hits: list[int] = []
        record = hits.append
        most = int(MOST_HITS_PER_ROW * self.rows) + 1024
        shift = max(1, len(literals).bit_length())

        def on_match(literal: int, _start: int, end: int, _flags: int, _context: object) -> bool:
            record(end << shift | literal)
            return len(hits) > most

        try:
            if self._estimated_hits(database) > most:
                return None
            database.scan(self._bodies, match_event_handler=on_match)  # pyright: ignore[reportArgumentType]  # any buffer
        except hyperscan.ScanTerminated:
            return None
        found = np.fromiter(hits, dtype=np.int64, count=len(hits))
        which = found & ((1 << shift) - 1)
        lengths = np.array([len(literal.text) for literal in literals], dtype=np.int64)
        starts = (found >> shift) - lengths[which]
        # the row whose body holds the match's first byte (a match across two bodies only adds a row)
        row_of_hit = np.searchsorted(self._offsets[1:], starts.astype(np.uint64), side="right")

        def rows_holding(index: int) -> npt.NDArray[np.bool_]:
            flags = np.zeros(self.rows, dtype=np.bool_)
            flags[row_of_hit[which == index]] = True
            return flags

        if isinstance(need, Literal) or (
            isinstance(need, AnyOf) and all(isinstance(part, Literal) for part in need.parts)
        ):
            flags = np.zeros(self.rows, dtype=np.bool_)
            flags[row_of_hit] = True
        else:
            flags = _evaluate(need, {literal: index for index, literal in enumerate(literals)}, rows_holding)
        flags[self._non_ascii] = True
        return flags

    def _estimated_hits(self, database: Any) -> float:
        """The literal occurrences in all the bodies, extrapolated from a few slices spread over them."""
        total = len(self._bodies)
        if total <= _SAMPLES * _SAMPLE_BYTES * 4:
            return 0.0  # small: the scan itself is as quick
        found = 0

        def count(_literal: int, _start: int, _end: int, _flags: int, _context: object) -> None:
            nonlocal found
            found += 1

        step = total // _SAMPLES
        for sample in range(_SAMPLES):
            start = sample * step
            database.scan(self._bodies[start : start + _SAMPLE_BYTES], match_event_handler=count)
        return found * total / (_SAMPLES * _SAMPLE_BYTES)

    def bodies_of(self, flags: npt.NDArray[np.bool_]) -> npt.NDArray[np.object_]:
        """The body of every flagged row (as text), None for the others: one value per row.

        Read from the file's pages, so that DuckDB can match the candidates without reading the
        index's body column for every row. A NULL body reads as ``''``; no prefilter flags one
        (every requirement holds a literal of at least three bytes, and ``''`` is ASCII).
        """
        import numpy as np

        bodies = np.full(self.rows, None, dtype=np.object_)
        rows = np.flatnonzero(flags)
        starts = self._offsets[rows].tolist()
        ends = self._offsets[rows + 1].tolist()
        text = self._bodies
        bodies[rows] = [str(text[start:end], "utf-8") for start, end in zip(starts, ends, strict=True)]
        return bodies


def _literals_of(need: Requirement) -> list[Literal]:
    if isinstance(need, Literal):
        return [need]
    found: list[Literal] = []
    for part in need.parts:
        found.extend(literal for literal in _literals_of(part) if literal not in found)
    return found


def _evaluate(
    need: Requirement,
    index_of: dict[Literal, int],
    rows_holding: Callable[[int], npt.NDArray[np.bool_]],
) -> npt.NDArray[np.bool_]:
    import numpy as np

    if isinstance(need, Literal):
        return rows_holding(index_of[need])
    parts = [_evaluate(part, index_of, rows_holding) for part in need.parts]
    combine = np.logical_and if isinstance(need, AllOf) else np.logical_or
    result = parts[0]
    for part in parts[1:]:
        result = combine(result, part)
    return result


def log_bodies(snapshot: Snapshot) -> LogBodies | None:
    """The bodies file of ``snapshot``'s index, written first if needed; None when it cannot be
    had now (another process is writing it, the cache is read-only, Hyperscan is missing)."""
    try:
        import hyperscan  # noqa: F401
        import numpy  # noqa: F401
    except ImportError:
        return None
    try:
        identity = _identity(snapshot.index_path)
    except OSError:
        return None
    key = (str(snapshot.index_path), identity)
    with _opened_lock:
        if (opened := _opened.get(key)) is not None:
            return opened
    path = snapshot.index_path.with_name(snapshot.index_path.name + SUFFIX)
    (rows,) = snapshot.query("SELECT count(*) FROM logs")[0]
    opened = _open(path, identity, rows)
    if opened is None:
        try:
            written = _write_locked(snapshot, path, identity, rows)
        except (OSError, duckdb.Error) as error:
            logger.warning("%s: cannot write the log bodies file: %s", path, error)
            return None
        if not written:
            return None
        opened = _open(path, identity, rows)
    if opened is not None:
        with _opened_lock:
            opened = _opened.setdefault(key, opened)
    return opened


def _open(path: Path, identity: tuple[int, int, int], rows: int) -> LogBodies | None:
    """The file at ``path`` if it was made from this index; None if missing or stale."""
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size < _BODIES_AT:
                return None
            mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    magic, found_rows, inode, index_size, mtime_ns, bodies_bytes, non_ascii_rows = _HEADER.unpack_from(mapped)
    expected = _aligned(_BODIES_AT + bodies_bytes) + 8 * (found_rows + 1 + non_ascii_rows)
    if magic != _MAGIC or (inode, index_size, mtime_ns) != identity or found_rows != rows or size != expected:
        mapped.close()
        return None
    return LogBodies(mapped, rows, bodies_bytes, non_ascii_rows)


def _write_locked(snapshot: Snapshot, path: Path, identity: tuple[int, int, int], rows: int) -> bool:
    """Write the file unless another process is writing it (False then)."""
    lock = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if _open(path, identity, rows) is not None:
            return True  # written by the process that held the lock before
        for leftover in path.parent.glob(path.name + ".tmp-*"):
            leftover.unlink(missing_ok=True)  # a killed writer's: only the lock's holder writes
        partial = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        try:
            _write(snapshot, partial, identity, rows)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return True
    finally:
        os.close(lock)


def _write(snapshot: Snapshot, target: Path, identity: tuple[int, int, int], rows: int) -> None:
    lengths: list[int] = []
    non_ascii: list[int] = []
    with target.open("wb") as file, snapshot.cursor() as cursor:
        file.write(bytes(_BODIES_AT))
        cursor.execute("SELECT body FROM logs ORDER BY rowid")
        row = 0
        while batch := cursor.fetchmany(_FETCH_ROWS):
            encoded: list[bytes] = []
            for (body,) in batch:
                text = body or ""
                if not text.isascii():
                    non_ascii.append(row)
                encoded.append(text.encode())
                row += 1
            lengths.extend(map(len, encoded))
            file.write(b"".join(encoded))
        if row != rows:
            raise OSError(f"read {row} log bodies, the table has {rows}")
        bodies_bytes = file.tell() - _BODIES_AT
        file.write(bytes(_aligned(file.tell()) - file.tell()))
        file.write(struct.pack(f"<{rows + 1}Q", 0, *accumulate(lengths)))
        file.write(struct.pack(f"<{len(non_ascii)}Q", *non_ascii))
        file.seek(0)
        file.write(_HEADER.pack(_MAGIC, rows, *identity, bodies_bytes, len(non_ascii)))
        file.flush()
        os.fsync(file.fileno())
    with contextlib.suppress(OSError):
        os.chmod(target, 0o644)
