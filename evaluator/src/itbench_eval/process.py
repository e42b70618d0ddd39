"""Process metrics: how an agent investigated, read from the server's audit log of one run.

Every agent's tool calls go through the server, which logs each one in the run directory's
``audit.jsonl`` (``itbench_server.mcp.audit``: the time, the tool, the arguments, the size of the
reply, whether it was an error). So these metrics hold for every agent, black-box ones included,
and need no hand labels: only the run's answer key.

Per run (:func:`process_metrics`):

* ``calls``, ``tool_errors`` and ``tool_error_rate``; ``repeated_calls``, calls identical (tool
  and arguments) to an earlier call of the run; ``tools_used``, calls per tool; ``output_chars``,
  the characters of every reply the agent got;
* ``first_root_cause_call``, ``first_root_cause_turn`` and ``first_root_cause_s``: the first call
  whose arguments name a true root cause (any object of a root-cause alias set, a workload also
  by its pods and ReplicaSets), the turn it was made in and the seconds since the first call;
* ``root_cause_evidence``: the kinds of evidence about a root cause the agent asked for before
  its first accepted submission: calls naming a root cause in their arguments, by what they read
  (``events``, ``logs``, ``metrics``, ``traces``, ``changes`` (spec changes), ``spec`` (the
  object as listed)); ``looked_at_root_cause_evidence`` says whether there was any.

A name counts wherever it stands in the arguments, except as a namespace qualifier (a
``namespace`` argument, ``-n X`` and ``--namespace X``, the ``X`` of ``X/Kind/name``, ``namespace
= 'X'`` in SQL), so that a root cause that is a Namespace is not "named" by every call scoped to
it. A call that reads everything (``get_events`` without a filter) names nothing: what the agent
saw in its reply is not in the audit log.

The turn of a call is the model step it was made in when the run's ``transcript.jsonl`` records
model steps (``model_request`` events); otherwise (deterministic and black-box agents) every call
is a turn, as the runner counts them.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from itbench_eval.groundtruth import GroundTruth, GroundTruthError, Group, oracle_entity_name
from itbench_eval.matching import kind_family, parse_entity_name

__all__ = [
    "AUDIT_LOG_FILE",
    "EVIDENCE_KINDS",
    "ProcessMetrics",
    "ProcessSummary",
    "call_category",
    "names_root_cause",
    "process_metrics",
    "root_cause_targets",
    "summarize_process",
]

AUDIT_LOG_FILE = "audit.jsonl"
TRANSCRIPT_FILE = "transcript.jsonl"
SUBMIT_TOOL = "submit_diagnosis"
EVIDENCE_KINDS: tuple[str, ...] = ("events", "logs", "metrics", "traces", "changes", "spec")
"""What counts as a root cause's own evidence, by what a call reads."""

_TOOL_CATEGORIES = {
    "get_events": "events",
    "search_logs": "logs",
    "query_metrics": "metrics",
    "query_traces": "traces",
    "get_changes": "changes",
    "get_alerts": "alerts",
    "get_topology": "topology",
    "get_overview": "overview",
    SUBMIT_TOOL: "submission",
}
_SQL_TABLES = {
    "events": "events",
    "logs": "logs",
    "samples": "metrics",
    "spans": "traces",
    "objects": "spec",
    "alerts": "alerts",
}
_SHELL_FILES = (
    ("k8s_events", "events"),
    ("logs", "logs"),
    ("metrics", "metrics"),
    ("traces", "traces"),
    ("k8s_objects", "spec"),
    ("alerts", "alerts"),
)
_NAMESPACE_QUALIFIERS = (
    re.compile(r"(?:^|\s)(?:-n|--namespace)(?:\s+|=)\S+"),
    re.compile(r"\bnamespace\s*(?:=|==|like|ilike)\s*'[^']*'", re.IGNORECASE),
    re.compile(r"\b[a-z0-9][a-z0-9-]*/(?=[A-Za-z][A-Za-z0-9]*/)"),
)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# A workload's pods (W-<hash>-<suffix>, W-<ordinal>) and ReplicaSets (W-<hash>).
# The hash has a digit, so that ``frontend-external`` is not taken for a ReplicaSet of ``frontend``.
_WORKLOAD_CHILD = re.compile(
    r"^(?P<workload>.+?)(?:-(?=[a-z]*[0-9])[a-z0-9]{6,10}(?:-[a-z0-9]{5})?|-[0-9]+)$"
)


class ProcessMetrics(BaseModel):
    """How one run investigated, from its audit log (see the module's documentation)."""

    model_config = ConfigDict(extra="ignore")

    audit_found: bool = True
    calls: int = 0
    tool_errors: int = 0
    tool_error_rate: float | None = Field(default=None, description="tool errors / calls; null without calls")
    repeated_calls: int = Field(
        default=0, description="calls identical (tool and arguments) to an earlier one"
    )
    tools_used: dict[str, int] = Field(default_factory=dict)
    output_chars: int = 0
    submitted: bool = Field(default=False, description="an accepted submit_diagnosis call")
    first_root_cause_call: int | None = Field(
        default=None, description="1-based audit position of the first call naming a root cause"
    )
    first_root_cause_turn: int | None = None
    first_root_cause_s: float | None = Field(default=None, description="seconds after the first call")
    root_cause_evidence: list[str] = Field(
        default_factory=list, description="evidence kinds read about a root cause before submitting"
    )
    looked_at_root_cause_evidence: bool = False
    duration_s: float | None = Field(default=None, description="from the first call to the last")


