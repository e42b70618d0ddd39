"""Find the files of one scenario directory by name pattern, whatever the layout.

Published datasets flatten the recorder's ``raw/`` nesting; the recorder itself writes
``raw/metrics_pod/...`` and a reduced ``lite/`` copy. Both are read: a ``*_raw`` file wins over
its ``lite`` twin. The ground truth and recorder metadata are never part of the result, and
nothing outside the directory is ever read: a symlink is followed only to a regular file inside
the directory, symlinked directories are not entered, and every data-named entry that cannot be
read (a symlink leading out or to the ground truth, a dangling or looping symlink, a directory, a
FIFO) is refused and reported instead.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from itbench_server.errors import NotAScenarioError

__all__ = ["ScenarioFiles", "SourceFile", "find_scenario_files", "never_read", "scenarios_inside"]

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
    device: int = 0  # st_dev and st_ino: the file's identity, shared by its hard links
    inode: int = 0


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


def never_read(name: str) -> bool:
    """Whether a file of this name is the answer key or recorder metadata, never evidence."""
    return bool(_NEVER_READ.match(name))


_OUTSIDE = "symlink leading outside the scenario or to its ground truth; not read"


def _kind_of_mode(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _walk(root: Path, found: ScenarioFiles) -> list[tuple[Path, str]]:
    """(path, relative) of every entry under ``root``, never entering a symlinked directory.

    Hidden entries are left out; a directory that cannot be listed is reported.
    """
    entries: list[tuple[Path, str]] = []
    pending = [(root, "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            with os.scandir(directory) as listing:
                children = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            found.refused.append((prefix.rstrip("/") or ".", f"cannot list: {error.strerror}; not read"))
            continue
        for entry in children:
            if entry.name.startswith("."):
                continue
            relative = prefix + entry.name
            entries.append((Path(entry.path), relative))
            try:
                is_directory = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_directory = False
            if is_directory:
                pending.append((Path(entry.path), relative + "/"))
    return sorted(entries, key=lambda item: Path(item[1]).parts)


def _readable_target(path: Path, resolved_root: Path) -> tuple[Path, os.stat_result] | str:
    """The real file behind ``path`` and its status, or why it is not read.

    A symlink is followed only to a regular file inside the scenario that is not the answer key.
    """
    try:
        status = path.lstat()
    except OSError as error:
        return f"cannot read: {error.strerror}"
    if not stat.S_ISLNK(status.st_mode):
        if not stat.S_ISREG(status.st_mode):
            return f"{_kind_of_mode(status.st_mode)}, not a file; not read"
        try:  # the walk enters no symlinked directory; this holds whatever the walk did
            inside = path.resolve(strict=True).is_relative_to(resolved_root)
        except (RuntimeError, OSError) as error:
            return f"cannot read: {getattr(error, 'strerror', None) or error}"
        return (path, status) if inside else _OUTSIDE
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        target = path.resolve()
        if not target.is_relative_to(resolved_root) or never_read(target.name):
            return _OUTSIDE
        return "dangling symlink (its target does not exist); not read"
    except (RuntimeError, OSError):  # a loop: RuntimeError up to Python 3.12, OSError after
        return "symlink loop; not read"
    if not target.is_relative_to(resolved_root) or never_read(target.name):
        return _OUTSIDE
    try:
        status = target.stat()
    except OSError as error:
        return f"cannot read: {error.strerror}"
    if stat.S_ISDIR(status.st_mode):
        return "symlink to a directory; not followed"
    if not stat.S_ISREG(status.st_mode):
        return f"symlink to {_kind_of_mode(status.st_mode)}, not a file; not read"
    return target, status


_SCENARIO_SUBDIRS = frozenset({"alerts", "raw", "lite", "metrics", "metrics_pod", "metrics_service"})
_LISTED_SCENARIOS = 20


def _looks_like_one_scenario(directory: Path) -> bool:
    """Whether ``directory`` holds evidence of its own: an evidence file at its top, or one of the
    sub-directories a scenario has (``alerts/``, ``raw/``, ``lite/``, ``metrics/``)."""
    try:
        with os.scandir(directory) as listing:
            for entry in listing:
                if entry.name.startswith("."):
                    continue
                if entry.name in _SCENARIO_SUBDIRS and entry.is_dir(follow_symlinks=False):
                    return True
                if _classify(entry.name) is not None and not never_read(entry.name):
                    return True
    except OSError:
        return False
    return False


def _natural_key(name: str) -> list[int | str]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def scenarios_inside(root: Path) -> list[str]:
    """The names of the scenario directories right inside ``root`` when ``root`` is a folder of
    scenarios (a dataset) rather than one scenario; empty when ``root`` is one scenario.

    Reading such a folder as one scenario would merge every incident in it into one.
    """
    if _looks_like_one_scenario(root):
        return []
    try:
        with os.scandir(root) as listing:
            children = [
                entry.name
                for entry in listing
                if not entry.name.startswith(".")
                and entry.is_dir()
                and _looks_like_one_scenario(Path(entry.path))
            ]
    except OSError:
        return []
    return sorted(children, key=_natural_key)


def _refuse_folder_of_scenarios(root: Path) -> None:
    names = scenarios_inside(root)
    if not names:
        return
    listed = ", ".join(names[:_LISTED_SCENARIOS])
    if len(names) > _LISTED_SCENARIOS:
        listed += f" and {len(names) - _LISTED_SCENARIOS} more"
    count = "1 scenario directory" if len(names) == 1 else f"{len(names)} scenario directories"
    raise NotAScenarioError(
        f"{root}: a folder of scenarios, not one scenario; give one of its {count}: {listed} "
        f"(e.g. {root / names[0]}; itbench-eval --scenarios {root} runs them all)"
    )


def find_scenario_files(root: Path) -> ScenarioFiles:
    """Walk ``root`` and classify its evidence files.

    Raises:
        NotAScenarioError: ``root`` is not a directory, holds no evidence file at all, or is a
            folder of scenarios (a dataset) rather than one.
    """
    try:
        if not root.exists():
            raise NotAScenarioError(f"{root}: no such directory")
        if not root.is_dir():
            raise NotAScenarioError(f"{root}: not a directory (give the Scenario-<N>/ directory)")
        resolved_root = root.resolve(strict=True)
    except (OSError, RuntimeError) as error:
        raise NotAScenarioError(f"{root}: cannot open the directory: {error}") from None
    _refuse_folder_of_scenarios(root)
    found = ScenarioFiles(root=root)
    # (kind, entity) -> (is_raw, SourceFile): a *_raw file replaces its lite twin.
    chosen: dict[tuple[SourceKind, str, str], tuple[bool, SourceFile]] = {}
    for path, relative in _walk(root, found):
        if never_read(path.name):
            continue
        classified = _classify(path.name)
        if classified is None:
            if path.is_symlink() and path.is_dir():
                found.refused.append((relative, "symlink to a directory; not followed"))
            continue
        target = _readable_target(path, resolved_root)
        if isinstance(target, str):
            found.refused.append((relative, target))
            continue
        real_path, status = target
        kind, entity, is_raw = classified
        source = SourceFile(
            kind,
            real_path,
            relative,
            status.st_size,
            status.st_mtime_ns,
            entity,
            device=status.st_dev,
            inode=status.st_ino,
        )
        # Alert files are one per minute; every one counts. Others: one per (kind, entity).
        key = (kind, entity, relative if kind == "alerts" else "")
        previous = chosen.get(key)
        if previous is None or (is_raw and not previous[0]):
            chosen[key] = (is_raw, source)
    found.sources = sorted((source for _, source in chosen.values()), key=lambda s: s.relative)
    found.refused.sort()
    if not found.sources:
        passed_over = "".join(f"; {relative}: {reason}" for relative, reason in found.refused[:3])
        if len(found.refused) > 3:
            passed_over += f"; and {len(found.refused) - 3} more passed over"
        raise NotAScenarioError(
            f"{root}: no scenario files found (expected otel_logs_raw.tsv, otel_traces_raw.tsv, "
            f"k8s_events_raw.tsv, k8s_objects_raw.tsv, metrics/*.tsv or alerts/*.json){passed_over}"
        )
    return found
