"""The ``itbench-server`` command line: the overview of a bundled incident, and its errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def run_cli(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ITBENCH_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "itbench_server.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_overview_prints_the_window_the_firing_alerts_and_the_tools(tmp_path: Path) -> None:
    scenario = sorted(FIXTURES.glob("Scenario-*"))[0]
    result = run_cli("overview", str(scenario), cache=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Incident window: ")
    assert "Firing alerts" in result.stdout
    assert "Workloads at the window's end" in result.stdout
    assert "How to investigate:" in result.stdout and "get_alerts" in result.stdout


def test_every_subcommand_turns_bad_input_into_one_line_and_exit_two(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-scenario"
    for command in ("index", "overview", "serve"):
        result = run_cli(command, str(missing), cache=tmp_path)
        assert (result.returncode, result.stderr.strip()) == (2, f"error: {missing}: no such directory"), (
            command
        )
