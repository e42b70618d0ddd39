"""Agents for the runner tests, loaded the way users load theirs: ``py:eval_agents:NAME``.

``tests/support`` is on the test import path; subprocesses get it through ``PYTHONPATH``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import anyio

from itbench_eval.agents import AgentOutcome, RunContext

HANG_FROM_REPEAT = "ITBENCH_TEST_HANG_FROM_REPEAT"
HANGING_LINE = "test agent hanging:"
FIXED_ANSWER = "otel-demo/Deployment/frontend"


class LoopingAgent:
    """Calls a tool for ever: the turn cap must stop it."""

    async def run(self, context: RunContext) -> AgentOutcome:
        session = context.require_session()
        while True:
            await session.call_tool("get_overview", {})


class StepCountingLoopingAgent:
    """Counts a model step per tool call, like a model-driven agent, and never stops."""

    async def run(self, context: RunContext) -> AgentOutcome:
        session = context.require_session()
        while True:
            session.count_model_step()
            await session.call_tool("get_overview", {})
            await session.call_tool("get_overview", {})


class CapSwallowingAgent:
    """Catches every error, the turn cap's too, and returns as if nothing happened."""

    async def run(self, context: RunContext) -> AgentOutcome:
        session = context.require_session()
        limits = context.limits
        for _ in range(limits.max_turns + 5):
            with contextlib.suppress(Exception):
                await session.call_tool("get_overview", {})
        return AgentOutcome(note="done")


class SubmitThenSleepAgent:
    """Submits, then never returns: the wall-clock limit must stop it; the submission counts."""

    async def run(self, context: RunContext) -> AgentOutcome:
        session = context.require_session()
        await session.call_tool("submit_diagnosis", {"contributing_factors": [{"name": FIXED_ANSWER}]})
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


class CrashingAgent:
    """Raises after one tool call."""

    async def run(self, context: RunContext) -> AgentOutcome:
        session = context.require_session()
        await session.call_tool("get_overview", {})
        raise RuntimeError("the agent fell over")


class TokenReportingAgent:
    """Submits a fixed answer and reports token use and cost."""

    async def run(self, context: RunContext) -> AgentOutcome:
        session = context.require_session()
        await session.call_tool("submit_diagnosis", {"contributing_factors": [{"name": FIXED_ANSWER}]})
        return AgentOutcome(tokens_in=1200, tokens_out=80, cost_usd=0.0125)


class HangingFromRepeatAgent:
    """Submits a fixed answer; from the repeat named by $ITBENCH_TEST_HANG_FROM_REPEAT on it hangs."""

    async def run(self, context: RunContext) -> AgentOutcome:
        session = context.require_session()
        task = context.task
        hang_from = os.environ.get(HANG_FROM_REPEAT)
        if hang_from is not None and task.repeat >= int(hang_from):
            # Said on the evaluator's stderr so that a test knows this run has begun (its run
            # directory exists) before it kills the evaluator.
            print(f"{HANGING_LINE} {task.task_id} r{task.repeat}", file=sys.stderr, flush=True)
            await anyio.sleep_forever()
        await session.call_tool("submit_diagnosis", {"contributing_factors": [{"name": FIXED_ANSWER}]})
        return AgentOutcome()


def shared_index_cache(base_temp: Path) -> Path:
    """One scenario index cache for the whole test session (indexes are keyed by file identity)."""
    path = base_temp / "itbench-eval-index-cache"
    path.mkdir(exist_ok=True)
    return path
