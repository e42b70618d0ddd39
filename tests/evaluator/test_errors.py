"""Every error the evaluator raises on purpose is an ``EvalError``, and ``itbench-eval`` prints it as one line."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import itbench_eval
from itbench_eval.cli import main
from itbench_eval.errors import EvalError, one_line

# Scripts that run in another environment than the evaluator's (they import its packages).
FOREIGN_MODULES = {"itbench_eval.agents.cli.stirrup_driver"}


def _evaluator_exceptions() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(itbench_eval.__path__, prefix="itbench_eval."):
        if info.name in FOREIGN_MODULES:
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__.startswith("itbench_eval.")
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def test_every_exception_class_of_the_evaluator_derives_from_eval_error() -> None:
    exceptions = _evaluator_exceptions()
    # The known ones are there, so that a broken walk cannot pass for an empty list.
    names = {cls.__name__ for cls in exceptions}
    assert {"RunnerError", "TaskError", "ReportError", "GroundTruthError", "ModelError"} <= names
    assert [cls.__name__ for cls in exceptions if not issubclass(cls, EvalError)] == []


def test_the_errors_that_were_value_errors_still_are() -> None:
    from itbench_eval.groundtruth import GroundTruthError
    from itbench_eval.report import ReportError
    from itbench_eval.results import ResultsFileError
    from itbench_eval.runner import RunnerError
    from itbench_eval.settings import SettingsError
    from itbench_eval.tasks import TaskError

    for cls in (GroundTruthError, ReportError, ResultsFileError, RunnerError, SettingsError, TaskError):
        assert issubclass(cls, ValueError), cls


def test_a_message_of_several_lines_is_joined_into_one() -> None:
    assert one_line(EvalError("bad value\n\n  expected a number\n")) == "bad value / expected a number"


def test_an_empty_message_is_replaced_by_the_class_name() -> None:
    assert one_line(EvalError()) == "EvalError"


def _one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 2
    assert "Traceback" not in captured.err
    [line] = captured.err.splitlines()
    assert line.startswith("error: ")
    return line


def test_a_malformed_results_file_on_report_is_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "results.jsonl").write_text('{"task": "a", not json\n')
    line = _one_error_line(capsys, ["report", str(tmp_path), "--no-baselines"])
    assert f"{tmp_path / 'results.jsonl'}, line 1" in line
    assert not (tmp_path / "report.html").exists()


def test_a_results_row_missing_its_fields_is_one_line_even_though_pydantic_lists_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "results.jsonl").write_text('{"task": 1}\n')
    line = _one_error_line(capsys, ["report", str(tmp_path), "--no-baselines"])
    assert "line 1: not a result row" in line


def test_a_missing_results_directory_on_report_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _one_error_line(capsys, ["report", str(tmp_path / "nowhere")])
    assert line == f"error: {tmp_path / 'nowhere'}: no such directory"


def test_a_malformed_results_file_on_compare_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "results.jsonl").write_text("[]\n")
    line = _one_error_line(capsys, ["compare", str(tmp_path / "a"), str(tmp_path / "a")])
    assert "results.jsonl, line 1" in line


def test_an_unknown_agent_is_one_line_listing_the_forms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _one_error_line(capsys, ["--agent", "nosuch", "--out", str(tmp_path / "out")])
    assert line.startswith("error: --agent nosuch: unknown agent; expected oracle")


def test_a_missing_replay_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replay = tmp_path / "missing.jsonl"
    line = _one_error_line(capsys, ["--agent", f"replay:{replay}", "--out", str(tmp_path / "out")])
    assert str(replay) in line


def test_missing_scenarios_on_run_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _one_error_line(
        capsys, ["--agent", "nop", "--scenarios", str(tmp_path / "none"), "--out", str(tmp_path / "out")]
    )
    assert line == f"error: --scenarios {tmp_path / 'none'}: no such file or directory"
