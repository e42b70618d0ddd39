"""Run trajectories in ATIF, the Agent Trajectory Interchange Format that Harbor and others read.

:func:`write_trajectory` writes ``trajectory.json`` into a run directory:

- for a built-in agent, from the agent-side ``transcript.jsonl``: one ``agent`` step per model
  reply (its text, its tool calls, the results of those calls and the reply's token usage), or,
  for agents that call tools without a model (oracle, baseline, replay...), one step per tool call
  with ``llm_call_count = 0``;
- for a black-box agent (a CLI agent, a ``cmd:`` agent, one that connects by itself), whose
  transcript holds no tool calls, from the server's ``audit.jsonl``: one step per tool call the
  server answered, with the call's arguments and, as the observation, what the log keeps of its
  result (its size, or its error).

The first step is the task given to the agent (``source: user``): the prompt, where the run
directory has it (``model_calls.jsonl``), else a line naming the task.

The models below mirror Harbor's ``harbor.models.trajectories`` (harbor 0.26.0, ATIF-v1.7 fields:
``extra="forbid"`` everywhere, step ids 1, 2, 3..., agent-only fields only on agent steps, each
``source_call_id`` naming a call of its own step). Harbor needs Python 3.12, so this package cannot
depend on it; the tests validate the output with Harbor's models where Harbor is installed.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from itbench_eval import __version__

__all__ = [
    "ATIF_VERSION",
    "TRAJECTORY_FILE",
    "AtifAgent",
    "AtifFinalMetrics",
    "AtifMetrics",
    "AtifObservation",
    "AtifObservationResult",
    "AtifStep",
    "AtifToolCall",
    "AtifTrajectory",
    "agent_model",
    "build_trajectory",
    "write_trajectory",
]

ATIF_VERSION = "ATIF-v1.7"
TRAJECTORY_FILE = "trajectory.json"

_TRANSCRIPT = "transcript.jsonl"
_AUDIT = "audit.jsonl"
_MODEL_CALLS = "model_calls.jsonl"
_SCORE = "score.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AtifAgent(_Strict):
    name: str
    version: str
    model_name: str | None = None
    tool_definitions: list[dict[str, Any]] | None = None
    extra: dict[str, Any] | None = None


class AtifToolCall(_Strict):
    tool_call_id: str
    function_name: str
    arguments: dict[str, Any]
    extra: dict[str, Any] | None = None


class AtifObservationResult(_Strict):
    source_call_id: str | None = None
    content: str | None = None
    extra: dict[str, Any] | None = None


class AtifObservation(_Strict):
    results: list[AtifObservationResult]


class AtifMetrics(_Strict):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    cost_usd: float | None = None
    extra: dict[str, Any] | None = None


class AtifStep(_Strict):
    step_id: int = Field(ge=1)
    timestamp: str | None = None
    source: Literal["system", "user", "agent"]
    model_name: str | None = None
    message: str
    reasoning_content: str | None = None
    tool_calls: list[AtifToolCall] | None = None
    observation: AtifObservation | None = None
    metrics: AtifMetrics | None = None
    llm_call_count: int | None = Field(default=None, ge=0)
    extra: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _agent_only_fields(self) -> AtifStep:
        if self.source != "agent":
            for name in ("model_name", "reasoning_content", "tool_calls", "metrics"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} is only for agent steps")
        if self.llm_call_count == 0 and (self.metrics is not None or self.reasoning_content is not None):
            raise ValueError("a step without a model call has no metrics or reasoning")
        return self


class AtifFinalMetrics(_Strict):
    total_prompt_tokens: int | None = None
    total_completion_tokens: int | None = None
    total_cached_tokens: int | None = None
    total_cost_usd: float | None = None
    total_steps: int | None = Field(default=None, ge=0)
    extra: dict[str, Any] | None = None


class AtifTrajectory(_Strict):
    schema_version: str = ATIF_VERSION
    session_id: str | None = None
    trajectory_id: str | None = None
    agent: AtifAgent
    steps: list[AtifStep] = Field(min_length=1)
    notes: str | None = None
    final_metrics: AtifFinalMetrics | None = None
    extra: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AtifTrajectory:
        for index, step in enumerate(self.steps, start=1):
            if step.step_id != index:
                raise ValueError(f"steps[{index - 1}].step_id is {step.step_id}, expected {index}")
            ids = {call.tool_call_id for call in step.tool_calls or []}
            for result in step.observation.results if step.observation else []:
                if result.source_call_id is not None and result.source_call_id not in ids:
                    raise ValueError(f"step {index}: result for unknown call {result.source_call_id}")
        return self


# ---------------------------------------------------------------------------------------------
# Reading a run directory


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _arguments(raw: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Tool arguments as an object; anything else is kept verbatim in ``extra``."""
    if isinstance(raw, dict):
        return raw, None
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed, None
    return {}, {"raw_arguments": raw}


