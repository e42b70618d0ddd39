"""``--agent gemini-cli[:MODEL]``: Google's Gemini CLI, headless (``gemini -p``).

Its settings (``~/.gemini/settings.json``) choose API-key authentication (without it the CLI
exits 41), turn off folder trust, usage statistics, telemetry and updates (they reach the
network), and name the run's server over HTTP with ``trust: true`` (an untrusted server's tools
are silently left out in headless mode). ``--yolo`` approves tool calls, ``--skip-trust`` the
folder, and a model is always given: without ``-m`` a router classifies each prompt first.
A failed MCP server still exits 0, saying "MCP issues detected" on stderr.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import ClassVar

from itbench_eval.agents.base import AgentOutcome
from itbench_eval.agents.cli.base import MCP_SERVER_NAME, CliAgent, CliRun, json_lines

__all__ = ["GeminiCliAgent"]

DEFAULT_MODEL = "gemini-2.5-pro"


class GeminiCliAgent(CliAgent):
    npm_package: ClassVar[str] = "@google/gemini-cli"
    binary_names: ClassVar[list[str]] = ["gemini"]

    def write_configuration(self, run: CliRun) -> None:
        settings = {
            "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
            "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
            "mcpServers": {
                MCP_SERVER_NAME: {
                    "httpUrl": run.endpoint.url,
                    "headers": {"Authorization": f"Bearer {run.endpoint.token}"},
                    "trust": True,
                    "timeout": 300_000,
                }
            },
        }
        folder = run.home / ".gemini"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "settings.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")

    def command(self, binary: Path, run: CliRun) -> list[str]:
        return [
            str(binary), "-p", run.prompt, "--output-format", "stream-json", "--yolo", "--skip-trust",
            "-m", self.config.model or DEFAULT_MODEL,
        ]  # fmt: skip

    def environment(self, run: CliRun) -> dict[str, str]:
        key_env = self.config.api_key_env or "GEMINI_API_KEY"
        key = os.environ.get(key_env) or ("placeholder-for-a-local-endpoint" if run.model_url else "")
        settings = {"GEMINI_API_KEY": key}
        if run.model_url:
            settings["GOOGLE_GEMINI_BASE_URL"] = run.model_url
        return settings

    def default_model_port(self) -> tuple[str, int] | None:
        return ("generativelanguage.googleapis.com", 443)

    def read_outcome(self, stdout: str, stderr: str) -> AgentOutcome:
        result = next((e for e in json_lines(stdout) if e.get("type") == "result"), None)
        stats = (result or {}).get("stats") or {}
        if not stats:
            return AgentOutcome()
        # input_tokens counts the cached ones too ("input" is the uncached part).
        return AgentOutcome(
            tokens_in=stats.get("input_tokens"),
            tokens_out=stats.get("output_tokens"),
            tokens_cached=stats.get("cached"),
        )

    def why_no_calls(self, stdout: str, stderr: str, returncode: int) -> str:
        if "MCP issues detected" in stderr:
            return "its MCP client could not use the server (it printed 'MCP issues detected')"
        return super().why_no_calls(stdout, stderr, returncode)
