"""The default backend: runs in this process's event loop, ``--concurrency`` at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from itbench_eval.backends import Job

if TYPE_CHECKING:
    from itbench_eval.agents.loader import AgentFactory
    from itbench_eval.results import RunResult
    from itbench_eval.runner import EvalSettings

__all__ = ["LocalBackend", "run_guarded"]


async def run_guarded(
    task_and_repeat: Job, settings: EvalSettings, factory: AgentFactory, server_dir: Path | None
) -> RunResult:
    """:func:`~itbench_eval.runner.run_one`, with a bug around the run turned into its row."""
    from itbench_eval.runner import _harness_error_row, run_one  # pyright: ignore[reportPrivateUsage]

    task, repeat = task_and_repeat
    try:
        return await run_one(task, repeat, settings, factory, server_dir=server_dir)
    except Exception as error:  # a bug around the run: one row says so, the others go on
        return _harness_error_row(task, repeat, settings, error)


class LocalBackend:
    """Every run on this machine, at most ``settings.concurrency`` at once."""

    async def run_all(
        self,
        jobs: Sequence[Job],
        settings: EvalSettings,
        factory: AgentFactory,
        server_dirs: dict[str, Path],
        started: Callable[[Job], None],
        emit: Callable[[RunResult], None],
    ) -> None:
        limiter = anyio.CapacityLimiter(settings.concurrency)

        async def worker(job: Job) -> None:
            async with limiter:
                started(job)
                emit(await run_guarded(job, settings, factory, server_dirs.get(job[0].id)))

        async with anyio.create_task_group() as group:
            for job in jobs:
                group.start_soon(worker, job)
