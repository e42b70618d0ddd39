"""Layer 1: find, parse and index the files of one scenario directory.

``open_snapshot(dir)`` builds (or reuses) the DuckDB index of a scenario and opens it read-only.
The ground truth is never read here.
"""

from itbench_server.snapshot.describe import describe_snapshot
from itbench_server.snapshot.discover import ScenarioFiles, SourceFile, find_scenario_files
from itbench_server.snapshot.schema import EVIDENCE_TABLES, SCHEMA_VERSION, TABLE_DDL
from itbench_server.snapshot.snapshot import SkippedInput, Snapshot, TimeWindow
from itbench_server.snapshot.store import build_index, default_cache_dir, open_snapshot

__all__ = [
    "EVIDENCE_TABLES",
    "SCHEMA_VERSION",
    "TABLE_DDL",
    "ScenarioFiles",
    "SkippedInput",
    "Snapshot",
    "SourceFile",
    "TimeWindow",
    "build_index",
    "default_cache_dir",
    "describe_snapshot",
    "find_scenario_files",
    "open_snapshot",
]
