"""The CI coverage check (.ci/coverage_floors.py) fails a package under its floor and prints both."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import coverage
import pytest

import itbench_eval.errors
import itbench_server.errors

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "coverage_floors.py"


def _floors() -> ModuleType:
    spec = importlib.util.spec_from_file_location("coverage_floors", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _data_file(tmp_path: Path, executed: dict[str, set[int]]) -> str:
    data = coverage.CoverageData(basename=str(tmp_path / ".coverage"))
    data.add_lines({path: sorted(lines) for path, lines in executed.items()})
    data.write()
    return str(tmp_path / ".coverage")


def _every_line(path: str) -> set[int]:
    return set(range(1, len(Path(path).read_text(encoding="utf-8").splitlines()) + 1))


def test_both_packages_fully_covered_pass_and_are_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, evaluator = itbench_server.errors.__file__, itbench_eval.errors.__file__
    data = _data_file(tmp_path, {server: _every_line(server), evaluator: _every_line(evaluator)})

    assert _floors().main([data]) == 0

    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["itbench_server", "itbench_eval"]
    assert all(line.split(":")[1].startswith(" 100.0% of lines") for line in out)


def test_a_package_under_its_floor_fails_the_check_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, evaluator = itbench_server.errors.__file__, itbench_eval.errors.__file__
    data = _data_file(tmp_path, {server: _every_line(server), evaluator: {1}})

    assert _floors().main([data]) == 1

    out = capsys.readouterr().out
    assert "itbench_server: 100.0% of lines" in out and "UNDER THE FLOOR" not in out.splitlines()[0]
    assert out.splitlines()[1].startswith("itbench_eval: ")
    assert out.splitlines()[1].endswith("UNDER THE FLOOR")


def test_a_missing_data_file_fails_with_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _floors().main([str(tmp_path / "none")]) == 1
    assert "run python3 -m pytest first" in capsys.readouterr().err
