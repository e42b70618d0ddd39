"""Serving over Streamable HTTP: loopback by default, a bearer token whenever it is set.

The SDK's Starlette app is wrapped in two ASGI guards, which answer every refusal with one JSON
line and never reach the SDK:

* :class:`LoopbackHostGuard`, whenever the server listens on a loopback address (``127.0.0.0/8``,
  ``::1``, ``localhost``), with or without a token: DNS-rebinding protection. A web page can make
  a browser send requests to a loopback port under a name its author controls; the browser then
  sends that name in ``Host``. Requests are served only when ``Host`` names this machine
  (``localhost`` or a loopback address) with the port listened on, else 421, and when
  ``Origin``, if present, is a page of this machine, else 403. (The SDK's own check covers only
  the exact hosts ``127.0.0.1``, ``localhost`` and ``::1``, only at ``/mcp``, and ignores the
  port; it is switched off so that this guard is the one rule.)
* :class:`BearerTokenGuard`, whenever a token is set: 401 unless the request carries
  ``Authorization: Bearer <token>`` (the scheme in any case, the token compared in constant time).

Binding to an address other than loopback without a token is refused: a recorded incident may
hold data its owner would not publish.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from itbench_server.errors import ItbenchError

__all__ = [
    "MCP_PATH",
    "TOKEN_ENVIRONMENT_VARIABLE",
    "BearerTokenGuard",
    "LoopbackHostGuard",
    "check_exposure",
    "http_app",
    "is_loopback",
    "listen",
    "read_token_file",
    "resolve_token",
    "serve_http",
    "url_for",
]

MCP_PATH = "/mcp"
TOKEN_ENVIRONMENT_VARIABLE = "ITBENCH_SERVER_TOKEN"
_GUARDED_SCOPES = ("http", "websocket")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address (or name) of this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to serve beyond loopback without a token.

    Raises:
        ItbenchError: ``host`` is not loopback and ``token`` is empty.
    """
    if not is_loopback(host) and not token:
        raise ItbenchError(
            f"refusing to serve on {host} without a bearer token; pass --token-file or set "
            f"{TOKEN_ENVIRONMENT_VARIABLE} (or bind to 127.0.0.1)"
        )


def read_token_file(path: Path) -> str:
    """The token in the first line of ``path``, surrounding blanks removed.

    Raises:
        ItbenchError: the file cannot be read, or its first line is blank.
    """
    try:
        with path.open(encoding="utf-8-sig") as file:
            first_line = file.readline()
    except OSError as error:
        raise ItbenchError(f"--token-file {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ItbenchError(f"--token-file {path}: not UTF-8 text") from None
    token = first_line.strip()
    if not token:
        raise ItbenchError(f"--token-file {path}: the first line holds no token")
    return token


def resolve_token(token: str | None, token_file: Path | None, environ: Mapping[str, str]) -> str | None:
    """The bearer token: ``--token-file``, else ``--token``, else ``$ITBENCH_SERVER_TOKEN``, else none."""
    if token_file is not None:
        return read_token_file(token_file)
    return token or environ.get(TOKEN_ENVIRONMENT_VARIABLE) or None


async def _refuse(scope: Scope, send: Send, status: int, message: str, *extra: tuple[bytes, bytes]) -> None:
    """Answer ``status`` with ``{"error": message}`` (a WebSocket handshake is closed instead)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": message})
        return
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *extra]})
    await send({"type": "http.response.body", "body": body})


def _header_values(scope: Scope, name: bytes) -> list[str]:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    return [value.decode("latin-1") for key, value in headers if key.lower() == name]


class BearerTokenGuard:
    """ASGI middleware: requests must carry ``Authorization: Bearer <token>``.

    The scheme is matched in any case (RFC 9110 §11.1); the token is compared in constant time.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in _GUARDED_SCOPES and not self._authorized(scope):
            await _refuse(
                scope,
                send,
                401,
                "unauthorized: send Authorization: Bearer <token>",
                (b"www-authenticate", b'Bearer realm="itbench-server"'),
            )
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        supplied = [value for name, value in headers if name.lower() == b"authorization"]
        if len(supplied) != 1:
            return False
        scheme, _, credentials = supplied[0].partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.lstrip(b" "), self._token)


