"""Task discovery: scenario dirs, dataset dirs and data.jsonl, each with its ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ground_truths import real_ground_truth_files

from itbench_eval.tasks import Task, TaskError, default_scenarios_dir, discover_tasks

GROUND_TRUTH = """\
groups:
  - {id: ad-deployment-1, kind: Deployment, namespace: otel-demo, filter: ['ad\\b'], root_cause: true}
  - {id: frontend-service-1, kind: Service, namespace: otel-demo, filter: ['frontend\\b']}
"""


def make_scenario(path: Path, ground_truth: str | None = GROUND_TRUTH, *, layout: str = "alerts") -> Path:
    path.mkdir(parents=True)
    if layout == "alerts":
        (path / "alerts").mkdir()
    else:
        (path / "k8s_events_raw.tsv").write_text("Timestamp\tBody\n", encoding="utf-8")
    if ground_truth is not None:
        (path / "ground_truth.yaml").write_text(ground_truth, encoding="utf-8")
    return path


def test_a_scenario_directory_is_one_task_named_after_it(tmp_path: Path) -> None:
    scenario = make_scenario(tmp_path / "Scenario-7", layout="tsv")

    assert discover_tasks([scenario]) == [
        Task(
            id="Scenario-7",
            scenario_dir=scenario,
            ground_truth_source=str(scenario / "ground_truth.yaml"),
            ground_truth_text=GROUND_TRUTH,
        )
    ]


def test_a_dataset_directory_gives_its_scenarios_in_natural_order(tmp_path: Path) -> None:
    for number in (10, 2, 1):
        make_scenario(tmp_path / "data" / f"Scenario-{number}")
    (tmp_path / "data" / "notes").mkdir()

    tasks = discover_tasks([tmp_path / "data"])

    assert [task.id for task in tasks] == ["Scenario-1", "Scenario-2", "Scenario-10"]


def test_data_jsonl_gives_the_ground_truth_of_scenarios_beside_it(tmp_path: Path) -> None:
    make_scenario(tmp_path / "sre" / "Scenario-3", ground_truth=None)
    make_scenario(tmp_path / "sre" / "Scenario-4", ground_truth=None)
    rows = [{"scenario": "Scenario-3", "ground_truth": GROUND_TRUTH}, {"id": 4, "gt": GROUND_TRUTH}]
    index = tmp_path / "sre" / "data.jsonl"
    index.write_text("".join(json.dumps(row) + "\n" for row in rows) + "\n", encoding="utf-8")

    from_file = discover_tasks([index])
    from_dir = discover_tasks([tmp_path / "sre"])

    assert [(task.id, task.ground_truth_source) for task in from_file] == [
        ("Scenario-3", f"{index}:1"),
        ("Scenario-4", f"{index}:2"),
    ]
    assert [task.id for task in from_dir] == ["Scenario-3", "Scenario-4"]
    assert all(task.ground_truth().root_cause_groups[0].id == "ad-deployment-1" for task in from_dir)


def test_the_same_scenario_given_twice_is_one_task(tmp_path: Path) -> None:
    scenario = make_scenario(tmp_path / "Scenario-1")

    assert [task.id for task in discover_tasks([scenario, tmp_path])] == ["Scenario-1"]


def test_two_scenarios_with_one_name_are_an_error(tmp_path: Path) -> None:
    first = make_scenario(tmp_path / "a" / "Scenario-1")
    second = make_scenario(tmp_path / "b" / "Scenario-1")

    with pytest.raises(TaskError, match="two scenarios share the task id 'Scenario-1'"):
        discover_tasks([first, second])


def test_a_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match=f"--scenarios {tmp_path / 'nope'}: no such file or directory"):
        discover_tasks([tmp_path / "nope"])


def test_a_directory_without_scenarios_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="neither a scenario directory nor a directory of scenarios"):
        discover_tasks([tmp_path])


def test_a_scenario_without_ground_truth_is_an_error(tmp_path: Path) -> None:
    scenario = make_scenario(tmp_path / "Scenario-1", ground_truth=None)

    with pytest.raises(TaskError, match=r"no ground_truth\.yaml"):
        discover_tasks([scenario])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("groups: [unclosed", "not valid YAML"),
        ("entities: []", "v2 ground truth"),
        ("groups:\n  - {id: a, kind: Pod, filter: [a]}\n", "no group has 'root_cause: true'"),
    ],
)
def test_an_unusable_ground_truth_is_named_with_its_problem(tmp_path: Path, text: str, problem: str) -> None:
    scenario = make_scenario(tmp_path / "Scenario-1", ground_truth=text)

    with pytest.raises(TaskError) as caught:
        discover_tasks([scenario])

    assert str(caught.value).startswith(f"ground truth {scenario / 'ground_truth.yaml'}: ")
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_default_is_the_repository_fixtures_directory() -> None:
    assert default_scenarios_dir() == Path(__file__).resolve().parents[2] / "fixtures"


def test_a_data_jsonl_of_the_published_ground_truths_gives_one_task_per_scenario(tmp_path: Path) -> None:
    files = real_ground_truth_files()
    if not files:
        pytest.skip("the shared ITBench ground truths are not present")
    dataset = tmp_path / "sre"
    rows = []
    for path in files:
        number = path.parent.name.removeprefix("scenario_")
        make_scenario(dataset / f"Scenario-{number}", ground_truth=None)
        rows.append({"id": int(number), "ground_truth": path.read_text(encoding="utf-8")})
    (dataset / "data.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")

    tasks = discover_tasks([dataset])

    assert len(tasks) == len(files)
    assert all(task.ground_truth().root_cause_groups for task in tasks)
