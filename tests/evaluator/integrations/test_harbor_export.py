"""``itbench-eval export-harbor``: one Harbor task per scenario, loadable by Harbor, whose
verifier runs the project's scorer.

Harbor needs Python >= 3.12 and does not install here. Where it is importable, its own task
loader reads the tasks; otherwise ``task.toml`` is checked against the models below, a subset of
harbor 0.26.0's ``harbor/models/task/config.py`` (TaskConfig, PackageInfo, AgentConfig,
VerifierConfig, EnvironmentConfig, MCPServerConfig) with unknown keys refused, plus the files
its ``TaskPaths`` requires.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, model_validator

from itbench_eval.cli import main
from itbench_eval.groundtruth import load_ground_truth, oracle_names
from itbench_eval.integrations.harbor import export_harbor
from itbench_eval.tasks import discover_tasks

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
ORG_NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9._-]*/[a-zA-Z0-9][a-zA-Z0-9._-]*$"  # harbor/constants.py


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PackageInfo(_Strict):
    name: str = Field(pattern=ORG_NAME_PATTERN)
    version: str | None = None
    description: str = ""
    keywords: list[str] = []


class Timeout(_Strict):
    timeout_sec: float


class McpServer(_Strict):
    name: str
    transport: Literal["stdio", "sse", "streamable-http"] = "sse"
    url: str | None = None
    command: str | None = None
    args: list[str] = []

    @model_validator(mode="after")
    def _fields_of_transport(self) -> McpServer:
        assert self.command if self.transport == "stdio" else self.url
        return self


class Environment(_Strict):
    build_timeout_sec: float = 600.0
    docker_image: str | None = None
    cpus: int | float | None = None
    memory_mb: int | None = None
    mcp_servers: list[McpServer] = []


class TaskConfig(_Strict):
    schema_version: str
    source: str | None = None
    task: PackageInfo
    metadata: dict[str, Any] = {}
    agent: Timeout
    verifier: Timeout
    environment: Environment


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    tasks = discover_tasks([FIXTURES / "Scenario-synth-1", FIXTURES / "Scenario-synth-2"])
    return export_harbor(tasks, tmp_path_factory.mktemp("harbor"))


def test_each_scenario_becomes_a_task_that_harbors_loader_or_schema_accepts(exported: list[Path]) -> None:
    assert [path.name for path in exported] == ["scenario-synth-1", "scenario-synth-2"]
    for task_dir in exported:
        for required in ("task.toml", "instruction.md", "environment/Dockerfile", "tests/test.sh"):
            assert (task_dir / required).is_file(), required
        config = TaskConfig.model_validate(
            tomllib.loads((task_dir / "task.toml").read_text(encoding="utf-8"))
        )
        assert config.task.name == f"itbench/{task_dir.name}"
        [server] = config.environment.mcp_servers
        assert (server.name, server.transport, server.command) == ("itbench", "stdio", "itbench-server")
        assert server.args[:2] == ["serve", "/scenario"]
        assert "--submission-out" in server.args
        assert "get_overview" in (task_dir / "instruction.md").read_text(encoding="utf-8")
        try:
            harbor_task = importlib.import_module("harbor.models.task.task")
        except ImportError:
            continue
        harbor_task.Task(task_dir)  # Harbor's own loader, where Harbor is installed


def test_the_answer_key_is_only_in_the_verifiers_files_and_the_image_gets_the_recording(
    exported: list[Path],
) -> None:
    task_dir = exported[0]
    environment = task_dir / "environment"
    names = {path.name for path in environment.joinpath("scenario").rglob("*")}
    assert "ground_truth.yaml" not in names and "k8s_objects_raw.tsv" in names
    assert not list(environment.rglob("ground_truth*"))
    assert (task_dir / "tests" / "ground_truth.yaml").read_text(encoding="utf-8") == (
        FIXTURES / "Scenario-synth-1" / "ground_truth.yaml"
    ).read_text(encoding="utf-8")
    dockerfile = (environment / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY scenario /scenario" in dockerfile
    assert (environment / "dist" / "server" / "pyproject.toml").is_file()


def run_script(script: Path, root: Path) -> subprocess.CompletedProcess[str]:
    """Run a task script with its container paths (/logs, /tests) moved under ``root``."""
    text = (
        script.read_text(encoding="utf-8")
        .replace("/logs/", f"{root}/logs/")
        .replace("/tests/", f"{root}/tests/")
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-c", text], capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.mark.parametrize("submit", [True, False], ids=["oracle-solution", "no-submission"])
def test_the_verifier_scores_the_submission_with_the_projects_scorer(
    submit: bool, exported: list[Path], tmp_path: Path
) -> None:
    task_dir = exported[0]
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "ground_truth.yaml").write_bytes(
        (task_dir / "tests" / "ground_truth.yaml").read_bytes()
    )
    if submit:
        solved = run_script(task_dir / "solution" / "solve.sh", tmp_path)
        assert solved.returncode == 0, solved.stderr
        submission = json.loads((tmp_path / "logs" / "agent" / "submission.json").read_text(encoding="utf-8"))
        answer = oracle_names(load_ground_truth(FIXTURES / "Scenario-synth-1" / "ground_truth.yaml"))
        assert [factor["name"] for factor in submission["contributing_factors"]] == answer
    verified = run_script(task_dir / "tests" / "test.sh", tmp_path)
    assert verified.returncode == 0, verified.stderr
    reward = json.loads((tmp_path / "logs" / "verifier" / "reward.json").read_text(encoding="utf-8"))
    assert reward == (
        {"reward": 1.0, "tp": 1, "fp": 0, "fn": 0} if submit else {"reward": 0.0, "tp": 0, "fp": 0, "fn": 0}
    )


def test_the_export_harbor_command_writes_the_tasks_and_prints_their_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["export-harbor", "--scenarios", str(FIXTURES / "Scenario-synth-3"), "--out", str(tmp_path)]
    )
    assert status == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "scenario-synth-3")]
    assert (tmp_path / "scenario-synth-3" / "task.toml").is_file()
    assert main(["export-harbor", "--scenarios", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
