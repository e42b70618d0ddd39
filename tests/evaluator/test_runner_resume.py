"""Resume after the evaluator is killed with SIGKILL while runs are in progress."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from eval_agents import HANGING_LINE, shared_index_cache

from itbench_eval.results import read_results
from itbench_eval.tasks import discover_tasks

SUPPORT_DIR = Path(__file__).resolve().parents[1] / "support"
AGENT = "py:eval_agents:HangingFromRepeatAgent"


def evaluator_command(scenarios: list[Path], out: Path, cache_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "itbench_eval.cli",
        "--agent",
        AGENT,
        "--repeats",
        "3",
        "--concurrency",
        "2",
        "--timeout",
        "600",
        "--out",
        str(out),
        "--cache-dir",
        str(cache_dir),
        "--resume",
        "--scenarios",
        *map(str, scenarios),
    ]


def environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "ITBENCH_TEST_HANG_FROM_REPEAT"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SUPPORT_DIR), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def test_resume_after_kill_9_neither_redoes_nor_loses_a_finished_run(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tasks = discover_tasks()[:2]
    scenarios = [task.scenario_dir for task in tasks]
    out, cache_dir = tmp_path / "out", shared_index_cache(tmp_path_factory.getbasetemp())
    process = subprocess.Popen(
        evaluator_command(scenarios, out, cache_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,  # progress lines go to stderr, results to stdout
        text=True,
        env=environment(ITBENCH_TEST_HANG_FROM_REPEAT="2"),
        start_new_session=True,
    )
    watchdog = threading.Timer(300, process.kill)  # a hung test fails instead of hanging the suite
    watchdog.start()
    try:
        assert process.stderr is not None
        finished = hanging = 0
        for line in process.stderr:
            finished += line.startswith("[")
            hanging += line.startswith(HANGING_LINE)
            if finished == len(tasks) and hanging:
                break
        # Every repeat-1 run is finished and reported; a repeat-2 run has begun (it hangs).
        assert (finished, hanging > 0) == (len(tasks), True)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        watchdog.cancel()
        if process.stderr is not None:
            process.stderr.close()

    before = (out / "results.jsonl").read_bytes()
    killed_rows = read_results(out / "results.jsonl")
    assert sorted((row.task, row.repeat) for row in killed_rows) == sorted((task.id, 1) for task in tasks)
    assert any(path.name == "r2" for path in (out / "runs").glob("*/*/r2"))  # an interrupted run

    resumed = subprocess.run(
        evaluator_command(scenarios, out, cache_dir),
        capture_output=True,
        text=True,
        env=environment(),
        timeout=300,
    )

    assert resumed.returncode == 0, resumed.stderr
    rows = read_results(out / "results.jsonl")
    keys = [row.key for row in rows]
    assert len(keys) == len(set(keys))
    assert set(keys) == {(task.id, AGENT, repeat) for task in tasks for repeat in (1, 2, 3)}
    assert (out / "results.jsonl").read_bytes().startswith(before)
    assert rows[: len(killed_rows)] == killed_rows
    assert all(row.error_class == "ok" for row in rows)
    assert f"{3 * len(tasks)} runs ({len(tasks)} already finished)" in resumed.stderr
