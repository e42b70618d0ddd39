"""The Ray backend on a real two-node cluster on loopback: the same results as the local backend,
and a worker killed mid-run loses no run and duplicates none."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ray_agents import KILLED_MARKER

from itbench_eval import mockmodel
from itbench_eval.agents import resolve_agent
from itbench_eval.backends.ray_backend import CacheNotShared, build_index_cache, check_index, resources_for
from itbench_eval.cli import main
from itbench_eval.groundtruth import oracle_names
from itbench_eval.mockmodel import load_script, serve
from itbench_eval.results import RunResult, read_results
from itbench_eval.runner import EvalSettings, run_evaluation
from itbench_eval.tasks import Task

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

EXAMPLE_SCRIPT = Path(mockmodel.__file__).parent / "examples" / "investigate-and-submit.yaml"


def settings(out: Path, cache_dir: Path, agent: str, **overrides: object) -> EvalSettings:
    values: dict[str, object] = {
        "agent": agent, "out_dir": out, "repeats": 2, "max_turns": 5, "timeout_s": 120.0,
        "concurrency": 2, "cache_dir": cache_dir,
    }  # fmt: skip
    values.update(overrides)
    return EvalSettings.model_validate(values)


def outcomes(rows: list[RunResult]) -> list[tuple[str, int, float, str]]:
    return sorted((row.task, row.repeat, row.score, row.error_class) for row in rows)


async def test_the_oracle_on_ray_gives_the_results_of_the_local_backend(
    task: Task, tmp_path: Path, cache_dir: Path, ray_cluster: str
) -> None:
    local = await run_evaluation(
        [task], settings(tmp_path / "local", cache_dir, "oracle"), resolve_agent("oracle")
    )
    on_ray = settings(tmp_path / "ray", cache_dir, "oracle", backend="ray", ray_address=ray_cluster)

    rows = await run_evaluation([task], on_ray, resolve_agent("oracle"))

    assert outcomes(rows) == outcomes(local) == [(task.id, 1, 1.0, "ok"), (task.id, 2, 1.0, "ok")]
    assert outcomes(read_results(tmp_path / "ray" / "results.jsonl")) == outcomes(local)
    assert all((tmp_path / "ray" / row.run_dir / "submission.json").is_file() for row in rows)


async def test_a_worker_killed_mid_run_is_retried_and_its_run_recorded_once(
    task: Task, tmp_path: Path, cache_dir: Path, ray_cluster: str
) -> None:
    agent = "py:ray_agents:KillsItsWorkerOnceAgent"
    config = settings(tmp_path, cache_dir, agent, repeats=1, backend="ray", ray_address=ray_cluster)

    rows = await run_evaluation([task], config, resolve_agent(agent))

    assert (tmp_path / KILLED_MARKER).is_file()  # the first attempt did kill its worker
    assert outcomes(rows) == [(task.id, 1, 1.0, "ok")]
    assert len((tmp_path / "results.jsonl").read_text(encoding="utf-8").splitlines()) == 1


async def test_a_run_whose_workers_all_die_still_gets_its_row_as_a_harness_error(
    task: Task, tmp_path: Path, cache_dir: Path, ray_cluster: str
) -> None:
    agent = "py:ray_agents:AlwaysKillsItsWorkerAgent"
    config = settings(tmp_path, cache_dir, agent, repeats=1, backend="ray", ray_address=ray_cluster)

    [row] = await run_evaluation([task], config, resolve_agent(agent))

    assert (row.task, row.repeat, row.error_class) == (task.id, 1, "harness_error")
    assert "the run's Ray task failed after 3 retries: WorkerCrashedError" in row.error
    assert len(read_results(tmp_path / "results.jsonl")) == 1


def test_each_agent_kind_asks_ray_for_its_own_resources() -> None:
    assert resources_for("claude-code") == {"num_cpus": 1.0, "memory": float(1 << 30)}
    assert resources_for("openai:gpt-x") == {"num_cpus": 0.5, "memory": float(1 << 29)}
    assert resources_for("py:ray_agents:KillsItsWorkerOnceAgent") == resources_for("oracle")
    assert resources_for("oracle") == {"num_cpus": 0.5, "memory": float(1 << 28)}


def test_a_worker_that_cannot_see_the_drivers_index_cache_refuses_to_start_a_server(
    task: Task, tmp_path: Path, cache_dir: Path
) -> None:
    built = build_index_cache({task.id: task.scenario_dir}, cache_dir)[str(task.scenario_dir)]

    check_index(task.scenario_dir, cache_dir, built)  # the driver's own cache: found
    with pytest.raises(CacheNotShared, match="filesystem every Ray node shares"):
        check_index(task.scenario_dir, tmp_path / "not-shared", built)


def test_the_command_line_runs_a_shard_on_ray(
    task: Task, tmp_path: Path, cache_dir: Path, ray_cluster: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["--agent", "oracle", "--scenarios", str(task.scenario_dir), "--repeats", "2", "--shard", "2/2"]
    argv += [
        "--backend",
        "ray",
        "--ray-address",
        ray_cluster,
        "--cache-dir",
        str(cache_dir),
        "--out",
        str(out),
    ]

    status = main(argv)

    assert status == 0, capsys.readouterr().err
    assert outcomes(read_results(out / "results.jsonl")) == [(task.id, 2, 1.0, "ok")]


def test_a_scripted_model_agent_on_ray_scores_and_spends_as_it_does_locally(
    task: Task, tmp_path: Path, cache_dir: Path, ray_cluster: str, capsys: pytest.CaptureFixture[str]
) -> None:
    script = yaml.safe_load(EXAMPLE_SCRIPT.read_text(encoding="utf-8"))
    script["steps"][3]["submit"] = script["forced"]["submit"] = oracle_names(task.ground_truth())
    rows: dict[str, list[tuple[str, int, float, str, int | None]]] = {}
    with serve(load_script(script)) as base_url:
        for backend in ("local", "ray"):
            out = tmp_path / backend
            argv = ["--agent", "openai:gpt-x", "--base-url", f"{base_url}/v1", "--repeats", "1"]
            argv += ["--scenarios", str(task.scenario_dir), "--cache-dir", str(cache_dir), "--out", str(out)]
            argv += ["--backend", backend, "--ray-address", ray_cluster, "--max-turns", "20"]
            assert main(argv) == 0, capsys.readouterr().err
            rows[backend] = [
                (row.task, row.repeat, row.score, row.error_class, row.tokens_in)
                for row in read_results(out / "results.jsonl")
            ]

    assert rows["ray"] == rows["local"] == [(task.id, 1, 1.0, "ok", 4 * 1200)]
