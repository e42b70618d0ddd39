"""``itbench-eval``: results on stdout, progress on stderr; piped results are never wrapped."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from eval_agents import shared_index_cache

from itbench_eval.cli import main
from itbench_eval.tasks import discover_tasks

LONG_NAME = "Scenario-" + "with-a-name-far-longer-than-any-terminal-line-" * 3 + "1"


@pytest.fixture
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_index_cache(tmp_path_factory.getbasetemp())


def test_a_run_prints_progress_on_stderr_and_only_results_on_stdout(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = discover_tasks()[0].scenario_dir
    out = tmp_path / "out"

    main(
        [
            "run",
            "--agent",
            "nop",
            "--scenarios",
            str(scenario),
            "--repeats",
            "1",
            "--out",
            str(out),
            "--cache-dir",
            str(cache_dir),
        ]
    )

    captured = capsys.readouterr()
    assert "[1/1]" in captured.err and "[1/1]" not in captured.out
    assert f"results in {out}" in captured.err and "results in" not in captured.out
    assert scenario.name in captured.out


def test_piped_results_keep_each_row_on_one_line_however_long(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / LONG_NAME
    scenario.symlink_to(discover_tasks()[0].scenario_dir, target_is_directory=True)
    out = tmp_path / "out"

    main(
        [
            "run",
            "--agent",
            "nop",
            "--scenarios",
            str(scenario),
            "--repeats",
            "1",
            "--out",
            str(out),
            "--cache-dir",
            str(cache_dir),
        ]
    )

    rows = [line for line in capsys.readouterr().out.splitlines() if LONG_NAME in line]
    assert rows, "the task's row is cut or wrapped"
    assert "\x1b[" not in "".join(rows)  # no colour codes in a pipe


def test_on_a_terminal_results_are_laid_out_in_the_terminal_width() -> None:
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 97, 0, 0))
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    probe = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from itbench_eval.console import results_console as c; k = c(); "
            "print('width', k.width, k.is_terminal)",
        ],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    try:
        assert probe.wait(timeout=60) == 0
        output = b""
        while chunk := _read(controller):
            output += chunk
    finally:
        os.close(controller)

    assert "width 97 True" in output.decode()


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # the terminal's other end is closed: everything was read
        return b""
