"""Open a scenario: build its index once into a cache, then open it read-only.

The cache key is the identity of the scenario's files (relative path, size, modification time,
device and inode) and the index schema version, so an index is rebuilt exactly when a file
changes, and a directory of hard links to the same files (the evaluator's view of a scenario
without its answer key) shares the index of the original. A build writes to a temporary file
and renames it into place, under a lock, so concurrent processes never see a half-built index
and never build the same one twice. What a killed build leaves behind (its temporary file, the
database's write-ahead log and spill directory, its lock file) is removed by the next build.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from itbench_server.errors import IndexBuildError
from itbench_server.snapshot.discover import ScenarioFiles, find_scenario_files
from itbench_server.snapshot.ingest import BuildReport, IndexBuilder
from itbench_server.snapshot.schema import SCHEMA_VERSION
from itbench_server.snapshot.snapshot import Snapshot

__all__ = [
    "BUILD_MEMORY_LIMIT",
    "BUILD_THREADS",
    "INGEST_REVISION",
    "build_index",
    "default_cache_dir",
    "fingerprint",
    "index_path_for",
    "open_snapshot",
    "remove_build_leftovers",
]

logger = logging.getLogger(__name__)

# Bump when ingest changes what it writes for the same files. 4: the logs rows in the file's order
# (inserted on one thread; on two, DuckDB's insert put blocks of them out of order). 5: the
# service calls joined from the spans (``service_calls``, ``service_calls_far``).
INGEST_REVISION = 5

BUILD_MEMORY_LIMIT = "700MB"
"""DuckDB's memory limit while it builds an index; beyond it, it spills to ``<index>.tmp``.

