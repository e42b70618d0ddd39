"""Agents for the Ray backend tests, loaded as ``py:ray_agents:NAME`` (on workers through PYTHONPATH)."""

from __future__ import annotations

import os
import signal

from itbench_eval.agents import AgentOutcome, RunContext
from itbench_eval.agents.oracle import OracleAgent

KILLED_MARKER = "worker-killed-once"
"""The file, in the results directory, that says the worker was killed already."""


class KillsItsWorkerOnceAgent(OracleAgent):
    """Kills the process it runs in on its first run (never use it with the local backend), then
    behaves as the oracle: a run that Ray retries scores 1.0."""

    async def run(self, context: RunContext) -> AgentOutcome:
        marker = context.run_dir.parents[3] / KILLED_MARKER  # OUT/runs/<task>/<agent>/r<k>
        if not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return await super().run(context)


class AlwaysKillsItsWorkerAgent:
    """Kills the process it runs in every time: Ray's retries run out."""

    async def run(self, context: RunContext) -> AgentOutcome:
        (context.run_dir.parents[3] / KILLED_MARKER).touch()
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")
