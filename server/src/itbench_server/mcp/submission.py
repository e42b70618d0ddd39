"""``submit_diagnosis``: record the root causes an investigation found.

Both published forms are accepted (see :mod:`itbench_server.diagnosis`). A malformed entity name
is an error that says how to write it; a well-formed name that matches nothing in the recording
is only a warning in the reply, because the scorer decides what counts. The diagnosis is written
atomically to the submission file, each call replacing the last; the audit log keeps them all.

The tool's arguments are bounded (names ``NAME_CHARS``, free text :data:`PROSE_CHARS`, at most
:data:`MAX_ITEMS` items a list), and so is the reply: it names at most :data:`MAX_LISTED` root
causes and warnings, then says how many more there are, and fits the output budget.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from itbench_server import diagnosis as published
from itbench_server.analysis.entities import canonical_kind, known_entities
from itbench_server.diagnosis import ENTITY_NAME_HELP, Diagnosis, invalid_entity_names
from itbench_server.errors import quoted
from itbench_server.mcp.limits import NAME_CHARS
from itbench_server.mcp.output import clip_text
from itbench_server.mcp.tooling import ToolContext, add_tool
from itbench_server.snapshot import Snapshot

__all__ = [
    "MAX_ITEMS",
    "MAX_LISTED",
    "PROSE_CHARS",
    "SUBMIT",
    "AlertExplained",
    "ContributingFactor",
    "DiagnosisRecorder",
    "Entity",
    "KnownEntities",
    "Propagation",
    "name_fix",
    "register_submission_tool",
    "submit_diagnosis",
    "unknown_name_warning",
    "write_atomically",
]

SUBMIT = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
"""A submission changes the run's outcome but destroys nothing."""

_MAX_CANDIDATES = 5

PROSE_CHARS = 5_000
"""The most characters of a reasoning, evidence, explanation, condition or effect."""
MAX_ITEMS = 100
"""The most items of each list argument of ``submit_diagnosis``."""
MAX_LISTED = 20
"""The most root causes, warnings or malformed names one reply spells out."""

Name = Annotated[str, Field(max_length=NAME_CHARS)]
Prose = Annotated[str, Field(max_length=PROSE_CHARS)]


# The published models (``itbench_server.diagnosis``) with the tool's bounds on every string; they
# keep their names, so the input schema reads as before. The evaluator reads submission files with
# the unbounded published models.
class ContributingFactor(published.ContributingFactor):
    """One root cause in ITBench-AA's form."""

    name: Annotated[Name, Field(description="namespace/Kind/name of the root-cause object")]
    reasoning: Annotated[Prose, Field(description="why this object is a root cause")] = ""
    evidence: Annotated[Prose, Field(description="the alerts, events, logs, metrics that show it")] = ""


class Entity(published.Entity):
    """One entity in IBM ITBench's form."""

    name: Name
    reasoning: Prose = ""
    evidence: Prose = ""


class Propagation(published.Propagation):
    """One hop of how the fault spread (IBM's form)."""

    source: Name
    target: Name
    condition: Prose = ""
    effect: Prose = ""


class AlertExplained(published.AlertExplained):
    """Which alert the diagnosis explains (IBM's form)."""

    alert: Name
    explanation: Prose = ""


def _listed(items: list[str], what: str) -> list[str]:
    """``items`` up to ``MAX_LISTED``, then a line counting the rest."""
    shown = items[:MAX_LISTED]
    if len(items) > len(shown):
        shown.append(f"… and {len(items) - len(shown)} more {what}")
    return shown


