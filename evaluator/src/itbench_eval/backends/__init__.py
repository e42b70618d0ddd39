"""Where runs are carried out: on this machine (``local``, the default) or on a Ray cluster (``ray``).

A backend takes the pending ``(task, repeat)`` pairs of an evaluation and hands back one
:class:`~itbench_eval.results.RunResult` per pair through ``emit``; the runner alone writes
``results.jsonl``, so resume, outcome classes and reports do not depend on the backend.
:func:`shard_slice` picks a CI matrix job's deterministic part of the runs (``--shard I/N``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

from itbench_eval.errors import EvalError

if TYPE_CHECKING:
    from itbench_eval.agents.loader import AgentFactory
    from itbench_eval.results import RunResult
    from itbench_eval.runner import EvalSettings
    from itbench_eval.tasks import Task

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendName",
    "Job",
    "ShardError",
    "get_backend",
    "parse_shard",
    "shard_slice",
]

BackendName = Literal["local", "ray"]
BACKENDS: tuple[BackendName, ...] = ("local", "ray")

T = TypeVar("T")

Job = tuple["Task", int]
"""One run to make: a task and its repeat number."""


class Backend(Protocol):
    """Carries out runs and reports each one's row, exactly once per job."""

    async def run_all(
        self,
        jobs: Sequence[Job],
        settings: EvalSettings,
        factory: AgentFactory,
        server_dirs: dict[str, Path],
        started: Callable[[Job], None],
        emit: Callable[[RunResult], None],
    ) -> None: ...


def get_backend(settings: EvalSettings) -> Backend:
    """The backend ``settings.backend`` names."""
    if settings.backend == "ray":
        from itbench_eval.backends.ray_backend import RayBackend

        return RayBackend(address=settings.ray_address)
    from itbench_eval.backends.local import LocalBackend

    return LocalBackend()


class ShardError(EvalError, ValueError):
    """A ``--shard`` that is not ``I/N`` with ``1 <= I <= N``."""


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` as ``(I, N)``."""
    index, slash, count = text.partition("/")
    try:
        shard = (int(index), int(count))
    except ValueError:
        shard = (0, 0)
    if not slash or not 1 <= shard[0] <= shard[1]:
        raise ShardError(f"--shard {text}: expected I/N with 1 <= I <= N, e.g. 1/4")
    return shard


def shard_slice(
    jobs: Sequence[tuple[T, int]], shard: tuple[int, int] | None, key: Callable[[T], str]
) -> list[tuple[T, int]]:
    """Shard ``I/N`` of ``jobs``: sorted by (task id, repeat), every N-th starting at the I-th (all of
    them, in their order, without a shard).

    The N shards of one job list are disjoint and together make the whole of it, whatever order
    the tasks were given in.
    """
    if shard is None:
        return list(jobs)
    ordered = sorted(jobs, key=lambda job: (key(job[0]), job[1]))
    index, count = shard
    return ordered[index - 1 :: count]
