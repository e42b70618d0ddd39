"""Bad snapshots never crash the loader: what it cannot read is skipped and reported, or refused
with a one-line error naming the file; nothing outside the scenario directory is ever read.

Each test breaks one thing in a small valid scenario (one line of logs) and checks that the rest
still loads.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from scenario_files import (
    LOG_COLUMNS,
    POD_METRIC_COLUMNS,
    minimal_scenario,
    object_row,
    watch_record,
    write_tsv,
)

from itbench_server.errors import NotAScenarioError
from itbench_server.snapshot import EVIDENCE_TABLES, SkippedInput, Snapshot, open_snapshot

ALERT_FILE = "alerts/alerts_at_2025-12-15T17-27-00.000000.json"
OUTSIDE = "symlink leading outside the scenario or to its ground truth; not read"
PLANTED = "the-planted-answer-7f3a"


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """A valid scenario with one log line, in its own directory (tmp_path holds other things)."""
    return minimal_scenario(tmp_path / "Scenario-1")


def load(scenario: Path) -> Snapshot:
    return open_snapshot(scenario, cache_dir=scenario.parent / "cache")


def assert_only_the_good_file_loaded(snapshot: Snapshot) -> None:
    assert snapshot.query("SELECT body FROM logs") == [("started",)]


def planted_tsv(path: Path) -> Path:
    """A readable events file naming the planted secret: it is in the index only if it was read."""
    event = {"metadata": {"name": PLANTED, "namespace": "otel-demo"}, "reason": PLANTED, "type": "Warning"}
    return write_tsv(path, LOG_COLUMNS, [{"Timestamp": "2025-12-15 17:25:30", "Body": watch_record(event)}])


def index_holds_the_secret(snapshot: Snapshot) -> bool:
    return any(
        snapshot.query(f"SELECT count(*) FROM {table} AS x WHERE contains(CAST(x AS VARCHAR), ?)", [PLANTED])
        != [(0,)]
        for table in [*EVIDENCE_TABLES, "skipped"]
    )


def test_a_bare_carriage_return_in_a_tsv_header_skips_that_file_and_names_the_problem(
    scenario: Path,
) -> None:
    text = "\t".join(LOG_COLUMNS).replace("ServiceName", "Service\rName") + "\n"
    text += "\t".join(["2025-12-15 17:25:30"] + [""] * (len(LOG_COLUMNS) - 1)) + "\n"
    (scenario / "k8s_events_raw.tsv").write_text(text, encoding="utf-8", newline="")

    with load(scenario) as snapshot:
        assert_only_the_good_file_loaded(snapshot)
        assert snapshot.skipped() == [
            SkippedInput("k8s_events_raw.tsv", 1, "header row holds a bare carriage return (CR); not read")
        ]


def test_a_header_field_over_128_kib_skips_that_file_and_names_the_problem(scenario: Path) -> None:
    huge_column = "Body" + "x" * (200 * 1024)
    (scenario / "k8s_events_raw.tsv").write_text(
        f"Timestamp\tBody\t{huge_column}\n2025-12-15 17:25:30\t{{}}\ty\n", encoding="utf-8"
    )

    with load(scenario) as snapshot:
        assert_only_the_good_file_loaded(snapshot)
        [skipped] = snapshot.skipped()
    assert (skipped.file, skipped.line) == ("k8s_events_raw.tsv", 1)
    assert skipped.reason == (
        f"header row cannot be parsed: a column name of {len(huge_column)} characters (at most 131072 are read)"
    )


def test_a_header_field_over_128_kib_is_refused_whatever_csvs_process_wide_limit(scenario: Path) -> None:
    previous = csv.field_size_limit(1 << 30)  # as other code in the same process may do
    try:
        test_a_header_field_over_128_kib_skips_that_file_and_names_the_problem(scenario)
    finally:
        csv.field_size_limit(previous)


def test_an_alert_file_nested_100000_levels_deep_is_skipped_as_too_deep(scenario: Path) -> None:
    (scenario / "alerts").mkdir()
    (scenario / ALERT_FILE).write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")

    with load(scenario) as snapshot:
        assert_only_the_good_file_loaded(snapshot)
        assert snapshot.skipped() == [
            SkippedInput(ALERT_FILE, None, "JSON nested too deeply to read; not read")
        ]


@pytest.mark.parametrize("links", [{"k8s_events_raw.tsv": "k8s_events_raw.tsv"},
                                   {"k8s_events_raw.tsv": "a", "a": "b", "b": "a"}],
                         ids=["to-itself", "through-two-links"])  # fmt: skip
def test_a_symlink_loop_is_skipped_as_a_loop(scenario: Path, links: dict[str, str]) -> None:
    for name, target in links.items():
        (scenario / name).symlink_to(target)

    with load(scenario) as snapshot:
        assert_only_the_good_file_loaded(snapshot)
        assert snapshot.skipped() == [SkippedInput("k8s_events_raw.tsv", None, "symlink loop; not read")]


def load_in_another_process(scenario: Path, prefix: Sequence[str] = ()) -> list[object]:
    """[log rows, skipped as lists] of ``scenario``, loaded by a child process that may not hang us."""
    code = (
        "import json, sys; from itbench_server.snapshot import open_snapshot\n"
        "with open_snapshot(sys.argv[1], cache_dir=sys.argv[2]) as s:\n"
        "    print(json.dumps([s.query('SELECT count(*) FROM logs')[0][0],"
        " [[k.file, k.line, k.reason] for k in s.skipped()]]))"
    )
    result = subprocess.run(
        [*prefix, sys.executable, "-c", code, str(scenario), str(scenario.parent / "cache")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_fifo_named_like_a_data_file_is_skipped_without_being_opened(scenario: Path) -> None:
    os.mkfifo(scenario / "k8s_events_raw.tsv")  # opening it would block for ever: nobody writes to it

    assert load_in_another_process(scenario) == [
        1, [["k8s_events_raw.tsv", None, "a FIFO, not a file; not read"]]
    ]  # fmt: skip


def test_a_directory_named_like_a_data_file_is_skipped_as_not_a_file(scenario: Path) -> None:
    (scenario / "k8s_events_raw.tsv").mkdir()

    with load(scenario) as snapshot:
        assert_only_the_good_file_loaded(snapshot)
        assert snapshot.skipped() == [
            SkippedInput("k8s_events_raw.tsv", None, "a directory, not a file; not read")
        ]


def test_an_unreadable_file_is_skipped_with_the_systems_reason(scenario: Path) -> None:
    path = write_tsv(scenario / "k8s_events_raw.tsv", LOG_COLUMNS, [])
    path.chmod(0)
    prefix: list[str] = []
    if os.access(path, os.R_OK):  # root: load without the capabilities that let it read anything
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("this user reads a file whatever its mode, and there is no setpriv to drop that")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]

    assert load_in_another_process(scenario, prefix) == [
        1, [["k8s_events_raw.tsv", None, "cannot read: Permission denied"]]
    ]  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_bytes_appended_to_a_log_file_keep_the_rows_before_them(scenario: Path, seed: int) -> None:
    with (scenario / "otel_logs_raw.tsv").open("ab") as handle:
        handle.write(random.Random(seed).randbytes(4096))

    with load(scenario) as snapshot:
        assert_only_the_good_file_loaded(snapshot)
        skipped = snapshot.skipped()
    assert skipped[0].file == "otel_logs_raw.tsv" and skipped[0].line is None
    assert skipped[0].reason.startswith("not valid CSV throughout (")
    assert skipped[0].reason.endswith("); read again without strict quoting")
    assert all(item.file == "otel_logs_raw.tsv" and item.line for item in skipped[1:])


def test_random_bytes_in_one_metric_file_leave_the_other_metric_files_whole(scenario: Path) -> None:
    for pod in ("ad-1", "cart-1", "email-1"):
        write_tsv(scenario / "metrics" / f"pod_{pod}_raw.tsv", POD_METRIC_COLUMNS, [
            {"metric_name": "up", "timestamp": "2025-12-15 17:25:00", "value": "1", "pod_name": pod},
        ])  # fmt: skip
    with (scenario / "metrics" / "pod_cart-1_raw.tsv").open("ab") as handle:
        handle.write(random.Random(0).randbytes(4096))

    with load(scenario) as snapshot:
        assert snapshot.query("SELECT entity, metric, value FROM samples ORDER BY entity") == [
            ("ad-1", "up", 1.0), ("cart-1", "up", 1.0), ("email-1", "up", 1.0),
        ]  # fmt: skip
        assert {item.file for item in snapshot.skipped()} == {"metrics/pod_cart-1_raw.tsv"}


def test_random_bytes_appended_to_an_objects_file_keep_the_objects_before_them(scenario: Path) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1"}}
    path = write_tsv(
        scenario / "k8s_objects_raw.tsv", LOG_COLUMNS, [object_row("2025-12-15 17:25:00", node, "nodes")]
    )
    with path.open("ab") as handle:
        handle.write(random.Random(0).randbytes(4096))

    with load(scenario) as snapshot:
        assert snapshot.query("SELECT kind, name FROM objects") == [("Node", "worker-1")]
        assert {item.file for item in snapshot.skipped()} == {"k8s_objects_raw.tsv"}


def test_random_bytes_appended_to_an_alert_file_skip_it_with_the_json_error(scenario: Path) -> None:
    (scenario / "alerts").mkdir()
    (scenario / ALERT_FILE).write_bytes(b"[]" + random.Random(0).randbytes(4096))

    with load(scenario) as snapshot:
        assert_only_the_good_file_loaded(snapshot)
        [skipped] = snapshot.skipped()
    assert (skipped.file, skipped.line) == (ALERT_FILE, 1)
    assert skipped.reason.startswith("not valid JSON: ")


def test_a_dangling_symlink_is_skipped_as_dangling(scenario: Path) -> None:
    (scenario / "k8s_events_raw.tsv").symlink_to("k8s_events_raw.tsv.gone")

    with load(scenario) as snapshot:
        assert_only_the_good_file_loaded(snapshot)
        assert snapshot.skipped() == [
            SkippedInput("k8s_events_raw.tsv", None, "dangling symlink (its target does not exist); not read")
        ]


def test_a_symlink_named_like_a_data_file_that_leads_to_a_directory_is_not_followed(scenario: Path) -> None:
    (scenario / "notes").mkdir()
    (scenario / "notes" / "README").write_text("a directory inside the scenario\n", encoding="utf-8")
    (scenario / "k8s_events_raw.tsv").symlink_to("notes")

    with load(scenario) as snapshot:
        assert_only_the_good_file_loaded(snapshot)
        assert snapshot.skipped() == [
            SkippedInput("k8s_events_raw.tsv", None, "symlink to a directory; not followed")
        ]


def test_a_symlinked_directory_is_not_entered_even_when_it_leads_outside(
    tmp_path: Path, scenario: Path
) -> None:
    write_tsv(tmp_path / "other" / "pod_secret_raw.tsv", POD_METRIC_COLUMNS, [
        {"metric_name": PLANTED, "timestamp": "2025-12-15 17:25:00", "value": "1"},
    ])  # fmt: skip
    (scenario / "metrics").symlink_to(tmp_path / "other")

    with load(scenario) as snapshot:
        assert_only_the_good_file_loaded(snapshot)
        assert snapshot.skipped() == [SkippedInput("metrics", None, "symlink to a directory; not followed")]
        assert snapshot.query("SELECT count(*) FROM samples") == [(0,)]
        assert not index_holds_the_secret(snapshot)


@pytest.mark.parametrize(
    "target",
    ["/etc/passwd", "../other/otel_logs_raw.tsv", "../other/ground_truth.yaml"],
    ids=["absolute-system-file", "relative-outside", "another-scenarios-answer-key"],
)
def test_a_symlink_leading_outside_the_scenario_is_skipped_and_never_read(
    tmp_path: Path, scenario: Path, target: str
) -> None:
    planted_tsv(tmp_path / "other" / "otel_logs_raw.tsv")
    planted_tsv(tmp_path / "other" / "ground_truth.yaml")  # answer keys are never read, whatever they hold
    (scenario / "k8s_events_raw.tsv").symlink_to(target)

    with load(scenario) as snapshot:
        assert_only_the_good_file_loaded(snapshot)
        assert snapshot.skipped() == [SkippedInput("k8s_events_raw.tsv", None, OUTSIDE)]
        assert not index_holds_the_secret(snapshot)
        assert b"root:x:0" not in snapshot.index_path.read_bytes()


def test_a_symlink_to_a_data_file_inside_the_scenario_is_read(scenario: Path) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": PLANTED}}
    write_tsv(
        scenario / "raw" / "objects.source", LOG_COLUMNS, [object_row("2025-12-15 17:25:00", node, "nodes")]
    )
    (scenario / "k8s_objects_raw.tsv").symlink_to("raw/objects.source")

    with load(scenario) as snapshot:
        assert snapshot.skipped() == []
        assert snapshot.query("SELECT name FROM objects") == [(PLANTED,)]
        assert index_holds_the_secret(snapshot)  # the check the other tests rely on finds it


def test_a_scenario_whose_only_data_file_is_unusable_is_refused_naming_that_file(tmp_path: Path) -> None:
    scenario = tmp_path / "Scenario-1"
    scenario.mkdir()
    (scenario / "otel_logs_raw.tsv").symlink_to("nowhere.tsv")

    with pytest.raises(NotAScenarioError) as raised:
        load(scenario)

    assert str(raised.value).startswith(f"{scenario}: no scenario files found (")
    assert str(raised.value).endswith(
        "; otel_logs_raw.tsv: dangling symlink (its target does not exist); not read"
    )


def test_leftovers_of_a_killed_build_are_removed_by_the_next_build(scenario: Path) -> None:
    cache = scenario.parent / "cache"
    with load(scenario) as snapshot:
        index = snapshot.index_path
    index.unlink()  # as if the build that would have renamed it into place had been killed
    killed = index.with_name(f"{index.name}.building-999999")
    killed.write_bytes(b"half an index")
    Path(f"{killed}.wal").write_bytes(b"a write-ahead log")
    Path(f"{killed}.tmp").mkdir()
    Path(f"{killed}.tmp", "spill.block").write_bytes(b"spilled")
    index.with_suffix(".lock").touch()
    # And those of a build of an older version of the files, which no build will ever redo.
    older = cache / "Scenario-1-0123456789abcdef0123.duckdb"
    Path(f"{older}.building-4242").write_bytes(b"half an index")
    older.with_suffix(".lock").touch()

    with load(scenario) as snapshot:
        assert_only_the_good_file_loaded(snapshot)

    assert sorted(path.name for path in cache.iterdir()) == [index.name]


def test_the_partial_files_of_a_build_in_progress_elsewhere_are_left_alone(scenario: Path) -> None:
    cache = scenario.parent / "cache"
    cache.mkdir()
    other = cache / "Scenario-2-0123456789abcdef0123.duckdb"
    partial = Path(f"{other}.building-4242")
    partial.write_bytes(b"being written")
    with other.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other build holds its lock

        with load(scenario) as snapshot:
            assert_only_the_good_file_loaded(snapshot)

        assert partial.exists() and other.with_suffix(".lock").exists()
