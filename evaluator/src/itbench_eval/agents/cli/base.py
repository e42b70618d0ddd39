"""What every command-line agent shares: a fresh home, its native MCP configuration, a sandbox.

A CLI agent (:class:`CliAgent`) connects to the run's server by itself, over Streamable HTTP
(:class:`~itbench_eval.agents.base.ConnectsItself`). For each run it gets a home and a work
directory of its own in the run directory, the configuration its CLI reads (written by the
subclass: Claude Code, Codex, Gemini CLI, or a command template), and runs headless with the
task prompt, confined by :func:`itbench_server.sandbox.run_confined`:

- bubblewrap, every capability dropped, its own user, PID, IPC and network namespaces;
- a read-only system (``/usr``), its own installation read-only, its home and work directory
  writable, and nothing else: no scenario directory, no answer key, no other run, no results;
- no network but the run's MCP server and, when the model endpoint is on this machine, that
  endpoint: each through a Unix-socket relay to the same ``127.0.0.1:<port>`` inside
  (:class:`~itbench_eval.agents.cli.relay.TcpRelay`); a remote endpoint (a vendor's API) is
  reached through a CONNECT proxy that opens only that host and port.

The MCP server runs outside the sandbox, so the agent cannot write the submission or the audit
log itself. Exit codes are not trusted: a run whose server logged no call at all ends as
``harness_error`` with the agent's own words on why (its MCP client failed, it refused the
tools, its model endpoint was unreachable), never as a silent zero.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field

from itbench_eval.agents.base import AgentOutcome, HarnessError, McpEndpoint, RunContext
from itbench_eval.agents.cli.proxy import ConnectProxy
from itbench_eval.agents.cli.relay import TcpRelay
from itbench_eval.errors import EvalError
from itbench_server.sandbox import Mount, ResourceLimits, SandboxSpec, run_confined, sandbox_status

__all__ = ["AGENT_DIR", "CliAgent", "CliAgentConfig", "CliRun", "CliSetupError", "find_binary", "json_lines"]

AGENT_DIR = "agent"
STDOUT_FILE = "agent.stdout"
STDERR_FILE = "agent.stderr"
MCP_SERVER_NAME = "itbench"
"""The name the run's server has in every CLI's configuration (tools appear as mcp__itbench__...)."""

CliKind = Literal["claude-code", "codex", "gemini-cli", "cmd", "stirrup"]


class CliSetupError(EvalError, ValueError):
    """A CLI agent cannot be run here (no binary, no sandbox); the message says what to do."""


class CliAgentConfig(BaseModel):
    """How one kind of CLI agent runs, from ``--agent KIND[:MODEL]`` and its options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: CliKind
    model: str | None = None
    binary: Path | None = Field(default=None, description="--agent-bin: the CLI to run")
    base_url: str | None = Field(default=None, description="--base-url: the model endpoint the CLI talks to")
    api_key_env: str | None = Field(default=None, description="where the CLI's API key is read from")
    sandbox: bool = Field(default=True, description="--no-sandbox turns confinement off (recorded)")
    template: str | None = Field(default=None, description="cmd:TEMPLATE's command line")


@dataclass(frozen=True)
class CliRun:
    """The paths and addresses of one run of a CLI agent, as the CLI sees them."""

    home: Path
    work: Path
    endpoint: McpEndpoint
    model_url: str | None
    prompt: str
    prompt_file: Path
    mcp_config_file: Path


def find_binary(names: list[str], explicit: Path | None, npm_package: str) -> Path:
    """The CLI to run: ``--agent-bin``, else on PATH, else in the project's ``node_modules/.bin``.

    Raises:
        CliSetupError: none found; the message names the npm package to install.
    """
    if explicit is not None:
        if not (explicit.is_file() and os.access(explicit, os.X_OK)):
            raise CliSetupError(f"--agent-bin {explicit}: not an executable file")
        return explicit.absolute()
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    for root in _project_roots():
        for name in names:
            candidate = root / "node_modules" / ".bin" / name
            if candidate.exists() and os.access(candidate, os.X_OK):
                return candidate
    raise CliSetupError(
        f"cannot find {names[0]}: install it with `npm install {npm_package}` (the repository's "
        f"package.json pins it: `npm ci` at its root), put it on PATH, or give --agent-bin PATH"
    )


