"""``itbench-eval merge OUT SHARD_DIR...``: the results of ``--shard I/N`` jobs as one evaluation.

Every shard's ``settings.json`` must agree (the same agent, repeats, seed, scenarios and the
conditions :func:`~itbench_eval.settings.differences_that_matter` checks); rows are joined and
deduplicated by their key (task, agent, repeat), and each row's run directory is hard-linked into
OUT where the filesystem allows, else copied.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from itbench_eval.errors import EvalError
from itbench_eval.results import RESULTS_FILE, RunResult, append_result, read_results
from itbench_eval.settings import RunSettings, differences_that_matter, read_settings, write_settings

__all__ = ["MergeError", "merge_results"]


class MergeError(EvalError, ValueError):
    """The shards cannot be merged; the message says why."""


def _disagreements(first: RunSettings, other: RunSettings) -> list[str]:
    found = differences_that_matter(first, other)
    for name in ("agent", "repeats", "seed"):
        if getattr(first, name) != getattr(other, name):
            found.append(f"{name}: {getattr(first, name)} vs {getattr(other, name)}")
    if set(first.scenarios) != set(other.scenarios):
        found.append(f"scenarios: {sorted(first.scenarios)} vs {sorted(other.scenarios)}")
    return found


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def merge_results(out: Path, shard_dirs: Sequence[Path]) -> list[RunResult]:
    """Join ``shard_dirs`` into ``out`` (new or empty of results); return the merged rows.

    Raises:
        MergeError: no shard, a shard without settings.json or results, shards whose settings
            disagree, or an ``out`` that already holds results.
    """
    if not shard_dirs:
        raise MergeError("merge: name at least one shard directory")
    settings: RunSettings | None = None
    for shard in shard_dirs:
        if not (shard / RESULTS_FILE).is_file():
            raise MergeError(f"merge: {shard} holds no {RESULTS_FILE}")
        current = read_settings(shard)
        if current is None:
            raise MergeError(f"merge: {shard} holds no settings.json")
        if settings is None:
            settings = current
        elif differences := _disagreements(settings, current):
            raise MergeError(
                f"merge: {shard} was run under other conditions than {shard_dirs[0]} ({'; '.join(differences)})"
            )
    assert settings is not None
    if (out / RESULTS_FILE).exists():
        raise MergeError(f"merge: {out} already holds {RESULTS_FILE}; merge into a new directory")
    out.mkdir(parents=True, exist_ok=True)
    merged: dict[tuple[str, str, int], RunResult] = {}
    for shard in shard_dirs:
        for row in read_results(shard / RESULTS_FILE):
            if row.key in merged:
                continue
            merged[row.key] = row
            source = shard / row.run_dir
            if source.is_dir():
                target = out / row.run_dir
                with contextlib.suppress(FileNotFoundError):
                    shutil.rmtree(target)
                shutil.copytree(source, target, copy_function=_link_or_copy)
    write_settings(out, settings)
    rows = sorted(merged.values(), key=lambda row: (row.task, row.agent, row.repeat))
    for row in rows:
        append_result(out / RESULTS_FILE, row)
    return rows
