"""What a server started by the evaluator can see: no API keys, and no answer key where it can be helped.

The server of these runs is a spy: a ``python -c`` command that writes its own arguments, its
process environment and the files of the directory it was given to ``server-spy.json`` in its
working directory (the run directory), then runs the real ``itbench-server``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from itbench_eval.agents import resolve_agent
from itbench_eval.results import RunResult
from itbench_eval.runner import EvalSettings, run_evaluation, server_environment
from itbench_eval.tasks import answer_free_view, discover_tasks
from itbench_server.snapshot import open_snapshot

SPY_SERVER = (
    sys.executable,
    "-c",
    "import json, os, sys\n"
    "scenario = sys.argv[2]\n"
    "with open('/proc/self/environ', 'rb') as handle:\n"
    "    environ = dict(item.decode().split('=', 1) for item in handle.read().split(b'\\0') if item)\n"
    "files = sorted(os.path.relpath(os.path.join(d, f), scenario) for d, _, fs in os.walk(scenario) for f in fs)\n"
    "with open('server-spy.json', 'w') as out:\n"
    "    json.dump({'argv': sys.argv[1:], 'environ': environ, 'files': files}, out)\n"
    "from itbench_server.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n",
)
ANSWER_KEYS = ["ground_truth.yaml", "groundtruth_v1.yaml", "status.json", "assertion.json", "data.jsonl"]
FAKE_KEY = "sk-test-0123456789abcdef-not-a-real-key"

pytestmark = pytest.mark.anyio


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """A copy of the smallest bundled fixture, with every kind of answer key beside its evidence."""
    source = min(
        discover_tasks(), key=lambda task: sum(f.stat().st_size for f in task.scenario_dir.rglob("*"))
    )
    copy = shutil.copytree(source.scenario_dir, tmp_path / "data" / source.scenario_dir.name)
    ground_truth = (copy / "ground_truth.yaml").read_text(encoding="utf-8")
    (copy / "groundtruth_v1.yaml").write_text(ground_truth, encoding="utf-8")
    (copy / "status.json").write_text('{"fault": "the answer"}\n', encoding="utf-8")
    (copy / "assertion.json").write_text('{"root_cause": "the answer"}\n', encoding="utf-8")
    (copy / "data.jsonl").write_text(json.dumps({"id": copy.name, "ground_truth": ground_truth}) + "\n")
    return copy


def settings(out: Path, **overrides: Any) -> EvalSettings:
    values: dict[str, Any] = {
        "agent": "oracle",
        "out_dir": out,
        "repeats": 1,
        "timeout_s": 120.0,
        "cache_dir": out.parent / "cache",
        "server_command": SPY_SERVER,
    }
    return EvalSettings.model_validate(values | overrides)


async def evaluate(scenario: Path, config: EvalSettings) -> list[RunResult]:
    return await run_evaluation(discover_tasks([scenario]), config, resolve_agent(config.agent))


def spied(out: Path, row: RunResult) -> dict[str, Any]:
    return json.loads((out / row.run_dir / "server-spy.json").read_text(encoding="utf-8"))


def files_under(scenario: Path) -> list[str]:
    return sorted(path.relative_to(scenario).as_posix() for path in scenario.rglob("*") if path.is_file())


def test_the_server_environment_keeps_process_basics_and_itbench_settings_but_no_credentials() -> None:
    environ = {
        "PATH": "/usr/bin", "HOME": "/home/me", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp",
        "ITBENCH_CACHE_DIR": "/cache", "ITBENCH_SERVER_LOG": "debug",
        "OPENAI_API_KEY": FAKE_KEY, "ANTHROPIC_API_KEY": FAKE_KEY, "AWS_ACCESS_KEY_ID": "AKIA",
        "AWS_SECRET_ACCESS_KEY": FAKE_KEY, "AWS_SESSION_TOKEN": FAKE_KEY, "AWS_REGION": "us-east-1",
        "GOOGLE_APPLICATION_CREDENTIALS": "/key.json", "GOOGLE_API_KEY": FAKE_KEY, "GITHUB_TOKEN": FAKE_KEY,
        "HF_TOKEN": FAKE_KEY, "DB_PASSWORD": FAKE_KEY, "MY_CLIENT_SECRET": FAKE_KEY,
        "ITBENCH_JUDGE_API_KEY": FAKE_KEY, "ITBENCH_JUDGE_BASE_URL": "https://judge", "ITBENCH_SERVER_TOKEN": FAKE_KEY,
        "ITBENCH_MODEL_BASE_URL": "https://model", "ITBENCH_AGENT_KEY_FILE": "/key",
        "OPENAI_BASE_URL": "https://api.openai.com/v1", "SSH_AUTH_SOCK": "/agent.sock", "EDITOR": "vi",
    }  # fmt: skip

    assert server_environment(environ) == {
        "PATH": "/usr/bin", "HOME": "/home/me", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp",
        "ITBENCH_CACHE_DIR": "/cache", "ITBENCH_SERVER_LOG": "debug",
    }  # fmt: skip


async def test_a_server_started_by_the_evaluator_does_not_inherit_api_keys(
    scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ITBENCH_JUDGE_API_KEY", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, FAKE_KEY)
    monkeypatch.setenv("ITBENCH_TEST_SERVER_SETTING", "kept")

    [row] = await evaluate(scenario, settings(tmp_path / "out"))

    assert (row.error_class, row.score) == ("ok", 1.0)
    environ = spied(tmp_path / "out", row)["environ"]
    assert FAKE_KEY not in json.dumps(environ)
    assert environ["PATH"] == os.environ["PATH"]
    assert environ["ITBENCH_TEST_SERVER_SETTING"] == "kept"


async def test_the_server_is_given_a_view_of_the_scenario_without_its_answer_key(
    scenario: Path, tmp_path: Path
) -> None:
    [row] = await evaluate(scenario, settings(tmp_path / "out"))

    assert (row.error_class, row.score) == ("ok", 1.0)  # the oracle's answer, from the evaluator
    spy = spied(tmp_path / "out", row)
    served = Path(spy["argv"][1])
    assert served.name == scenario.name and served.parent != scenario.parent
    assert spy["files"] == [name for name in files_under(scenario) if name not in ANSWER_KEYS]
    assert set(ANSWER_KEYS) <= set(files_under(scenario))
    assert not served.exists()  # views last one evaluation


async def test_runs_on_views_share_one_index_with_the_original_scenario(
    scenario: Path, tmp_path: Path
) -> None:
    config = settings(tmp_path / "out", repeats=2, concurrency=1)

    rows = await evaluate(scenario, config)

    assert [row.error_class for row in rows] == ["ok", "ok"]
    assert config.cache_dir is not None
    with open_snapshot(scenario, cache_dir=config.cache_dir) as original:
        assert sorted(config.cache_dir.glob("*.duckdb")) == [original.index_path]


@pytest.fixture
def other_file_system(tmp_path: Path) -> Iterator[Path]:
    """A directory on another file system than tmp_path, where hard links from it cannot go."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system at /dev/shm")
    directory = Path(tempfile.mkdtemp(dir=shm))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


