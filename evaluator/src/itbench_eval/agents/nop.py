"""``nop``: the agent that does nothing and submits nothing; the score floor."""

from __future__ import annotations

from itbench_eval.agents.base import AgentOutcome, RunLimits, TaskView, ToolSession, Transcript


class NopAgent:
    """Returns at once without calling a tool."""

    async def run(
        self,
        session: ToolSession,
        prompt: str,
        limits: RunLimits,
        task: TaskView,
        transcript: Transcript,
    ) -> AgentOutcome:
        return AgentOutcome(note="submitted nothing")
