"""Run a command confined: its own view of the filesystem, no network, limits, a clean environment.

Tools that run a program (the ``kubectl`` tool today) go through :func:`run_confined`, which is
the second line of defence behind each tool's own argument checks. With bubblewrap (``bwrap``)
installed, the command runs in fresh user, PID, IPC, UTS, cgroup and network namespaces with
every capability dropped; its filesystem holds ``/usr`` (read-only), the mounts the caller
names, a private ``/tmp``, ``/proc`` of its own PIDs and a minimal ``/dev`` and nothing else, so
no scenario directory, answer key, home directory or other process's ``/proc`` exists for it.
The network namespace has only its own loopback: each :attr:`SandboxSpec.relays` entry makes
``127.0.0.1:<port>`` inside lead to one Unix socket outside, and that is the whole way out.

Everywhere, with or without bubblewrap, the command gets only the environment it is given, CPU
time, address space, file size and open-file limits, a wall-clock deadline, and output caps (the
process is killed at the cap instead of filling memory). Without bubblewrap the filesystem and
network are the server's: :func:`sandbox_status` says so and the docs state what is lost.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import math
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, cast

__all__ = [
    "ConfinedResult",
    "KeptSandbox",
    "Mount",
    "ResourceLimits",
    "SandboxSpec",
    "SandboxStatus",
    "run_confined",
    "sandbox_status",
]

_LAUNCHER: Final = Path(__file__).with_name("_launcher.py")
_LAUNCHER_INSIDE: Final = "/opt/itbench/launcher.py"
_RELAY_DIR_INSIDE: Final = "/run/itbench-relay"
_REQUEST_LIMIT: Final = 60_000
"""The longest request a kept sandbox's launcher reads in one message (its buffer is 64 KiB)."""


@dataclass(frozen=True)
class Mount:
    """A host path made visible inside the sandbox at ``target``."""

    source: Path
    target: str
    writable: bool = False


@dataclass(frozen=True)
class ResourceLimits:
    """Kernel limits (``setrlimit``) the command runs under."""

    cpu_seconds: int = 30
    address_space_bytes: int | None = 2 << 30
    """None: no limit (JavaScript engines reserve far more address space than they use)."""
    file_size_bytes: int = 64 << 20
    open_files: int = 256
    max_processes: int | None = None
    """Processes and threads the command may have at once (a pids cgroup where the machine
    allows one, else ``RLIMIT_NPROC``, which the kernel does not apply to root)."""

    def as_rlimits(self) -> dict[str, int]:
        limits = {
            "RLIMIT_CPU": self.cpu_seconds,
            "RLIMIT_FSIZE": self.file_size_bytes,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_CORE": 0,
        }
        if self.address_space_bytes is not None:
            limits["RLIMIT_AS"] = self.address_space_bytes
        if self.max_processes is not None:
            limits["RLIMIT_NPROC"] = self.max_processes
        return limits


@dataclass(frozen=True)
class SandboxSpec:
    """What a confined command may see and use."""

    mounts: Sequence[Mount] = ()
    relays: Mapping[int, Path] = field(default_factory=dict)
    """Inside port -> Unix socket on the host; ``127.0.0.1:<port>`` inside reaches the socket."""
    environment: Mapping[str, str] = field(default_factory=dict)
    workdir: str = "/tmp"
    limits: ResourceLimits = field(default_factory=ResourceLimits)


@dataclass(frozen=True)
class SandboxStatus:
    """Whether commands run inside bubblewrap here, and if not, why."""

    confined: bool
    reason: str


@dataclass(frozen=True)
class ConfinedResult:
    returncode: int
    stdout: bytes
    stderr: bytes
    output_cut: bool
    """Output was left out: past the cap, or between head and tail."""
    output_stopped: bool
    """The command was killed because it printed past the cap (or, keeping the tail, the drain limit)."""
    timed_out: bool
    confined: bool


_BWRAP_BASE: Final = (
    "--unshare-all",
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
    "--clearenv",
    "--ro-bind",
    "/usr",
    "/usr",
    "--symlink",
    "usr/bin",
    "/bin",
    "--symlink",
    "usr/sbin",
    "/sbin",
    "--symlink",
    "usr/lib",
    "/lib",
    "--symlink",
    "usr/lib64",
    "/lib64",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
)


