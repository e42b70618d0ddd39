"""``--agent 'cmd:TEMPLATE'``: any command-line agent, given the run's server by placeholders.

The template is split like a shell command line (no shell runs), then each word is filled in:

- ``{mcp_url}`` and ``{mcp_token}``: the run's server (Streamable HTTP, bearer token);
- ``{mcp_config}``: a JSON file ``{"mcpServers": {"itbench": {"type": "http", "url", "headers"}}}``,
  the form most MCP clients read;
- ``{prompt_file}``: the task prompt, as a file; ``{prompt}``: the prompt itself;
- ``{workdir}``: the agent's own writable directory (also its working directory).

Confined like the other CLI agents, it sees ``/usr``, its own directory, the program's folder and
every other file the template names by absolute path (read-only; never a directory, never a
file named like an answer key), and nothing else; its network is the
run's server and a model endpoint on this machine (``--base-url``, passed as
``ITBENCH_MODEL_BASE_URL``).
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

from itbench_eval.agents.cli.base import MCP_SERVER_NAME, CliAgent, CliAgentConfig, CliRun, CliSetupError
from itbench_server.snapshot.discover import never_read

__all__ = ["CommandAgent", "check_template"]

PLACEHOLDERS = ("mcp_url", "mcp_token", "mcp_config", "prompt_file", "prompt", "workdir")


def check_template(template: str) -> list[str]:
    """The template's words; raises :class:`CliSetupError` if it cannot be split or names an unknown placeholder."""
    try:
        words = shlex.split(template)
    except ValueError as error:
        raise CliSetupError(f"--agent cmd:{template}: cannot split it: {error}") from None
    if not words:
        raise CliSetupError("--agent cmd:TEMPLATE: the template is empty")
    for word in words:
        try:
            word.format(**dict.fromkeys(PLACEHOLDERS, ""))
        except (KeyError, IndexError, ValueError) as error:
            raise CliSetupError(
                f"--agent cmd:{template}: {word!r} has an unknown placeholder ({error}); "
                f"known: {', '.join('{' + name + '}' for name in PLACEHOLDERS)}"
            ) from None
    return words


class CommandAgent(CliAgent):
    def __init__(self, config: CliAgentConfig) -> None:
        super().__init__(config)
        self.words = check_template(config.template or "")

    def binary(self) -> Path:
        program = self.words[0]
        found = Path(program) if "/" in program else (Path(p) if (p := shutil.which(program)) else None)
        if found is None or not found.exists():
            raise CliSetupError(f"--agent cmd:{self.config.template}: cannot find the program {program!r}")
        return found.absolute()

    def extra_mounts(self) -> list[Path]:
        # Files only (a script, a config), never a directory, and never an answer key by name:
        # a template must not be a way to put the answer into the sandbox.
        return [
            Path(word)
            for word in self.words[1:]
            if word.startswith("/") and Path(word).is_file() and not never_read(Path(word).name)
        ]

    def write_configuration(self, run: CliRun) -> None:
        server = {
            "type": "http",
            "url": run.endpoint.url,
            "headers": {"Authorization": f"Bearer {run.endpoint.token}"},
        }
        run.mcp_config_file.write_text(json.dumps({"mcpServers": {MCP_SERVER_NAME: server}}, indent=2))

    def command(self, binary: Path, run: CliRun) -> list[str]:
        values = {
            "mcp_url": run.endpoint.url,
            "mcp_token": run.endpoint.token,
            "mcp_config": str(run.mcp_config_file),
            "prompt_file": str(run.prompt_file),
            "prompt": run.prompt,
            "workdir": str(run.work),
        }
        return [str(binary), *(word.format(**values) for word in self.words[1:])]

    def environment(self, run: CliRun) -> dict[str, str]:
        return {"ITBENCH_MODEL_BASE_URL": run.model_url} if run.model_url else {}
