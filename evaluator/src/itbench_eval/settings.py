"""``settings.json``: how the runs of a results directory were made, so they can be compared.

It records the agent and its model, every model argument, the turn cap, the time limit, the
final-answer policy, a hash of the task prompt, the server's version and tool profile, a
fingerprint of each scenario's data, and the price table's date. :func:`differences_that_matter`
says which of these make two results directories incomparable: everything that sets the
conditions of the benchmark, not the agent under test (its model, model arguments, base URL or
prices may differ; that is what a comparison is for).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from itbench_eval import __version__
from itbench_eval.errors import EvalError
from itbench_eval.prompt import AA_TASK_PROMPT, TASK_PROMPT

__all__ = [
    "SETTINGS_FILE",
    "RunSettings",
    "SettingsError",
    "build_settings",
    "differences_that_matter",
    "prompt_hash",
    "read_settings",
    "scenario_fingerprint",
    "server_facts",
    "write_settings",
]

SETTINGS_FILE = "settings.json"
# Never part of a scenario's data (the server never reads them either): answer keys, run status.
_NOT_DATA = re.compile(r"^(ground_?truth.*|data\.jsonl|status\.json|assertion\.json)$", re.IGNORECASE)
_DATA_SUFFIXES = (".tsv", ".json", ".jsonl", ".yaml", ".yml", ".csv", ".txt", ".parquet", ".gz")


class SettingsError(EvalError, ValueError):
    """A ``settings.json`` cannot be read; the message names the file."""


class RunSettings(BaseModel):
    """The settings of the runs in one results directory."""

    model_config = ConfigDict(extra="ignore")

    itbench_eval_version: str
    written_at: str
    agent: str
    model: str | None = None
    model_args: dict[str, Any] | None = None
    agent_settings: dict[str, Any] = {}
    max_turns: int
    timeout_s: float | None
    final_answer: str | None = None
    repeats: int
    seed: int
    prompt_sha256: str
    server_version: str
    tool_profile: str
    server_options: dict[str, Any] = Field(
        default_factory=dict,
        description="the servers' own settings given by the evaluator (call_timeout, ...)",
    )
    scenarios: dict[str, str]
    price_table_as_of: str | None = None


def prompt_hash(profile: str = "full") -> str:
    """The SHA-256 of the task prompt's text for ``profile`` (its turn cap left as a
    placeholder: that is recorded on its own)."""
    template = AA_TASK_PROMPT if profile == "aa" else TASK_PROMPT
    return hashlib.sha256(template.encode("utf-8")).hexdigest()


def scenario_fingerprint(scenario_dir: Path) -> str:
    """A digest of a scenario's data: every file's path and content, the answer key left out.

    Paths are relative, so the same data gives the same fingerprint on any machine.
    """
    digest = hashlib.sha256()
    root = scenario_dir.resolve()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        if _NOT_DATA.match(path.name) or not path.name.lower().endswith(_DATA_SUFFIXES):
            continue
        file_digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                file_digest.update(chunk)
        digest.update(f"{relative.as_posix()}\t{file_digest.hexdigest()}\n".encode())
    return digest.hexdigest()[:24]


def server_facts() -> tuple[str, str]:
    """(the installed server's version, the tool profile the runner serves)."""
    from itbench_server import __version__ as server_version
    from itbench_server.mcp.settings import ServerSettings

    return server_version, str(ServerSettings().profile)


def build_settings(
    *,
    agent: str,
    agent_settings: dict[str, Any] | None,
    max_turns: int,
    timeout_s: float | None,
    repeats: int,
    seed: int,
    scenarios: Iterable[tuple[str, Path]],
    profile: str = "full",
    server_options: dict[str, Any] | None = None,
) -> RunSettings:
    """The settings of an evaluation about to run ``scenarios`` (``(task id, directory)`` pairs)."""
    described = dict(agent_settings or {})
    server_version, _ = server_facts()
    tool_profile = profile
    return RunSettings(
        itbench_eval_version=__version__,
        written_at=datetime.now(UTC).isoformat(timespec="seconds"),
        agent=agent,
        model=described.get("model"),
        model_args=described.get("model_args"),
        agent_settings=described,
        max_turns=max_turns,
        timeout_s=timeout_s,
        final_answer=described.get("final_answer"),
        repeats=repeats,
        seed=seed,
        prompt_sha256=prompt_hash(profile),
        server_version=server_version,
        tool_profile=tool_profile,
        server_options=dict(server_options or {}),
        scenarios={task_id: scenario_fingerprint(directory) for task_id, directory in scenarios},
        price_table_as_of=described.get("price_table_as_of"),
    )


def write_settings(results_dir: Path, settings: RunSettings) -> Path:
    path = results_dir / SETTINGS_FILE
    path.write_text(json.dumps(settings.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    return path


def read_settings(results_dir: Path) -> RunSettings | None:
    """The settings of ``results_dir``; None when it has none (results from before they existed).

    Raises:
        SettingsError: the file exists but cannot be read.
    """
    path = results_dir / SETTINGS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SettingsError(f"{path}: cannot read: {error}") from None
    try:
        return RunSettings.model_validate(data)
    except ValidationError as error:
        raise SettingsError(f"{path}: not a settings file: {str(error).splitlines()[0]}") from None


def differences_that_matter(a: RunSettings, b: RunSettings, *, across_profiles: bool = False) -> list[str]:
    """How ``a`` and ``b`` differ in the conditions of the benchmark, one line each.

    The final-answer policy counts only when both agents have one (a model agent against the
    baseline is a fair comparison); scenario data only for the tasks both ran. With
    ``across_profiles`` (comparing results, not resuming them), the tool profile is what is being
    compared: it and the prompt that goes with it do not count.
    """
    found: list[str] = []

    def compare(name: str, value_a: object, value_b: object) -> None:
        if value_a != value_b:
            found.append(f"{name}: {value_a} vs {value_b}")

    compare("max_turns", a.max_turns, b.max_turns)
    compare("timeout_s", a.timeout_s, b.timeout_s)
    if a.final_answer is not None and b.final_answer is not None:
        compare("final_answer", a.final_answer, b.final_answer)
    if not (across_profiles and a.tool_profile != b.tool_profile):
        compare("prompt_sha256", a.prompt_sha256[:12], b.prompt_sha256[:12])
        compare("tool_profile", a.tool_profile, b.tool_profile)
    compare("server_version", a.server_version, b.server_version)
    compare("server_options", a.server_options, b.server_options)
    for task in sorted(a.scenarios.keys() & b.scenarios.keys()):
        compare(f"scenario {task} data", a.scenarios[task], b.scenarios[task])
    return found
