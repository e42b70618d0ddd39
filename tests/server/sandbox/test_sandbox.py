"""The sandbox commands run in: what they can see, reach and use."""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from itbench_server.sandbox import Mount, ResourceLimits, SandboxSpec, run_confined, sandbox_status

needs_bubblewrap = pytest.mark.skipif(
    not sandbox_status().confined, reason=f"no sandbox here: {sandbox_status().reason}"
)
SHELL = "/usr/bin/sh"


def shell(script: str, spec: SandboxSpec | None = None, *, timeout: float = 20) -> tuple[int, str]:
    result = run_confined([SHELL, "-c", script], spec or SandboxSpec(), timeout=timeout)
    return result.returncode, (result.stdout + result.stderr).decode()


@needs_bubblewrap
def test_a_confined_command_sees_only_usr_and_what_is_mounted(tmp_path: Path) -> None:
    visible = tmp_path / "visible"
    visible.mkdir()
    (visible / "note.txt").write_text("shown\n")
    (tmp_path / "hidden.txt").write_text("never shown\n")
    spec = SandboxSpec(mounts=[Mount(visible, "/data")])

    status, output = shell(f"cat /data/note.txt; cat {tmp_path / 'hidden.txt'}; ls /home /work", spec)

    assert status != 0
    assert "shown" in output
    assert "never shown" not in output
    assert output.count("No such file or directory") == 3, output


@needs_bubblewrap
def test_mounts_are_read_only_unless_asked_writable(tmp_path: Path) -> None:
    spec = SandboxSpec(mounts=[Mount(tmp_path / "ro", "/ro"), Mount(tmp_path / "rw", "/rw", writable=True)])
    for name in ("ro", "rw"):
        (tmp_path / name).mkdir()

    status, output = shell("echo x > /rw/made; echo x > /ro/made", spec)

    assert status != 0 and "Read-only file system" in output
    assert sorted(path.name for path in tmp_path.rglob("made")) == ["made"]
    assert (tmp_path / "rw" / "made").exists()


@needs_bubblewrap
def test_the_environment_is_only_what_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-pass")

    status, output = shell("env", SandboxSpec(environment={"HOME": "/tmp", "LANG": "C.UTF-8"}))

    assert status == 0
    assert sorted(output.split()) == ["HOME=/tmp", "LANG=C.UTF-8", "PWD=/tmp"]


@needs_bubblewrap
def test_proc_shows_only_the_sandbox_processes() -> None:
    status, output = shell("ls /proc | grep -c '^[0-9]'; cat /proc/1/cmdline | tr '\\0' ' '")

    count, command = output.split("\n", 1)
    assert status == 0
    assert int(count) <= 5  # bubblewrap's init, the launcher, the shell, ls, grep
    assert "pytest" not in command


@pytest.fixture
def host_listener() -> Iterator[int]:
    """A TCP port on the host's loopback that answers 'host' to anyone who connects."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                connection.sendall(b"host\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()


def connect_script(port: int) -> str:
    return (
        "import socket\n"
        "try:\n"
        f"    print(socket.create_connection(('127.0.0.1', {port}), timeout=5).recv(64).decode().strip())\n"
        "except OSError as error:\n"
        "    print('refused', error.errno)\n"
    )


def python(script: str, spec: SandboxSpec) -> str:
    result = run_confined([os.path.realpath(sys.executable), "-I", "-S", "-c", script], spec, timeout=20)
    return (result.stdout + result.stderr).decode().strip()


@needs_bubblewrap
def test_the_host_network_is_out_of_reach(host_listener: int) -> None:
    assert python(connect_script(host_listener), SandboxSpec()).startswith("refused")


@needs_bubblewrap
def test_a_relay_leads_an_inside_port_to_exactly_one_unix_socket(tmp_path: Path, host_listener: int) -> None:
    path = tmp_path / "service.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()

    def answer() -> None:
        connection, _ = server.accept()
        with connection:
            connection.sendall(b"relayed\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    spec = SandboxSpec(relays={6443: path})

    assert python(connect_script(6443), spec) == "relayed"
    assert python(connect_script(host_listener), spec).startswith("refused")
    thread.join()
    server.close()


def test_output_past_the_cap_stops_the_command() -> None:
    result = run_confined(["/usr/bin/yes"], SandboxSpec(), timeout=30, stdout_limit=100_000)

    assert result.output_cut
    assert len(result.stdout) == 100_000
    assert not result.timed_out


def test_a_command_past_its_deadline_is_killed() -> None:
    result = run_confined(["/usr/bin/sleep", "30"], SandboxSpec(), timeout=0.3)

    assert result.timed_out
    assert result.returncode != 0


def test_cpu_time_is_limited_by_the_kernel() -> None:
    spec = SandboxSpec(limits=ResourceLimits(cpu_seconds=1))

    result = run_confined([SHELL, "-c", "while :; do :; done"], spec, timeout=20)

    assert not result.timed_out
    assert result.returncode in (128 + 9, 128 + 24)  # SIGKILL at the hard limit, or SIGXCPU


def test_memory_is_limited_by_the_kernel() -> None:
    spec = SandboxSpec(limits=ResourceLimits(address_space_bytes=256 << 20))
    script = "x = bytearray(1 << 30)\nprint('allocated')"

    result = run_confined([os.path.realpath(sys.executable), "-I", "-S", "-c", script], spec, timeout=20)

    assert b"MemoryError" in result.stderr
    assert b"allocated" not in result.stdout


def test_removing_a_process_group_kills_what_is_left_in_it_and_deletes_the_cgroup() -> None:
    # Found by mutation testing (docs/security.md): the PID namespace normally empties the group
    # first, so this is the fallback for a process that is still in it.
    import subprocess

    from itbench_server.sandbox import _ProcessGroup

    group = _ProcessGroup.create(8)
    if group is None:
        pytest.skip("no writable pids cgroup here")
    straggler = subprocess.Popen(["sleep", "60"], preexec_fn=group.join)
    try:
        assert (group.path / "cgroup.procs").read_text().split() == [str(straggler.pid)]

        group.remove()

        assert straggler.wait(timeout=10) == -9
        assert not group.path.exists()
    finally:
        straggler.kill()
        straggler.wait()
