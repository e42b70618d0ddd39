"""results.jsonl: append-only, one whole line per finished run, torn tails ignored and cut."""

from __future__ import annotations

from pathlib import Path

import pytest

from itbench_eval.results import ResultsFileError, RunResult, append_result, finished_keys, read_results


def make_row(task: str = "Scenario-1", repeat: int = 1, score: float = 1.0, **fields: object) -> RunResult:
    values: dict[str, object] = {
        "task": task,
        "agent": "oracle",
        "repeat": repeat,
        "seed": repeat - 1,
        "score": score,
        "tp": 1,
        "fp": 0,
        "fn": 0,
        "submitted": ["otel-demo/Deployment/ad"],
        "matches": [],
        "turns": 1,
        "tool_calls": 1,
        "wall_time_s": 1.5,
        "error_class": "ok",
        "run_dir": f"runs/{task}/oracle/r{repeat}",
    }
    values.update(fields)
    return RunResult.model_validate(values)


def test_appended_rows_read_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    rows = [make_row("Scenario-1", 1), make_row("Scenario-2", 1, score=0.5), make_row("Scenario-1", 2)]
    for row in rows:
        append_result(path, row)

    assert read_results(path) == rows
    assert finished_keys(read_results(path)) == {
        ("Scenario-1", "oracle", 1),
        ("Scenario-2", "oracle", 1),
        ("Scenario-1", "oracle", 2),
    }


def test_each_row_is_one_line_ending_in_a_newline(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    append_result(path, make_row(error="a message\nwith a newline"))
    append_result(path, make_row(repeat=2))

    data = path.read_bytes()
    assert data.count(b"\n") == 2
    assert data.endswith(b"\n")


def test_a_torn_last_line_is_ignored_by_readers(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    append_result(path, make_row())
    with path.open("ab") as file:
        file.write(make_row(repeat=2).model_dump_json().encode()[:40])

    assert read_results(path) == [make_row()]


def test_the_next_append_cuts_a_torn_last_line_off(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    append_result(path, make_row())
    with path.open("ab") as file:
        file.write(b'{"task": "Scenario-9", "ag')
    append_result(path, make_row(repeat=2))

    assert read_results(path) == [make_row(), make_row(repeat=2)]
    assert b"Scenario-9" not in path.read_bytes()


def test_a_file_holding_only_a_torn_line_reads_as_empty_and_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(b'{"task": "Scen')

    assert read_results(path) == []
    append_result(path, make_row())
    assert read_results(path) == [make_row()]


def test_a_missing_file_has_no_rows(tmp_path: Path) -> None:
    assert read_results(tmp_path / "results.jsonl") == []


def test_a_corrupt_line_before_the_last_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    append_result(path, make_row())
    with path.open("ab") as file:
        file.write(b"not json\n")
    append_result(path, make_row(repeat=2))

    with pytest.raises(ResultsFileError, match=r"results.jsonl, line 2: not a result row"):
        read_results(path)
