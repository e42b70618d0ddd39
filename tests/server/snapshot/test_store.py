"""The index is built once per set of files, shared read-only, and rebuilt when a file changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from scenario_files import LOG_COLUMNS, log_row, minimal_scenario, write_tsv

from itbench_server.snapshot import open_snapshot


def test_a_second_open_reuses_the_cached_index(tmp_path: Path) -> None:
    scenario = minimal_scenario(tmp_path / "Scenario-1")
    with open_snapshot(scenario, cache_dir=tmp_path / "cache") as first:
        built_at = first.index_path.stat().st_mtime_ns
        with open_snapshot(scenario, cache_dir=tmp_path / "cache") as second:
            assert second.index_path == first.index_path
            assert second.index_path.stat().st_mtime_ns == built_at
            assert second.query("SELECT count(*) FROM logs") == [(1,)]


def test_changing_a_file_gives_a_fresh_index(tmp_path: Path) -> None:
    scenario = minimal_scenario(tmp_path / "Scenario-1")
    with open_snapshot(scenario, cache_dir=tmp_path / "cache") as before:
        old_path = before.index_path
    write_tsv(
        scenario / "otel_logs_raw.tsv",
        LOG_COLUMNS,
        [log_row("2025-12-15 17:25:19", "a"), log_row("2025-12-15 17:25:20", "b")],
    )
    with open_snapshot(scenario, cache_dir=tmp_path / "cache") as after:
        assert after.index_path != old_path
        assert after.query("SELECT count(*) FROM logs") == [(2,)]


def test_a_file_rewritten_in_place_with_the_same_size_and_mtime_gives_a_fresh_index(tmp_path: Path) -> None:
    # Inode, size and mtime can all repeat (a reused inode, a coarse clock); the content decides.
    scenario = minimal_scenario(tmp_path / "Scenario-1")
    logs = scenario / "otel_logs_raw.tsv"
    with open_snapshot(scenario, cache_dir=tmp_path / "cache") as before:
        old_path = before.index_path
        [(old_body,)] = before.query("SELECT body FROM logs")
    stat = logs.stat()
    text = logs.read_text()
    with logs.open("r+") as file:  # same inode
        file.write(text.replace(str(old_body), str(old_body)[::-1]))
    os.utime(logs, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (logs.stat().st_ino, logs.stat().st_size, logs.stat().st_mtime_ns) == (
        stat.st_ino, stat.st_size, stat.st_mtime_ns,
    )  # fmt: skip

    with open_snapshot(scenario, cache_dir=tmp_path / "cache") as after:
        assert after.index_path != old_path
        assert after.query("SELECT body FROM logs") == [(str(old_body)[::-1],)]


def test_the_window_spans_the_recorded_evidence(tmp_path: Path) -> None:
    scenario = tmp_path / "Scenario-1"
    write_tsv(
        scenario / "otel_logs_raw.tsv",
        LOG_COLUMNS,
        [log_row("2025-12-15 17:25:19", "a"), log_row("2025-12-15 17:45:19", "b")],
    )
    with open_snapshot(scenario, cache_dir=tmp_path / "cache") as snapshot:
        assert (snapshot.window.start.isoformat(), snapshot.window.end.isoformat()) == (
            "2025-12-15T17:25:19",
            "2025-12-15T17:45:19",
        )


def test_other_processes_open_the_same_index_read_only_while_it_is_open(tmp_path: Path) -> None:
    scenario = minimal_scenario(tmp_path / "Scenario-1")
    cache = tmp_path / "cache"
    with open_snapshot(scenario, cache_dir=cache) as snapshot:
        code = (
            "import sys; from itbench_server.snapshot import open_snapshot; "
            "s = open_snapshot(sys.argv[1], cache_dir=sys.argv[2]); print(s.index_path, s.query('SELECT count(*) FROM logs'))"
        )
        result = subprocess.run(
            [sys.executable, "-c", code, str(scenario), str(cache)],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        assert result.stdout.strip() == f"{snapshot.index_path} [(1,)]"


def test_index_command_prints_what_it_found_and_errors_without_a_traceback(tmp_path: Path) -> None:
    scenario = minimal_scenario(tmp_path / "Scenario-1")
    env = {**os.environ, "ITBENCH_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "itbench_server.cli", "index"]
    ok = subprocess.run([*command, str(scenario)], capture_output=True, text=True, env=env, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "logs" in ok.stdout and "skipped: 0 (nothing)" in ok.stdout
    bad = subprocess.run(
        [*command, str(tmp_path / "nope")], capture_output=True, text=True, env=env, timeout=60
    )
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr == f"error: {tmp_path / 'nope'}: no such directory\n"
