"""What every agent gets and returns: the tool session, the limits, the transcript, the outcome.

An agent is any object with an async ``run`` method (:class:`Agent`). The runner connects one
MCP client to a fresh server per run, wraps it in a :class:`ToolSession` that counts turns and
enforces the cap, and hands the agent the task prompt, the :class:`RunLimits`, a
:class:`TaskView` (which never holds the ground truth) and a :class:`Transcript`.

Turns: one turn is one model step. An agent driven by a model calls
:meth:`ToolSession.count_model_step` before each model request; for an agent that never does
(a deterministic one) every tool call is a turn. The call or step after the cap raises
:class:`TurnLimitExceeded` and the run ends.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from mcp import Client
from mcp.types import CallToolResult, ListToolsResult, TextContent
from pydantic import BaseModel, ConfigDict, Field

from itbench_eval.errors import EvalError

if TYPE_CHECKING:
    from itbench_eval.groundtruth import GroundTruth

__all__ = [
    "DEFAULT_MAX_TURNS",
    "SUBMIT_TOOL",
    "Agent",
    "AgentOutcome",
    "ConnectsItself",
    "HarnessError",
    "McpEndpoint",
    "ModelError",
    "ReadsGroundTruth",
    "ReportsPartialOutcome",
    "RunContext",
    "RunLimits",
    "TaskView",
    "ToolSession",
    "Transcript",
    "TurnLimitExceeded",
    "result_text",
]

DEFAULT_MAX_TURNS = 100
SUBMIT_TOOL = "submit_diagnosis"


class RunLimits(BaseModel):
    """The budget of one run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_turns: int = Field(default=DEFAULT_MAX_TURNS, ge=1, description="most model steps (or tool calls)")
    timeout_s: float | None = Field(default=None, gt=0, description="wall-clock limit of the agent")


class TaskView(BaseModel):
    """What an agent may know about its task: never the ground truth or the scenario's files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: str
    repeat: int
    seed: int


EndedBy = Literal["submitted", "model_stopped", "turn_cap", "time_budget"]


class AgentOutcome(BaseModel):
    """What an agent reports when it returns; the runner fills what it knows better itself.

    Token counts follow the APIs' totals: ``tokens_in`` includes ``tokens_cached`` (prompt tokens
    read from a cache), ``tokens_out`` includes ``tokens_reasoning``. ``None`` means unknown.
    """

    model_config = ConfigDict(extra="forbid")

    tokens_in: int | None = None
    tokens_out: int | None = None
    tokens_cached: int | None = None
    tokens_reasoning: int | None = None
    cost_usd: float | None = None
    model_requests: int | None = Field(default=None, description="model API calls made (retries excluded)")
    forced_final_answer: bool = Field(default=False, description="a last step allowed only submit_diagnosis")
    ended_by: EndedBy | None = Field(
        default=None, description="why a model-driven loop stopped; time_budget makes the run a timeout"
    )
    note: str = ""


class ModelError(EvalError):
    """The model API failed after the client's retries; the run ends as ``model_error``."""


@runtime_checkable
class ReportsPartialOutcome(Protocol):
    """An agent that can say what it spent so far, for a run cut short by a timeout or an error."""

    def partial_outcome(self) -> AgentOutcome: ...


class TurnLimitExceeded(EvalError):
    """The agent tried one step or tool call more than its turn cap allows."""

    def __init__(self, max_turns: int) -> None:
        super().__init__(f"the turn cap of {max_turns} was reached before the run ended")
        self.max_turns = max_turns


