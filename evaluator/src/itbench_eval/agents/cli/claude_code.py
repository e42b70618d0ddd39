"""``--agent claude-code[:MODEL]``: Anthropic's Claude Code, headless (``claude -p``).

Its MCP configuration (``--mcp-config``, with ``--strict-mcp-config`` so no other server is
loaded) names the run's server over HTTP with its bearer token. ``bypassPermissions`` lets it
use the tools unattended (as root it also needs ``IS_SANDBOX=1``); without a permission mode
it exits 0 having been refused every call. Non-essential traffic, telemetry, error reports and
updates are turned off. Its ``stream-json`` output gives the tokens, the cost and the turns, and
its ``system/init`` event says whether the MCP server connected: a failed server still exits 0.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import ClassVar

from itbench_eval.agents.base import AgentOutcome
from itbench_eval.agents.cli.base import MCP_SERVER_NAME, CliAgent, CliRun, json_lines

__all__ = ["ClaudeCodeAgent"]

PLACEHOLDER_KEY = "sk-ant-placeholder-for-a-local-endpoint"


class ClaudeCodeAgent(CliAgent):
    npm_package: ClassVar[str] = "@anthropic-ai/claude-code"
    binary_names: ClassVar[list[str]] = ["claude"]

    def write_configuration(self, run: CliRun) -> None:
        server = {
            "type": "http",
            "url": run.endpoint.url,
            "headers": {"Authorization": f"Bearer {run.endpoint.token}"},
        }
        run.mcp_config_file.write_text(json.dumps({"mcpServers": {MCP_SERVER_NAME: server}}, indent=2))

    def command(self, binary: Path, run: CliRun) -> list[str]:
        model = ["--model", self.config.model] if self.config.model else []
        return [
            str(binary), "-p", run.prompt, "--mcp-config", str(run.mcp_config_file), "--strict-mcp-config",
            "--output-format", "stream-json", "--verbose", "--permission-mode", "bypassPermissions", *model,
        ]  # fmt: skip

    def environment(self, run: CliRun) -> dict[str, str]:
        key_env = self.config.api_key_env or "ANTHROPIC_API_KEY"
        key = os.environ.get(key_env) or (PLACEHOLDER_KEY if run.model_url else "")
        settings = {
            "ANTHROPIC_API_KEY": key,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "IS_SANDBOX": "1",
            "CLAUDE_CODE_TMPDIR": "/tmp",
        }
        if run.model_url:
            settings["ANTHROPIC_BASE_URL"] = run.model_url
        return settings

    def default_model_port(self) -> tuple[str, int] | None:
        return ("api.anthropic.com", 443)

    def read_outcome(self, stdout: str, stderr: str) -> AgentOutcome:
        result = next((event for event in json_lines(stdout) if event.get("type") == "result"), None)
        if result is None:
            return AgentOutcome()
        usage = result.get("usage") or {}
        cached = int(usage.get("cache_read_input_tokens") or 0)
        written = int(usage.get("cache_creation_input_tokens") or 0)
        return AgentOutcome(
            tokens_in=int(usage.get("input_tokens") or 0) + cached + written,
            tokens_out=int(usage.get("output_tokens") or 0),
            tokens_cached=cached,
            cost_usd=result.get("total_cost_usd"),
            model_requests=result.get("num_turns"),
        )

    def why_no_calls(self, stdout: str, stderr: str, returncode: int) -> str:
        events = list(json_lines(stdout))
        init = next((e for e in events if e.get("type") == "system" and e.get("subtype") == "init"), {})
        failed = [s for s in init.get("mcp_servers") or [] if s.get("status") != "connected"]
        if failed:
            states = ", ".join(f"{s.get('name')}: {s.get('status')}" for s in failed)
            return f"its MCP client did not connect to the server ({states})"
        result = next((e for e in events if e.get("type") == "result"), {})
        if result.get("permission_denials"):
            return f"it was refused permission to use the tools ({len(result['permission_denials'])} denials)"
        if result.get("is_error") or result.get("api_error_status"):
            return f"its model requests failed: {str(result.get('result') or result.get('api_error_status'))[:300]}"
        return super().why_no_calls(stdout, stderr, returncode)
