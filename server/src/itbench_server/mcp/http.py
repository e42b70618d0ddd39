"""Serving over Streamable HTTP: loopback by default, a bearer token whenever it is set.

The SDK's Starlette app is wrapped in :class:`BearerTokenGuard`, which answers 401 to any HTTP
request without ``Authorization: Bearer <token>``. Binding to an address other than loopback
without a token is refused: a recorded incident may hold data its owner would not publish.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
import sys
from typing import Any

import uvicorn
from mcp.server import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send

from itbench_server.errors import ItbenchError

__all__ = ["MCP_PATH", "BearerTokenGuard", "check_exposure", "is_loopback", "serve_http"]

MCP_PATH = "/mcp"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address (or name) of this machine only."""
    if host == "localhost":
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
            f"refusing to serve on {host} without a bearer token; pass --token or set "
            "ITBENCH_SERVER_TOKEN (or bind to 127.0.0.1)"
        )


class BearerTokenGuard:
    """ASGI middleware: HTTP requests must carry ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorized(scope):
            body = b'{"error": "unauthorized: send Authorization: Bearer <token>"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"www-authenticate", b'Bearer realm="itbench-server"'),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        supplied = [value for name, value in headers if name.lower() == b"authorization"]
        return len(supplied) == 1 and hmac.compare_digest(supplied[0], self._expected)


def http_app(server: MCPServer[Any], *, host: str, token: str | None) -> ASGIApp:
    """The ASGI app serving ``server`` at ``/mcp``, guarded when ``token`` is set."""
    app: ASGIApp = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    return BearerTokenGuard(app, token) if token else app


def url_for(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}{MCP_PATH}"


async def serve_http(server: MCPServer[Any], *, host: str, port: int, token: str | None) -> None:
    """Serve ``server`` over Streamable HTTP until cancelled; prints the URL on stderr.

    Raises:
        ItbenchError: the exposure is refused, or the address cannot be bound.
    """
    check_exposure(host, token)
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host.strip("[]"), port))
    except OSError as error:
        listener.close()
        raise ItbenchError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    bound_port = listener.getsockname()[1]
    config = uvicorn.Config(
        http_app(server, host=host, token=token), log_level="warning", lifespan="on", access_log=False
    )
    print(
        f"itbench-server: serving MCP over Streamable HTTP at {url_for(host, bound_port)}"
        + (" (bearer token required)" if token else ""),
        file=sys.stderr,
        flush=True,
    )
    await uvicorn.Server(config).serve(sockets=[listener])
