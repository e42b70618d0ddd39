"""The baselines every report shows beside an agent, on the same tasks, cached per task set.

* ``nop``: submits nothing; 0 by construction (scored without a run);
* ``baseline``: the fixed-rule investigator (:mod:`itbench_eval.agents.baseline`), run once per
  task against a real server (it is deterministic, so one repeat);
* ``prior``: names the most common root cause kind and object of the other tasks' answer keys
  (:mod:`itbench_eval.agents.prior`), scored straight from the answer keys;
* ``random``: names a random workload of the recording (:mod:`itbench_eval.agents.random_agent`),
  one per repeat with the repeat's seed, scored from the scenario's index; its exact expected
  score per task, ``chance``, is kept too.

Results are cached under ``CACHE/baselines/<task set fingerprint>/`` (the cache is the server's
index cache, ``--cache-dir`` or ``$ITBENCH_CACHE_DIR``): the fingerprint covers every task's id,
data and answer key and the evaluator's and server's versions, so a changed task set or a new
release computes them again, and an unchanged one never does.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from itbench_eval import __version__
from itbench_eval.results import RESULTS_FILE, RunResult
from itbench_eval.scoring import score_names
from itbench_eval.tasks import Task

__all__ = ["BASELINE_AGENTS", "Baselines", "baselines_dir", "compute_baselines", "task_set_fingerprint"]

BASELINE_AGENTS: tuple[str, ...] = ("nop", "baseline", "prior", "random")
_CACHE_FILE = "baselines.json"


class Baselines(BaseModel):
    """The baselines' rows over one task set, and what could not be computed."""

    model_config = ConfigDict(extra="ignore")

    fingerprint: str
    repeats: int
    rows: list[RunResult] = Field(default_factory=list)
    chance: dict[str, float] = Field(default_factory=dict, description="random's expected score per task")
    unavailable: dict[str, str] = Field(default_factory=dict, description="baseline -> why it is missing")


def task_set_fingerprint(tasks: Sequence[Task]) -> str:
    """A digest of the task set: ids, scenario data, answer keys, and the tools' versions."""
    from itbench_eval.settings import scenario_fingerprint, server_facts

    digest = hashlib.sha256(f"itbench-eval {__version__}; server {server_facts()[0]}\n".encode())
    for task in sorted(tasks, key=lambda task: task.id):
        answer = hashlib.sha256(task.ground_truth_text.encode("utf-8")).hexdigest()
        digest.update(f"{task.id}\t{scenario_fingerprint(task.scenario_dir)}\t{answer}\n".encode())
    return digest.hexdigest()[:24]


def baselines_dir(cache_dir: Path | None, fingerprint: str) -> Path:
    from itbench_server.snapshot import default_cache_dir

    return (cache_dir if cache_dir is not None else default_cache_dir()) / "baselines" / fingerprint


def _offline_row(task: Task, agent: str, repeat: int, names: list[str]) -> RunResult:
    score = score_names(task.ground_truth(), names)
    return RunResult(
        task=task.id,
        agent=agent,
        repeat=repeat,
        seed=repeat - 1,
        score=score.score,
        tp=score.tp,
        fp=score.fp,
        fn=score.fn,
        submitted=names,
        matches=[match.model_dump(mode="json") for match in score.matches],
        turns=0,
        tool_calls=0,
        wall_time_s=0.0,
        error_class="ok" if names else "no_submission",
        error="" if names else "submitted nothing",
        run_dir="",
    )


def _nop_rows(tasks: Sequence[Task]) -> list[RunResult]:
    return [_offline_row(task, "nop", 1, []) for task in tasks]


def _prior_rows(tasks: Sequence[Task]) -> list[RunResult]:
    from itbench_eval.agents.prior import prior_names

    names = prior_names({task.id: task.ground_truth() for task in tasks})
    return [_offline_row(task, "prior", 1, names[task.id]) for task in tasks]


def _random_rows(
    tasks: Sequence[Task], repeats: int, cache_dir: Path | None
) -> tuple[list[RunResult], dict[str, float]]:
    from itbench_eval.agents.random_agent import chance_score, choose_workload, recorded_workloads

    rows: list[RunResult] = []
    chance: dict[str, float] = {}
    for task in tasks:
        workloads = recorded_workloads(task.scenario_dir, cache_dir=cache_dir)
        chance[task.id] = round(chance_score(task.ground_truth(), workloads), 6)
        for repeat in range(1, repeats + 1):
            name = choose_workload(workloads, seed=repeat - 1)
            rows.append(_offline_row(task, "random", repeat, [name] if name else []))
    return rows, chance


def _baseline_rows(tasks: Sequence[Task], directory: Path, cache_dir: Path | None) -> list[RunResult]:
    """The ``baseline`` investigator's rows, from one real run per task (resumed if cut short)."""
    import anyio

    from itbench_eval.agents.baseline import BaselineAgent
    from itbench_eval.runner import EvalSettings, run_evaluation

    out = directory / "baseline-runs"
    settings = EvalSettings(
        agent="baseline",
        out_dir=out,
        repeats=1,
        timeout_s=600.0,
        concurrency=2,
        resume=(out / RESULTS_FILE).is_file(),
        cache_dir=cache_dir,
    )
    return anyio.run(run_evaluation, tasks, settings, BaselineAgent)


def compute_baselines(
    tasks: Sequence[Task],
    *,
    repeats: int = 3,
    cache_dir: Path | None = None,
    run_baseline: bool = True,
) -> Baselines:
    """The baselines over ``tasks``, from the cache when it holds them, else computed and cached.

    ``repeats`` is how many random draws each task gets (the agents' repeats). ``run_baseline``
    False leaves out the one baseline that needs a server. Whatever fails is named in
    ``unavailable`` and not cached, so the next report tries again.
    """
    fingerprint = task_set_fingerprint(tasks)
    directory = baselines_dir(cache_dir, fingerprint)
    cache = directory / _CACHE_FILE
    cached: Baselines | None = None
    if cache.is_file():
        try:
            cached = Baselines.model_validate_json(cache.read_text(encoding="utf-8"))
        except ValueError:
            cached = None
    wanted = [agent for agent in BASELINE_AGENTS if run_baseline or agent != "baseline"]
    if cached is not None and cached.repeats >= repeats and not cached.unavailable:
        have = {row.agent for row in cached.rows}
        if all(agent in have for agent in wanted):
            return cached

    directory.mkdir(parents=True, exist_ok=True)
    result = Baselines(fingerprint=fingerprint, repeats=repeats)
    result.rows += _nop_rows(tasks) + _prior_rows(tasks)
    try:
        random_rows, result.chance = _random_rows(tasks, repeats, cache_dir)
        result.rows += random_rows
    except Exception as error:  # an index that cannot be built: no chance level, the rest stands
        result.unavailable["random"] = f"the recordings' workloads could not be listed: {error}"
    if run_baseline:
        try:
            rows = _baseline_rows(tasks, directory, cache_dir)
        except Exception as error:
            rows = []
            result.unavailable["baseline"] = f"the baseline could not be run: {error}"
        if rows and not any(row.error_class == "ok" for row in rows):
            classes = sorted({row.error_class for row in rows})
            result.unavailable["baseline"] = f"no baseline run ended ok ({', '.join(classes)})"
            shutil.rmtree(directory / "baseline-runs", ignore_errors=True)
        elif rows:
            result.rows += rows
    text = json.dumps(result.model_dump(mode="json"), indent=1) + "\n"
    cache.write_text(text, encoding="utf-8")
    return result
