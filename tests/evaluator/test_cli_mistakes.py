"""``itbench-eval``: paths and values that cannot work are one line and exit status 2, before any run."""

from __future__ import annotations

from pathlib import Path

import pytest

from itbench_eval.cli import main
from itbench_eval.tasks import discover_tasks


def test_an_out_directory_that_cannot_be_created_is_one_line_and_exit_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    scenario = discover_tasks()[0].scenario_dir

    status = main(["--agent", "nop", "--scenarios", str(scenario), "--out", str(blocked / "results")])

    err = capsys.readouterr().err
    assert (status, err.count("\n")) == (2, 1), err
    assert err.startswith("error: ") and "Not a directory" in err


def test_a_cache_dir_that_cannot_be_created_is_refused_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    scenario = discover_tasks()[0].scenario_dir
    out = tmp_path / "out"

    status = main(
        ["--agent", "nop", "--scenarios", str(scenario), "--out", str(out), "--cache-dir", str(blocked / "c")]
    )

    assert (status, capsys.readouterr().err) == (
        2,
        f"error: --cache-dir {blocked / 'c'}: cannot create the directory: Not a directory\n",
    )
    assert not (out / "results.jsonl").exists()


@pytest.mark.parametrize("command", [["view", "."], ["mock-model", "--script", "no-such-script.yaml"]])
@pytest.mark.parametrize("port", ["65536", "-1"])
def test_a_port_out_of_range_is_one_line_and_exit_two(
    command: list[str], port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main([*command, "--port", port])

    assert (status, capsys.readouterr().err) == (2, f"error: --port {port}: not a port number (0 to 65535)\n")