class Transcript:
    """The agent-side trajectory of one run, one JSON object per line.

    The session records every tool call and result; agents add their own events (model
    requests and replies, notes) with :meth:`write`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")
        self._seq = 0
        self._start = time.monotonic()

    def write(self, event_type: str, **fields: Any) -> None:
        """Append one event of type ``event_type`` with ``fields``."""
        self._seq += 1
        event = {"seq": self._seq, "t": round(time.monotonic() - self._start, 4), "type": event_type}
        event.update(fields)
        self._file.write(json.dumps(event, default=str, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def result_text(result: CallToolResult) -> str:
    """The text of a tool result: its text blocks joined, or its structured content as JSON."""
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    if texts:
        return "\n".join(texts)
    if result.structured_content is not None:
        return json.dumps(result.structured_content, default=str)
    return ""


class ToolSession:
    """The MCP client an agent uses, counting its turns and tool calls against the cap.

    Agents call tools through :meth:`call_tool` and list them with :meth:`list_tools`; the
    underlying :class:`mcp.Client` is not handed out, so every call is counted and logged.
    """

    def __init__(self, client: Client, limits: RunLimits, transcript: Transcript) -> None:
        self._client = client
        self._limits = limits
        self._transcript = transcript
        self.tool_calls = 0
        self.model_steps = 0
        self.turn_limit_hit = False
        self.submitted = False

    @property
    def turns(self) -> int:
        """Model steps if the agent counts them, else tool calls."""
        return self.model_steps if self.model_steps else self.tool_calls

    def _spend_turn(self, used: int) -> None:
        if used >= self._limits.max_turns:
            self.turn_limit_hit = True
            self._transcript.write("turn_limit", max_turns=self._limits.max_turns)
            raise TurnLimitExceeded(self._limits.max_turns)

    def count_model_step(self) -> None:
        """Count one model step; raises :class:`TurnLimitExceeded` past the cap."""
        self._spend_turn(self.model_steps)
        self.model_steps += 1

    @property
    def instructions(self) -> str | None:
        """The server's instructions (how to use its tools), as it sent them."""
        return self._client.instructions

    async def list_tools(self) -> ListToolsResult:
        """The server's tools (not counted as a turn)."""
        return await self._client.list_tools()

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
        """Call a tool; past the cap this raises :class:`TurnLimitExceeded` instead."""
        if not self.model_steps:
            self._spend_turn(self.tool_calls)
        self.tool_calls += 1
        self._transcript.write("tool_call", tool=name, arguments=arguments or {})
        started = time.monotonic()
        result = await self._client.call_tool(name, arguments or {})
        self._transcript.write(
            "tool_result",
            tool=name,
            is_error=result.is_error,
            latency_s=round(time.monotonic() - started, 4),
            text=result_text(result),
        )
        if name == SUBMIT_TOOL and not result.is_error:
            self.submitted = True
        return result


class McpEndpoint(BaseModel):
    """Where the run's server listens, for an agent that connects by itself (Streamable HTTP)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="http://127.0.0.1:PORT/mcp")
    token: str = Field(description="the bearer token the server requires", repr=False)

    @property
    def port(self) -> int:
        return int(self.url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


@dataclass(frozen=True)
class RunContext:
    """Everything one run hands its agent.

    A built-in agent investigates through :attr:`session` (the run's MCP client, counted against
    the turn cap). An agent that connects by itself (:class:`ConnectsItself`, such as a CLI
    agent) gets :attr:`endpoint` instead, and its turn cap is enforced by its server as a
    tool-call budget. Neither ever holds the ground truth or the scenario's files.
    """

    task: TaskView
    prompt: str
    limits: RunLimits
    transcript: Transcript
    run_dir: Path
    profile: Literal["full", "aa"] = "full"
    session: ToolSession | None = None
    endpoint: McpEndpoint | None = None

    def require_session(self) -> ToolSession:
        """The MCP session; raises if this run gave the agent an endpoint instead."""
        if self.session is None:
            raise RuntimeError("this agent needs the runner's MCP session, but the run gave it an endpoint")
        return self.session


@runtime_checkable
class Agent(Protocol):
    """An agent: investigates the incident and submits with ``submit_diagnosis``.

    Optional hooks, called when present: ``async def setup(context)`` before the run and
    ``async def teardown(context)`` after it (even when the run failed).
    """

    async def run(self, context: RunContext) -> AgentOutcome | None: ...


@runtime_checkable
class ConnectsItself(Protocol):
    """An agent that connects to the run's server by itself over Streamable HTTP.

    The runner then starts the server over HTTP with a token and a tool-call budget of
    ``limits.max_turns`` (the only turn cap a black-box agent can be held to), and gives the
    agent :attr:`RunContext.endpoint` instead of a session.
    """

    connects_itself: Literal[True]


@runtime_checkable
class ReadsGroundTruth(Protocol):
    """An agent that is handed the run's answer key before it starts (the oracle, a reference).

    Its scores measure the harness, not an investigation; the runner calls
    :meth:`receive_ground_truth` before :meth:`Agent.run`.
    """

    def receive_ground_truth(self, ground_truth: GroundTruth) -> None: ...


class HarnessError(EvalError):
    """The agent's harness failed around the agent (it never reached the server, say); the run
    ends as ``harness_error`` with this message, in the agent's own words where known."""
