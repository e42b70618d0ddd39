"""``--agent codex[:MODEL]``: OpenAI's Codex CLI, headless (``codex exec --json``).

Its configuration (``$CODEX_HOME/config.toml``) names the run's server over HTTP, with the
bearer token read from an environment variable, and ``required = true``: without it Codex sends
its first model request before the server has listed its tools and exits 0 having called
nothing. Plugins, apps and analytics are off (they reach the network), approvals are never
asked, and Codex's own sandbox is off (``danger-full-access``): it would nest bubblewrap, which
fails inside ours, and ours confines it. A ``--base-url`` becomes a model provider of its own
speaking the Responses API.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import ClassVar

from itbench_eval.agents.base import AgentOutcome
from itbench_eval.agents.cli.base import MCP_SERVER_NAME, CliAgent, CliRun, json_lines

__all__ = ["CodexAgent"]

TOKEN_ENV = "ITBENCH_SERVER_TOKEN"
DEFAULT_MODEL = "gpt-5-codex"


def _toml(value: object) -> str:
    """A TOML value: JSON's string, number and boolean syntax is TOML's too."""
    return json.dumps(value)


class CodexAgent(CliAgent):
    npm_package: ClassVar[str] = "@openai/codex"
    binary_names: ClassVar[list[str]] = ["codex"]

    def _codex_home(self, run: CliRun) -> Path:
        return run.home / ".codex"

    def _key_env(self) -> str:
        return self.config.api_key_env or "OPENAI_API_KEY"

    def write_configuration(self, run: CliRun) -> None:
        lines = [
            f"model = {_toml(self.config.model or DEFAULT_MODEL)}",
            'approval_policy = "never"',
            'sandbox_mode = "danger-full-access"',
        ]
        if run.model_url:
            lines.append('model_provider = "itbench"')
        lines += ["", "[features]", "plugins = false", "apps = false", "remote_plugin = false"]
        lines += ["", "[analytics]", "enabled = false"]
        if run.model_url:
            lines += [
                "", "[model_providers.itbench]", 'name = "itbench"', f"base_url = {_toml(run.model_url)}",
                'wire_api = "responses"', f"env_key = {_toml(self._key_env())}",
                "request_max_retries = 2", "stream_max_retries = 2",
            ]  # fmt: skip
        lines += [
            "", f"[mcp_servers.{MCP_SERVER_NAME}]", f"url = {_toml(run.endpoint.url)}",
            f"bearer_token_env_var = {_toml(TOKEN_ENV)}", "required = true", "startup_timeout_sec = 60",
            "tool_timeout_sec = 300",
        ]  # fmt: skip
        home = self._codex_home(run)
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def command(self, binary: Path, run: CliRun) -> list[str]:
        return [str(binary), "exec", "--json", "--skip-git-repo-check", run.prompt]

    def environment(self, run: CliRun) -> dict[str, str]:
        key = os.environ.get(self._key_env()) or (
            "sk-placeholder-for-a-local-endpoint" if run.model_url else ""
        )
        return {"CODEX_HOME": str(self._codex_home(run)), TOKEN_ENV: run.endpoint.token, self._key_env(): key}

    def default_model_port(self) -> tuple[str, int] | None:
        return ("api.openai.com", 443)

    def read_outcome(self, stdout: str, stderr: str) -> AgentOutcome:
        tokens_in = tokens_out = cached = reasoning = turns = 0
        seen = False
        for event in json_lines(stdout):
            usage = event.get("usage") if event.get("type") == "turn.completed" else None
            if isinstance(usage, dict):
                seen = True
                turns += 1
                tokens_in += int(usage.get("input_tokens") or 0)
                cached += int(usage.get("cached_input_tokens") or 0)
                tokens_out += int(usage.get("output_tokens") or 0)
                reasoning += int(usage.get("reasoning_output_tokens") or 0)
        if not seen:
            return AgentOutcome()
        return AgentOutcome(
            tokens_in=tokens_in, tokens_out=tokens_out, tokens_cached=cached, tokens_reasoning=reasoning
        )

    def why_no_calls(self, stdout: str, stderr: str, returncode: int) -> str:
        for line in stderr.splitlines():
            if (
                "unsupported call" in line
                or "MCP client for" in line
                or ("mcp" in line.lower() and "error" in line.lower())
            ):
                return f"its MCP client failed: {line.strip()[:400]}"
        errors = [
            e.get("message") for e in json_lines(stdout) if e.get("type") == "error" and e.get("message")
        ]
        if errors:
            return f"it reported: {str(errors[-1])[:400]}"
        return super().why_no_calls(stdout, stderr, returncode)
