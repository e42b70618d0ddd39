"""A process that has loaded the server once and forks a new ``itbench-server`` per request.

Importing the MCP SDK alone takes a fresh interpreter about 0.6 s (its protocol types are
pydantic models built at import), more than an evaluation run should wait for its server. An
evaluator therefore starts this program once, with the environment its servers get, and asks it
for each run's server: the program forks, and the child runs ``itbench-server ARGS...`` as a
freshly started one would, on the standard streams it was handed, with everything already
imported. The child's first call still opens the index and registers the tools; only the
imports are shared.

The program is driven over one Unix ``SOCK_SEQPACKET`` socket inherited as ``--control-fd``
(``python -m itbench_server.forkserver --control-fd N``). Each request is one JSON message,
``{"argv": [...], "cwd": "...", "env": {...}}``, carrying four descriptors: the server's stdin, stdout and
stderr, and the request's *status socket* (also ``SOCK_SEQPACKET``). On the status socket the
program answers ``{"pid": N}``, then ``{"exit": CODE}`` when the server ends (negative: killed
by that signal, as ``subprocess`` reports it), and closes it. The requester may send
``{"signal": N}`` on its end to signal the server (never a process that has already been
reaped); closing its end kills the server if it still runs. When the control socket closes
(the requester exited, however it ended), every server still running is killed and the program
exits; a server also dies with the program (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import selectors
import signal
import socket
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["OPTIONAL_PRELOADED_MODULES", "PRELOADED_MODULES", "main"]

# What ``itbench-server serve`` imports before it can answer, over stdio or HTTP, its tools' own
# modules included (``create_server`` imports them, and the SDK's logging imports rich).
PRELOADED_MODULES = (
    "anyio",
    "duckdb",
    "pydantic",
    "rich.console",
    "rich.logging",
    "mcp.server",
    "mcp.server.stdio",
    "itbench_server.cli",
    "itbench_server.kube.kubectl",
    "itbench_server.mcp.audit",
    "itbench_server.mcp.http",
    "itbench_server.mcp.investigation",
    "itbench_server.mcp.kubectl_tool",
    "itbench_server.mcp.overview",
    "itbench_server.mcp.server",
    "itbench_server.mcp.settings",
    "itbench_server.mcp.shell_tool",
    "itbench_server.mcp.submission",
    "itbench_server.snapshot",
)
# Imported on a search over every log line; preloaded where installed (hyperscan: x86-64 only).
OPTIONAL_PRELOADED_MODULES = ("numpy", "hyperscan")

_REQUEST_FDS = 4  # stdin, stdout, stderr, status socket
_MAX_MESSAGE = 1 << 20
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Have the kernel SIGKILL this process when the thread that forked it ends (this program's
    only thread: so when this program ends)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass
class _Child:
    pid: int
    pidfd: int
    status: socket.socket
    reaped: bool = False


class _ForkServer:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.selector = selectors.DefaultSelector()
        self.selector.register(control, selectors.EVENT_READ, None)
        self.children: dict[int, _Child] = {}

    def serve(self) -> None:
        while True:
            for key, _ in self.selector.select():
                if key.data is None:
                    if not self._accept_request():
                        self._stop_all()
                        return
                    continue
                kind, child = key.data
                if self.children.get(child.pid) is not child:
                    continue  # reaped by an earlier event of the same batch
                try:
                    if kind == "exit":
                        self._reap(child)
                    else:
                        self._read_status(child)
                except Exception:  # a bug here must not take down the other servers
                    traceback.print_exc()

    def _accept_request(self) -> bool:
        """Fork one server for the request on the control socket; False once the socket closed."""
        try:
            data, fds, _flags, _address = socket.recv_fds(self.control, _MAX_MESSAGE, _REQUEST_FDS)
        except OSError:
            return False
        if not data:
            return False
        if len(fds) != _REQUEST_FDS:
            for fd in fds:
                os.close(fd)
            return True  # a malformed request: nobody to answer, and the next one may be fine
        status = socket.socket(fileno=fds[3])
        try:
            request = json.loads(data)
            argv = [str(arg) for arg in request["argv"]]
            cwd = str(request["cwd"])
            environment = {str(name): str(value) for name, value in request.get("env", os.environ).items()}
        except (ValueError, KeyError, TypeError) as error:
            for fd in fds[:3]:
                os.close(fd)
            self._answer(status, {"error": f"bad request: {error}"})
            status.close()
            return True
        pid = os.fork()
        if pid == 0:
            _become_server(argv, cwd, environment, fds[:3])  # never returns
        for fd in fds[:3]:
            os.close(fd)
        child = _Child(pid=pid, pidfd=os.pidfd_open(pid), status=status)
        self.children[pid] = child
        self.selector.register(child.pidfd, selectors.EVENT_READ, ("exit", child))
        self.selector.register(status, selectors.EVENT_READ, ("status", child))
        self._answer(status, {"pid": pid})
        return True

    @staticmethod
    def _answer(status: socket.socket, message: dict[str, object]) -> None:
        with contextlib.suppress(OSError):  # the requester went away: its child is killed below
            status.send(json.dumps(message).encode())

    def _read_status(self, child: _Child) -> None:
        try:
            data = child.status.recv(_MAX_MESSAGE)
        except OSError:
            data = b""
        if not data:  # the requester let go of the server: it must not outlive the handle
            self._signal(child, signal.SIGKILL)
            self.selector.unregister(child.status)
            return
        with contextlib.suppress(ValueError, KeyError, TypeError):
            self._signal(child, int(json.loads(data)["signal"]))

    @staticmethod
    def _signal(child: _Child, signum: int) -> None:
        if not child.reaped:  # the pidfd names this child, never a process that reused its pid
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(child.pidfd, signum)

    def _reap(self, child: _Child) -> None:
        _, wait_status = os.waitpid(child.pid, 0)
        child.reaped = True
        self.selector.unregister(child.pidfd)
        os.close(child.pidfd)
        self._answer(child.status, {"exit": os.waitstatus_to_exitcode(wait_status)})
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(child.status)
        child.status.close()
        del self.children[child.pid]

    def _stop_all(self) -> None:
        for child in list(self.children.values()):
            self._signal(child, signal.SIGKILL)
        for child in list(self.children.values()):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child.pid, 0)


def _become_server(argv: list[str], cwd: str, environment: dict[str, str], fds: Sequence[int]) -> None:
    """In the forked child: take the handed streams and run ``itbench-server ARGV``; never returns."""
    status = 70  # EX_SOFTWARE, if anything below fails before the server's own status is known
    try:
        _die_with_parent()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the control socket, other servers' handles
        # Fresh standard streams on the new descriptors (the program's own were never read).
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
        sys.argv = ["itbench-server", *argv]
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(environment)
        from itbench_server.cli import exit_without_teardown, main

        try:
            status = main(argv)
        except SystemExit as stop:  # argparse's own exit
            status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
        exit_without_teardown(status)
    except BaseException:  # anything at all: report it as a fresh interpreter would, then go
        with contextlib.suppress(BaseException):
            traceback.print_exc()
            sys.stderr.flush()
    finally:
        os._exit(status)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m itbench_server.forkserver",
        description="Fork a ready itbench-server per request received on an inherited socket.",
    )
    parser.add_argument("--control-fd", type=int, required=True, help="the SOCK_SEQPACKET control socket")
    args = parser.parse_args(argv)
    # Not PR_SET_PDEATHSIG here: it fires when the *thread* that started this program ends (an
    # evaluator starts it from a worker thread). When the evaluator dies, the kernel closes its
    # end of the control socket, and that ends this program and its servers.
    # Ctrl-C reaches the whole process group: the servers answer it themselves, and this program
    # ends when its requester closes the control socket.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    control = socket.socket(fileno=args.control_fd)
    for name in PRELOADED_MODULES:
        __import__(name)
    # One thread only, so that forking is safe: numpy's OpenBLAS would start a pool of its own
    # (the servers use numpy for array indexing, never for linear algebra).
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    for name in OPTIONAL_PRELOADED_MODULES:
        with contextlib.suppress(ImportError):
            __import__(name)
    control.send(b'{"ready": true}')
    _ForkServer(control).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
