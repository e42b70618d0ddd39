"""The forking server's protocol, driven over its control socket as an evaluator would."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "Scenario-synth-1"


@pytest.fixture
def forkserver() -> Iterator[tuple[socket.socket, subprocess.Popen[bytes]]]:
    """The program's control socket, and the program."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    process = subprocess.Popen(
        [sys.executable, "-m", "itbench_server.forkserver", "--control-fd", str(theirs.fileno())],
        pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
    )  # fmt: skip
    theirs.close()
    ours.settimeout(60)
    assert json.loads(ours.recv(1024)) == {"ready": True}
    yield ours, process
    ours.close()
    assert process.wait(timeout=30) == 0


@pytest.fixture
def control(forkserver: tuple[socket.socket, subprocess.Popen[bytes]]) -> socket.socket:
    return forkserver[0]


def request(control: socket.socket, message: bytes, tmp_path: Path) -> dict[str, object]:
    """Send ``message`` with the four descriptors; the first answer on the status socket."""
    status, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with open(os.devnull, "r+b") as null, open(tmp_path / "stderr", "ab") as err, theirs:
        socket.send_fds(control, [message], [null.fileno(), null.fileno(), err.fileno(), theirs.fileno()])
    status.settimeout(60)
    with status:
        answer = json.loads(status.recv(1 << 16))
        if "pid" in answer:
            answer["then"] = json.loads(status.recv(1 << 16))
            answer["pid"] = "a pid"
        return answer


def test_a_request_runs_itbench_server_with_its_arguments_and_reports_the_exit(
    control: socket.socket, tmp_path: Path
) -> None:
    message = json.dumps(
        {"argv": ["index", str(FIXTURE), "--cache-dir", str(tmp_path / "cache")], "cwd": "/"}
    )

    assert request(control, message.encode(), tmp_path) == {"pid": "a pid", "then": {"exit": 0}}


def test_a_malformed_request_is_answered_and_the_next_one_is_served(
    control: socket.socket, tmp_path: Path
) -> None:
    control.send(b'{"argv": ["--version"], "cwd": "/"}')  # no descriptors: no one to answer, ignored
    assert request(control, b"not json", tmp_path) == {
        "error": "bad request: Expecting value: line 1 column 1 (char 0)"
    }
    assert request(control, b'{"cwd": "/"}', tmp_path) == {"error": "bad request: 'argv'"}

    served = request(control, json.dumps({"argv": ["--version"], "cwd": "/"}).encode(), tmp_path)

    assert served == {"pid": "a pid", "then": {"exit": 0}}


def test_a_server_that_fails_reports_its_status_and_says_why_on_its_stderr(
    control: socket.socket, tmp_path: Path
) -> None:
    message = json.dumps({"argv": ["serve", str(tmp_path / "missing")], "cwd": str(tmp_path)}).encode()

    assert request(control, message, tmp_path) == {"pid": "a pid", "then": {"exit": 2}}
    assert (tmp_path / "stderr").read_text(encoding="utf-8").startswith("error: ")


def test_a_server_that_exits_as_its_requester_lets_go_leaves_the_forking_server_serving(
    forkserver: tuple[socket.socket, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    control, process = forkserver
    status, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    gone = json.dumps({"argv": ["--version"], "cwd": str(tmp_path / "no such directory")}).encode()
    with open(os.devnull, "r+b") as null, theirs:
        socket.send_fds(control, [gone], [null.fileno(), null.fileno(), null.fileno(), theirs.fileno()])
    status.settimeout(60)
    pid = json.loads(status.recv(1 << 16))["pid"]
    # Held still while the server exits and the requester lets go: both reach it in one wake-up.
    os.kill(process.pid, signal.SIGSTOP)
    try:
        pidfd = os.pidfd_open(pid)
        select.select([pidfd], [], [], 60)
        os.close(pidfd)
        status.close()
    finally:
        os.kill(process.pid, signal.SIGCONT)

    message = json.dumps({"argv": ["--version"], "cwd": "/"}).encode()
    assert request(control, message, tmp_path) == {"pid": "a pid", "then": {"exit": 0}}


def test_the_forking_server_forks_from_a_single_thread(
    forkserver: tuple[socket.socket, subprocess.Popen[bytes]],
) -> None:
    _, process = forkserver

    assert os.listdir(f"/proc/{process.pid}/task") == [str(process.pid)]
