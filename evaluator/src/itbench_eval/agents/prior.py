"""``prior``: names the most common root cause of the task set without looking at the incident.

The prior of a task is taken from the answer keys of the *other* tasks of the set (leave one
out, so a task's own answer never helps it): the most common kind among their root causes
(one per root-cause set, as the oracle names them), then the most common object of that kind,
ties broken by name. It submits that one name, ``namespace/Kind/name``, for the task. A set of
one task has no prior: nothing is submitted.

It needs no server: :func:`prior_names` gives every task's name from the answer keys, which is
how the reports' baselines score it. :class:`PriorAgent` submits the same through a run; its
factory must be given the task set first (:meth:`PriorAgentFactory.bind_tasks`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from itbench_eval.agents.base import SUBMIT_TOOL, AgentOutcome, RunContext, result_text
from itbench_eval.groundtruth import GroundTruth, GroundTruthError, oracle_names
from itbench_eval.matching import parse_entity_name

__all__ = ["BindsTasks", "PriorAgent", "PriorAgentFactory", "prior_name", "prior_names"]


def _most_common(counts: Counter[str]) -> str:
    return min(counts, key=lambda item: (-counts[item], item))


def prior_name(ground_truths: Mapping[str, GroundTruth], task_id: str) -> str | None:
    """The name the prior submits for ``task_id``: from the other tasks' root causes."""
    kinds: Counter[str] = Counter()
    objects: dict[str, Counter[str]] = {}
    for other, ground_truth in ground_truths.items():
        if other == task_id:
            continue
        try:
            names = oracle_names(ground_truth)
        except GroundTruthError:
            continue
        for name in names:
            entity = parse_entity_name(name)
            if entity is None:
                continue
            kinds[entity.kind] += 1
            objects.setdefault(entity.kind, Counter())[f"{entity.namespace}/{entity.name}"] += 1
    if not kinds:
        return None
    kind = _most_common(kinds)
    namespace, _, name = _most_common(objects[kind]).partition("/")
    return f"{namespace}/{kind}/{name}"


def prior_names(ground_truths: Mapping[str, GroundTruth]) -> dict[str, list[str]]:
    """Every task's prior submission (an empty list when the set gives no prior)."""
    return {
        task_id: [name] if (name := prior_name(ground_truths, task_id)) is not None else []
        for task_id in ground_truths
    }


class PriorAgent:
    """Submits its task's prior name; it is given every task's name when made."""

    def __init__(self, names_by_task: Mapping[str, Sequence[str]] | None = None) -> None:
        self._names = names_by_task

    async def run(self, context: RunContext) -> AgentOutcome:
        if self._names is None:
            raise RuntimeError(
                "the prior agent was not given the task set's answer keys (its factory's bind_tasks); "
                "itbench-eval report scores it as a baseline without a run"
            )
        names = list(self._names.get(context.task.task_id, []))
        if not names:
            return AgentOutcome(note="no prior for this task: submitted nothing")
        session = context.require_session()
        factors = [
            {"name": name, "reasoning": "the most common root cause", "evidence": "none"} for name in names
        ]
        result = await session.call_tool(SUBMIT_TOOL, {"contributing_factors": factors})
        if result.is_error:
            raise RuntimeError(f"submit_diagnosis refused {names}: {result_text(result)}")
        return AgentOutcome(note=f"named {', '.join(names)} without looking")


@runtime_checkable
class BindsTasks(Protocol):
    """A factory that must see the task set before making agents (``prior``)."""

    def bind_tasks(self, ground_truths: Mapping[str, GroundTruth]) -> None: ...


class PriorAgentFactory:
    """Makes :class:`PriorAgent` s; call :meth:`bind_tasks` with the task set's answer keys first."""

    def __init__(self) -> None:
        self._names: dict[str, list[str]] | None = None

    def bind_tasks(self, ground_truths: Mapping[str, GroundTruth]) -> None:
        self._names = prior_names(ground_truths)

    def __call__(self) -> PriorAgent:
        return PriorAgent(self._names)
