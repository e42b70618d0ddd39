"""Servers forked from one loaded process: the same answers, no credentials, no orphans."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from itbench_eval.agents import resolve_agent
from itbench_eval.forkserver import ForkedProcess, ForkServer, ForkServerError
from itbench_eval.runner import EvalSettings, run_evaluation, server_environment
from itbench_eval.tasks import Task

pytestmark = pytest.mark.anyio

FAKE_KEY = "sk-test-0123456789abcdef-not-a-real-key"


@pytest.fixture
def fork_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ForkServer]:
    """A forking server of its own, started while this process holds an API key."""
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    server = ForkServer.start(server_environment())
    yield server
    server.close()


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode().split("=", 1) for item in raw.split(b"\0") if item)


def exited_within(pid: int, seconds: float) -> bool:
    """Whether process ``pid`` (not our child) has exited within ``seconds``, waiting on its pidfd."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([pidfd], [], [], seconds)
        return bool(readable)
    finally:
        os.close(pidfd)


async def fork_serving(
    fork_server: ForkServer, scenario: Path, cache_dir: Path, tmp_path: Path, *extra: str
) -> tuple[ForkedProcess, int, int]:
    """A stdio server forked on a pipe we hold (so it waits for input), and that pipe's write end."""
    read_end, write_end = os.pipe()
    err = os.open(tmp_path / "stderr", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        process = fork_server.fork(
            ["serve", str(scenario), "--cache-dir", str(cache_dir), *extra],
            cwd=tmp_path, environment=server_environment(), stdin=read_end, stdout=err, stderr=err,
        )  # fmt: skip
    finally:
        os.close(read_end)
        os.close(err)
    return process, await process.started(), write_end


async def test_a_forked_server_scores_the_runs_as_a_spawned_one_does(
    task: Task, cache_dir: Path, tmp_path: Path
) -> None:
    rows = {}
    for start in ("fork", "spawn"):
        settings = EvalSettings(
            agent="oracle", out_dir=tmp_path / start, repeats=1, cache_dir=cache_dir, server_start=start
        )
        [row] = await run_evaluation([task], settings, resolve_agent("oracle"))
        rows[start] = (row.error_class, row.score, row.submitted, row.tool_calls)
        assert (tmp_path / start / row.run_dir / "audit.jsonl").stat().st_size > 0

    assert rows["fork"] == rows["spawn"] == ("ok", 1.0, rows["spawn"][2], rows["spawn"][3])


async def test_neither_the_forking_server_nor_a_server_it_forks_holds_an_api_key(
    fork_server: ForkServer, task: Task, cache_dir: Path, tmp_path: Path
) -> None:
    process, pid, stdin = await fork_serving(fork_server, task.scenario_dir, cache_dir, tmp_path)
    try:
        for environ in (environ_of(fork_server.pid), environ_of(pid)):
            assert "OPENAI_API_KEY" not in environ
            assert FAKE_KEY not in repr(environ)
            assert environ["PATH"] == os.environ["PATH"]
    finally:
        os.close(stdin)
        assert await process.wait() == 0  # end of input: the server exits by itself
        process.close()


async def test_a_forked_server_reports_its_exit_status_and_signals(
    fork_server: ForkServer, task: Task, cache_dir: Path, tmp_path: Path
) -> None:
    process, _, stdin = await fork_serving(fork_server, task.scenario_dir, cache_dir, tmp_path)
    process.kill()
    assert await process.wait() == -signal.SIGKILL
    os.close(stdin)

    broken, _, stdin = await fork_serving(fork_server, tmp_path / "missing", cache_dir, tmp_path)
    assert await broken.wait() == 2
    os.close(stdin)
    assert "error: " in (tmp_path / "stderr").read_text(encoding="utf-8")

    process.terminate()  # after its exit: nothing is signalled, nothing fails
    assert process.returncode == -signal.SIGKILL


async def test_letting_go_of_a_forked_server_kills_it(
    fork_server: ForkServer, task: Task, cache_dir: Path, tmp_path: Path
) -> None:
    process, pid, stdin = await fork_serving(fork_server, task.scenario_dir, cache_dir, tmp_path)
    try:
        process.close()
        assert exited_within(pid, 10)
    finally:
        os.close(stdin)


async def test_closing_the_forking_server_kills_the_servers_it_forked(
    fork_server: ForkServer, task: Task, cache_dir: Path, tmp_path: Path
) -> None:
    _, pid, stdin = await fork_serving(fork_server, task.scenario_dir, cache_dir, tmp_path)
    try:
        fork_server.close()
        assert exited_within(pid, 10)
        assert not fork_server.running
    finally:
        os.close(stdin)


def test_a_forking_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\necho 'no such module: itbench_server' >&2\nexit 1\n", encoding="utf-8")
    python.chmod(0o755)

    with pytest.raises(
        ForkServerError, match="the forking server did not start: no such module: itbench_server"
    ):
        ForkServer.start(server_environment(), python=str(python))


def test_the_evaluator_runs_the_forking_server_with_its_own_python() -> None:
    server = ForkServer.start(server_environment())
    try:
        assert Path(os.readlink(f"/proc/{server.pid}/exe")).resolve() == Path(sys.executable).resolve()
    finally:
        server.close()


async def test_a_forking_server_started_from_a_thread_outlives_the_thread(tmp_path: Path) -> None:
    started: list[ForkServer] = []
    thread = threading.Thread(target=lambda: started.append(ForkServer.start(server_environment())))
    thread.start()
    thread.join()
    [server] = started
    try:
        with open(os.devnull, "r+b") as null:
            process = server.fork(
                ["--version"], cwd=tmp_path, environment=server_environment(), stdin=null.fileno(),
                stdout=null.fileno(), stderr=null.fileno(),
            )  # fmt: skip
        assert await process.wait() == 0
        process.close()
    finally:
        server.close()


def test_when_the_evaluator_is_killed_its_forking_server_and_servers_end(
    task: Task, cache_dir: Path, tmp_path: Path
) -> None:
    evaluator = subprocess.Popen(
        [sys.executable, "-c", EVALUATOR_THAT_FORKS_A_SERVER, str(task.scenario_dir), str(cache_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=tmp_path, text=True,
    )  # fmt: skip
    assert evaluator.stdout is not None
    fork_server_pid, server_pid = map(int, evaluator.stdout.readline().split())

    evaluator.kill()
    evaluator.wait()

    assert exited_within(fork_server_pid, 10)
    assert exited_within(server_pid, 10)


# Starts a forking server, forks a server that waits for its input, prints both pids, and waits.
EVALUATOR_THAT_FORKS_A_SERVER = """
import os, sys, anyio
from pathlib import Path
from itbench_eval.forkserver import ForkServer
from itbench_eval.runner import server_environment

async def main():
    server = ForkServer.start(server_environment())
    read_end, write_end = os.pipe()
    process = server.fork(
        ["serve", sys.argv[1], "--cache-dir", sys.argv[2]], cwd=Path.cwd(),
        environment=server_environment(), stdin=read_end, stdout=2, stderr=2,
    )
    print(server.pid, await process.started(), flush=True)
    sys.stdin.read()

anyio.run(main)
"""
