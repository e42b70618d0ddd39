"""Command-line agents: Claude Code, Codex, Gemini CLI, Stirrup and any other (``cmd:``), confined.

See :mod:`itbench_eval.agents.cli.base` for what every one of them gets, and docs/agents.md.
"""

from itbench_eval.agents.cli.base import CliAgent, CliAgentConfig, CliSetupError
from itbench_eval.agents.cli.claude_code import ClaudeCodeAgent
from itbench_eval.agents.cli.codex import CodexAgent
from itbench_eval.agents.cli.command import CommandAgent
from itbench_eval.agents.cli.gemini_cli import GeminiCliAgent
from itbench_eval.agents.cli.stirrup import StirrupAgent

CLI_AGENTS: dict[str, type[CliAgent]] = {
    "claude-code": ClaudeCodeAgent,
    "codex": CodexAgent,
    "gemini-cli": GeminiCliAgent,
    "cmd": CommandAgent,
    "stirrup": StirrupAgent,
}
"""``--agent`` prefix -> the class that runs it."""

__all__ = [
    "CLI_AGENTS",
    "ClaudeCodeAgent",
    "CliAgent",
    "CliAgentConfig",
    "CliSetupError",
    "CodexAgent",
    "CommandAgent",
    "GeminiCliAgent",
    "StirrupAgent",
]
