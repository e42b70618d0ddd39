"""``--agent stirrup:MODEL``: Artificial Analysis' Stirrup harness, the one ITBench-AA's scores came from.

Stirrup needs Python >= 3.12 and an ``mcp`` 1.x client, so it lives in an environment of its
own: ``--stirrup-env DIR`` names one, else the evaluator makes one on first use in its cache
(``python3.12 -m venv`` and ``pip install "stirrup[mcp]==0.2.1" "mcp<2" lxml_html_clean``; about a
minute, once). The run starts :mod:`~itbench_eval.agents.cli.stirrup_driver` there, confined like
the other CLI agents, with the run's server as Stirrup's MCP server (Streamable HTTP) and the
model at ``--base-url`` (an OpenAI-compatible endpoint; Stirrup's Chat Completions client).
Stirrup's loop ends when the model calls its ``finish`` tool.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import ClassVar

from itbench_eval.agents.base import AgentOutcome
from itbench_eval.agents.cli.base import MCP_SERVER_NAME, CliAgent, CliRun, CliSetupError, json_lines

__all__ = ["STIRRUP_REQUIREMENTS", "StirrupAgent", "find_python312", "stirrup_environment"]

STIRRUP_REQUIREMENTS = ("stirrup[mcp]==0.2.1", "mcp<2", "lxml_html_clean")
DRIVER = Path(__file__).with_name("stirrup_driver.py")


def _default_env_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "itbench-eval" / "stirrup-venv"


def find_python312() -> str | None:
    """A Python 3.12 or newer to make Stirrup's environment with: on PATH, or one pyenv installed."""
    candidates = [shutil.which(name) for name in ("python3.12", "python3.13", "python3.14")]
    candidates += sorted(str(path) for path in Path.home().glob(".pyenv/versions/3.1[2-9]*/bin/python3"))
    for candidate in candidates:
        if candidate is None:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; sys.exit(sys.version_info < (3, 12))"],
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            return candidate
    return None


def stirrup_environment(env_dir: Path | None = None, *, create: bool = True) -> Path:
    """The Python of a Stirrup environment: ``env_dir`` or the cached one, made on first use.

    Raises:
        CliSetupError: no Python >= 3.12 to make it with, or the installation failed.
    """
    directory = env_dir or _default_env_dir()
    python = directory / "bin" / "python"
    if python.exists():
        return python
    if env_dir is not None or not create:
        raise CliSetupError(f"--stirrup-env {directory}: no Python environment there (bin/python is missing)")
    interpreter = find_python312()
    if interpreter is None:
        raise CliSetupError("Stirrup needs Python 3.12 or newer, and none is on PATH (python3.12)")
    directory.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [interpreter, "-m", "venv", str(directory)],
        [str(python), "-m", "pip", "install", "--quiet", *STIRRUP_REQUIREMENTS],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            shutil.rmtree(directory, ignore_errors=True)
            raise CliSetupError(
                f"cannot make Stirrup's environment ({' '.join(step[:3])}): {done.stderr.strip()[-400:]}"
            )
    return python


class StirrupAgent(CliAgent):
    npm_package: ClassVar[str] = ""

    def binary(self) -> Path:
        return stirrup_environment(self.config.binary.parent.parent if self.config.binary else None)

    def extra_mounts(self) -> list[Path]:
        python = self.binary()
        base = subprocess.run(
            [str(python), "-c", "import sys; print(sys.base_prefix)"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        return [python.parent.parent, *([Path(base)] if base else []), DRIVER]

    def write_configuration(self, run: CliRun) -> None:
        server = {"url": run.endpoint.url, "headers": {"Authorization": f"Bearer {run.endpoint.token}"}}
        run.mcp_config_file.write_text(json.dumps({"mcpServers": {MCP_SERVER_NAME: server}}, indent=2))

    def command(self, binary: Path, run: CliRun) -> list[str]:
        if not self.config.model:
            raise CliSetupError("--agent stirrup:MODEL: name the model")
        base_url = ["--base-url", run.model_url] if run.model_url else []
        return [
            str(binary), "-I", str(DRIVER), "--mcp-config", str(run.mcp_config_file), "--model", self.config.model,
            *base_url, "--api-key-env", self.config.api_key_env or "OPENAI_API_KEY",
            "--prompt-file", str(run.prompt_file), "--output-dir", str(run.work / "stirrup"),
        ]  # fmt: skip

    def environment(self, run: CliRun) -> dict[str, str]:
        key_env = self.config.api_key_env or "OPENAI_API_KEY"
        return {key_env: os.environ.get(key_env, "")} if os.environ.get(key_env) else {}

    def default_model_port(self) -> tuple[str, int] | None:
        return ("api.openai.com", 443)

    def read_outcome(self, stdout: str, stderr: str) -> AgentOutcome:
        summary = next((line for line in json_lines(stdout) if "finished" in line), None)
        if summary is None:
            return AgentOutcome()
        return AgentOutcome(
            model_requests=summary.get("turns"), note="finished" if summary.get("finished") else ""
        )