DuckDB's default is 80 % of the machine's memory, which a 1 GB scenario's span table fills: the
build's peak RSS was 2.2 GB on a 24 GB machine. Bounded, the build peaks near 0.8 GB for about
a tenth more CPU time (docs/benchmarks.md)."""

BUILD_THREADS = max(1, min(os.cpu_count() or 1, 8))
"""DuckDB's threads while it builds: the machine's cores, at most 8 (each thread holds its own
read buffers within the memory limit)."""

# <scenario>-<fingerprint>.duckdb, its lock, and a build's leftovers (.building-<pid>[.wal|.tmp]).
_INDEX_NAME = re.compile(r"^(?P<index>.+-[0-9a-f]{20}\.duckdb)(?P<partial>\.building-\d+(\.wal|\.tmp)?)?$")
_LOCK_NAME = re.compile(r"^(?P<stem>.+-[0-9a-f]{20})\.lock$")


def default_cache_dir() -> Path:
    """``$ITBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/itbench-server``, else ``~/.cache/itbench-server``."""
    if configured := os.environ.get("ITBENCH_CACHE_DIR"):
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "itbench-server"


def fingerprint(files: ScenarioFiles) -> str:
    """A digest of the identity of every file the index is built from.

    Files are known by device and inode rather than by the directory's path, so hard links to
    the same files in another directory of the same name give the same digest. A sample of each
    file's content (its first and last 64 KiB) is part of the digest too: a deleted file's inode
    is reused, and files written within one clock tick share their mtime, so identity, size and
    mtime alone can name two different files alike.
    """
    digest = hashlib.sha256(f"schema={SCHEMA_VERSION};ingest={INGEST_REVISION}".encode())
    digest.update(files.root.resolve().name.encode())
    for source in files.sources:
        digest.update(
            f"\n{source.relative}\t{source.size}\t{source.mtime_ns}\t{source.device}:{source.inode}".encode()
        )
        digest.update(_content_sample(source.path, source.size))
    for relative, reason in files.refused:
        digest.update(f"\n!{relative}\t{reason}".encode())
    return digest.hexdigest()[:20]


_SAMPLE_BYTES = 64 << 10


def _content_sample(path: Path, size: int) -> bytes:
    """The first and last 64 KiB of ``path`` (all of it when smaller); empty if it cannot be read."""
    try:
        with path.open("rb") as file:
            head = file.read(_SAMPLE_BYTES)
            if size <= 2 * _SAMPLE_BYTES:
                return head + file.read()
            file.seek(size - _SAMPLE_BYTES)
            return head + file.read(_SAMPLE_BYTES)
    except OSError:
        return b""


def index_path_for(files: ScenarioFiles, cache_dir: Path) -> Path:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", files.root.resolve().name) or "scenario"
    return cache_dir / f"{name}-{fingerprint(files)}.duckdb"


def _lock(lock_path: Path, *, wait: bool = True) -> int | None:
    """An open descriptor holding the exclusive lock on ``lock_path``; None if busy and not ``wait``.

    The holder removes the file before letting go, so a lock taken on a file that has meanwhile
    been removed (or replaced) is worthless: take it again on the file now at that path.
    """
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        try:
            current = os.stat(lock_path)
        except FileNotFoundError:
            current = None
        held = os.fstat(fd)
        if current is not None and (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino):
            return fd
        os.close(fd)


def _unlock(lock_path: Path, fd: int) -> None:
    lock_path.unlink(missing_ok=True)
    os.close(fd)


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_suffix(".lock")
    fd = _lock(lock_path)
    assert fd is not None
    try:
        yield
    finally:
        _unlock(lock_path, fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _remove_partials(target: Path) -> None:
    """Remove the leftovers of builds of ``target``; the caller holds its lock."""
    for leftover in target.parent.glob(f"{glob.escape(target.name)}.building-*"):
        _remove(leftover)


def remove_build_leftovers(cache_dir: Path, *, holding: Path | None = None) -> None:
    """Remove what killed builds left in ``cache_dir``: partial indexes and their lock files.

    A leftover is removed only when the lock of its index can be taken at once, so a build in
    progress elsewhere is never disturbed. ``holding`` is an index whose lock the caller holds.
    """
    stems: set[str] = set()
    try:
        names = os.listdir(cache_dir)
    except OSError:
        return
    for name in names:
        if (match := _INDEX_NAME.match(name)) and match.group("partial"):
            stems.add(match.group("index").removesuffix(".duckdb"))
        elif match := _LOCK_NAME.match(name):
            stems.add(match.group("stem"))
    for stem in sorted(stems):
        target = cache_dir / f"{stem}.duckdb"
        if holding is not None and target == holding:
            _remove_partials(target)
            continue
        lock_path = cache_dir / f"{stem}.lock"
        try:
            fd = _lock(lock_path, wait=False)
        except OSError:
            continue
        if fd is None:
            continue  # being built right now
        try:
            _remove_partials(target)
        finally:
            _unlock(lock_path, fd)


def build_index(files: ScenarioFiles, target: Path) -> BuildReport:
    """Build the index of ``files`` at ``target`` (replacing it atomically); what it read.

    The report's ``stages`` (wall and CPU seconds of each step) are also logged at INFO, as the
    record's ``stages`` attribute, for the benchmark.

    Raises:
        IndexBuildError: DuckDB failed in a way ingest could not attribute to one file.
    """
    partial = target.with_name(f"{target.name}.building-{os.getpid()}")
    _remove(partial)
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    try:
        connection = duckdb.connect(str(partial))
        try:
            connection.execute("SET preserve_insertion_order = true")
            connection.execute(f"SET memory_limit = '{BUILD_MEMORY_LIMIT}'")
            connection.execute(f"SET threads = {BUILD_THREADS}")
            report = IndexBuilder(files, connection).build()
            wall, cpu = time.perf_counter(), time.process_time()
            connection.execute("CHECKPOINT")
            report.stages["checkpoint"] = (time.perf_counter() - wall, time.process_time() - cpu)
            report.stages["the whole build"] = (
                time.perf_counter() - started_wall,
                time.process_time() - started_cpu,
            )
        finally:
            connection.close()
        os.replace(partial, target)
    except duckdb.Error as error:
        raise IndexBuildError(f"{files.root}: building the index failed: {error}") from None
    finally:
        for leftover in (partial, Path(f"{partial}.wal"), Path(f"{partial}.tmp")):
            _remove(leftover)
    logger.info(
        "indexed %s: %s rows, %d skipped",
        files.root,
        report.rows,
        report.skipped,
        extra={"stages": report.stages},
    )
    return report


def open_snapshot(
    scenario_dir: Path | str, *, cache_dir: Path | str | None = None, rebuild: bool = False
) -> Snapshot:
    """Open the scenario at ``scenario_dir``, building its index first if no cached one fits.

    Raises:
        NotAScenarioError: the directory is missing or holds no scenario files.
        IndexBuildError: the index could not be built or opened.
    """
    root = Path(scenario_dir)
    files = find_scenario_files(root)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise IndexBuildError(f"{cache}: cannot create the index cache: {error.strerror}") from None
    target = index_path_for(files, cache)
    if rebuild or not target.exists():
        try:
            with _build_lock(target):
                if rebuild or not target.exists():
                    remove_build_leftovers(cache, holding=target)
                    build_index(files, target)
        except OSError as error:
            raise IndexBuildError(
                f"{cache}: cannot write the index of {root} there: {error.strerror or error}"
            ) from None
    return Snapshot(root, target)
