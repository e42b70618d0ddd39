"""The Ray backend: each (task, repeat) is one Ray task; the driver alone writes the results.

A Ray task starts the run's server and agent on its worker (:func:`~itbench_eval.runner.run_one`
in an event loop there) and returns the row; the driver deduplicates rows by their key, so a run
that Ray retried after losing its worker (at most :data:`MAX_RETRIES` times) is counted once,
and a run whose retries all failed still gets its row (``harness_error``).

Incidents reach the workers through the index cache: the driver builds each scenario's index
once (``open_snapshot`` with ``--cache-dir``) and every worker checks that the index of the same
fingerprint is there before it starts a server. On more than one node ``--cache-dir`` and
``--out`` must name a filesystem every node shares (NFS, a PVC with ReadWriteMany on KubeRay).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from itbench_eval.backends import Job
from itbench_eval.errors import EvalError

if TYPE_CHECKING:
    from itbench_eval.agents.loader import AgentFactory
    from itbench_eval.results import RunResult
    from itbench_eval.runner import EvalSettings

__all__ = [
    "MAX_RETRIES",
    "CacheNotShared",
    "RayBackend",
    "RayUnavailable",
    "build_index_cache",
    "check_index",
    "resources_for",
]

MAX_RETRIES = 3
"""How often Ray runs a task again whose worker process or node died."""

_GIB = 1 << 30


class RayUnavailable(EvalError):
    """``--backend ray`` without Ray installed (``pip install 'itbench-eval[ray]'``)."""


class CacheNotShared(EvalError):
    """A worker does not see the index the driver built: ``--cache-dir`` is not shared."""


def resources_for(agent: str) -> dict[str, float]:
    """What one run of ``agent`` asks of Ray: CPUs and memory (bytes), by the agent's kind.

    A CLI agent (claude-code, codex, gemini-cli, stirrup, cmd:) runs a program of its own: one
    CPU and 1 GiB; a model agent waits on its API: half a CPU and 512 MiB; the built-in and Python
    agents: half a CPU and 256 MiB. The run's server is counted in.
    """
    from itbench_eval.agents.loader import CLI_PREFIXES

    prefix, colon, _ = agent.partition(":")
    if prefix in CLI_PREFIXES or (prefix == "cmd" and colon):
        return {"num_cpus": 1.0, "memory": float(_GIB)}
    if colon and prefix not in ("py", "replay"):
        return {"num_cpus": 0.5, "memory": float(_GIB // 2)}
    return {"num_cpus": 0.5, "memory": float(_GIB // 4)}


def build_index_cache(server_dirs: dict[str, Path], cache_dir: Path | None) -> dict[str, str]:
    """Build (or find) each scenario's index once, on the driver; its path by scenario directory."""
    from itbench_server.snapshot import open_snapshot

    built: dict[str, str] = {}
    for server_dir in server_dirs.values():
        with open_snapshot(server_dir, cache_dir=cache_dir) as snapshot:
            built[str(server_dir)] = str(snapshot.index_path)
    return built


def check_index(server_dir: Path, cache_dir: Path | None, expected: str | None) -> None:
    """On a worker: the index of ``server_dir``'s fingerprint is where the driver built it."""
    from itbench_server.snapshot import find_scenario_files
    from itbench_server.snapshot.store import default_cache_dir, index_path_for

    if expected is None:
        return
    here = index_path_for(find_scenario_files(server_dir), cache_dir or default_cache_dir())
    if str(here) != expected or not here.is_file():
        raise CacheNotShared(
            f"this worker ({os.uname().nodename}) does not see the index the driver built ({expected}; "
            f"here: {here}{'' if here.is_file() else ', missing'}): give --cache-dir and --out on a "
            "filesystem every Ray node shares"
        )


def _run_on_worker(
    job: Job, settings: EvalSettings, factory: AgentFactory, server_dir: Path | None, index: str | None
) -> RunResult:
    """The body of one Ray task: check the cache, then run in an event loop of the worker's own."""
    from itbench_eval.backends.local import run_guarded
    from itbench_eval.runner import _harness_error_row  # pyright: ignore[reportPrivateUsage]

    try:
        check_index(server_dir or job[0].scenario_dir, settings.cache_dir, index)
    except Exception as error:
        return _harness_error_row(job[0], job[1], settings, error)
    return anyio.run(run_guarded, job, settings, factory, server_dir)


class RayBackend:
    """Runs as Ray tasks on the cluster at ``address`` (``auto``, ``ray://...``; default: a local Ray)."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address
        self._started = False

    def _connect(self) -> Any:
        try:
            import ray
        except ImportError:
            raise RayUnavailable(
                "--backend ray needs Ray: pip install 'itbench-eval[ray]' (ray[default])"
            ) from None
        if not ray.is_initialized():
            # Runs ask for no GPU: leave the accelerator variables alone (and Ray's warning unsaid).
            os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
            ray.init(address=self.address, log_to_driver=False, configure_logging=False)
            self._started = True
        return ray

    async def run_all(
        self,
        jobs: Sequence[Job],
        settings: EvalSettings,
        factory: AgentFactory,
        server_dirs: dict[str, Path],
        started: Callable[[Job], None],
        emit: Callable[[RunResult], None],
    ) -> None:
        if not jobs:
            return
        dirs = {task.id: server_dirs.get(task.id, task.scenario_dir) for task, _ in jobs}
        indexes = build_index_cache(dirs, settings.cache_dir)
        ray = self._connect()  # in the main thread, where Ray can set its signal handlers
        remote = ray.remote(_run_on_worker).options(
            max_retries=MAX_RETRIES, retry_exceptions=False, **resources_for(settings.agent)
        )
        waiting = list(jobs)
        running: dict[Any, Job] = {}
        try:
            await self._collect(
                ray, remote, waiting, running, dirs, indexes, settings, factory, server_dirs, started, emit
            )
        finally:
            if self._started:
                ray.shutdown()
                self._started = False

    async def _collect(
        self,
        ray: Any,
        remote: Any,
        waiting: list[Job],
        running: dict[Any, Job],
        dirs: dict[str, Path],
        indexes: dict[str, str],
        settings: EvalSettings,
        factory: AgentFactory,
        server_dirs: dict[str, Path],
        started: Callable[[Job], None],
        emit: Callable[[RunResult], None],
    ) -> None:
        from itbench_eval.runner import _harness_error_row  # pyright: ignore[reportPrivateUsage]

        emitted: set[tuple[str, str, int]] = set()

        def submit() -> None:
            while waiting and len(running) < settings.concurrency:
                job = waiting.pop(0)
                server_dir = server_dirs.get(job[0].id)
                index = indexes.get(str(dirs[job[0].id]))
                running[remote.remote(job, settings, factory, server_dir, index)] = job
                started(job)

        submit()
        while running:
            ready, _ = await anyio.to_thread.run_sync(
                lambda: ray.wait(list(running), num_returns=1, timeout=1.0)
            )
            for ref in ready:
                job = running.pop(ref)
                try:
                    row = ray.get(ref)
                except ray.exceptions.RayError as error:  # retries spent: the run still gets its row
                    lost = RuntimeError(
                        f"the run's Ray task failed after {MAX_RETRIES} retries: {type(error).__name__}"
                    )
                    lost.__cause__ = error
                    row = _harness_error_row(job[0], job[1], settings, lost)
                if row.key not in emitted:
                    emitted.add(row.key)
                    emit(row)
            submit()
