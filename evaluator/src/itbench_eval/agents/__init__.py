"""Agents: what ``--agent`` selects, and the interface a third-party agent implements.

An agent is an object with ``async def run(context)`` (:class:`Agent`); it investigates through
``context.session`` (the server's MCP tools, counted against the turn cap), or, if it connects by
itself (:class:`ConnectsItself`, such as a CLI agent), through ``context.endpoint``, and submits
with the ``submit_diagnosis`` tool. See :mod:`itbench_eval.agents.base`.
"""

from itbench_eval.agents.base import (
    DEFAULT_MAX_TURNS,
    SUBMIT_TOOL,
    Agent,
    AgentOutcome,
    ConnectsItself,
    HarnessError,
    McpEndpoint,
    ReadsGroundTruth,
    RunContext,
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
    "ConnectsItself",
    "HarnessError",
    "McpEndpoint",
    "ReadsGroundTruth",
    "RunContext",
    "RunLimits",
    "TaskView",
    "ToolSession",
    "Transcript",
    "TurnLimitExceeded",
    "agent_label",
    "resolve_agent",
    "result_text",
]