# ---------------------------------------------------------------------------------------------
# What names a root cause


class _Target:
    """One object of a root-cause set: a literal name, and whether its pods count as it."""

    def __init__(self, name: str, workload: bool) -> None:
        self.name = name
        self.workload = workload

    def named_by(self, token: str) -> bool:
        if token == self.name:
            return True
        if not self.workload:
            return False
        child = _WORKLOAD_CHILD.match(token)
        return child is not None and child["workload"] == self.name


def _group_literal(group: Group) -> str | None:
    try:
        entity = parse_entity_name(oracle_entity_name(group))
    except GroundTruthError:
        return None
    return entity.name if entity is not None else None


def root_cause_targets(ground_truth: GroundTruth) -> list[tuple[str, str]]:
    """``(kind, name)`` of every object of a root-cause alias set, in file order, once each."""
    root_sets = set(ground_truth.root_cause_set_ids)
    targets: dict[tuple[str, str], None] = {}
    for group in ground_truth.groups:
        if ground_truth.set_ids[group.id] not in root_sets:
            continue
        literal = _group_literal(group)
        if literal:
            targets.setdefault((group.kind, literal))
    return list(targets)


def _targets(ground_truth: GroundTruth) -> list[_Target]:
    return [_Target(name, kind_family(kind) == "workload") for kind, name in root_cause_targets(ground_truth)]


def _strings(value: Any, key: str | None = None) -> Iterator[str]:
    """Every string in ``value``, leaving out the values of ``namespace`` keys."""
    if key is not None and key.lower() == "namespace":
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for inner_key, inner in value.items():
            yield from _strings(inner, str(inner_key))
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def _tokens(arguments: Any) -> set[str]:
    tokens: set[str] = set()
    for text in _strings(arguments):
        for qualifier in _NAMESPACE_QUALIFIERS:
            text = qualifier.sub(" ", text)
        for token in _TOKEN.findall(text):
            token = token.strip("._-")
            tokens.add(token)
            tokens.update(part for part in token.split(".") if part)
    return tokens


def names_root_cause(arguments: Any, targets: Sequence[_Target]) -> bool:
    tokens = _tokens(arguments)
    return any(target.named_by(token) for target in targets for token in tokens)


# ---------------------------------------------------------------------------------------------
# What a call reads


def call_category(tool: str, arguments: Any) -> str:
    """What a call reads: one of :data:`EVIDENCE_KINDS`, or ``alerts``, ``topology``,
    ``overview``, ``submission``, ``other``."""
    if tool in _TOOL_CATEGORIES:
        return _TOOL_CATEGORIES[tool]
    arguments = arguments if isinstance(arguments, dict) else {}
    if tool == "kubectl":
        words = str(arguments.get("command", "")).split()
        if words[:1] == ["kubectl"]:
            words = words[1:]
        verb = words[0].lower() if words else ""
        if verb == "logs":
            return "logs"
        if verb == "top":
            return "metrics"
        if verb in ("get", "describe"):
            resources = words[1].lower() if len(words) > 1 else ""
            return "events" if resources.startswith(("ev", "event")) else "spec"
        return "other"
    if tool == "run_sql":
        sql = str(arguments.get("sql", "")).lower()
        for table in re.findall(r"\b(?:from|join)\s+([a-z_]+)", sql):
            if table in _SQL_TABLES:
                return _SQL_TABLES[table]
        return "other"
    if tool == "run_shell":
        command = str(arguments.get("command", "")).lower()
        for marker, category in _SHELL_FILES:
            if marker in command:
                return category
        return "other"
    return "other"


# ---------------------------------------------------------------------------------------------
# Reading a run


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    records: list[dict[str, Any]] = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line
        if isinstance(record, dict):
            records.append(record)
    return records


def _call_turns(transcript: Sequence[dict[str, Any]]) -> list[int] | None:
    """The model step of each tool call, in order; None when the run counted no model steps."""
    step: int | None = None
    turns: list[int] = []
    for event in transcript:
        if event.get("type") == "model_request" and isinstance(event.get("step"), int):
            step = event["step"]
        elif event.get("type") == "tool_call":
            turns.append(step if step is not None else 0)
    return turns if step is not None else None


def _time(record: dict[str, Any]) -> datetime | None:
    text = record.get("time")
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _call_key(record: dict[str, Any]) -> str:
    return json.dumps([record.get("tool"), record.get("arguments")], sort_keys=True, default=str)