@functools.cache
def sandbox_status() -> SandboxStatus:
    """Probe once whether bubblewrap can make a sandbox on this machine."""
    if os.environ.get("ITBENCH_SANDBOX", "").lower() == "off":
        return SandboxStatus(False, "turned off by ITBENCH_SANDBOX=off")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return SandboxStatus(False, "bubblewrap (bwrap) is not installed")
    try:
        probe = subprocess.run(
            [bwrap, *_BWRAP_BASE, "/usr/bin/true"],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return SandboxStatus(False, f"bubblewrap failed to start: {error}")
    if probe.returncode != 0:
        return SandboxStatus(False, f"bubblewrap cannot make a sandbox here: {probe.stderr.strip()[:300]}")
    return SandboxStatus(True, f"bubblewrap at {bwrap}")


def _python_mounts() -> list[str]:
    """Read-only mounts that let the launcher's interpreter start inside the sandbox."""
    arguments: list[str] = []
    for path in sorted({Path(sys.base_prefix).resolve(), Path(os.path.realpath(sys.executable)).parent}):
        if not path.is_relative_to("/usr"):
            arguments += ["--ro-bind", str(path), str(path)]
    return arguments


def _bwrap_argv(spec: SandboxSpec, launcher_arguments: list[str]) -> list[str]:
    bwrap = shutil.which("bwrap") or "bwrap"
    argv = [bwrap, *_BWRAP_BASE, *_python_mounts(), "--ro-bind", str(_LAUNCHER), _LAUNCHER_INSIDE]
    for mount in spec.mounts:
        argv += ["--bind" if mount.writable else "--ro-bind", str(mount.source), mount.target]
    for index, socket_path in enumerate(sorted(spec.relays.values())):
        argv += ["--ro-bind", str(socket_path), f"{_RELAY_DIR_INSIDE}/{index}.sock"]
    for name, value in sorted(spec.environment.items()):
        argv += ["--setenv", name, value]
    # Everything bubblewrap made on its own root (mount points such as /opt, /data) turns read-only;
    # /tmp and the writable mounts stay writable.
    argv += ["--remount-ro", "/", "--chdir", spec.workdir]
    interpreter = os.path.realpath(sys.executable)
    return [*argv, interpreter, "-I", "-S", _LAUNCHER_INSIDE, *launcher_arguments]


def run_confined(
    argv: Sequence[str],
    spec: SandboxSpec,
    *,
    timeout: float,
    stdout_limit: int = 8 << 20,
    stderr_limit: int = 64 << 10,
    keep_tail: int = 0,
    drain_limit: int = 256 << 20,
    confine: bool = True,
) -> ConfinedResult:
    """Run ``argv`` (paths as seen inside the sandbox) under ``spec``; never raises for the command's failures.

    Each stream keeps its first ``stdout_limit``/``stderr_limit`` bytes. With ``keep_tail``, it
    also keeps its last ``keep_tail`` bytes (``stdout`` is then head + tail, and the bytes left
    out between them are counted in :attr:`ConfinedResult.output_cut`); the command is killed
    once a stream has printed ``drain_limit`` bytes. Without ``keep_tail`` it is killed at the cap.

    Without bubblewrap (or with ``confine=False``) the command runs directly with the same
    environment, limits, deadline and output caps; ``argv`` must then name host paths that are
    valid in both views (the caller mounts each file at its own path to keep them equal).
    """
    status = sandbox_status() if confine else SandboxStatus(False, "confinement turned off by the caller")
    relays = sorted(spec.relays.items(), key=lambda item: str(item[1]))
    # The launcher's arguments: --limit NAME=VALUE..., --relay PORT=SOCKET..., --, the command.
    launcher_arguments = [
        argument
        for name, value in sorted(spec.limits.as_rlimits().items())
        for argument in ("--limit", f"{name}={value}")
    ]
    if status.confined:
        for index, (port, _) in enumerate(relays):
            launcher_arguments += ["--relay", f"{port}={_RELAY_DIR_INSIDE}/{index}.sock"]
        command = _bwrap_argv(spec, [*launcher_arguments, "--", *argv])
        environment: dict[str, str] = {}
        cwd = None
    else:
        command = [
            os.path.realpath(sys.executable),
            "-I",
            "-S",
            str(_LAUNCHER),
            *launcher_arguments,
            "--",
            *argv,
        ]
        environment = dict(spec.environment)
        cwd = spec.workdir
    group = _ProcessGroup.create(spec.limits.max_processes)
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment,
            cwd=cwd,
            start_new_session=True,
            # Joins the pids cgroup before bubblewrap starts, so no child escapes the limit.
            preexec_fn=group.join if group is not None else None,
        )
    except BaseException:
        if group is not None:
            group.remove()
        raise
    try:
        return _collect(process, status.confined, timeout, stdout_limit, stderr_limit, keep_tail, drain_limit)
    finally:
        if group is not None:
            group.remove()


