"""A sandbox kept for many commands: each command is confined as a command of its own would be."""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from itbench_server.sandbox import KeptSandbox, Mount, ResourceLimits, SandboxSpec, sandbox_status

needs_bubblewrap = pytest.mark.skipif(
    not sandbox_status().confined, reason=f"no sandbox here: {sandbox_status().reason}"
)
SHELL = "/usr/bin/sh"
ENVIRONMENT = {"HOME": "/tmp", "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"}


@pytest.fixture(params=[True, False], ids=["confined", "unconfined"])
def kept(request: pytest.FixtureRequest) -> Iterator[KeptSandbox]:
    if request.param and not sandbox_status().confined:
        pytest.skip(f"no sandbox here: {sandbox_status().reason}")
    sandbox = KeptSandbox(SandboxSpec(), confine=request.param)
    yield sandbox
    sandbox.close()


def run(
    sandbox: KeptSandbox,
    script: str,
    *,
    environment: dict[str, str] | None = None,
    limits: ResourceLimits | None = None,
    timeout: float = 20,
    workdir: str = "/tmp",
) -> tuple[int, str]:
    result = sandbox.run(
        [SHELL, "-c", script],
        environment=ENVIRONMENT if environment is None else environment,
        workdir=workdir,
        limits=limits or ResourceLimits(),
        timeout=timeout,
    )
    assert result is not None
    return result.returncode, (result.stdout + result.stderr).decode()