def process_metrics(run_dir: Path, ground_truth: GroundTruth) -> ProcessMetrics:
    """The process metrics of the run in ``run_dir`` (its ``audit.jsonl``, and ``transcript.jsonl``
    for model steps) against its answer key. Never raises for a missing or damaged file: a run
    without an audit log gives ``audit_found: false`` and zeros."""
    audit_path = run_dir / AUDIT_LOG_FILE
    if not audit_path.is_file():
        return ProcessMetrics(audit_found=False)
    calls = _read_jsonl(audit_path)
    turns = _call_turns(_read_jsonl(run_dir / TRANSCRIPT_FILE))
    targets = _targets(ground_truth)
    times = [_time(record) for record in calls]
    start = next((time for time in times if time is not None), None)

    seen: set[str] = set()
    repeated = 0
    tools: Counter[str] = Counter()
    errors = 0
    output_chars = 0
    submitted = False
    first: int | None = None
    evidence: dict[str, None] = {}
    for position, record in enumerate(calls, start=1):
        tool = str(record.get("tool"))
        arguments = record.get("arguments")
        tools[tool] += 1
        is_error = bool(record.get("is_error"))
        errors += is_error
        output = record.get("output_chars")
        output_chars += output if isinstance(output, int) else 0
        key = _call_key(record)
        repeated += key in seen
        seen.add(key)
        named = names_root_cause(arguments, targets)
        if named and first is None:
            first = position
        if named and not submitted:
            category = call_category(tool, arguments)
            if category in EVIDENCE_KINDS:
                evidence.setdefault(category)
        if tool == SUBMIT_TOOL and not is_error:
            submitted = True

    first_turn: int | None = None
    first_s: float | None = None
    if first is not None:
        first_turn = turns[first - 1] if turns is not None and first <= len(turns) else first
        first_time = times[first - 1]
        if first_time is not None and start is not None:
            first_s = round((first_time - start).total_seconds(), 3)
    end = next((time for time in reversed(times) if time is not None), None)
    return ProcessMetrics(
        calls=len(calls),
        tool_errors=errors,
        tool_error_rate=errors / len(calls) if calls else None,
        repeated_calls=repeated,
        tools_used=dict(sorted(tools.items())),
        output_chars=output_chars,
        submitted=submitted,
        first_root_cause_call=first,
        first_root_cause_turn=first_turn,
        first_root_cause_s=first_s,
        root_cause_evidence=[kind for kind in EVIDENCE_KINDS if kind in evidence],
        looked_at_root_cause_evidence=bool(evidence),
        duration_s=round((end - start).total_seconds(), 3) if start is not None and end is not None else None,
    )


# ---------------------------------------------------------------------------------------------
# Many runs


class ProcessSummary(BaseModel):
    """Process metrics over runs (of one agent, or of one agent on one task)."""

    model_config = ConfigDict(extra="forbid")

    runs: int = Field(description="runs with an audit log")
    looked_at_root_cause_evidence: float | None = Field(description="share of runs")
    root_cause_named: float | None = Field(description="share of runs whose calls named a root cause")
    mean_first_root_cause_turn: float | None = Field(description="over the runs that named one")
    mean_first_root_cause_s: float | None
    tool_error_rate: float | None = Field(description="tool errors / calls, over all calls")
    repeated_call_rate: float | None = Field(description="repeated calls / calls, over all calls")
    mean_calls: float | None
    mean_output_chars: float | None
    tools_used: dict[str, int] = Field(description="calls per tool, over all runs")
    evidence_kinds: dict[str, int] = Field(description="runs that read each kind of root-cause evidence")


def _mean(values: Iterable[float]) -> float | None:
    known = list(values)
    return round(sum(known) / len(known), 6) if known else None


def summarize_process(metrics: Iterable[ProcessMetrics]) -> ProcessSummary:
    """Aggregate runs' metrics; runs without an audit log are left out."""
    runs = [metric for metric in metrics if metric.audit_found]
    calls = sum(metric.calls for metric in runs)
    named = [metric for metric in runs if metric.first_root_cause_call is not None]
    tools: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for metric in runs:
        tools.update(metric.tools_used)
        kinds.update(metric.root_cause_evidence)
    return ProcessSummary(
        runs=len(runs),
        looked_at_root_cause_evidence=_mean(float(metric.looked_at_root_cause_evidence) for metric in runs),
        root_cause_named=_mean(float(metric.first_root_cause_call is not None) for metric in runs),
        mean_first_root_cause_turn=_mean(
            float(metric.first_root_cause_turn)
            for metric in named
            if metric.first_root_cause_turn is not None
        ),
        mean_first_root_cause_s=_mean(
            metric.first_root_cause_s for metric in named if metric.first_root_cause_s is not None
        ),
        tool_error_rate=round(sum(metric.tool_errors for metric in runs) / calls, 6) if calls else None,
        repeated_call_rate=round(sum(metric.repeated_calls for metric in runs) / calls, 6) if calls else None,
        mean_calls=_mean(float(metric.calls) for metric in runs),
        mean_output_chars=_mean(float(metric.output_chars) for metric in runs),
        tools_used=dict(sorted(tools.items(), key=lambda item: (-item[1], item[0]))),
        evidence_kinds={kind: kinds[kind] for kind in EVIDENCE_KINDS if kinds[kind]},
    )