class KeptSandbox:
    """One sandbox kept running to start many commands in, each as :func:`run_confined` would.

    Making a sandbox is most of the cost of a short confined command (bubblewrap's namespaces and
    mounts, 5-10 ms, and the launcher's interpreter, 12-20 ms); here both are paid once. The
    sandbox is the one :func:`run_confined` makes for ``spec`` (its mounts and relays; the launcher
    in ``--serve`` mode as its first process), and each command gets what a ``run_confined``
    command gets: a session of its own, the environment and limits it is given and nothing else,
    ``/dev/null`` as stdin, its deadline and output caps, and a kill when it passes them. What
    commands of one kept sandbox share is what they could write to: ``/tmp`` and the writable
    mounts; and they see each other in ``/proc``. So keep one for commands of one kind (the
    ``kubectl`` calls of one server), never for commands of different trust.

    Thread-safe: commands may run at once. Where the sandbox cannot be made or dies, :meth:`run`
    returns None and the caller runs the command with :func:`run_confined` instead.
    """

    _START_TIMEOUT: Final = 10.0

    def __init__(self, spec: SandboxSpec, *, confine: bool = True) -> None:
        self.spec = spec
        self._confine = confine
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._pending: dict[str, _PendingCommand] = {}
        self.confined = False

    def run(
        self,
        argv: Sequence[str],
        *,
        environment: Mapping[str, str],
        workdir: str,
        limits: ResourceLimits,
        timeout: float,
        stdout_limit: int = 8 << 20,
        stderr_limit: int = 64 << 10,
    ) -> ConfinedResult | None:
        """Run ``argv`` in the kept sandbox (started on first use); None if there is no sandbox to
        run it in, or the request is too long for one message. Never raises for the command's
        failures.

        Raises:
            ValueError: an argument, a variable or the directory holds a NUL character (which
                separates the request's fields), as :class:`subprocess.Popen` refuses it too.
        """
        request = str(next(self._ids))
        fields = [
            "run",
            request,
            workdir,
            ",".join(f"{name}={value}" for name, value in sorted(limits.as_rlimits().items())),
            str(len(environment)),
            *(f"{name}={value}" for name, value in sorted(environment.items())),
            *argv,
        ]
        if any("\0" in field for field in fields):
            raise ValueError("embedded null byte")
        message = b"\0".join(field.encode() for field in fields)
        if len(message) > _REQUEST_LIMIT:
            return None
        control = self._ready()
        if control is None:
            return None
        pending = _PendingCommand(control)
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        try:
            with self._lock:
                self._pending[request] = pending
            try:
                with self._send_lock:
                    socket.send_fds(control, [message], [out_write, err_write])
            except OSError:
                self._forget(request)
                self._broken()
                os.close(out_read)
                os.close(err_read)
                return None
        finally:
            os.close(out_write)
            os.close(err_write)
        cut = threading.Event()
        out = _CappedReader(cast(io.BufferedReader, open(out_read, "rb")), stdout_limit, cut)  # noqa: SIM115
        err = _CappedReader(cast(io.BufferedReader, open(err_read, "rb")), stderr_limit, cut)  # noqa: SIM115
        readers = [threading.Thread(target=reader.run, daemon=True) for reader in (out, err)]
        for reader in readers:
            reader.start()
        killer = threading.Thread(target=self._kill_when_cut, args=(request, pending, cut), daemon=True)
        killer.start()
        timed_out = False
        try:
            if not pending.done.wait(max(timeout, 0)):
                timed_out = True
                self._send(f"kill\0{request}")
                if not pending.done.wait(5):  # the launcher does not answer: end the whole sandbox
                    self._broken()
        finally:
            cut.set()  # releases the killer thread
        for reader in readers:
            reader.join()
        self._forget(request)
        return ConfinedResult(
            returncode=pending.returncode if pending.returncode is not None else -signal.SIGKILL,
            stdout=out.data(),
            stderr=err.data(),
            output_cut=out.overflowed or err.overflowed,
            output_stopped=out.stopped or err.stopped,
            timed_out=timed_out,
            confined=self.confined,
        )

    def close(self) -> None:
        """End the sandbox and every command still running in it."""
        self._broken()

    def _ready(self) -> socket.socket | None:
        with self._start_lock:
            with self._lock:
                if self._process is not None and self._process.poll() is None and self._control is not None:
                    return self._control
                ended = self._process is not None or self._control is not None
            if ended:
                self._broken()
            return self._start()

    def _start(self) -> socket.socket | None:
        status = (
            sandbox_status()
            if self._confine
            else SandboxStatus(False, "confinement turned off by the caller")
        )
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        relays = sorted(self.spec.relays.items(), key=lambda item: str(item[1]))
        if status.confined:
            arguments = [
                argument
                for index, (port, _) in enumerate(relays)
                for argument in ("--relay", f"{port}={_RELAY_DIR_INSIDE}/{index}.sock")
            ]
            command = _bwrap_argv(replace(self.spec, environment={}), [*arguments, "--serve"])
            cwd = None
        else:
            command = [os.path.realpath(sys.executable), "-I", "-S", str(_LAUNCHER), "--serve"]
            cwd = self.spec.workdir
        launched: list[subprocess.Popen[bytes] | None] = []
        settled = threading.Event()
        threading.Thread(
            target=self._own,
            args=(command, cwd, ours, theirs, launched, settled),
            name="kept-sandbox",
            daemon=True,
        ).start()
        settled.wait()
        process = launched[0] if launched else None
        if process is None:
            ours.close()
            return None
        with self._lock:
            self._process, self._control, self.confined = process, ours, status.confined
        return ours

    def _own(
        self,
        command: list[str],
        cwd: str | None,
        control: socket.socket,
        theirs: socket.socket,
        launched: list[subprocess.Popen[bytes] | None],
        settled: threading.Event,
    ) -> None:
        """Start the sandbox, then read its answers until it ends, in one thread: bubblewrap's
        ``--die-with-parent`` follows the thread that started it, not the process, so the sandbox
        must not be started by a caller's thread, which may end any time."""
        process: subprocess.Popen[bytes] | None = None
        try:
            process = subprocess.Popen(
                command,
                stdin=theirs.fileno(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={},
                cwd=cwd,
                start_new_session=True,
            )
            control.settimeout(self._START_TIMEOUT)
            if control.recv(64) != b"ready":
                raise OSError("the kept sandbox did not start")
            control.settimeout(None)
        except OSError:
            if process is not None:
                _kill_group(process)
                process.wait()
            process = None
        finally:
            theirs.close()
            launched.append(process)
            settled.set()
        if process is not None:
            self._read_answers(control)

    def _read_answers(self, control: socket.socket) -> None:
        while True:
            try:
                message = control.recv(4096)
            except OSError:
                message = b""
            if not message:
                break
            action, _, rest = message.decode(errors="replace").partition("\0")
            request, _, status = rest.partition("\0")
            if action == "exit":
                with self._lock:
                    pending = self._pending.get(request)
                if pending is not None:
                    pending.returncode = int(status)
                    pending.done.set()
        with self._lock:  # the sandbox is gone, and so are its commands
            for pending in self._pending.values():
                if pending.control is control:
                    pending.done.set()

    def _kill_when_cut(self, request: str, pending: _PendingCommand, cut: threading.Event) -> None:
        cut.wait()
        if not pending.done.is_set():
            self._send(f"kill\0{request}")

    def _send(self, message: str) -> None:
        with self._lock:
            control = self._control
        if control is None:
            return
        try:
            with self._send_lock:
                control.send(message.encode())
        except OSError:
            self._broken()

    def _forget(self, request: str) -> None:
        with self._lock:
            self._pending.pop(request, None)

    def _broken(self) -> None:
        """End the sandbox (if any); the next command starts another."""
        with self._lock:
            process, control = self._process, self._control
            self._process = self._control = None
        if control is not None:
            with contextlib.suppress(OSError):
                control.shutdown(socket.SHUT_RDWR)
            control.close()
        if process is not None:
            # The launcher kills its commands when its end closes (without bubblewrap, nothing
            # else would: they run in sessions of their own); then, or if it does not, the group.
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=2)
            _kill_group(process)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)


