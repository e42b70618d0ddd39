"""A bash shell over one scenario's files, confined: the tool of ITBench-AA's own protocol.

The shell sees the scenario's agent-visible files read-only at ``/data/<scenario name>`` (each
file mounted one by one from an allowlist: regular files, and symlinks to regular files inside
the scenario, never the answer key or recorder metadata), a private writable scratch directory
at ``/scratch`` (kept for the life of the server, so an agent can save intermediate results),
``/usr`` and the server's own Python environment read-only, so that ``python3`` has pandas and
numpy. It has no network, a deadline, CPU, memory, file-size and process limits, and each output
stream keeps its head and tail.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from itbench_server.errors import QueryError
from itbench_server.sandbox import Mount, ResourceLimits, SandboxSpec, run_confined, sandbox_status
from itbench_server.snapshot.discover import never_read

__all__ = ["DATA_ROOT", "SCRATCH", "ScenarioShell", "ShellResult", "scenario_path_inside", "visible_files"]

DATA_ROOT: Final = "/data"
SCRATCH: Final = "/scratch"
MAX_PROCESSES: Final = 128
DRAIN_LIMIT: Final = 256 << 20
"""A command that prints more than this is stopped (the head and tail are kept either way)."""


@dataclass(frozen=True)
class ShellResult:
    stdout: str
    stderr: str
    exit_status: int
    timed_out: bool
    output_stopped: bool


def scenario_path_inside(scenario_dir: Path) -> str:
    """Where the shell sees the scenario: ``/data/<its directory name>``."""
    return f"{DATA_ROOT}/{scenario_dir.resolve().name}"


def visible_files(root: Path) -> list[tuple[Path, str]]:
    """``(host file, path relative to root)`` of every file an agent may read, sorted.

    An allowlist: regular files, and symlinks whose target is a regular file inside ``root``;
    never a file named like the answer key or recorder metadata (by its own name or its
    target's), never a directory reached through a symlink.
    """
    resolved_root = root.resolve()
    found: list[tuple[Path, str]] = []
    for folder, directories, names in os.walk(root, followlinks=False):
        directories.sort()
        for name in sorted(names):
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            if never_read(name):
                continue
            try:
                target = path.resolve(strict=True)
                mode = target.stat().st_mode
            except (OSError, RuntimeError):  # dangling, looping, unreadable
                continue
            if not stat.S_ISREG(mode) or not target.is_relative_to(resolved_root) or never_read(target.name):
                continue
            found.append((target, relative))
    return found


class ScenarioShell:
    """Runs bash commands over one scenario's files; ``close`` removes the scratch directory."""

    def __init__(self, scenario_dir: Path, *, timeout: float, output_budget: int) -> None:
        self.scenario_dir = scenario_dir
        self.inside_dir = scenario_path_inside(scenario_dir)
        self.timeout = timeout
        self.output_budget = output_budget
        self._scratch = tempfile.TemporaryDirectory(prefix="itbench-scratch-")
        self._mounts = self._build_mounts()

    def _build_mounts(self) -> list[Mount]:
        mounts = [
            Mount(source, f"{self.inside_dir}/{relative}")
            for source, relative in visible_files(self.scenario_dir)
        ]
        # The server's Python environment (pandas, numpy) and its interpreter, read-only.
        prefixes = sorted({Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()})
        mounts += [Mount(prefix, str(prefix)) for prefix in prefixes if not prefix.is_relative_to("/usr")]
        mounts.append(Mount(Path(self._scratch.name), SCRATCH, writable=True))
        return mounts

    @property
    def python_bin(self) -> str:
        return str(Path(sys.prefix) / "bin")

    def run(self, command: str) -> ShellResult:
        """Run ``command`` with ``bash -c`` in the scenario's directory.

        Raises:
            QueryError: no sandbox can be made on this machine (the shell never runs unconfined).
        """
        status = sandbox_status()
        if not status.confined:
            raise QueryError(
                f"run_shell needs a sandbox and none is available here ({status.reason}); "
                "the server's operator must install bubblewrap (apt-get install bubblewrap)"
            )
        spec = SandboxSpec(
            mounts=self._mounts,
            environment={
                "HOME": SCRATCH,
                "PATH": f"{self.python_bin}:/usr/local/bin:/usr/bin:/bin",
                "LANG": "C.UTF-8",
                "TERM": "dumb",
                "PYTHONDONTWRITEBYTECODE": "1",
                "MPLBACKEND": "Agg",
                "TMPDIR": "/tmp",
            },
            workdir=self.inside_dir,
            limits=ResourceLimits(
                cpu_seconds=int(self.timeout) + 1,
                address_space_bytes=8 << 30,
                file_size_bytes=1 << 30,
                open_files=1024,
                max_processes=MAX_PROCESSES,
            ),
        )
        head = max(self.output_budget * 35 // 100, 1_000)
        error_head = max(self.output_budget * 12 // 100, 500)
        bash = shutil.which("bash", path="/usr/bin:/bin") or "/bin/bash"
        result = run_confined(
            [bash, "-c", command],
            spec,
            timeout=self.timeout,
            stdout_limit=head,
            stderr_limit=error_head,
            keep_tail=head,
            drain_limit=DRAIN_LIMIT,
        )
        return ShellResult(
            stdout=result.stdout.decode("utf-8", errors="replace"),
            stderr=result.stderr.decode("utf-8", errors="replace"),
            exit_status=result.returncode,
            timed_out=result.timed_out,
            output_stopped=result.output_stopped,
        )

    def close(self) -> None:
        self._scratch.cleanup()
