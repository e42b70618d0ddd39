"""Find the files of one scenario directory by name pattern, whatever the layout.

Published datasets flatten the recorder's ``raw/`` nesting; the recorder itself writes
``raw/metrics_pod/...`` and a reduced ``lite/`` copy. Both are read: a ``*_raw`` file wins over
its ``lite`` twin. The ground truth and recorder metadata are never part of the result, and
nothing outside the directory is followed (a symlink leading out, or to the ground truth, is
refused and reported).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from itbench_server.errors import NotAScenarioError

SourceKind = Literal["logs", "spans", "events", "objects", "pod_metrics", "service_metrics", "alerts"]

_TSV_SOURCES: dict[str, SourceKind] = {
    "otel_logs": "logs",
    "otel_traces": "spans",
    "k8s_events": "events",
    "k8s_objects": "objects",
}
_METRIC_FILE = re.compile(r"^(pod|service)_(?P<entity>.+?)(?P<raw>_raw)?\.tsv$")
_ALERT_FILE = re.compile(r"^alerts(_at_|_in_alerting_state_|_).*\.json$|^alerts\.json$")
_NEVER_READ = re.compile(r"^(ground_?truth.*|data\.jsonl|status\.json|assertion\.json)$", re.IGNORECASE)


@dataclass(frozen=True)
class SourceFile:
    """One evidence file of a scenario."""

    kind: SourceKind
    path: Path
    relative: str  # path relative to the scenario directory, with '/' separators
    size: int
    mtime_ns: int
    entity: str = ""  # the pod or service a metrics file is about


@dataclass
class ScenarioFiles:
    """Everything found in a scenario directory, and what was passed over and why."""

    root: Path
    sources: list[SourceFile] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (relative path, reason)

    def of_kind(self, kind: SourceKind) -> list[SourceFile]:
        return [source for source in self.sources if source.kind == kind]


def _classify(name: str) -> tuple[SourceKind, str, bool] | None:
    """(kind, entity, is_raw) for an evidence file name, or None."""
    if name.endswith(".tsv"):
        stem = name.removesuffix(".tsv")
        is_raw = stem.endswith("_raw")
        base = stem.removesuffix("_raw")
        if base in _TSV_SOURCES:
            return _TSV_SOURCES[base], "", is_raw
        match = _METRIC_FILE.match(name)
        if match:
            kind: SourceKind = "pod_metrics" if match.group(1) == "pod" else "service_metrics"
            return kind, match.group("entity"), bool(match.group("raw"))
        return None
    if name.endswith(".json") and _ALERT_FILE.match(name):
        return "alerts", "", True
    return None


def find_scenario_files(root: Path) -> ScenarioFiles:
    """Walk ``root`` and classify its evidence files.

    Raises:
        NotAScenarioError: ``root`` is not a directory or holds no evidence file at all.
    """
    if not root.exists():
        raise NotAScenarioError(f"{root}: no such directory")
    if not root.is_dir():
        raise NotAScenarioError(f"{root}: not a directory (give the Scenario-<N>/ directory)")
    resolved_root = root.resolve()
    found = ScenarioFiles(root=root)
    # (kind, entity) -> (is_raw, SourceFile): a *_raw file replaces its lite twin.
    chosen: dict[tuple[SourceKind, str, str], tuple[bool, SourceFile]] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if _NEVER_READ.match(path.name):
            continue
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        classified = _classify(path.name)
        if classified is None:
            continue
        if path.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(resolved_root) or _NEVER_READ.match(target.name):
                found.refused.append(
                    (relative, "symlink leading outside the scenario or to its ground truth; not read")
                )
                continue
        if not path.is_file():
            continue
        kind, entity, is_raw = classified
        stat = path.stat()
        source = SourceFile(kind, path, relative, stat.st_size, stat.st_mtime_ns, entity)
        # Alert files are one per minute; every one counts. Others: one per (kind, entity).
        key = (kind, entity, relative if kind == "alerts" else "")
        previous = chosen.get(key)
        if previous is None or (is_raw and not previous[0]):
            chosen[key] = (is_raw, source)
    found.sources = sorted((source for _, source in chosen.values()), key=lambda s: s.relative)
    if not found.sources:
        raise NotAScenarioError(
            f"{root}: no scenario files found (expected otel_logs_raw.tsv, otel_traces_raw.tsv, "
            "k8s_events_raw.tsv, k8s_objects_raw.tsv, metrics/*.tsv or alerts/*.json)"
        )
    return found
