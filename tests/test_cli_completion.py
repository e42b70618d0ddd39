"""Shell completion (argcomplete) of ``itbench-server`` and ``itbench-eval``: what the shell gets
when it asks, through the same protocol ``register-python-argcomplete`` sets up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _complete(module: str, line: str, tmp_path: Path) -> list[str]:
    answer = tmp_path / "completions"
    env = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
    }
    completed = subprocess.run(
        [sys.executable, "-m", module], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return answer.read_text().split()


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        ("itbench_server.cli", "itbench-server se", "serve"),
        ("itbench_server.cli", "itbench-server serve --audit", "--audit-log"),
        ("itbench_server.cli", "itbench-server synth --vari", "--variant"),
        ("itbench_eval.cli", "itbench-eval com", "compare"),
        ("itbench_eval.cli", "itbench-eval run --max-tu", "--max-turns"),
    ],
)
def test_the_shell_completes_commands_and_options(
    module: str, line: str, expected: str, tmp_path: Path
) -> None:
    assert expected in _complete(module, line, tmp_path)
