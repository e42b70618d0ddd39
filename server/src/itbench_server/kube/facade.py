"""Run the read-only API on loopback and hand out kubeconfigs that point at it.

``KubeFacade`` serves :class:`~itbench_server.kube.api.KubeApi` with uvicorn from a background
thread, bound to ``127.0.0.1`` on a free port (or the one asked for), over HTTPS with a
certificate made at start-up (Kubernetes clients send a bearer token only over TLS), behind a
random bearer token. One facade serves every viewed time: a kubeconfig for time T points its
server URL at ``https://127.0.0.1:<port>/at/<T>``; client-go keeps that path in front of every
API path.

Starlette and uvicorn rather than the standard library's ``http.server``: both already come
with the MCP SDK, uvicorn starts in milliseconds, terminates TLS and serves requests
concurrently (Starlette runs the synchronous handlers in a thread pool), so no routing,
threading or TLS code is written here.
"""

from __future__ import annotations

import base64
import secrets
import socket
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import uvicorn
import yaml

from itbench_server.errors import ItbenchError
from itbench_server.kube.api import TIME_PREFIX, KubeApi
from itbench_server.kube.store import ClusterRecording
from itbench_server.kube.tls import ServerCertificate, make_server_certificate
from itbench_server.snapshot import Snapshot

__all__ = ["KubeFacade"]

_START_TIMEOUT = 30.0


class _ThreadedServer(uvicorn.Server):
    """A uvicorn server run outside the main thread that says when it is listening, or has given up."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = False
        self.settled = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening = not self.should_exit
        self.settled.set()

    def serve_in_thread(self, listeners: list[socket.socket]) -> None:
        try:
            self.run(sockets=listeners)
        finally:
            self.settled.set()


class KubeFacade:
    """The recording as a Kubernetes API on ``127.0.0.1``; use as a context manager or start/stop."""

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        default_at: datetime | None = None,
        port: int = 0,
        token: str | None = None,
    ) -> None:
        self.recording = ClusterRecording(snapshot)
        self.token = token or secrets.token_urlsafe(32)
        self.api = KubeApi(self.recording, token=self.token, default_at=default_at)
        self._requested_port = port
        self._server: _ThreadedServer | None = None
        self._thread: threading.Thread | None = None
        self._private_dir: tempfile.TemporaryDirectory[str] | None = None
        self._certificate: ServerCertificate | None = None
        self.port = 0
        self.unix_socket: Path | None = None
        """The same API on a Unix socket (for sandboxes without a network); set by :meth:`start`."""

    @property
    def url(self) -> str:
        """The base URL (the server's default time)."""
        if not self.port:
            raise ItbenchError("the Kubernetes API facade is not running; call start() first")
        return f"https://127.0.0.1:{self.port}"

    def url_at(self, at: str | datetime | None = None) -> str:
        """The server URL that views the recording at ``at`` (a time text or a naive UTC datetime)."""
        if at is None:
            return self.url
        text = at.isoformat() + "Z" if isinstance(at, datetime) else at
        return f"{self.url}/{TIME_PREFIX}/{quote(text, safe=':+-.')}"

    def start(self) -> KubeFacade:
        if self._thread is not None:
            return self
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on connections accepted from a socket
        # that says TCP, and without it Nagle's algorithm holds a response's last small write
        # until the client's delayed ACK (40 ms per request; see itbench_server.mcp.http.listen).
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", self._requested_port))
        except OSError as error:
            listener.close()
            raise ItbenchError(
                f"cannot listen on 127.0.0.1:{self._requested_port}: {error.strerror}"
            ) from None
        self.port = listener.getsockname()[1]
        self._private_dir = tempfile.TemporaryDirectory(prefix="itbench-kube-api-")
        private = Path(self._private_dir.name)
        self._certificate = make_server_certificate(private)
        # The same server, also on a Unix socket: a sandbox with no network reaches it through a
        # relay (see itbench_server.sandbox), so only this socket, not the host's network, is
        # shared with it.
        self.unix_socket = private / "api.sock"
        unix_listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix_listener.bind(str(self.unix_socket))
        self.unix_socket.chmod(0o600)
        config = uvicorn.Config(
            self.api.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            ssl_certfile=str(self._certificate.cert_file),
            ssl_keyfile=str(self._certificate.key_file),
        )
        self._server = _ThreadedServer(config)
        self._thread = threading.Thread(
            target=self._server.serve_in_thread,
            args=([listener, unix_listener],),
            name="kube-api",
            daemon=True,
        )
        self._thread.start()
        if not self._server.settled.wait(_START_TIMEOUT) or not self._server.listening:
            self.stop()
            raise ItbenchError("the Kubernetes API facade did not start listening")
        return self

    def stop(self, *, wait: bool = True) -> None:
        """Stop serving and remove the private files; ``wait=False`` does not wait for the server
        thread to wind down (uvicorn takes 0.1-0.2 s), for a process that is exiting anyway (the
        thread is a daemon)."""
        self.api.closing.set()
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = not wait
        if self._thread is not None and wait:
            self._thread.join(timeout=10)
        self._thread = None
        self._server = None
        if self._private_dir is not None:
            self._private_dir.cleanup()
            self._private_dir = None
        self.unix_socket = None

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C in the foreground)."""
        if self._thread is not None:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)

    @property
    def ca_pem(self) -> bytes:
        """The PEM certificate of the authority that signed the server's certificate."""
        if self._certificate is None:
            raise ItbenchError("the Kubernetes API facade is not running; call start() first")
        return self._certificate.ca_pem

    def kubeconfig(self, at: str | datetime | None = None, *, namespace: str | None = None) -> str:
        """A kubeconfig (YAML) whose current context reads the recording at ``at``."""
        context: dict[str, Any] = {"cluster": "itbench-recording", "user": "itbench-reader"}
        if namespace:
            context["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "itbench-recording",
                    "cluster": {
                        "server": self.url_at(at),
                        "certificate-authority-data": base64.b64encode(self.ca_pem).decode(),
                    },
                }
            ],
            "users": [{"name": "itbench-reader", "user": {"token": self.token}}],
            "contexts": [{"name": "itbench-recording", "context": context}],
            "current-context": "itbench-recording",
            "preferences": {},
        }
        return yaml.safe_dump(config, sort_keys=False)

    def __enter__(self) -> KubeFacade:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