def _usage_metrics(usage: Any) -> AtifMetrics | None:
    if not isinstance(usage, dict):
        return None
    input_tokens = usage.get("input_tokens")
    return AtifMetrics(
        prompt_tokens=input_tokens,
        completion_tokens=usage.get("output_tokens"),
        cached_tokens=usage.get("cached_tokens"),
        extra={key: value for key, value in usage.items() if key not in _USAGE_KEYS} or None,
    )


_USAGE_KEYS = {"input_tokens", "output_tokens", "cached_tokens"}


def _task_message(run_dir: Path, start: dict[str, Any] | None) -> tuple[str, str | None]:
    """The task as the agent was given it (the prompt where recorded) and the system prompt."""
    header = next((row for row in _jsonl(run_dir / _MODEL_CALLS) if row.get("type") == "header"), None)
    if header and isinstance(header.get("prompt"), str):
        system = header.get("system")
        return header["prompt"], system if isinstance(system, str) else None
    if start:
        return f"Diagnose the incident of task {start.get('task')} (repeat {start.get('repeat')}).", None
    return f"Diagnose the incident recorded in {run_dir.name}.", None


class _Builder:
    def __init__(self, model: str | None) -> None:
        self.model = model
        self.steps: list[AtifStep] = []

    def add(self, **fields: Any) -> AtifStep:
        step = AtifStep(step_id=len(self.steps) + 1, **fields)
        self.steps.append(step)
        return step


def _from_transcript(events: list[dict[str, Any]], builder: _Builder) -> None:
    """Model replies become steps holding their calls; calls outside a reply become steps of their own."""
    open_step: AtifStep | None = None  # the last model reply, whose calls are still being answered
    pending: list[AtifToolCall] = []  # its calls not yet answered, in order
    last_call: AtifToolCall | None = None  # the call whose result comes next
    counter = 0

    def result_for(step: AtifStep, call_id: str | None, content: str, extra: dict[str, Any] | None) -> None:
        if step.observation is None:
            step.observation = AtifObservation(results=[])
        step.observation.results.append(
            AtifObservationResult(source_call_id=call_id, content=content, extra=extra)
        )

    def claim(name: Any) -> AtifToolCall | None:
        for index, call in enumerate(pending):
            if call.function_name == name:
                return pending.pop(index)
        return None

    for event in events:
        kind = event.get("type")
        if kind == "model_reply":
            calls: list[AtifToolCall] = []
            for raw in event.get("calls") or []:
                counter += 1
                arguments, extra = _arguments(raw.get("arguments"))
                call_id = str(raw.get("call_id") or f"call_{counter}")
                calls.append(
                    AtifToolCall(
                        tool_call_id=call_id,
                        function_name=str(raw.get("name")),
                        arguments=arguments,
                        extra=extra,
                    )
                )
            extra = {"stop_reason": event.get("stop_reason"), "elapsed_s": event.get("t")}
            open_step = builder.add(
                source="agent",
                model_name=builder.model,
                message=str(event.get("text") or ""),
                tool_calls=calls or None,
                metrics=_usage_metrics(event.get("usage")),
                llm_call_count=1,
                extra={key: value for key, value in extra.items() if value is not None} or None,
            )
            pending = list(calls)
        elif kind in ("tool_call", "tool_call_refused"):
            call = claim(event.get("tool")) if open_step is not None else None
            if call is None:
                # A call no model reply announced: the agent's own (oracle, baseline, replay...).
                counter += 1
                arguments, extra = _arguments(event.get("arguments"))
                call = AtifToolCall(
                    tool_call_id=f"call_{counter}",
                    function_name=str(event.get("tool")),
                    arguments=arguments,
                    extra=extra,
                )
                open_step = builder.add(
                    source="agent",
                    message="",
                    tool_calls=[call],
                    llm_call_count=0,
                    extra={"elapsed_s": event.get("t")} if event.get("t") is not None else None,
                )
                pending = []
            if kind == "tool_call_refused" and open_step is not None:
                result_for(open_step, call.tool_call_id, str(event.get("reason") or ""), {"refused": True})
                last_call = None
            else:
                last_call = call
        elif kind == "tool_result" and open_step is not None:
            extra = {"is_error": bool(event.get("is_error")), "latency_s": event.get("latency_s")}
            call_id = last_call.tool_call_id if last_call is not None else None
            result_for(open_step, call_id, str(event.get("text") or ""), extra)
            last_call = None
        elif kind in ("turn_limit", "forced_final_answer", "nudge", "context_elided", "tool_output_cut"):
            detail = {key: value for key, value in event.items() if key not in ("seq", "t", "type")}
            builder.add(source="system", message=f"{kind}: {json.dumps(detail, default=str)}")


