"""--shard I/N slices the runs deterministically, and merge joins shards into one evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest

from itbench_eval.agents import resolve_agent
from itbench_eval.backends import ShardError, parse_shard, shard_slice
from itbench_eval.backends.merge import MergeError, merge_results
from itbench_eval.cli import main
from itbench_eval.results import RunResult, read_results
from itbench_eval.runner import EvalSettings, run_evaluation
from itbench_eval.tasks import Task

pytestmark = pytest.mark.anyio


def settings(out: Path, cache_dir: Path, **overrides: object) -> EvalSettings:
    values: dict[str, object] = {
        "agent": "oracle", "out_dir": out, "repeats": 2, "max_turns": 5, "timeout_s": 60.0,
        "concurrency": 2, "cache_dir": cache_dir,
    }  # fmt: skip
    values.update(overrides)
    return EvalSettings.model_validate(values)


def outcomes(rows: list[RunResult]) -> list[tuple[str, int, float, str]]:
    return sorted((row.task, row.repeat, row.score, row.error_class) for row in rows)


def test_the_shards_of_a_run_list_are_disjoint_and_make_the_whole_whatever_the_order() -> None:
    jobs = [(name, repeat) for repeat in (1, 2, 3) for name in ("c", "a", "b")]

    shards = [shard_slice(jobs, (index, 4), key=str) for index in (1, 2, 3, 4)]
    again = [shard_slice(list(reversed(jobs)), (index, 4), key=str) for index in (1, 2, 3, 4)]

    assert shards == again
    assert sorted(job for shard in shards for job in shard) == sorted(jobs)
    assert shards[0] == [("a", 1), ("b", 2), ("c", 3)]


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_a_shard_that_is_not_i_of_n_is_refused(text: str) -> None:
    with pytest.raises(ShardError, match="expected I/N"):
        parse_shard(text)


async def test_shards_merged_equal_one_run(task: Task, tmp_path: Path, cache_dir: Path) -> None:
    whole = await run_evaluation([task], settings(tmp_path / "whole", cache_dir), resolve_agent("oracle"))
    for index in (1, 2):
        shard = settings(tmp_path / f"shard{index}", cache_dir, shard=(index, 2))
        assert len(await run_evaluation([task], shard, resolve_agent("oracle"))) == 1

    merged = merge_results(
        tmp_path / "merged", [tmp_path / "shard1", tmp_path / "shard2", tmp_path / "shard1"]
    )

    assert outcomes(merged) == outcomes(whole)
    assert outcomes(read_results(tmp_path / "merged" / "results.jsonl")) == outcomes(whole)
    assert all((tmp_path / "merged" / row.run_dir / "submission.json").is_file() for row in merged)
    assert (tmp_path / "merged" / "settings.json").is_file()


async def test_merge_refuses_shards_run_under_other_conditions(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    for index, seed in ((1, 0), (2, 7)):
        shard = settings(tmp_path / f"shard{index}", cache_dir, shard=(index, 2), seed=seed)
        await run_evaluation([task], shard, resolve_agent("oracle"))

    with pytest.raises(MergeError, match="seed: 0 vs 7"):
        merge_results(tmp_path / "merged", [tmp_path / "shard1", tmp_path / "shard2"])
    assert not (tmp_path / "merged" / "results.jsonl").exists()


def test_the_merge_command_joins_shards_and_reports_a_bad_one_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shard = tmp_path / "shard"
    shard.mkdir()

    status = main(["merge", str(tmp_path / "merged"), str(shard)])

    assert status == 2
    assert capsys.readouterr().err.strip() == f"error: merge: {shard} holds no results.jsonl"


def test_run_refuses_a_malformed_shard_option(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--agent", "oracle", "--shard", "2/1", "--out", "/nonexistent/x"])

    assert status == 2
    assert "--shard 2/1: expected I/N" in capsys.readouterr().err
