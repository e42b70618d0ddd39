"""Run servers forked from one process that has already loaded the server.

A fresh ``itbench-server`` spends most of its start importing the MCP SDK (about 0.6 s; see
``docs/benchmarks.md``), and an evaluation starts one server per run. The evaluator therefore
starts ``python -m itbench_server.forkserver`` once per process, with the scrubbed environment of
:func:`~itbench_eval.runner.server_environment`, and has it fork each run's server
(:class:`ForkServer`). A forked server is the same program with the same arguments, streams,
working directory and environment; it is only spared the imports.

:func:`forked_stdio_client` is the stdio transport of the MCP SDK's ``stdio_client`` for such a
server: it speaks over a socket pair instead of pipes, and stops the server the same way (end of
input, a grace period, SIGTERM, SIGKILL).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TextIO

import anyio
import anyio.abc
from mcp import types
from mcp.client._transport import TransportStreams
from mcp.shared.message import SessionMessage

from itbench_eval.errors import EvalError

__all__ = [
    "ForkServer",
    "ForkServerError",
    "ForkedProcess",
    "forked_stdio_client",
    "open_forked_process",
    "shared_fork_server",
]

_MAX_MESSAGE = 1 << 16
_START_TIMEOUT_S = 120.0
_EXIT_GRACE_S = 2.0  # as the SDK's stdio_client waits after closing a server's stdin
_KILL_GRACE_S = 2.0


class ForkServerError(EvalError, RuntimeError):
    """The forking server could not be started or stopped answering; the message says why."""


class ForkedProcess:
    """One server forked by a :class:`ForkServer`: its pid, its exit status, signals to it.

    Closing it (:meth:`close`) kills the server if it still runs.
    """

    def __init__(self, status: socket.socket) -> None:
        self._status = status
        self._status.setblocking(False)
        self.pid: int | None = None
        self.returncode: int | None = None
        self.stderr: anyio.abc.ByteReceiveStream | None = None  # see open_forked_process

    async def _receive(self) -> dict[str, Any] | None:
        while True:
            try:
                data = self._status.recv(_MAX_MESSAGE)
            except BlockingIOError:
                await anyio.wait_readable(self._status)
                continue
            except OSError:
                return None
            return json.loads(data) if data else None

    async def started(self) -> int:
        """The server's pid, once forked."""
        if self.pid is None:
            message = await self._receive()
            if message is None or "pid" not in message:
                problem = (message or {}).get("error", "the forking server went away")
                raise ForkServerError(f"no server was forked: {problem}")
            self.pid = int(message["pid"])
        return self.pid

    async def wait(self) -> int:
        """The server's exit status (negative: the signal that killed it), once it has exited."""
        await self.started()
        while self.returncode is None:
            message = await self._receive()
            if message is None:  # the forking server died, and took its children with it
                self.returncode = -signal.SIGKILL
            elif "exit" in message:
                self.returncode = int(message["exit"])
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Signal the server, unless it has already exited (never a process that reused its pid)."""
        if self.returncode is None:
            with contextlib.suppress(OSError):
                self._status.send(json.dumps({"signal": int(signum)}).encode())

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def close(self) -> None:
        self._status.close()

    async def aclose(self) -> None:
        """Close it, and the stream of its stderr if it has one."""
        self.close()
        if self.stderr is not None:
            await self.stderr.aclose()

    async def __aenter__(self) -> ForkedProcess:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        with anyio.CancelScope(shield=True):
            await self.aclose()


class ForkServer:
    """A running ``python -m itbench_server.forkserver``, and the socket that drives it."""

    def __init__(self, process: subprocess.Popen[bytes], control: socket.socket, stderr: IO[bytes]) -> None:
        self._process = process
        self._control = control
        self._stderr = stderr
        self._lock = threading.Lock()

    @classmethod
    def start(cls, environment: Mapping[str, str], *, python: str = sys.executable) -> ForkServer:
        """Start the forking server (blocks until it has loaded the server: about a second).

        Raises:
            ForkServerError: it exited, or did not get ready within two minutes.
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # Its own stderr (its servers get theirs): a file without a name, read to say why it died.
        stderr = tempfile.TemporaryFile()  # noqa: SIM115
        with ours, theirs:
            process = subprocess.Popen(
                [python, "-m", "itbench_server.forkserver", "--control-fd", str(theirs.fileno())],
                env=dict(environment), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=stderr, pass_fds=[theirs.fileno()],
            )  # fmt: skip
            theirs.close()
            ours.settimeout(_START_TIMEOUT_S)
            try:
                ready = ours.recv(_MAX_MESSAGE)
            except OSError as error:
                ready = b""
                reason = str(error)
            else:
                reason = "it exited"
            if not ready:
                process.kill()
                process.wait()
                said = _last_line(stderr) or reason
                stderr.close()
                raise ForkServerError(f"the forking server did not start: {said}")
            ours.settimeout(None)
            return cls(process, ours.dup(), stderr)

    def fork(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        environment: Mapping[str, str],
        stdin: int,
        stdout: int,
        stderr: int,
    ) -> ForkedProcess:
        """Fork ``itbench-server ARGV`` on these descriptors (duplicated; the caller keeps its own)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        request = json.dumps({"argv": list(argv), "cwd": str(cwd), "env": dict(environment)}).encode()
        with theirs, self._lock:
            try:
                socket.send_fds(self._control, [request], [stdin, stdout, stderr, theirs.fileno()])
            except OSError as error:
                ours.close()
                status = self._process.poll()
                how = f"exit status {status}" if status is not None else error.strerror or str(error)
                said = _last_line(self._stderr)
                raise ForkServerError(
                    f"the forking server is gone ({how}){': ' + said if said else ''}"
                ) from None
        return ForkedProcess(ours)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def close(self) -> None:
        """Stop it: every server it forked that still runs is killed."""
        with contextlib.suppress(OSError):
            self._control.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._stderr.close()


def _last_line(stream: IO[bytes]) -> str:
    stream.seek(0)
    lines = stream.read().decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else ""


_shared: dict[str, ForkServer] = {}
_shared_lock = threading.Lock()


def shared_fork_server(environment: Mapping[str, str], *, python: str = sys.executable) -> ForkServer:
    """This process's forking server for ``python``, started on first use with ``environment``.

    Every request names its server's environment, so one forking server serves them all; it is
    started with a server's environment so that nothing else is in its memory. It lives as long
    as this process, and no longer: it dies with it.
    """
    with _shared_lock:
        server = _shared.get(python)
        if server is None or not server.running:
            server = _shared[python] = ForkServer.start(environment, python=python)
            atexit.register(server.close)
        return server


async def open_forked_process(
    fork_server: ForkServer, argv: Sequence[str], *, cwd: Path, environment: Mapping[str, str]
) -> ForkedProcess:
    """Fork ``itbench-server ARGV`` with no input, its output discarded, its stderr in ``.stderr``.

    Use it as ``async with``: leaving kills the server if it still runs.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with theirs, open(os.devnull, "r+b") as null:
        process = fork_server.fork(
            argv, cwd=cwd, environment=environment, stdin=null.fileno(), stdout=null.fileno(),
            stderr=theirs.fileno(),
        )  # fmt: skip
    try:
        await process.started()
        process.stderr = await anyio.abc.SocketStream.from_socket(ours)
    except BaseException:
        ours.close()
        process.close()
        raise
    return process


