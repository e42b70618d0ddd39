"""Harbor tasks: ``itbench-eval export-harbor --scenarios ... --out DIR``.

One task directory per scenario, in Harbor's task layout (harbor 0.26.0, ``TaskPaths``)::

    DIR/<task>/
      task.toml            # [task] itbench/<task>, timeouts, [[environment.mcp_servers]] itbench
      instruction.md       # the evaluator's prompt
      environment/
        Dockerfile         # python:3.11-slim + itbench-server and itbench-eval + the scenario
        scenario/          # the recording, without its answer key
        dist/              # the two distributions' sources (from a source checkout)
      tests/
        test.sh            # the verifier: ITBench-AA's score -> /logs/verifier/reward.json
        ground_truth.yaml  # the answer key: reaches the container only when the verifier runs
      solution/
        solve.sh           # for Harbor's oracle agent: the answer key's root causes

The agent reaches the incident through the MCP server ``itbench`` that the task declares
(stdio, ``itbench-server serve /scenario --submission-out /logs/agent/submission.json``); the
verifier scores that submission file. ``reward.json`` holds ``reward`` (the score) and ``tp``,
``fp``, ``fn``; ``score.json`` beside it has each name's verdict.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from itbench_eval import __version__
from itbench_eval.groundtruth import oracle_names
from itbench_eval.prompt import build_prompt
from itbench_eval.tasks import Task, is_answer_key

__all__ = [
    "MCP_SERVER_NAME",
    "SUBMISSION_PATH",
    "add_export_harbor_command",
    "export_harbor",
    "harbor_task_name",
    "run_export_harbor",
]

MCP_SERVER_NAME = "itbench"
SCENARIO_PATH = "/scenario"
SUBMISSION_PATH = "/logs/agent/submission.json"
AUDIT_PATH = "/logs/agent/audit.jsonl"
CACHE_PATH = "/opt/itbench/cache"
BASE_IMAGE = "python:3.11-slim"

Install = Literal["source", "pypi"]


def harbor_task_name(task_id: str) -> str:
    """A directory and package name Harbor accepts: letters, digits, ``.``, ``_``, ``-``."""
    name = "".join(char if char.isalnum() or char in "._-" else "-" for char in task_id.lower()).strip(".-_")
    return name or "task"


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _toml_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_toml_string(value) for value in values) + "]"


def _source_tree() -> Path | None:
    """The checkout holding server/ and evaluator/ (an editable install), if this is one."""
    root = Path(__file__).resolve().parents[4]
    if (root / "server" / "pyproject.toml").is_file() and (root / "evaluator" / "pyproject.toml").is_file():
        return root
    return None


def _server_args() -> list[str]:
    return [
        "serve", SCENARIO_PATH, "--submission-out", SUBMISSION_PATH,
        "--audit-log", AUDIT_PATH, "--cache-dir", CACHE_PATH,
    ]  # fmt: skip


def _task_toml(task: Task, name: str, agent_timeout_s: float, verifier_timeout_s: float) -> str:
    description = (
        f"Diagnose the root causes of the recorded Kubernetes incident {task.id} (ITBench-AA scoring)."
    )
    return "\n".join(
        [
            'schema_version = "1.4"',
            f"source = {_toml_string('itbench-mcp ' + __version__)}",
            "",
            "[task]",
            f"name = {_toml_string('itbench/' + name)}",
            f"description = {_toml_string(description)}",
            f"keywords = {_toml_list(['sre', 'kubernetes', 'root-cause-analysis', 'mcp', 'itbench'])}",
            "",
            "[metadata]",
            f"scenario = {_toml_string(task.id)}",
            'scoring = "ITBench-AA: precision over the submitted names once every root cause is named, else 0"',
            "",
            "[agent]",
            f"timeout_sec = {float(agent_timeout_s)}",
            "",
            "[verifier]",
            f"timeout_sec = {float(verifier_timeout_s)}",
            "",
            "[environment]",
            "build_timeout_sec = 1800.0",
            "cpus = 2",
            "memory_mb = 4096",
            "",
            "[[environment.mcp_servers]]",
            f"name = {_toml_string(MCP_SERVER_NAME)}",
            'transport = "stdio"',
            'command = "itbench-server"',
            f"args = {_toml_list(_server_args())}",
            "",
        ]
    )


def _instruction(max_turns: int) -> str:
    return (
        build_prompt(max_turns)
        + f"\n\nThe tools are those of the MCP server `{MCP_SERVER_NAME}`. Your answer is what you pass to "
        "its `submit_diagnosis` tool; nothing else you write is scored.\n"
    )


def _dockerfile(install: Install) -> str:
    lines = [f"FROM {BASE_IMAGE}", "ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1", "WORKDIR /app"]
    if install == "source":
        lines += [
            "COPY dist /opt/itbench/dist",
            "RUN pip install /opt/itbench/dist/server /opt/itbench/dist/evaluator",
        ]
    else:
        lines += [f"RUN pip install itbench-server=={__version__} itbench-eval=={__version__}"]
    lines += [
        f"COPY scenario {SCENARIO_PATH}",
        f"RUN mkdir -p {CACHE_PATH} /logs/agent",
        "",
    ]
    return "\n".join(lines)


_TEST_SH = f"""#!/bin/bash
# The verifier: score {SUBMISSION_PATH} against /tests/ground_truth.yaml the way ITBench-AA does.
set -u
mkdir -p /logs/verifier
if itbench-eval score --ground-truth /tests/ground_truth.yaml --submission {SUBMISSION_PATH} \\
    > /logs/verifier/score.json 2> /logs/verifier/score.stderr; then
  python3 - <<'PY'
