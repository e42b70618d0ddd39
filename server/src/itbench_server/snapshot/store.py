"""Open a scenario: build its index once into a cache, then open it read-only.

The cache key is the identity of the scenario's files (relative path, size, modification time)
and the index schema version, so an index is rebuilt exactly when a file changes. A build writes
to a temporary file and renames it into place, under a lock, so concurrent processes never see a
half-built index and never build the same one twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb

from itbench_server.errors import IndexBuildError
from itbench_server.snapshot.discover import ScenarioFiles, find_scenario_files
from itbench_server.snapshot.ingest import IndexBuilder
from itbench_server.snapshot.schema import SCHEMA_VERSION
from itbench_server.snapshot.snapshot import Snapshot

logger = logging.getLogger(__name__)

# Bump when ingest changes what it writes for the same files.
INGEST_REVISION = 1


def default_cache_dir() -> Path:
    """``$ITBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/itbench-server``, else ``~/.cache/itbench-server``."""
    if configured := os.environ.get("ITBENCH_CACHE_DIR"):
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "itbench-server"


def fingerprint(files: ScenarioFiles) -> str:
    """A digest of the identity of every file the index is built from."""
    digest = hashlib.sha256(f"schema={SCHEMA_VERSION};ingest={INGEST_REVISION}".encode())
    digest.update(str(files.root.resolve()).encode())
    for source in files.sources:
        digest.update(f"\n{source.relative}\t{source.size}\t{source.mtime_ns}".encode())
    for relative, reason in files.refused:
        digest.update(f"\n!{relative}\t{reason}".encode())
    return digest.hexdigest()[:20]


def index_path_for(files: ScenarioFiles, cache_dir: Path) -> Path:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", files.root.resolve().name) or "scenario"
    return cache_dir / f"{name}-{fingerprint(files)}.duckdb"


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_suffix(".lock")
    with lock_path.open("w", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_index(files: ScenarioFiles, target: Path) -> None:
    """Build the index of ``files`` at ``target`` (replacing it atomically).

    Raises:
        IndexBuildError: DuckDB failed in a way ingest could not attribute to one file.
    """
    partial = target.with_name(f"{target.name}.building-{os.getpid()}")
    partial.unlink(missing_ok=True)
    try:
        connection = duckdb.connect(str(partial))
        try:
            connection.execute("SET preserve_insertion_order = true")
            report = IndexBuilder(files, connection).build()
            connection.execute("CHECKPOINT")
        finally:
            connection.close()
        os.replace(partial, target)
    except duckdb.Error as error:
        raise IndexBuildError(f"{files.root}: building the index failed: {error}") from None
    finally:
        partial.unlink(missing_ok=True)
        Path(f"{partial}.wal").unlink(missing_ok=True)
    logger.info("indexed %s: %s rows, %d skipped", files.root, report.rows, report.skipped)


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
        with _build_lock(target):
            if rebuild or not target.exists():
                build_index(files, target)
    return Snapshot(root, target)
