"""``itbench-eval --agent ...``: the default command, its table, and one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from eval_agents import shared_index_cache

from itbench_eval.cli import main
from itbench_eval.results import read_results
from itbench_eval.tasks import discover_tasks

GROUND_TRUTH = (
    "groups:\n  - {id: ad-1, kind: Deployment, namespace: otel-demo, filter: [ad], root_cause: true}\n"
)


@pytest.fixture
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_index_cache(tmp_path_factory.getbasetemp())


def test_run_is_also_an_explicit_subcommand(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = discover_tasks()[0].scenario_dir
    out = tmp_path / "out"

    status = main(
        ["run", "--agent", "nop", "--scenarios", str(scenario), "--repeats", "1", "--out", str(out)]
    )

    assert status == 1  # no run ended ok: nop never submits
    assert scenario.name in capsys.readouterr().out
    [row] = read_results(out / "results.jsonl")
    assert (row.task, row.error_class) == (scenario.name, "no_submission")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--agent", "gpt-9"],
            "error: --agent gpt-9: unknown agent; expected oracle, nop, baseline, prior, random, replay:FILE, py:module:attr, openai:MODEL, openai-responses:MODEL, anthropic:MODEL, claude-code[:MODEL], codex[:MODEL], gemini-cli[:MODEL], stirrup:MODEL or cmd:TEMPLATE",
        ),
        (
            ["--agent", "nop", "--scenarios", "{tmp}/missing"],
            "error: --scenarios {tmp}/missing: no such file or directory",
        ),
        (
            ["--agent", "nop", "--repeats", "0"],
            "error: --repeats: Input should be greater than or equal to 1",
        ),
        (["--agent", "nop", "--timeout", "-1"], "error: --timeout: Input should be greater than 0"),
        (
            ["--agent", "nop", "--max-turns", "0"],
            "error: --max-turns: Input should be greater than or equal to 1",
        ),
    ],
)
def test_bad_invocations_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    arguments = [argument.format(tmp=tmp_path) for argument in arguments]

    assert main([*arguments, "--out", str(tmp_path / "out")]) == 2

    assert capsys.readouterr().err.splitlines() == [message.format(tmp=tmp_path)]


def test_an_unreadable_ground_truth_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "Scenario-1"
    (scenario / "alerts").mkdir(parents=True)
    (scenario / "ground_truth.yaml").write_text("groups: [unclosed\n", encoding="utf-8")

    assert main(["--agent", "nop", "--scenarios", str(scenario), "--out", str(tmp_path / "out")]) == 2

    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: ground truth {scenario / 'ground_truth.yaml'}: not valid YAML")


def test_results_already_in_the_output_directory_need_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text(
        json.dumps(
            {
                "task": "Scenario-1",
                "agent": "nop",
                "repeat": 1,
                "seed": 0,
                "score": 0.0,
                "tp": 0,
                "fp": 0,
                "fn": 1,
                "submitted": [],
                "matches": [],
                "turns": 0,
                "tool_calls": 0,
                "wall_time_s": 1.0,
                "error_class": "no_submission",
                "run_dir": "runs/Scenario-1/nop/r1",
            }
        )
        + "\n",
        encoding="utf-8",
    )

    scenario = tmp_path / "Scenario-1"
    (scenario / "alerts").mkdir(parents=True)
    (scenario / "ground_truth.yaml").write_text(GROUND_TRUTH, encoding="utf-8")

    assert main(["--agent", "nop", "--scenarios", str(scenario), "--out", str(out)]) == 2

    assert capsys.readouterr().err.splitlines() == [
        f"error: --out {out} already holds 1 finished runs: pass --resume to continue them, or choose another --out"
    ]


def test_help_and_version_are_not_taken_for_the_run_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])

    assert exit_info.value.code == 0
    assert "itbench-eval --agent AGENT [options] is short for" in capsys.readouterr().out


def test_without_out_each_invocation_gets_a_new_results_directory(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = discover_tasks()[0].scenario_dir
    monkeypatch.chdir(tmp_path)

    status = main(
        ["--agent", "nop", "--scenarios", str(scenario), "--repeats", "1", "--cache-dir", str(cache_dir)]
    )

    assert status == 1  # nop: no run ended ok
    [results_dir] = (tmp_path / "itbench-results").iterdir()
    assert re.fullmatch(r"nop-\d{8}T\d{6}Z", results_dir.name)
    assert [row.task for row in read_results(results_dir / "results.jsonl")] == [scenario.name]


def test_resume_needs_the_results_directory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--agent", "nop", "--resume"]) == 2

    assert capsys.readouterr().err.splitlines() == [
        "error: --resume needs --out RESULTS_DIR, the directory of the runs to continue"
    ]


def test_a_relative_results_directory_still_collects_the_submission(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = discover_tasks()[0].scenario_dir
    monkeypatch.chdir(tmp_path)

    status = main(
        ["--agent", "oracle", "--scenarios", str(scenario), "--repeats", "1", "--out", "relative-out"]
    )

    assert status == 0
    [row] = read_results(tmp_path / "relative-out" / "results.jsonl")
    assert (row.error_class, row.score) == ("ok", 1.0)


def test_the_servers_own_settings_reach_every_server_and_settings_json(tmp_path: Path) -> None:
    scenario = discover_tasks()[0].scenario_dir
    out = tmp_path / "out"
    replay = tmp_path / "calls.jsonl"
    replay.write_text('{"tool": "get_overview", "arguments": {}}\n', encoding="utf-8")

    main(
        ["--agent", f"replay:{replay}", "--scenarios", str(scenario), "--repeats", "1", "--out", str(out),
         "--call-timeout", "12", "--output-budget", "1000", "--sql-row-limit", "50"]
    )  # fmt: skip

    settings = json.loads((out / "settings.json").read_text(encoding="utf-8"))
    assert settings["server_options"] == {"call_timeout": 12.0, "output_budget": 1000, "sql_row_limit": 50}
    [transcript] = list((out / "runs").glob("*/*/r1/transcript.jsonl"))
    events = [json.loads(line) for line in transcript.read_text(encoding="utf-8").splitlines()]
    [overview] = [event for event in events if event["type"] == "tool_result"]
    assert 0 < len(overview["text"]) <= 1000  # the server's budget, not its default of 20,000
