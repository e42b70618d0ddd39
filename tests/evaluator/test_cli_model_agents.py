"""``itbench-eval --agent openai:...`` and its kin against ``itbench-eval mock-model``: the done criteria."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from eval_agents import shared_index_cache

from itbench_eval import mockmodel
from itbench_eval.cli import main
from itbench_eval.groundtruth import oracle_names
from itbench_eval.mockmodel import load_script, serve
from itbench_eval.results import read_results
from itbench_eval.settings import prompt_hash, scenario_fingerprint
from itbench_eval.tasks import default_scenarios_dir, discover_tasks

EXAMPLE_SCRIPT = Path(mockmodel.__file__).parent / "examples" / "investigate-and-submit.yaml"


@pytest.fixture
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_index_cache(tmp_path_factory.getbasetemp())


@pytest.mark.parametrize(
    ("form", "path"), [("openai", "/v1"), ("openai-responses", "/v1"), ("anthropic", "")], ids=str
)
def test_each_model_agent_form_runs_every_fixture_against_the_mock_model_and_scores_it(
    form: str, path: str, tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    tasks = discover_tasks()
    # The example script, submitting the first fixture's root causes (from its answer key).
    script = yaml.safe_load(EXAMPLE_SCRIPT.read_text(encoding="utf-8"))
    script["steps"][3]["submit"] = script["forced"]["submit"] = oracle_names(tasks[0].ground_truth())
    with serve(load_script(script)) as base_url:
        status = main(
            [
                "--agent", f"{form}:gpt-x", "--base-url", f"{base_url}{path}", "--repeats", "1",
                "--concurrency", "4", "--out", str(out), "--cache-dir", str(cache_dir),
                "--scenarios", str(default_scenarios_dir()),
                "--model-arg", "temperature=0", "--model-arg", "reasoning_effort=high", "--max-turns", "20",
            ]
        )  # fmt: skip

    assert status == 0
    rows = read_results(out / "results.jsonl")
    assert sorted(row.task for row in rows) == sorted(task.id for task in tasks)
    assert {row.error_class for row in rows} == {"ok"}
    assert {row.task: row.score for row in rows}[tasks[0].id] == 1.0
    assert all(row.tokens_in == 4 * 1200 for row in rows)
    settings = json.loads((out / "settings.json").read_text(encoding="utf-8"))
    assert settings["agent"] == f"{form}:gpt-x"
    assert (settings["model"], settings["model_args"]) == (
        "gpt-x",
        {"temperature": 0, "reasoning_effort": "high"},
    )
    assert (settings["max_turns"], settings["timeout_s"], settings["final_answer"]) == (20, 1800.0, "force")
    assert settings["prompt_sha256"] == prompt_hash()
    assert (settings["tool_profile"], settings["price_table_as_of"]) == ("full", "2025-11-24")
    assert settings["server_version"]
    assert settings["scenarios"] == {task.id: scenario_fingerprint(task.scenario_dir) for task in tasks}
    assert "ITBench-AA score of" in capsys.readouterr().out


def test_a_run_where_nothing_ends_ok_exits_1_and_says_where_the_tracebacks_are(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    script = load_script({"steps": [{"say": "never", "fail": {"status": 503, "retry_after_s": 0.001}}]})
    scenario = discover_tasks()[0].scenario_dir
    with serve(script) as base_url:
        status = main(
            [
                "--agent", "openai:gpt-x", "--base-url", f"{base_url}/v1", "--repeats", "1", "--max-retries", "0",
                "--scenarios", str(scenario), "--out", str(out), "--cache-dir", str(cache_dir),
            ]
        )  # fmt: skip

    assert status == 1
    [row] = read_results(out / "results.jsonl")
    assert row.error_class == "model_error"
    printed = capsys.readouterr()
    traceback = out / row.run_dir / "traceback.txt"
    assert traceback.is_file()
    assert f"{scenario.name} r1: model_error, traceback in {traceback}" in printed.err
    assert "no run ended ok" in printed.err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--model-arg", "temperature"],
            "error: --model-arg temperature: expected KEY=VALUE, e.g. temperature=0",
        ),
        (["--nudge-turns", "-1"], "error: --nudge-turns: Input should be greater than or equal to 0"),
        (["--model-arg", "stream=true"], "error: --model-arg stream: set by the agent loop itself"),
        (["--prices", "{tmp}/missing.yaml"], "error: --prices {tmp}/missing.yaml: cannot read"),
    ],
)
def test_a_bad_model_option_is_one_line_and_exit_status_2(
    arguments: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = [argument.replace("{tmp}", str(tmp_path)) for argument in arguments]

    status = main(
        ["--agent", "openai:gpt-x", "--base-url", "http://127.0.0.1:9/v1", "--out", str(tmp_path), *arguments]
    )

    assert status == 2
    assert capsys.readouterr().err.startswith(message.replace("{tmp}", str(tmp_path)))


def test_compare_refuses_results_made_under_different_conditions_unless_forced(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = str(discover_tasks()[0].scenario_dir)
    common = ["--agent", "oracle", "--scenarios", scenario, "--repeats", "1", "--cache-dir", str(cache_dir)]
    assert main([*common, "--out", str(tmp_path / "a"), "--max-turns", "10"]) == 0
    assert main([*common, "--out", str(tmp_path / "b"), "--max-turns", "20"]) == 0
    capsys.readouterr()

    refused = main(["compare", str(tmp_path / "a"), str(tmp_path / "b")])
    refusal = capsys.readouterr().err
    forced = main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--force"])

    assert refused == 2
    assert "were made under different conditions: max_turns: 10 vs 20" in refusal
    assert "--force" in refusal
    assert forced == 0
    assert "max_turns: 10 vs 20" in capsys.readouterr().out


def test_resume_refuses_other_conditions_than_those_recorded(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = str(discover_tasks()[0].scenario_dir)
    common = [
        "--agent",
        "oracle",
        "--scenarios",
        scenario,
        "--out",
        str(tmp_path),
        "--cache-dir",
        str(cache_dir),
    ]
    assert main([*common, "--repeats", "1"]) == 0

    status = main([*common, "--repeats", "2", "--resume", "--timeout", "60"])

    assert status == 2
    assert "timeout_s: 1800.0 vs 60.0" in capsys.readouterr().err


def test_the_mock_model_command_serves_a_script_until_interrupted(tmp_path: Path) -> None:
    record = tmp_path / "requests.jsonl"
    command = [sys.executable, "-m", "itbench_eval.cli", "mock-model", "--script", str(EXAMPLE_SCRIPT)]
    process = subprocess.Popen(
        [*command, "--record", str(record)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        base_url = first_line.rsplit(" on ", 1)[1].strip()
        reply = httpx.post(
            f"{base_url}/v1/chat/completions",
            json={"model": "gpt-x", "messages": [{"role": "user", "content": "go"}]},
            timeout=30,
        )
    finally:
        process.send_signal(signal.SIGINT)
        status = process.wait(timeout=30)

    assert first_line.startswith(f"mock model serving {EXAMPLE_SCRIPT} on http://127.0.0.1:")
    assert reply.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_overview"
    assert status == 0
    assert json.loads(record.read_text(encoding="utf-8").splitlines()[0])["status"] == 200


def test_the_mock_model_command_names_a_bad_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "script.yaml"
    script.write_text("steps: []\n", encoding="utf-8")

    status = main(["mock-model", "--script", str(script)])

    assert status == 2
    assert capsys.readouterr().err.startswith(
        f"error: script {script}: steps: List should have at least 1 item"
    )
