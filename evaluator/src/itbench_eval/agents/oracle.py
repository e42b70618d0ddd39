"""``oracle``: submits the answer key; must score 1.0, which checks the whole pipeline.

It is the only agent the runner gives the ground truth to (by
:meth:`OracleAgent.receive_ground_truth`, before the run); nothing reaches it through MCP.
"""

from __future__ import annotations

from itbench_eval.agents.base import (
    SUBMIT_TOOL,
    AgentOutcome,
    RunContext,
    result_text,
)
from itbench_eval.groundtruth import GroundTruth, oracle_names

__all__ = ["OracleAgent"]


class OracleAgent:
    """Submits one name per root-cause set of the ground truth."""

    def __init__(self) -> None:
        self._names: list[str] | None = None

    def receive_ground_truth(self, ground_truth: GroundTruth) -> None:
        """The runner's private channel: the answer key of this run's task."""
        self._names = oracle_names(ground_truth)

    async def run(self, context: RunContext) -> AgentOutcome:
        session = context.require_session()
        if self._names is None:
            raise RuntimeError("the oracle was not given the ground truth")
        factors = [
            {"name": name, "reasoning": "the answer key names it", "evidence": "ground truth"}
            for name in self._names
        ]
        result = await session.call_tool(SUBMIT_TOOL, {"contributing_factors": factors})
        if result.is_error:
            raise RuntimeError(f"submit_diagnosis refused the answer key: {result_text(result)}")
        return AgentOutcome(note=f"submitted {len(factors)} root causes")
