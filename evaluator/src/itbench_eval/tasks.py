"""Tasks: the incidents an evaluation runs, each a scenario directory with its ground truth.

``--scenarios`` accepts, in any mix:

* a scenario directory itself (it holds ``alerts/``, an ``alerts_*.json`` or the ``*_raw.tsv``
  files), with its ``ground_truth.yaml``;
* a dataset directory holding ``Scenario-*`` (or other scenario) directories;
* a dataset's ``data.jsonl``: one JSON row per scenario with its ground truth as a YAML string,
  the scenario directories beside it.

Without ``--scenarios`` the repository's bundled ``fixtures/`` are used: beside the package in a
source checkout, else ``./fixtures`` in the working directory. ``--suite aa`` runs the generated
look-alikes of the public ITBench-AA scenarios instead (:func:`suite_tasks`).

The ground truth is read here, by the evaluator. An agent never gets it: agents see only a
:class:`~itbench_eval.agents.base.TaskView`. The server need not see it either:
:func:`answer_free_view` makes a directory of hard links to every other file of a scenario.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from itbench_eval.errors import EvalError
from itbench_eval.groundtruth import GroundTruth, GroundTruthError, ground_truth_from_yaml

__all__ = [
    "GROUND_TRUTH_NAMES",
    "Task",
    "TaskError",
    "answer_free_view",
    "default_scenarios_dir",
    "discover_tasks",
    "is_answer_key",
    "is_scenario_dir",
    "read_data_jsonl",
    "suite_tasks",
]

GROUND_TRUTH_NAMES = ("ground_truth.yaml", "ground_truth.yml", "groundtruth_v1.yaml", "groundtruth.yaml")
_JSONL_ID_KEYS = ("scenario", "scenario_id", "scenario_name", "id", "task_id", "name", "incident_id")
_JSONL_GT_KEYS = ("ground_truth", "groundtruth", "ground_truth_yaml", "gt", "answer", "solution")
# The answer key in any of its names, a dataset's index (it holds every answer), and recorder
# metadata that may name the fault.
_ANSWER_KEY = re.compile(r"^(ground_?truth.*|data\.jsonl|status\.json|assertion\.json)$", re.IGNORECASE)


class TaskError(EvalError, ValueError):
    """A scenario source cannot be used; the message names it and says why."""


class Task(BaseModel):
    """One incident to run: its id, its directory and its ground truth (evaluator-only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    scenario_dir: Path
    ground_truth_source: str
    ground_truth_text: str

    def ground_truth(self) -> GroundTruth:
        """The parsed answer key (checked when the task was discovered)."""
        return ground_truth_from_yaml(self.ground_truth_text, self.ground_truth_source)


def default_scenarios_dir() -> Path:
    """The bundled ``fixtures/``: next to the package in a source checkout (an editable install),
    else ``./fixtures`` in the working directory (a regular install run from the repository root).
    """
    beside_source = Path(__file__).resolve().parents[3] / "fixtures"
    if beside_source.is_dir():
        return beside_source
    return Path.cwd() / "fixtures"


def is_scenario_dir(path: Path) -> bool:
    """Whether ``path`` looks like one recorded incident."""
    if not path.is_dir():
        return False
    if (path / "alerts").is_dir() or (path / "raw").is_dir():
        return True
    return any(
        child.is_file() and (child.name.endswith("_raw.tsv") or re.match(r"alerts_.*\.json$", child.name))
        for child in path.iterdir()
    )


def _natural_key(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _check_ground_truth(text: str, source: str) -> None:
    """Fail early, with one line, on a ground truth the scorer could not use."""
    try:
        ground_truth_from_yaml(text, source)
    except GroundTruthError as error:
        raise TaskError(f"ground truth {error}") from None


def _read_ground_truth_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TaskError(f"ground truth {path}: cannot read: {error}") from None
    _check_ground_truth(text, str(path))
    return text


def _ground_truth_file(scenario_dir: Path) -> Path | None:
    for name in GROUND_TRUTH_NAMES:
        candidate = scenario_dir / name
        if candidate.is_file():
            return candidate
    return None


def _row_id(row: dict[str, Any]) -> str | None:
    for key in _JSONL_ID_KEYS:
        value = row.get(key)
        if isinstance(value, str | int) and str(value).strip():
            return str(value).strip()
    return None


def _row_ground_truth(row: dict[str, Any]) -> str | None:
    for key in _JSONL_GT_KEYS:
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, dict):
            return yaml.safe_dump(value, sort_keys=False)
    # Lenient: any string field that reads as a ground truth with groups.
    for value in row.values():
        if isinstance(value, str) and "groups" in value:
            return value
    return None


def _scenario_dir_for(dataset_dir: Path, row_id: str) -> Path | None:
    number = re.search(r"(\d+)$", row_id)
    names = [row_id]
    if number:
        names += [f"Scenario-{number.group(1)}", f"scenario-{number.group(1)}", f"scenario_{number.group(1)}"]
    for name in names:
        if (dataset_dir / name).is_dir():
            return dataset_dir / name
    return None


def read_data_jsonl(path: Path) -> dict[str, tuple[str, str]]:
    """Ground truths of a dataset index: scenario id -> (source, YAML text).

    Rows that are not JSON objects, or carry no id or no ground truth, are skipped.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise TaskError(f"{path}: cannot read: {error}") from None
    ground_truths: dict[str, tuple[str, str]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(row, dict):
            continue
        row_id, text = _row_id(row), _row_ground_truth(row)
        if row_id is not None and text is not None:
            ground_truths[row_id] = (f"{path}:{number}", text)
    return ground_truths


def _tasks_from_jsonl(path: Path) -> list[Task]:
    tasks: list[Task] = []
    for row_id, (source, text) in read_data_jsonl(path).items():
        scenario_dir = _scenario_dir_for(path.parent, row_id)
        if scenario_dir is None:
            raise TaskError(f"{source}: no scenario directory for {row_id!r} beside {path.name}")
        _check_ground_truth(text, source)
        tasks.append(
            Task(
                id=scenario_dir.name,
                scenario_dir=scenario_dir,
                ground_truth_source=source,
                ground_truth_text=text,
            )
        )
    if not tasks:
        raise TaskError(f"{path}: no row with a scenario id and a ground truth")
    return tasks


def _task_from_scenario_dir(scenario_dir: Path, index: dict[str, tuple[str, str]] | None = None) -> Task:
    ground_truth = _ground_truth_file(scenario_dir)
    if ground_truth is not None:
        source, text = str(ground_truth), _read_ground_truth_file(ground_truth)
    elif index is not None and scenario_dir.name in index:
        source, text = index[scenario_dir.name]
        _check_ground_truth(text, source)
    else:
        raise TaskError(f"scenario {scenario_dir}: no ground_truth.yaml")
    return Task(
        id=scenario_dir.name, scenario_dir=scenario_dir, ground_truth_source=source, ground_truth_text=text
    )


def _tasks_from_dataset_dir(dataset_dir: Path) -> list[Task]:
    scenario_dirs = sorted(
        (child for child in dataset_dir.iterdir() if is_scenario_dir(child)),
        key=lambda child: _natural_key(child.name),
    )
    if not scenario_dirs:
        if (dataset_dir / "data.jsonl").is_file():
            return _tasks_from_jsonl(dataset_dir / "data.jsonl")
        raise TaskError(f"{dataset_dir}: neither a scenario directory nor a directory of scenarios")
    index = read_data_jsonl(dataset_dir / "data.jsonl") if (dataset_dir / "data.jsonl").is_file() else None
    if index is not None:
        # data.jsonl ids may be bare numbers; key them by directory name too.
        for scenario_dir in scenario_dirs:
            for row_id, entry in list(index.items()):
                if _scenario_dir_for(dataset_dir, row_id) == scenario_dir:
                    index.setdefault(scenario_dir.name, entry)
    return [_task_from_scenario_dir(scenario_dir, index) for scenario_dir in scenario_dirs]


def discover_tasks(sources: Sequence[Path] | None = None) -> list[Task]:
    """The tasks of ``sources`` (the bundled fixtures when empty), in a deterministic order.

    Raises:
        TaskError: a source is missing, holds no scenario, a scenario has no readable ground
            truth, or two sources give the same task id.
    """
    if not sources:
        fixtures = default_scenarios_dir()
        if not fixtures.is_dir():
            raise TaskError(
                "no --scenarios given and no bundled fixtures/ next to the package or in the "
                "working directory: pass --scenarios DIR, or run from the repository root"
            )
        sources = [fixtures]
    tasks: list[Task] = []
    for source in sources:
        tasks += _tasks_from_source(source)
    return _unique(tasks)


def suite_tasks(
    name: str, *, cache_dir: Path | None = None, server_command: Sequence[str] | None = None
) -> list[Task]:
    """The tasks of a generated suite (``aa``: look-alikes of the public ITBench-AA scenarios).

    The server writes the suite into its cache on first use (``itbench-server synth --suite
    NAME``, deterministic; half a minute or so) and prints the directory; later calls reuse it.
    """
    import subprocess

    from itbench_eval.runner import default_server_command

    command = [*(server_command or default_server_command()), "synth", "--suite", name]
    if cache_dir is not None:
        command += ["--cache-dir", str(cache_dir)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        problem = (completed.stderr.strip().splitlines() or ["the server wrote no suite"])[-1]
        raise TaskError(f"--suite {name}: {problem.removeprefix('error: ')}")
    return _tasks_from_dataset_dir(Path(lines[-1]))


def _tasks_from_source(source: Path) -> list[Task]:
    if not source.exists():
        raise TaskError(f"--scenarios {source}: no such file or directory")
    if source.is_file():
        if source.suffix != ".jsonl":
            raise TaskError(f"--scenarios {source}: a file must be a dataset's data.jsonl")
        return _tasks_from_jsonl(source)
    if is_scenario_dir(source):
        return [_task_from_scenario_dir(source)]
    return _tasks_from_dataset_dir(source)


def _unique(tasks: Iterable[Task]) -> list[Task]:
    """``tasks`` without repeats of one scenario; two scenarios with one id are an error."""
    seen: dict[str, Task] = {}
    for task in tasks:
        earlier = seen.get(task.id)
        if earlier is None:
            seen[task.id] = task
        elif earlier.scenario_dir.resolve() != task.scenario_dir.resolve():
            raise TaskError(
                f"two scenarios share the task id {task.id!r}: {earlier.scenario_dir} and {task.scenario_dir}"
            )
    return list(seen.values())


def is_answer_key(name: str) -> bool:
    """Whether a file of this name may hold (part of) the answer: no server ever gets to see it."""
    return name in GROUND_TRUTH_NAMES or bool(_ANSWER_KEY.match(name))


def answer_free_view(scenario_dir: Path, parent: Path) -> Path:
    """A copy of ``scenario_dir`` without its answer key, made of hard links, in ``parent``.

    The view has the scenario's own directory name and every non-hidden file at the same
    relative path (a symlink that stays inside the scenario becomes a link to its target), but
    none named like an answer key (:func:`is_answer_key`). Hard links share the files' identity,
    so the server's index cache, keyed by it, serves the view and the original alike. A view
    left in ``parent`` by an earlier evaluation is replaced.

    Raises:
        OSError: a hard link cannot be made (``parent`` is on another file system, or the
            system refuses links to files of another owner); nothing is left behind.
    """
    source = scenario_dir.resolve(strict=True)
    view = parent / source.name
    if view.exists() or view.is_symlink():
        shutil.rmtree(view)
    view.mkdir(parents=True)
    inner_view = view.resolve()  # (an output directory may lie inside the scenario: never mirror it)
    try:
        for directory, subdirectories, files in os.walk(source):
            here = Path(directory)
            target_dir = view / here.relative_to(source)
            subdirectories[:] = [
                name
                for name in subdirectories
                if not name.startswith(".")
                and not (here / name).is_symlink()
                and not inner_view.is_relative_to(here / name)
            ]
            for name in subdirectories:
                (target_dir / name).mkdir()
            for name in files:
                if name.startswith("."):
                    continue
                original = _linkable(here / name, source)
                if original is not None:
                    os.link(original, target_dir / name)
    except BaseException:
        shutil.rmtree(view, ignore_errors=True)
        raise
    return view


def _linkable(path: Path, root: Path) -> Path | None:
    """The regular file ``path`` is or leads to inside ``root``, unless either is an answer key."""
    try:
        real = path.resolve(strict=True)
        mode = real.stat().st_mode
    except (OSError, RuntimeError):
        return None
    if is_answer_key(path.name) or is_answer_key(real.name):
        return None
    return real if real.is_relative_to(root) and stat.S_ISREG(mode) else None