def _loopback_host_and_port(authority: str) -> tuple[str, int | None] | None:
    """The host and port of a ``Host`` header value naming this machine; None for anything else."""
    try:
        parts = urlsplit(f"//{authority}")
        port = parts.port
    except ValueError:
        return None
    if "@" in authority or parts.path or parts.query or parts.fragment or not parts.hostname:
        return None
    return (parts.hostname, port) if is_loopback(parts.hostname) else None


def _is_loopback_origin(origin: str) -> bool:
    """Whether ``origin`` (``scheme://host[:port]``) is a page served by this machine."""
    try:
        parts = urlsplit(origin)
        _ = parts.port
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and "@" not in parts.netloc
        and not (parts.path or parts.query or parts.fragment)
        and is_loopback(parts.hostname or "")
    )


class LoopbackHostGuard:
    """ASGI middleware against DNS rebinding, for a server listening on a loopback address.

    ``Host`` must name this machine (``localhost`` or a loopback address) with ``port``, else
    421; ``Origin``, when present, must be an ``http(s)`` page of this machine, else 403.
    """

    def __init__(self, app: ASGIApp, port: int) -> None:
        self.app = app
        self.port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in _GUARDED_SCOPES:
            refusal = self._refusal(scope)
            if refusal is not None:
                await _refuse(scope, send, *refusal)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        hosts = _header_values(scope, b"host")
        named = _loopback_host_and_port(hosts[0]) if len(hosts) == 1 else None
        if named is None or (80 if named[1] is None else named[1]) != self.port:
            return 421, (
                f"misdirected request: the Host header must be localhost:{self.port} "
                f"or a loopback address with port {self.port}"
            )
        origins = _header_values(scope, b"origin")
        if origins and not (len(origins) == 1 and _is_loopback_origin(origins[0])):
            return 403, "forbidden: requests from a web page are served only if it is on this machine"
        return None


def http_app(server: MCPServer[Any], *, host: str, port: int, token: str | None) -> ASGIApp:
    """The ASGI app serving ``server`` at ``/mcp`` on ``host``:``port`` (the port listened on).

    Guarded by :class:`LoopbackHostGuard` when ``host`` is loopback and by
    :class:`BearerTokenGuard` when ``token`` is set.
    """
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    if token:
        app = BearerTokenGuard(app, token)
    if is_loopback(host):
        app = LoopbackHostGuard(app, port)
    return app


def url_for(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}{MCP_PATH}"


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host``:``port`` (0: any free port), for uvicorn to accept on.

    Raises:
        ItbenchError: the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on connections whose
    # socket names TCP as its protocol, and accepted sockets inherit the listener's. Without it
    # Nagle holds the end of each response until the client's delayed ACK (40 ms on Linux), a
    # floor under every request.
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host.strip("[]"), port))
        # Listening before the URL is printed: a client that connects at once waits in the
        # backlog until uvicorn accepts, instead of being refused.
        listener.listen(2048)
    except OSError as error:
        listener.close()
        raise ItbenchError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return listener


async def serve_http(server: MCPServer[Any], *, host: str, port: int, token: str | None) -> None:
    """Serve ``server`` over Streamable HTTP until cancelled; prints the URL on stderr.

    Raises:
        ItbenchError: the exposure is refused, or the address cannot be bound.
    """
    check_exposure(host, token)
    if not 0 <= port <= 65535:
        raise ItbenchError(f"--port {port}: not a port number (0 to 65535)")
    listener = listen(host, port)
    bound_port = listener.getsockname()[1]
    config = uvicorn.Config(
        http_app(server, host=host, port=bound_port, token=token),
        log_level="warning",
        lifespan="on",
        access_log=False,
    )
    print(
        f"itbench-server: serving MCP over Streamable HTTP at {url_for(host, bound_port)}"
        + (" (bearer token required)" if token else ""),
        file=sys.stderr,
        flush=True,
    )
    await uvicorn.Server(config).serve(sockets=[listener])