def _project_roots() -> list[Path]:
    """Where a ``node_modules`` may be: the repository of this source checkout, and the working directory."""
    return [Path(__file__).resolve().parents[5], Path.cwd()]


def _install_root(binary: Path) -> Path:
    """The directory to mount for ``binary`` to run: its ``node_modules`` tree, else its own folder."""
    real = binary.resolve()
    for parent in real.parents:
        if parent.name == "node_modules":
            return parent
    return real.parent


class CliAgent:
    """A command-line agent run headless against the run's server; subclasses say how."""

    connects_itself: Literal[True] = True
    npm_package: ClassVar[str] = ""
    binary_names: ClassVar[list[str]] = []

    def __init__(self, config: CliAgentConfig) -> None:
        self.config = config
        self._outcome = AgentOutcome()

    # --- what a subclass provides -------------------------------------------------------------

    def write_configuration(self, run: CliRun) -> None:
        """Write the CLI's own configuration (MCP server, offline and permission settings)."""

    def command(self, binary: Path, run: CliRun) -> list[str]:
        """The command line that runs the CLI headless on ``run.prompt``."""
        raise NotImplementedError

    def environment(self, run: CliRun) -> dict[str, str]:
        """Environment variables beyond the basics (HOME, PATH, LANG, TMPDIR)."""
        return {}

    def read_outcome(self, stdout: str, stderr: str) -> AgentOutcome:
        """Tokens, cost and turns from what the CLI printed, where it reports them."""
        return AgentOutcome()

    def why_no_calls(self, stdout: str, stderr: str, returncode: int) -> str:
        """In the CLI's own words, why it may have called no tool (its MCP client failing, ...)."""
        return _tail(stderr) or _tail(stdout) or f"it exited with status {returncode}"

    def default_model_port(self) -> tuple[str, int] | None:
        """The vendor API the CLI talks to when no ``--base-url`` is given (host, port)."""
        return None

    def extra_mounts(self) -> list[Path]:
        """Host paths the CLI needs besides its installation, mounted read-only where they are."""
        return []

    # --- the run ------------------------------------------------------------------------------

    def binary(self) -> Path:
        if self.config.binary is not None or self.binary_names:
            return find_binary(self.binary_names, self.config.binary, self.npm_package)
        raise CliSetupError("this agent names no binary")

    def partial_outcome(self) -> AgentOutcome:
        return self._outcome

    async def run(self, context: RunContext) -> AgentOutcome:
        if context.endpoint is None:
            raise HarnessError("a CLI agent needs the run's server over HTTP, and the run gave it none")
        if self.config.sandbox and not sandbox_status().confined:
            raise HarnessError(
                f"CLI agents run confined and no sandbox can be made here ({sandbox_status().reason}): "
                "install bubblewrap (apt-get install bubblewrap), or pass --no-sandbox to run them unconfined"
            )
        return await anyio.to_thread.run_sync(self._run, context, context.endpoint, abandon_on_cancel=True)

    def _run(self, context: RunContext, endpoint: McpEndpoint) -> AgentOutcome:
        binary = self.binary()
        agent_dir = context.run_dir / AGENT_DIR
        home = agent_dir / "home"
        work = home / "work"
        work.mkdir(parents=True)
        prompt_file = agent_dir / "prompt.txt"
        prompt_file.write_text(context.prompt, encoding="utf-8")
        run = CliRun(
            home=home,
            work=work,
            endpoint=endpoint,
            model_url=self.config.base_url,
            prompt=context.prompt,
            prompt_file=prompt_file,
            mcp_config_file=home / "mcp.json",
        )
        self.write_configuration(run)
        timeout = context.limits.timeout_s or 3600.0
        with self._network(endpoint) as (relays, proxy_environment):
            environment = {
                "HOME": str(home),
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "LANG": "C.UTF-8",
                "TERM": "dumb",
                "TMPDIR": "/tmp",
                **proxy_environment,
                **self.environment(run),
            }
            spec = SandboxSpec(
                mounts=[
                    Mount(_install_root(binary), str(_install_root(binary))),
                    Mount(agent_dir, str(agent_dir), writable=True),
                    *[Mount(path, str(path)) for path in self.extra_mounts()],
                    *[
                        Mount(Path(path), path)
                        for path in ("/etc/ssl", "/etc/ca-certificates")
                        if Path(path).is_dir()
                    ],
                ],
                relays=relays,
                environment=environment,
                workdir=str(work),
                limits=ResourceLimits(
                    cpu_seconds=int(timeout * 2) + 10,  # several threads
                    address_space_bytes=None,
                    file_size_bytes=1 << 30,
                    open_files=4096,
                    max_processes=512,
                ),
            )
            # A little under the run's limit, so that the agent ends here, as a time budget,
            # rather than being abandoned by the runner.
            result = run_confined(
                self.command(binary, run),
                spec,
                timeout=max(timeout - 2.0, 1.0),
                stdout_limit=64 << 20,
                stderr_limit=4 << 20,
                confine=self.config.sandbox,
            )
        stdout = result.stdout.decode("utf-8", errors="replace")
        stderr = result.stderr.decode("utf-8", errors="replace")
        (context.run_dir / STDOUT_FILE).write_text(stdout, encoding="utf-8")
        (context.run_dir / STDERR_FILE).write_text(stderr, encoding="utf-8")
        outcome = self.read_outcome(stdout, stderr)
        notes = [f"exit status {result.returncode}"]
        if not result.confined:
            notes.append("ran without a sandbox (--no-sandbox)")
        outcome.note = "; ".join([*notes, *([outcome.note] if outcome.note else [])])
        if result.timed_out:
            outcome.ended_by = "time_budget"
        self._outcome = outcome
        if not result.timed_out and _audited_calls(context.run_dir) == 0:
            raise HarnessError(
                f"{self.config.kind} never called a tool of the run's server: "
                f"{self.why_no_calls(stdout, stderr, result.returncode)}"
            )
        return outcome

    @contextlib.contextmanager
    def _network(self, endpoint: McpEndpoint) -> Iterator[tuple[dict[int, Path], dict[str, str]]]:
        """The relays (inside port -> Unix socket) and proxy settings of one run."""
        # Unix socket paths are short-lived and must stay under 108 bytes: a private /tmp folder.
        folder = Path(tempfile.mkdtemp(prefix="itbench-relay-"))
        with contextlib.ExitStack() as stack:
            stack.callback(shutil.rmtree, folder, ignore_errors=True)
            relays: dict[int, Path] = {}

            def relay(port: int, host: str = "127.0.0.1") -> None:
                path = folder / f"{port}.sock"
                stack.enter_context(TcpRelay(path, port, host=host))
                relays[port] = path

            relay(endpoint.port)
            environment: dict[str, str] = {
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
            target = _remote_target(self.config.base_url) or (
                None if self.config.base_url else self.default_model_port()
            )
            local = _local_port(self.config.base_url)
            if local is not None:
                relay(local)
            elif target is not None:
                proxy = stack.enter_context(ConnectProxy(allowed={target}))
                relay(proxy.port)
                url = f"http://127.0.0.1:{proxy.port}"
                environment |= {"HTTPS_PROXY": url, "https_proxy": url, "HTTP_PROXY": url, "http_proxy": url}
            yield relays, environment


def _local_port(url: str | None) -> int | None:
    """The port of a loopback URL (the model endpoint on this machine), else None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return parts.port or (443 if parts.scheme == "https" else 80)
    return None


def _remote_target(url: str | None) -> tuple[str, int] | None:
    """(host, port) of a URL that is not on this machine, else None."""
    if not url or _local_port(url) is not None:
        return None
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def _audited_calls(run_dir: Path) -> int:
    try:
        return sum(
            1 for line in (run_dir / "audit.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()
        )
    except OSError:
        return 0


def _tail(text: str, lines: int = 3, chars: int = 600) -> str:
    kept = " | ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())
    return kept[-chars:]


def json_lines(text: str) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON-lines stream, skipping anything else the CLI printed."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(line)
                if isinstance(value, dict):
                    yield value