async def test_without_hard_links_the_server_gets_the_scenario_itself_and_a_warning_says_so(
    scenario: Path, tmp_path: Path, other_file_system: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = shutil.copytree(scenario, other_file_system / scenario.name)

    [row] = await evaluate(elsewhere, settings(tmp_path / "out"))

    assert (row.error_class, row.score) == ("ok", 1.0)
    assert spied(tmp_path / "out", row)["argv"][1] == str(elsewhere.resolve())
    [warning] = capsys.readouterr().err.splitlines()
    assert warning.startswith(
        f"warning: no answer-free view of 1 scenario(s) in {tmp_path / 'out' / 'scenario-views'}"
    )
    assert "their servers are given the scenario directory itself" in warning


def test_an_answer_free_view_links_every_evidence_file_and_nothing_else(tmp_path: Path) -> None:
    scenario = tmp_path / "Scenario-9"
    (scenario / "alerts").mkdir(parents=True)
    (scenario / "alerts" / "alerts_at_2025-12-15T17-27-00.000000.json").write_text("[]", encoding="utf-8")
    (scenario / "otel_logs_raw.tsv").write_text("Timestamp\tBody\n", encoding="utf-8")
    (scenario / "raw").mkdir()
    (scenario / "raw" / "k8s_events_raw.tsv").symlink_to("../otel_logs_raw.tsv")  # inside: linked
    for name in [*ANSWER_KEYS, "Ground_Truth.yml", ".hidden"]:
        (scenario / name).write_text("the answer\n", encoding="utf-8")
    (tmp_path / "outside.tsv").write_text("not part of the scenario\n", encoding="utf-8")
    (scenario / "k8s_objects_raw.tsv").symlink_to(tmp_path / "outside.tsv")  # outside: left out
    (scenario / "service_x_raw.tsv").symlink_to("ground_truth.yaml")  # to the answer key: left out
    (scenario / "metrics").symlink_to(tmp_path)  # a symlinked directory: left out

    view = answer_free_view(scenario, tmp_path / "views")

    assert view == tmp_path / "views" / "Scenario-9"
    assert files_under(view) == [
        "alerts/alerts_at_2025-12-15T17-27-00.000000.json", "otel_logs_raw.tsv", "raw/k8s_events_raw.tsv",
    ]  # fmt: skip
    assert not any(path.is_symlink() for path in view.rglob("*"))
    assert (view / "raw" / "k8s_events_raw.tsv").stat().st_ino == (
        scenario / "otel_logs_raw.tsv"
    ).stat().st_ino