class _PendingCommand:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        """The sandbox it runs in (its end of the control socket)."""
        self.done = threading.Event()
        self.returncode: int | None = None


def _collect(
    process: subprocess.Popen[bytes],
    confined: bool,
    timeout: float,
    stdout_limit: int,
    stderr_limit: int,
    keep_tail: int,
    drain_limit: int,
) -> ConfinedResult:
    assert process.stdout is not None and process.stderr is not None
    cut = threading.Event()
    # Popen's pipes are buffered readers (read1 returns what is there, without waiting for more).
    out = _CappedReader(cast(io.BufferedReader, process.stdout), stdout_limit, cut, keep_tail, drain_limit)
    err = _CappedReader(cast(io.BufferedReader, process.stderr), stderr_limit, cut, keep_tail, drain_limit)
    readers = [threading.Thread(target=reader.run, daemon=True) for reader in (out, err)]
    for reader in readers:
        reader.start()
    timed_out = False
    killer = threading.Thread(target=_kill_when_cut, args=(process, cut), daemon=True)
    killer.start()
    try:
        if not _exited_within(process, timeout):
            timed_out = True
            _kill_group(process)
            process.wait()
    finally:
        cut.set()  # releases the killer thread
    for reader in readers:
        reader.join()
    return ConfinedResult(
        returncode=process.returncode,
        stdout=out.data(),
        stderr=err.data(),
        output_cut=out.overflowed or err.overflowed,
        output_stopped=out.stopped or err.stopped,
        timed_out=timed_out,
        confined=confined,
    )