import json
score = json.load(open("/logs/verifier/score.json"))
rewards = {{"reward": score["score"], "tp": score["tp"], "fp": score["fp"], "fn": score["fn"]}}
json.dump(rewards, open("/logs/verifier/reward.json", "w"))
PY
else
  # No submission, or one that cannot be read: score 0 (the reason is in score.stderr).
  echo '{{"reward": 0.0, "tp": 0, "fp": 0, "fn": 0}}' > /logs/verifier/reward.json
fi
cat /logs/verifier/reward.json
"""


def _solve_sh(task: Task) -> str:
    submission = {"contributing_factors": [{"name": name} for name in oracle_names(task.ground_truth())]}
    text = json.dumps(submission)
    return (
        "#!/bin/bash\n# Harbor's oracle agent: submit the answer key's root causes.\nset -eu\n"
        f"mkdir -p {shlex.quote(str(Path(SUBMISSION_PATH).parent))}\n"
        f"printf '%s\\n' {shlex.quote(text)} > {SUBMISSION_PATH}\n"
    )


def _copy_scenario(source: Path, target: Path) -> None:
    def ignore(directory: str, names: list[str]) -> list[str]:
        return [name for name in names if is_answer_key(name) or name.startswith(".")]

    shutil.copytree(source, target, ignore=ignore, symlinks=False)


def _copy_distributions(root: Path, target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*", "tests")
    for name in ("server", "evaluator"):
        shutil.copytree(root / name, target / name, ignore=ignore)


def _write(path: Path, text: str, executable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if executable:
        path.chmod(0o755)


def export_harbor(
    tasks: Sequence[Task],
    out_dir: Path,
    *,
    install: Install | None = None,
    max_turns: int = 100,
    agent_timeout_s: float = 1800.0,
    verifier_timeout_s: float = 600.0,
) -> list[Path]:
    """Write one Harbor task directory per task under ``out_dir``; returns their paths.

    ``install``: ``source`` copies this checkout's server/ and evaluator/ into each task's
    environment (the default in a source checkout), ``pypi`` installs the released versions.
    """
    root = _source_tree()
    install = install or ("source" if root is not None else "pypi")
    if install == "source" and root is None:
        raise ValueError("install='source' needs a source checkout of itbench-mcp; use install='pypi'")
    written: list[Path] = []
    for task in tasks:
        name = harbor_task_name(task.id)
        task_dir = out_dir / name
        if task_dir.exists():
            shutil.rmtree(task_dir)
        environment = task_dir / "environment"
        _write(task_dir / "task.toml", _task_toml(task, name, agent_timeout_s, verifier_timeout_s))
        _write(task_dir / "instruction.md", _instruction(max_turns))
        _write(environment / "Dockerfile", _dockerfile(install))
        _copy_scenario(task.scenario_dir, environment / "scenario")
        if install == "source" and root is not None:
            _copy_distributions(root, environment / "dist")
        _write(task_dir / "tests" / "test.sh", _TEST_SH, executable=True)
        _write(task_dir / "tests" / "ground_truth.yaml", task.ground_truth_text)
        _write(task_dir / "solution" / "solve.sh", _solve_sh(task), executable=True)
        written.append(task_dir)
    return written


# ---------------------------------------------------------------------------------------------
# itbench-eval export-harbor


def add_export_harbor_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export-harbor",
        help="write Harbor tasks, one per scenario",
        description="Write one Harbor task per scenario: instruction, an environment with the server, "
        "a verifier that runs the ITBench-AA scorer.",
    )
    parser.add_argument(
        "--scenarios",
        type=Path,
        nargs="+",
        default=None,
        metavar="PATH",
        help="scenario dirs, dataset dirs of Scenario-* dirs, or a data.jsonl (default: bundled fixtures/)",
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="where the task directories go"
    )
    parser.add_argument(
        "--install",
        choices=["source", "pypi"],
        default=None,
        help="how the image gets itbench-server and itbench-eval: this checkout's sources "
        "(default in a checkout) or PyPI",
    )
    parser.add_argument(
        "--max-turns", type=int, default=100, help="the turn cap the prompt states (default 100)"
    )
    parser.add_argument("--agent-timeout", type=float, default=1800.0, metavar="S", help="default 1800")
    parser.add_argument("--verifier-timeout", type=float, default=600.0, metavar="S", help="default 600")
    parser.set_defaults(handler=run_export_harbor)


def run_export_harbor(arguments: argparse.Namespace) -> int:
    from itbench_eval.tasks import TaskError, discover_tasks

    try:
        tasks = discover_tasks(arguments.scenarios)
        written = export_harbor(
            tasks,
            arguments.out,
            install=arguments.install,
            max_turns=arguments.max_turns,
            agent_timeout_s=arguments.agent_timeout,
            verifier_timeout_s=arguments.verifier_timeout,
        )
    except (TaskError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0
