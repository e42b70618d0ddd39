"""The server as other harnesses start it: its stdio command line, or a Streamable HTTP server.

``itbench-server serve SCENARIO --submission-out F --cache-dir C`` serves one scenario over stdio;
with ``--transport http --port 0 --token-file T`` it listens on a free loopback port, prints its
URL on stderr and requires the bearer token written in ``T``.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from itbench_eval.runner import default_server_command, server_environment

__all__ = ["HttpServer", "http_server", "serve_args", "server_command"]

_URL = re.compile(r"(http://127\.0\.0\.1:\d+/mcp)\b")


def server_command() -> list[str]:
    """The ``itbench-server`` executable beside this Python (else ``python -m itbench_server.cli``)."""
    return list(default_server_command())


def serve_args(
    scenario: Path | str,
    *,
    submission_out: Path | str,
    cache_dir: Path | str | None = None,
    audit_log: Path | str | None = None,
    profile: str | None = None,
) -> list[str]:
    """The arguments of ``itbench-server`` that serve ``scenario`` (every path made absolute)."""
    args = ["serve", str(Path(scenario).resolve()), "--submission-out", str(Path(submission_out).resolve())]
    if cache_dir is not None:
        args += ["--cache-dir", str(Path(cache_dir).resolve())]
    if audit_log is not None:
        args += ["--audit-log", str(Path(audit_log).resolve())]
    if profile is not None:
        args += ["--profile", profile]
    return args


@dataclass(frozen=True)
class HttpServer:
    """A running Streamable HTTP server: where it listens and the token it wants."""

    url: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _wait_until_listening(url: str, process: subprocess.Popen[str], timeout_s: float) -> None:
    """Wait for connections to be accepted: the server prints its URL once bound, before it listens."""
    host, port = url.removeprefix("http://").split("/")[0].rsplit(":", 1)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"itbench-server did not accept connections at {url}") from None
            time.sleep(0.02)


@contextlib.contextmanager
def http_server(
    scenario: Path | str,
    *,
    submission_out: Path | str,
    cache_dir: Path | str | None = None,
    audit_log: Path | str | None = None,
    startup_timeout_s: float = 300.0,
) -> Iterator[HttpServer]:
    """Serve ``scenario`` over Streamable HTTP on a free loopback port until the block ends."""
    with tempfile.TemporaryDirectory(prefix="itbench-http-") as work:
        token = secrets.token_urlsafe(24)
        token_file = Path(work) / "token"
        token_file.write_text(token + "\n", encoding="utf-8")
        token_file.chmod(0o600)
        args = serve_args(scenario, submission_out=submission_out, cache_dir=cache_dir, audit_log=audit_log)
        args += ["--transport", "http", "--port", "0", "--token-file", str(token_file)]
        process = subprocess.Popen(
            [*server_command(), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=server_environment(os.environ),
        )
        found = threading.Event()
        lines: list[str] = []
        url: list[str] = []

        def read_stderr() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                lines.append(line)
                if not url and (match := _URL.search(line)):
                    url.append(match.group(1))
                    found.set()
            found.set()  # the server exited

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        try:
            if not found.wait(startup_timeout_s) or not url:
                raise RuntimeError("itbench-server did not start: " + "".join(lines[-20:]).strip())
            _wait_until_listening(url[0], process, startup_timeout_s)
            yield HttpServer(url=url[0], token=token)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            reader.join(timeout=5)
