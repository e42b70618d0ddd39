"""``itbench-server``: the mistakes a user makes most, each refused in one line, and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from eval_agents import shared_index_cache

from itbench_server.cli import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SCENARIO = sorted(FIXTURES.glob("Scenario-*"))[0]


@pytest.fixture
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_index_cache(tmp_path_factory.getbasetemp())


@pytest.mark.parametrize("command", ["index", "overview", "serve"])
def test_a_folder_of_scenarios_is_refused_with_the_scenarios_it_holds_and_nothing_is_cached(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    for name in ("Scenario-10", "Scenario-2"):
        (dataset / name).symlink_to(SCENARIO, target_is_directory=True)
    (dataset / "data.jsonl").write_text("")
    cache = tmp_path / "cache"

    status = main([command, str(dataset), "--cache-dir", str(cache)])

    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert err.startswith(f"error: {dataset}: a folder of scenarios, not one scenario")
    assert "2 scenario directories: Scenario-2, Scenario-10 " in err
    assert f"itbench-eval --scenarios {dataset}" in err
    assert not cache.exists()


def test_one_scenario_with_a_recorder_layout_is_still_one_scenario(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "Scenario-1"
    (scenario / "raw").mkdir(parents=True)
    (scenario / "lite").mkdir()
    for name in ("otel_logs_raw.tsv", "k8s_events_raw.tsv", "k8s_objects_raw.tsv"):
        (scenario / "raw" / name).write_bytes((SCENARIO / name).read_bytes())
        (scenario / "lite" / name.replace("_raw", "")).write_bytes((SCENARIO / name).read_bytes())

    status = main(["index", str(scenario), "--cache-dir", str(cache_dir)])

    assert status == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "option"),
    [
        (["serve", str(SCENARIO), "--audit-log", "{blocked}/audit.jsonl"], "--audit-log"),
        (["serve", str(SCENARIO), "--submission-out", "{blocked}/submission.json"], "--submission-out"),
        (["kube-api", str(SCENARIO), "--kubeconfig-out", "{blocked}/kubeconfig"], "--kubeconfig-out"),
    ],
)
def test_an_output_file_that_cannot_be_created_is_one_line_and_exit_two_before_any_work(
    arguments: list[str], option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    cache = tmp_path / "cache"

    status = main([part.format(blocked=blocked) for part in arguments] + ["--cache-dir", str(cache)])

    err = capsys.readouterr().err
    assert (status, err.count("\n")) == (2, 1), err
    assert err.startswith(f"error: {option} {blocked}/")
    assert err.endswith(f"cannot write there: {blocked} is not a directory\n")
    assert not cache.exists()


def test_an_audit_log_that_is_a_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["serve", str(SCENARIO), "--audit-log", str(tmp_path)])

    assert (status, capsys.readouterr().err) == (
        2,
        f"error: --audit-log {tmp_path}: is a directory; give a file\n",
    )


@pytest.mark.parametrize("port", ["65536", "-1"])
def test_a_kube_api_port_out_of_range_is_one_line_and_exit_two(
    port: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["kube-api", str(SCENARIO), "--port", port, "--cache-dir", str(tmp_path / "cache")])

    assert (status, capsys.readouterr().err) == (2, f"error: --port {port}: not a port number (0 to 65535)\n")
    assert not (tmp_path / "cache").exists()


def test_a_synth_output_directory_that_cannot_be_created_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")

    status = main(["synth", "--fault", "pod-failure", "--out", str(blocked / "Scenario-1")])

    err = capsys.readouterr().err
    assert (status, err.count("\n")) == (2, 1), err
    assert err.startswith("error: ") and "Not a directory" in err


def test_ctrl_c_stops_the_stdio_server_at_once_while_it_waits_for_input(cache_dir: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "itbench_server.cli", "serve", str(SCENARIO), "--cache-dir", str(cache_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert server.stdin is not None and server.stdout is not None
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    server.stdin.write(json.dumps(initialize) + "\n")
    server.stdin.flush()
    assert '"id":1' in server.stdout.readline()  # the server now waits in its stdin reader

    server.send_signal(signal.SIGINT)
    try:
        status = server.wait(timeout=10)  # stdin stays open: no further line arrives
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        server.stdin.close()
    assert server.stderr is not None
    err = server.stderr.read()

    assert status == 130
    assert err.splitlines()[-1] == "itbench-server: interrupted; stopped"
    assert "Traceback" not in err


def test_index_prints_its_result_on_stdout_and_nothing_on_stderr(
    cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["index", str(SCENARIO), "--cache-dir", str(cache_dir)])

    captured = capsys.readouterr()
    assert (status, captured.err) == (0, "")
    assert str(SCENARIO) in captured.out or SCENARIO.name in captured.out
