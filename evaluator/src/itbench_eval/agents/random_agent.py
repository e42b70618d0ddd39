"""``random``: names one workload of the recording at random; the chance level of a task.

It never looks at the incident, only at which workloads (Deployments, StatefulSets, DaemonSets)
the recording lists, and names one of them, drawn with the run's seed. Scored offline from the
scenario's index (:func:`random_names`, what the reports' baselines use) or through the server's
``run_sql`` (:class:`RandomAgent`), it names the same workload for the same seed.

:func:`chance_score` is its expected score, exactly: the mean score of every workload.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from itbench_eval.agents.base import SUBMIT_TOOL, AgentOutcome, RunContext, result_text
from itbench_eval.groundtruth import GroundTruth

__all__ = ["WORKLOAD_QUERY", "RandomAgent", "chance_score", "choose_workload", "recorded_workloads"]

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
WORKLOAD_QUERY = (
    "SELECT DISTINCT namespace || '/' || kind || '/' || name AS entity FROM objects "
    f"WHERE kind IN ({', '.join(repr(kind) for kind in WORKLOAD_KINDS)}) ORDER BY entity"
)
"""The recording's workloads as ``namespace/Kind/name``, in one order everywhere."""


def choose_workload(workloads: Sequence[str], seed: int) -> str | None:
    """The workload the run with ``seed`` names (``None`` when there is none)."""
    ordered = sorted(set(workloads))
    return random.Random(seed).choice(ordered) if ordered else None


def recorded_workloads(scenario_dir: Path, *, cache_dir: Path | None = None) -> list[str]:
    """The workloads the scenario's recording lists, from the server's index (built if needed)."""
    from itbench_server.snapshot import open_snapshot

    with open_snapshot(scenario_dir, cache_dir=cache_dir) as snapshot:
        return sorted(str(row[0]) for row in snapshot.query(WORKLOAD_QUERY))


def chance_score(ground_truth: GroundTruth, workloads: Sequence[str]) -> float:
    """The expected score of naming one of ``workloads`` uniformly at random."""
    from itbench_eval.scoring import score_names

    ordered = sorted(set(workloads))
    if not ordered:
        return 0.0
    return sum(score_names(ground_truth, [name]).score for name in ordered) / len(ordered)


def _entities(table: str) -> list[str]:
    """The cells of ``run_sql``'s one-column answer (a header, a rule, one line a row)."""
    lines = table.splitlines()
    cells: list[str] = []
    for line in lines[2:]:
        cell = line.strip()
        if not cell or cell.startswith(("(", "[")):
            break
        cells.append(cell)
    return cells


class RandomAgent:
    """Lists the workloads with ``run_sql`` and submits one drawn with the run's seed."""

    async def run(self, context: RunContext) -> AgentOutcome:
        session = context.require_session()
        tools = {tool.name for tool in (await session.list_tools()).tools}
        if "run_sql" not in tools:
            return AgentOutcome(note="no run_sql tool to list the workloads with: submitted nothing")
        result = await session.call_tool("run_sql", {"sql": WORKLOAD_QUERY})
        if result.is_error:
            raise RuntimeError(f"run_sql refused the workload query: {result_text(result)}")
        name = choose_workload(_entities(result_text(result)), context.task.seed)
        if name is None:
            return AgentOutcome(note="the recording lists no workload: submitted nothing")
        factor = {"name": name, "reasoning": "drawn at random", "evidence": "none: a chance baseline"}
        submitted = await session.call_tool(SUBMIT_TOOL, {"contributing_factors": [factor]})
        if submitted.is_error:
            raise RuntimeError(f"submit_diagnosis refused {name}: {result_text(submitted)}")
        return AgentOutcome(note=f"named {name} at random")