class KnownEntities:
    """The ``namespace/Kind/name`` of everything the recording mentions, for checking names."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.names: list[str] = [
            str(entity) for entity in known_entities(snapshot, include_event_objects=True)
        ]
        self._by_lower = {name.lower(): name for name in self.names}

    def canonical(self, name: str) -> str | None:
        """The recorded spelling of ``name`` (kinds compared case-insensitively), or None."""
        return self._by_lower.get(name.lower())

    def candidates(self, *parts: str) -> list[str]:
        """Recorded names whose last parts are ``parts`` (case-insensitive), workloads first."""
        wanted = [part.lower() for part in parts]
        found = [
            name for name in self.names if [p.lower() for p in name.split("/")[-len(wanted) :]] == wanted
        ]
        return sorted(found, key=_workload_first)[:_MAX_CANDIDATES]

    def name_matches(self, short: str) -> list[str]:
        """Recorded names whose object name is ``short``, workloads first."""
        return self.candidates(short)


def _workload_first(name: str) -> tuple[int, str]:
    kind = name.split("/")[1]
    order = ["Deployment", "StatefulSet", "DaemonSet", "Service", "Pod", "Node"]
    return (order.index(kind) if kind in order else len(order), name)


def name_fix(name: str, known: KnownEntities) -> str:
    """How to rewrite a malformed entity ``name``."""
    parts = [part for part in name.strip().split("/") if part]
    candidates: list[str] = []
    if len(parts) == 1:
        candidates = known.name_matches(parts[0])
    elif len(parts) == 2:
        first, second = parts
        if first.lower() == "node" or first.lower() == "nodes":
            candidates = [f"cluster/Node/{second}"]
        else:
            candidates = known.candidates(first, second) or [
                candidate for candidate in known.name_matches(second) if candidate.startswith(f"{first}/")
            ]
    elif len(parts) >= 3:
        candidates = known.candidates(*parts[-2:])
    if candidates:
        return (
            f"{quoted(name)} is not namespace/Kind/name; did you mean {' or '.join(map(repr, candidates))}?"
        )
    return f"{quoted(name)} is not namespace/Kind/name; {ENTITY_NAME_HELP}"


def unknown_name_warning(name: str, known: KnownEntities) -> str | None:
    """A warning when well-formed ``name`` is not spelled as anything recorded, else None."""
    canonical = known.canonical(name)
    if canonical == name:
        return None
    if canonical is not None:
        return f"{quoted(name)}: recorded as {canonical!r}"
    namespace, kind, short = name.split("/")
    elsewhere = known.candidates(kind, short)
    # A kind written as kubectl abbreviates it (Quota, deploy, svc, hpa): the recorded kind.
    full_kind = canonical_kind(kind) or canonical_kind(kind.removesuffix("s"))
    if full_kind is not None and full_kind != kind:
        spelled = known.canonical(f"{namespace}/{full_kind}/{short}")
        elsewhere = [*([spelled] if spelled else []), *known.candidates(full_kind, short), *elsewhere]
    if kind.lower() == "node" and namespace != "cluster":
        elsewhere = [f"cluster/Node/{short}", *elsewhere]
    if not elsewhere:
        elsewhere = [
            candidate for candidate in known.name_matches(short) if candidate.startswith(f"{namespace}/")
        ]
    hint = f"; did you mean {' or '.join(map(repr, dict.fromkeys(elsewhere)))}?" if elsewhere else ""
    return f"{quoted(name)} does not match any object in the recording{hint}"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class DiagnosisRecorder:
    """Checks and stores submissions for one server."""

    def __init__(self, snapshot: Snapshot, out: Path | None, budget: int | None = None) -> None:
        self._snapshot = snapshot
        self._out = out
        self._budget = budget
        self._lock = threading.Lock()
        self._known: KnownEntities | None = None
        self.count = 0

    def known(self) -> KnownEntities:
        with self._lock:
            if self._known is None:
                self._known = KnownEntities(self._snapshot)
            return self._known

    def submit(self, diagnosis: Diagnosis) -> str:
        """Validate and store ``diagnosis``; returns the reply for the model.

        Raises:
            ToolError: a name is malformed, or no root cause is named.
        """
        known = self.known()
        malformed = list(dict.fromkeys(invalid_entity_names(diagnosis)))
        if malformed:
            fixes = [name_fix(name, known) for name in malformed[:MAX_LISTED]]
            fixes = _listed(fixes + malformed[MAX_LISTED:], "malformed names")
            raise ToolError(self._bounded(f"nothing was recorded: {'; '.join(fixes)}"))
        root_causes = diagnosis.root_causes()
        if not root_causes:
            raise ToolError(
                "nothing was recorded: name at least one root cause, in contributing_factors "
                "(ITBench-AA form) or as an entity with contributing_factor=true (IBM form)"
            )
        named = [f.name for f in diagnosis.contributing_factors] + [e.name for e in diagnosis.entities]
        named += [p.source for p in diagnosis.propagations] + [p.target for p in diagnosis.propagations]
        warnings = [w for name in dict.fromkeys(named) if (w := unknown_name_warning(name, known))]
        causes = _listed(root_causes, "root causes")
        payload = json.dumps(diagnosis.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
        with self._lock:
            if self._out is not None:
                write_atomically(self._out, payload)
            self.count += 1
            number = self.count
        lines = [
            f"Diagnosis recorded (submission {number}"
            + ("; it replaces the earlier one" if number > 1 else "")
            + f"). Root causes, in order: {', '.join(causes)}."
        ]
        if warnings:
            lines.append("Warnings (the names were recorded as given; submit again to change them):")
            lines += [f"  - {warning}" for warning in _listed(warnings, "warnings")]
        return self._bounded("\n".join(lines))

    def _bounded(self, text: str) -> str:
        return text if self._budget is None else clip_text(text, self._budget - 100)


def submit_diagnosis(
    context: ToolContext,
    contributing_factors: Annotated[
        list[ContributingFactor] | None,
        Field(max_length=MAX_ITEMS, description="ITBench-AA form: the root causes, most likely first"),
    ] = None,
    entities: Annotated[
        list[Entity] | None,
        Field(
            max_length=MAX_ITEMS,
            description="IBM form: the entities involved; root causes have contributing_factor=true",
        ),
    ] = None,
    propagations: Annotated[
        list[Propagation] | None,
        Field(max_length=MAX_ITEMS, description="IBM form: how the fault spread, source to target"),
    ] = None,
    alerts_explained: Annotated[
        list[AlertExplained] | None,
        Field(max_length=MAX_ITEMS, description="IBM form: which alerts the diagnosis explains"),
    ] = None,
) -> str:
    """Submit the root causes of the incident: the minimal set of independent causes, not their
    symptoms. Name every entity as namespace/Kind/name (otel-demo/Deployment/ad; cluster-scoped
    objects use 'cluster', as in cluster/Node/worker-1). Give either contributing_factors
    (ITBench-AA form: name, reasoning, evidence) or entities with contributing_factor=true (IBM
    form, optionally with propagations and alerts_explained). Submitting again replaces the
    earlier diagnosis."""
    diagnosis = Diagnosis(
        contributing_factors=list[published.ContributingFactor](contributing_factors or []),
        entities=list[published.Entity](entities or []),
        propagations=list[published.Propagation](propagations or []),
        alerts_explained=list[published.AlertExplained](alerts_explained or []),
    )
    return _recorder(context).submit(diagnosis)


def _recorder(context: ToolContext) -> DiagnosisRecorder:
    settings = context.settings
    return context.service(
        "diagnosis",
        lambda: DiagnosisRecorder(context.snapshot, settings.submission_out, settings.output_budget),
    )


def register_submission_tool(server: MCPServer, context: ToolContext) -> DiagnosisRecorder:
    """Add ``submit_diagnosis`` to ``server``; returns its recorder."""
    add_tool(server, context, submit_diagnosis, title="Submit the diagnosis", annotations=SUBMIT)
    return _recorder(context)
