"""Layer 1: find, parse and index the files of one scenario directory.

``open_snapshot(dir)`` builds (or reuses) the DuckDB index of a scenario and opens it read-only.
The ground truth is never read here.
"""

from itbench_server.snapshot.schema import EVIDENCE_TABLES, SCHEMA_VERSION, TABLE_DDL
from itbench_server.snapshot.snapshot import SkippedInput, Snapshot, TimeWindow

__all__ = ["EVIDENCE_TABLES", "SCHEMA_VERSION", "TABLE_DDL", "SkippedInput", "Snapshot", "TimeWindow"]
