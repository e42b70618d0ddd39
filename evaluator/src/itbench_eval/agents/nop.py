"""``nop``: the agent that does nothing and submits nothing; the score floor."""

from __future__ import annotations

from itbench_eval.agents.base import AgentOutcome, RunContext

__all__ = ["NopAgent"]


class NopAgent:
    """Returns at once without calling a tool."""

    async def run(self, context: RunContext) -> AgentOutcome:
        return AgentOutcome(note="submitted nothing")
