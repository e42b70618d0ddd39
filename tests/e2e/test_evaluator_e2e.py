"""The evaluator end to end on the bundled fixtures: real server processes, real scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_agents import shared_index_cache

from itbench_eval.cli import main
from itbench_eval.report import compare_results
from itbench_eval.results import read_results
from itbench_eval.tasks import default_scenarios_dir, discover_tasks


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_index_cache(tmp_path_factory.getbasetemp())


def evaluate(agent: str, out: Path, cache_dir: Path) -> int:
    return main(
        [
            "--agent",
            agent,
            "--repeats",
            "1",
            "--concurrency",
            "4",
            "--out",
            str(out),
            "--cache-dir",
            str(cache_dir),
            "--scenarios",
            str(default_scenarios_dir()),
        ]
    )


def test_the_oracle_scores_one_on_every_bundled_fixture(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = discover_tasks()

    assert evaluate("oracle", tmp_path, cache_dir) == 0  # the bundled fixtures

    rows = read_results(tmp_path / "results.jsonl")
    assert sorted((row.task, row.score, row.error_class, row.fn) for row in rows) == sorted(
        (task.id, 1.0, "ok", 0) for task in tasks
    )
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert (summary["agents"][0]["score"], summary["agents"][0]["pass_at_1"]) == (1.0, 1.0)
    for row in rows:
        audit = [
            json.loads(line) for line in (tmp_path / row.run_dir / "audit.jsonl").read_text().splitlines()
        ]
        assert [entry.get("tool") for entry in audit] == ["submit_diagnosis"]
    printed = " ".join(capsys.readouterr().out.split())  # the table wraps to the terminal's width
    assert (
        f"ITBench-AA score of oracle: 100.0% [100.0%, 100.0%] (95% CI, ± 0.0% standard error) over {len(tasks)} tasks"
        in printed
    )
    assert all(task.id in printed for task in tasks)


def test_the_baseline_beats_nop(tmp_path: Path, cache_dir: Path) -> None:
    assert evaluate("nop", tmp_path / "nop", cache_dir) == 1  # no run ended ok: nop never submits
    assert evaluate("baseline", tmp_path / "baseline", cache_dir) == 0

    comparison = compare_results(tmp_path / "nop", tmp_path / "baseline")

    assert comparison.score_a == 0.0
    assert comparison.score_b > comparison.score_a
    assert all(task.delta is not None and task.delta >= 0 for task in comparison.tasks)
    baseline_rows = read_results(tmp_path / "baseline" / "results.jsonl")
    assert all(row.error_class == "ok" for row in baseline_rows)
    used = {
        json.loads(line)["tool"]
        for row in baseline_rows
        for line in (tmp_path / "baseline" / row.run_dir / "transcript.jsonl").read_text().splitlines()
        if json.loads(line)["type"] == "tool_call"
    }
    assert used == {"get_alerts", "get_changes", "get_events", "get_topology", "search_logs", "query_metrics",
                    "submit_diagnosis"}  # fmt: skip