class _CappedReader:
    """Reads a pipe, keeping its head (and optionally its tail); flags ``cut`` to have the process killed."""

    def __init__(
        self,
        stream: io.BufferedReader,
        limit: int,
        cut: threading.Event,
        keep_tail: int = 0,
        drain_limit: int = 0,
    ) -> None:
        self.stream = stream
        self.limit = limit
        self.cut = cut
        self.keep_tail = keep_tail
        self.drain_limit = max(drain_limit, limit)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.overflowed = False
        self.stopped = False

    def run(self) -> None:
        with self.stream:
            while chunk := self.stream.read1(65536):
                self.total += len(chunk)
                room = self.limit - len(self.head)
                if room > 0:
                    self.head += chunk[:room]
                    chunk = chunk[room:]
                if not chunk:
                    continue
                self.overflowed = True
                if not self.keep_tail or self.total >= self.drain_limit:
                    self.stopped = True
                    self.cut.set()
                    return
                self.tail += chunk
                del self.tail[: max(len(self.tail) - self.keep_tail, 0)]

    def data(self) -> bytes:
        if not self.tail:
            return bytes(self.head)
        left_out = self.total - len(self.head) - len(self.tail)
        marker = f"\n[... {left_out} bytes left out ...]\n".encode() if left_out else b""
        return bytes(self.head) + marker + bytes(self.tail)


class _ProcessGroup:
    """A pids cgroup (v2, or v1's pids hierarchy) that caps the processes of one command."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, max_processes: int | None) -> _ProcessGroup | None:
        if max_processes is None:
            return None
        for parent in _pids_cgroup_parents():
            path = parent / f"itbench-sandbox-{os.getpid()}-{secrets.token_hex(4)}"
            try:
                path.mkdir()
                (path / "pids.max").write_text(str(max_processes))
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
                continue
            return cls(path)
        return None  # RLIMIT_NPROC (set by the launcher) is the remaining limit

    def join(self) -> None:
        """Runs in the child between fork and exec: move this process into the group."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        procs = self.path / "cgroup.procs"
        for _ in range(100):
            with contextlib.suppress(OSError):
                pids = procs.read_text().split()
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)
                if not pids:
                    break
            time.sleep(0.01)  # the kernel reaps the killed processes asynchronously
        with contextlib.suppress(OSError):
            self.path.rmdir()


@functools.cache
def _pids_cgroup_parents() -> tuple[Path, ...]:
    """Writable places for a pids cgroup: under this process's own v2 cgroup, or v1's pids root."""
    candidates: list[Path] = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            hierarchy, controllers, where = line.split(":", 2)
            if hierarchy == "0" and controllers == "":
                unified = Path("/sys/fs/cgroup") / where.lstrip("/")
                if "pids" in (unified / "cgroup.subtree_control").read_text().split():
                    candidates.append(unified)
            elif "pids" in controllers.split(","):
                candidates.append(Path("/sys/fs/cgroup/pids") / where.lstrip("/"))
    return tuple(path for path in candidates if os.access(path, os.W_OK))


def _exited_within(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait until ``process`` exits (and reap it) or ``timeout`` seconds pass; whether it exited.

    Through a pidfd, which wakes the wait the moment the process exits: ``Popen.wait(timeout)``
    polls instead, sleeping up to 50 ms between looks, which added that much to every short
    confined command. Where pidfds are missing (not Linux, or before 5.3), ``Popen.wait`` it is.
    """
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(max(0, math.ceil(timeout * 1000))):
            return False
        process.wait()
        return True
    finally:
        os.close(pidfd)


def _kill_when_cut(process: subprocess.Popen[bytes], cut: threading.Event) -> None:
    cut.wait()
    if process.poll() is None:
        _kill_group(process)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