@contextlib.asynccontextmanager
async def forked_stdio_client(
    fork_server: ForkServer, argv: Sequence[str], *, cwd: Path, environment: Mapping[str, str], errlog: TextIO
) -> AsyncIterator[TransportStreams]:
    """An MCP stdio transport to ``itbench-server ARGV`` forked by ``fork_server``.

    The server's stderr goes to ``errlog`` (a real file). On exit its input is closed, and the
    server gets two seconds to exit before SIGTERM, and two more before SIGKILL.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with theirs:
        process = fork_server.fork(
            argv, cwd=cwd, environment=environment, stdin=theirs.fileno(), stdout=theirs.fileno(),
            stderr=errlog.fileno(),
        )  # fmt: skip
    stream = await anyio.abc.SocketStream.from_socket(ours)
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)

    async def read_messages() -> None:
        async with read_writer:
            buffer = b""
            with contextlib.suppress(
                anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError, OSError
            ):
                while True:
                    lines = (buffer + await stream.receive()).split(b"\n")
                    buffer = lines.pop()
                    for line in lines:
                        await read_writer.send(_parse_line(line))

    async def write_messages() -> None:
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            async with write_reader:
                async for message in write_reader:
                    text = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await stream.send(text.encode() + b"\n")
        await read_writer.aclose()  # the server cannot be written to: let the session see the end

    try:
        await process.started()
        async with anyio.create_task_group() as group:
            group.start_soon(read_messages)
            group.start_soon(write_messages)
            try:
                yield read_stream, write_stream
            finally:
                with anyio.CancelScope(shield=True):
                    await write_stream.aclose()
                    with contextlib.suppress(OSError):
                        await stream.send_eof()
                    await _stop(process)
                group.cancel_scope.cancel()
    finally:
        process.close()
        with anyio.CancelScope(shield=True):
            await stream.aclose()
            for resource in (read_stream, write_stream, read_writer, write_reader):
                await resource.aclose()


async def _stop(process: ForkedProcess) -> None:
    """End of input given: wait for the server, then SIGTERM it, then SIGKILL it."""
    for escalate, grace in ((process.terminate, _EXIT_GRACE_S), (process.kill, _KILL_GRACE_S)):
        with anyio.move_on_after(grace):
            await process.wait()
            return
        escalate()
    with anyio.move_on_after(_KILL_GRACE_S):
        await process.wait()


def _parse_line(line: bytes) -> SessionMessage | Exception:
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as error:
        return error
