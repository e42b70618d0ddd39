"""Agents: what ``--agent`` selects, and the interface a third-party agent implements.

An agent is an object with ``async def run(session, prompt, limits, task, transcript)``
(:class:`Agent`); it investigates through ``session`` (the server's MCP tools, counted against
the turn cap) and submits with the ``submit_diagnosis`` tool. See :mod:`itbench_eval.agents.base`.
"""

from itbench_eval.agents.base import (
    DEFAULT_MAX_TURNS,
    SUBMIT_TOOL,
    Agent,
    AgentOutcome,
    RunLimits,
    TaskView,
    ToolSession,
    Transcript,
    TurnLimitExceeded,
    result_text,
)
from itbench_eval.agents.loader import AGENT_FORMS, AgentFactory, AgentSpecError, agent_label, resolve_agent

__all__ = [
    "AGENT_FORMS",
    "DEFAULT_MAX_TURNS",
    "SUBMIT_TOOL",
    "Agent",
    "AgentFactory",
    "AgentOutcome",
    "AgentSpecError",
    "RunLimits",
    "TaskView",
    "ToolSession",
    "Transcript",
    "TurnLimitExceeded",
    "agent_label",
    "resolve_agent",
    "result_text",
]