def test_each_command_gets_only_its_own_environment_and_no_descriptor_of_the_sandbox(
    kept: KeptSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-pass")

    first = run(kept, "env; ls /proc/self/fd", environment={"HOME": "/tmp", "MARK": "first"})
    second = run(kept, "env; read line; echo read=$?", environment={"HOME": "/tmp", "MARK": "second"})

    assert first[0] == 0 and second[0] == 0
    assert sorted(first[1].split()) == ["0", "1", "2", "3", "HOME=/tmp", "MARK=first", "PWD=/tmp"]
    assert sorted(second[1].split()) == ["HOME=/tmp", "MARK=second", "PWD=/tmp", "read=1"]  # stdin is empty


def test_each_command_runs_under_its_own_limits_and_exit_status(kept: KeptSandbox) -> None:
    limited = run(kept, "ulimit -t; ulimit -n; exit 3", limits=ResourceLimits(cpu_seconds=7, open_files=64))
    default = run(kept, "ulimit -t; ulimit -n")

    assert limited == (3, "7\n64\n")
    assert default == (0, "30\n256\n")


def test_a_command_past_its_deadline_is_killed_and_the_next_one_runs(kept: KeptSandbox) -> None:
    result = kept.run(
        ["/usr/bin/sleep", "30"],
        environment=ENVIRONMENT,
        workdir="/tmp",
        limits=ResourceLimits(),
        timeout=0.3,
    )

    assert result is not None and result.timed_out and result.returncode == 128 + 9
    assert run(kept, "echo next") == (0, "next\n")


def test_output_past_the_cap_stops_the_command(kept: KeptSandbox) -> None:
    result = kept.run(
        ["/usr/bin/yes"],
        environment=ENVIRONMENT,
        workdir="/tmp",
        limits=ResourceLimits(),
        timeout=30,
        stdout_limit=100_000,
    )

    assert result is not None and result.output_cut and not result.timed_out
    assert len(result.stdout) == 100_000
    assert run(kept, "echo next") == (0, "next\n")


def test_commands_run_at_once_each_with_its_own_output(kept: KeptSandbox) -> None:
    outputs: dict[int, tuple[int, str]] = {}

    def one(index: int) -> None:
        outputs[index] = run(kept, f"sleep 0.2; echo command-{index}")

    threads = [threading.Thread(target=one, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outputs == {index: (0, f"command-{index}\n") for index in range(4)}


def test_a_command_that_cannot_start_says_so(kept: KeptSandbox) -> None:
    result = kept.run(
        ["/no/such/program"], environment=ENVIRONMENT, workdir="/tmp", limits=ResourceLimits(), timeout=10
    )

    assert result is not None and result.returncode == 127
    assert b"cannot start /no/such/program" in result.stderr


@pytest.mark.parametrize("confine", [True, False], ids=["confined", "unconfined"])
def test_closing_ends_the_commands_still_running_and_a_later_command_starts_another(
    tmp_path: Path, confine: bool
) -> None:
    if confine and not sandbox_status().confined:
        pytest.skip(f"no sandbox here: {sandbox_status().reason}")
    fifo = tmp_path / "started"
    os.mkfifo(fifo)
    sandbox = KeptSandbox(
        SandboxSpec(mounts=[Mount(tmp_path, str(tmp_path), writable=True)]), confine=confine
    )
    results: list[tuple[int, str]] = []
    thread = threading.Thread(
        target=lambda: results.append(run(sandbox, f"echo started > {fifo}; sleep 30", timeout=60))
    )
    try:
        thread.start()
        assert fifo.read_text() == "started\n"  # the command runs

        sandbox.close()
        thread.join(timeout=20)

        assert not thread.is_alive()
        assert results and results[0][0] != 0
        assert run(sandbox, "echo again") == (0, "again\n")
    finally:
        sandbox.close()


@needs_bubblewrap
def test_a_kept_sandbox_sees_only_usr_and_what_is_mounted_and_reaches_only_its_relays(tmp_path: Path) -> None:
    visible = tmp_path / "visible"
    visible.mkdir()
    (visible / "note.txt").write_text("shown\n")
    (tmp_path / "hidden.txt").write_text("never shown\n")
    path = tmp_path / "service.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    threading.Thread(target=lambda: server.accept()[0].sendall(b"relayed\n"), daemon=True).start()
    sandbox = KeptSandbox(SandboxSpec(mounts=[Mount(visible, "/data")], relays={6443: path}))
    script = (
        "import socket\n"
        "print(open('/data/note.txt').read().strip())\n"
        f"for where in ({str(tmp_path / 'hidden.txt')!r}, '/home', '/work'):\n"
        "    try:\n"
        "        open(where)\n"
        "    except OSError as error:\n"
        "        print('missing', error.errno)\n"
        "print(socket.create_connection(('127.0.0.1', 6443), timeout=5).recv(64).decode().strip())\n"
    )
    try:
        result = sandbox.run(
            [os.path.realpath(sys.executable), "-I", "-S", "-c", script],
            environment={},
            workdir="/tmp",
            limits=ResourceLimits(),
            timeout=20,
        )
    finally:
        sandbox.close()
        server.close()

    assert result is not None and result.confined
    assert (result.stdout + result.stderr).decode().split("\n") == [
        "shown",
        "missing 2",
        "missing 2",
        "missing 2",
        "relayed",
        "",
    ]


@needs_bubblewrap
def test_the_sandbox_outlives_the_thread_that_started_it() -> None:
    # bubblewrap's --die-with-parent follows the thread that started it; the callers' threads come
    # and go (a thread pool), the sandbox must not go with them.
    sandbox = KeptSandbox(SandboxSpec())
    try:
        first: list[tuple[int, str]] = []
        thread = threading.Thread(
            target=lambda: first.append(run(sandbox, "echo kept > /tmp/mark; echo made"))
        )
        thread.start()
        thread.join()

        assert first == [(0, "made\n")]
        assert run(sandbox, "cat /tmp/mark") == (0, "kept\n")  # the same sandbox's /tmp
    finally:
        sandbox.close()


def test_a_nul_character_in_an_argument_is_refused_and_a_long_request_left_to_run_confined(
    kept: KeptSandbox,
) -> None:
    # NUL separates a request's fields: passed on, it would move an argument into another field.
    with pytest.raises(ValueError, match="null byte"):
        kept.run(
            ["/usr/bin/echo", "a\0HOME=/elsewhere"],
            environment=ENVIRONMENT,
            workdir="/tmp",
            limits=ResourceLimits(),
            timeout=10,
        )

    long = kept.run(
        ["/usr/bin/echo", "x" * 70_000],
        environment=ENVIRONMENT,
        workdir="/tmp",
        limits=ResourceLimits(),
        timeout=10,
    )

    assert long is None
    assert run(kept, "echo still") == (0, "still\n")
