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
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, cast

__all__ = [
    "ConfinedResult",
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
    address_space_bytes: int = 2 << 30
    file_size_bytes: int = 64 << 20
    open_files: int = 256

    def as_rlimits(self) -> dict[str, int]:
        return {
            "RLIMIT_CPU": self.cpu_seconds,
            "RLIMIT_AS": self.address_space_bytes,
            "RLIMIT_FSIZE": self.file_size_bytes,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_CORE": 0,
        }


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
    """The command was killed because its output passed the cap."""
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


def _bwrap_argv(spec: SandboxSpec, launcher_spec: dict[str, object]) -> list[str]:
    bwrap = shutil.which("bwrap") or "bwrap"
    argv = [bwrap, *_BWRAP_BASE, *_python_mounts(), "--ro-bind", str(_LAUNCHER), _LAUNCHER_INSIDE]
    for mount in spec.mounts:
        argv += ["--bind" if mount.writable else "--ro-bind", str(mount.source), mount.target]
    for index, socket_path in enumerate(sorted(spec.relays.values())):
        argv += ["--ro-bind", str(socket_path), f"{_RELAY_DIR_INSIDE}/{index}.sock"]
    for name, value in sorted(spec.environment.items()):
        argv += ["--setenv", name, value]
    argv += ["--chdir", spec.workdir]
    interpreter = os.path.realpath(sys.executable)
    return [*argv, interpreter, "-I", "-S", _LAUNCHER_INSIDE, json.dumps(launcher_spec)]


def run_confined(
    argv: Sequence[str],
    spec: SandboxSpec,
    *,
    timeout: float,
    stdout_limit: int = 8 << 20,
    stderr_limit: int = 64 << 10,
) -> ConfinedResult:
    """Run ``argv`` (paths as seen inside the sandbox) under ``spec``; never raises for the command's failures.

    Without bubblewrap the command runs directly with the same environment, limits, deadline and
    output caps; ``argv`` must then name host paths that are valid in both views (the caller
    mounts each file at its own path to keep them equal).
    """
    status = sandbox_status()
    relays = sorted(spec.relays.items(), key=lambda item: str(item[1]))
    launcher_spec: dict[str, object] = {"argv": list(argv), "limits": spec.limits.as_rlimits()}
    if status.confined:
        launcher_spec["relays"] = [
            [port, f"{_RELAY_DIR_INSIDE}/{index}.sock"] for index, (port, _) in enumerate(relays)
        ]
        command = _bwrap_argv(spec, launcher_spec)
        environment: dict[str, str] = {}
        cwd = None
    else:
        command = [os.path.realpath(sys.executable), "-I", "-S", str(_LAUNCHER), json.dumps(launcher_spec)]
        environment = dict(spec.environment)
        cwd = spec.workdir
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        cwd=cwd,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None
    cut = threading.Event()
    # Popen's pipes are buffered readers (read1 returns what is there, without waiting for more).
    out = _CappedReader(cast(io.BufferedReader, process.stdout), stdout_limit, cut)
    err = _CappedReader(cast(io.BufferedReader, process.stderr), stderr_limit, cut)
    readers = [threading.Thread(target=reader.run, daemon=True) for reader in (out, err)]
    for reader in readers:
        reader.start()
    timed_out = False
    killer = threading.Thread(target=_kill_when_cut, args=(process, cut), daemon=True)
    killer.start()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
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
        timed_out=timed_out,
        confined=status.confined,
    )


class _CappedReader:
    """Reads a pipe up to ``limit`` bytes; past it, flags ``cut`` so the process is killed."""

    def __init__(self, stream: io.BufferedReader, limit: int, cut: threading.Event) -> None:
        self.stream = stream
        self.limit = limit
        self.cut = cut
        self.chunks: list[bytes] = []
        self.size = 0
        self.overflowed = False

    def run(self) -> None:
        with self.stream:
            while chunk := self.stream.read1(65536):
                if self.size + len(chunk) > self.limit:
                    self.chunks.append(chunk[: self.limit - self.size])
                    self.size = self.limit
                    self.overflowed = True
                    self.cut.set()
                    return
                self.chunks.append(chunk)
                self.size += len(chunk)

    def data(self) -> bytes:
        return b"".join(self.chunks)


def _kill_when_cut(process: subprocess.Popen[bytes], cut: threading.Event) -> None:
    cut.wait()
    if process.poll() is None:
        _kill_group(process)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
