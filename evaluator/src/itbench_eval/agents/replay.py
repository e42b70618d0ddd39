"""``replay:FILE``: re-issue a recorded sequence of tool calls against a fresh server.

The file holds one JSON object per line, ``{"tool": NAME, "arguments": {...}}``; blank lines
and lines starting with ``#`` are skipped. The last call is normally ``submit_diagnosis``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from itbench_eval.agents.base import AgentOutcome, RunContext
from itbench_eval.errors import EvalError

__all__ = ["RecordedCall", "ReplayAgent", "ReplayError", "load_replay"]


class ReplayError(EvalError, ValueError):
    """A replay file cannot be read; the message names the file and the line."""


class RecordedCall(BaseModel):
    """One recorded tool call."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    tool: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


def load_replay(path: Path) -> list[RecordedCall]:
    """Read a replay file.

    Raises:
        ReplayError: the file is missing, or a line is not a recorded call.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ReplayError(f"replay file {path}: cannot read: {error}") from None
    calls: list[RecordedCall] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            calls.append(RecordedCall.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as error:
            reason = str(error).splitlines()[0]
            raise ReplayError(
                f'replay file {path}, line {number}: expected {{"tool": ..., "arguments": {{...}}}}: {reason}'
            ) from None
    return calls


class ReplayAgent:
    """Makes the recorded calls in order, whatever they return."""

    def __init__(self, calls: list[RecordedCall]) -> None:
        self.calls = calls

    async def run(self, context: RunContext) -> AgentOutcome:
        session = context.require_session()
        for call in self.calls:
            await session.call_tool(call.tool, call.arguments)
        return AgentOutcome(note=f"replayed {len(self.calls)} calls")