def _from_audit(rows: list[dict[str, Any]], builder: _Builder) -> None:
    for index, row in enumerate(rows, start=1):
        arguments, extra = _arguments(row.get("arguments"))
        call = AtifToolCall(
            tool_call_id=f"call_{index}",
            function_name=str(row.get("tool")),
            arguments=arguments,
            extra=extra,
        )
        if row.get("is_error"):
            content = f"error: {row.get('error') or 'the tool failed'}"
        else:
            content = f"({row.get('output_chars', '?')} characters; the server's log keeps no output)"
        result_extra = {
            key: row[key] for key in ("is_error", "latency_ms", "output_chars", "truncated") if key in row
        }
        timestamp = row.get("time") if isinstance(row.get("time"), str) else None
        builder.add(
            source="agent",
            timestamp=timestamp,
            message="",
            tool_calls=[call],
            observation=AtifObservation(
                results=[
                    AtifObservationResult(
                        source_call_id=call.tool_call_id, content=content, extra=result_extra
                    )
                ]
            ),
        )


def _sum(values: list[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return sum(known) if known else None


def build_trajectory(run_dir: Path, *, agent: str, model: str | None) -> AtifTrajectory:
    """The ATIF trajectory of the run in ``run_dir`` (see the module's docstring)."""
    events = _jsonl(run_dir / _TRANSCRIPT)
    start = next((event for event in events if event.get("type") == "task_start"), None)
    end = next((event for event in reversed(events) if event.get("type") == "task_end"), None)
    summary = next((event for event in reversed(events) if event.get("type") == "model_summary"), None)
    message, system = _task_message(run_dir, start)

    builder = _Builder(model)
    if system:
        builder.add(source="system", message=system)
    builder.add(source="user", message=message)
    agent_side = any(event.get("type") in ("model_reply", "tool_call") for event in events)
    if agent_side:
        _from_transcript(events, builder)
        source = _TRANSCRIPT
    else:
        _from_audit(_jsonl(run_dir / _AUDIT), builder)
        source = _AUDIT

    metrics = [step.metrics for step in builder.steps if step.metrics is not None]
    final = AtifFinalMetrics(
        total_prompt_tokens=_sum([m.prompt_tokens for m in metrics]),
        total_completion_tokens=_sum([m.completion_tokens for m in metrics]),
        total_cached_tokens=_sum([m.cached_tokens for m in metrics]),
        total_steps=len(builder.steps),
    )
    if summary is not None:
        final.total_prompt_tokens = summary.get("tokens_in", final.total_prompt_tokens)
        final.total_completion_tokens = summary.get("tokens_out", final.total_completion_tokens)
        final.total_cached_tokens = summary.get("tokens_cached", final.total_cached_tokens)
        final.total_cost_usd = summary.get("cost_usd")

    extra: dict[str, Any] = {"source": source}
    if start is not None:
        extra.update({key: start[key] for key in ("task", "repeat", "seed") if key in start})
    if end is not None:
        extra.update({key: end[key] for key in ("error_class", "error", "score") if key in end})
    score_path = run_dir / _SCORE
    if score_path.is_file():
        with contextlib.suppress(json.JSONDecodeError, AttributeError):
            extra["score"] = json.loads(score_path.read_text(encoding="utf-8")).get(
                "score", extra.get("score")
            )
    session = f"{extra.get('task', run_dir.name)}/{agent}/r{extra.get('repeat', '?')}"
    return AtifTrajectory(
        session_id=session,
        agent=AtifAgent(name=agent, version=__version__, model_name=model, extra={"harness": "itbench-eval"}),
        steps=builder.steps,
        final_metrics=final,
        notes=None if agent_side else "Built from the server's audit log: tool outputs are not kept there.",
        extra=extra,
    )


def agent_model(spec: str) -> str | None:
    """The model an agent spec names: ``openai:gpt-x`` -> ``gpt-x``, ``codex:o4`` -> ``o4``; else None."""
    from itbench_eval.agents.loader import AGENT_PREFIXES, CLI_PREFIXES

    prefix, colon, model = spec.partition(":")
    return model if colon and model and (prefix in AGENT_PREFIXES or prefix in CLI_PREFIXES) else None


def write_trajectory(run_dir: Path, *, agent: str, model: str | None) -> Path:
    """Write ``run_dir/trajectory.json`` (ATIF) from the run directory's files; returns its path.

    ``model`` None: the model named in ``model_calls.jsonl``, if the run has one.
    """
    if model is None:
        header = next((row for row in _jsonl(run_dir / _MODEL_CALLS) if row.get("type") == "header"), None)
        model = header.get("model") if header and isinstance(header.get("model"), str) else None
    trajectory = build_trajectory(run_dir, agent=agent, model=model)
    path = run_dir / TRAJECTORY_FILE
    text = json.dumps(trajectory.model_dump(mode="json", exclude_none=True), indent=2, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path
