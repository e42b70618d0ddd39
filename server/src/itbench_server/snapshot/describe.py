"""A plain-text account of what a scenario index holds: ``itbench-server index`` prints it."""

from __future__ import annotations

from itbench_server.snapshot.schema import EVIDENCE_TABLES
from itbench_server.snapshot.snapshot import Snapshot

__all__ = ["describe_snapshot"]


def describe_snapshot(snapshot: Snapshot) -> str:
    """The window, rows per table, files read and everything skipped, in a stable order."""
    window = snapshot.window
    lines = [
        f"scenario: {snapshot.scenario_dir}",
        f"index:    {snapshot.index_path}",
        f"window:   {window.start.isoformat()} .. {window.end.isoformat()} "
        f"({(window.end - window.start).total_seconds() / 60:.1f} min)",
        "",
        "rows per table:",
    ]
    for table in EVIDENCE_TABLES:
        (count,) = snapshot.query(f"SELECT count(*) FROM {table}")[0]
        lines.append(f"  {table:<8} {count:>12,}")
    inventory = snapshot.inventory()
    lines += ["", f"files read: {len(inventory)}"]
    by_table: dict[str, tuple[int, int, int]] = {}
    for _file, table, rows, size in inventory:
        files, total_rows, total_bytes = by_table.get(table, (0, 0, 0))
        by_table[table] = (files + 1, total_rows + rows, total_bytes + size)
    for table, (files, rows, size) in sorted(by_table.items()):
        lines.append(f"  {table:<8} {files:>5} file(s) {rows:>12,} rows {size / 1e6:>10.1f} MB")
    skipped = snapshot.skipped()
    lines += ["", f"skipped: {len(skipped)}" + (" (nothing)" if not skipped else "")]
    for item in skipped[:100]:
        where = f"{item.file}:{item.line}" if item.line is not None else item.file
        lines.append(f"  {where}: {item.reason}")
    if len(skipped) > 100:
        lines.append(f"  ... and {len(skipped) - 100} more")
    return "\n".join(lines)
