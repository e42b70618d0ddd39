"""A CONNECT proxy that opens exactly the hosts it is told to: a confined agent's way to its vendor API.

A confined agent has no network. When its model endpoint is a vendor's API (``https://...``),
the agent is given ``HTTPS_PROXY=http://127.0.0.1:<port>`` (relayed into its sandbox) and this
proxy, on the host, tunnels ``CONNECT host:port`` for the allowed ``(host, port)`` pairs only;
everything else is answered 403. TLS runs end to end through the tunnel, so the proxy sees no
content, and the agent reaches its API and nothing else.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Set
from types import TracebackType

from itbench_eval.agents.cli.relay import pump

__all__ = ["ConnectProxy"]

_MAX_HEADER = 16 << 10


class ConnectProxy:
    """Listens on ``127.0.0.1`` (a free port) and tunnels CONNECT to the ``allowed`` pairs only."""

    def __init__(self, allowed: Set[tuple[str, int]]) -> None:
        self.allowed = frozenset((host.lower(), port) for host, port in allowed)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name="connect-proxy", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        header = b""
        client.settimeout(10)
        try:
            while b"\r\n\r\n" not in header and len(header) < _MAX_HEADER:
                chunk = client.recv(4096)
                if not chunk:
                    client.close()
                    return
                header += chunk
        except OSError:
            client.close()
            return
        request_line = header.split(b"\r\n", 1)[0].decode("latin-1")
        target = _connect_target(request_line)
        if target is None or target not in self.allowed:
            with contextlib.suppress(OSError):
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            client.close()
            return
        try:
            upstream = socket.create_connection(target, timeout=10)
        except OSError:
            with contextlib.suppress(OSError):
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            client.close()
            return
        upstream.settimeout(None)
        client.settimeout(None)
        client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        rest = header.split(b"\r\n\r\n", 1)[1]
        if rest:
            upstream.sendall(rest)
        threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ConnectProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _connect_target(request_line: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``CONNECT host:port HTTP/1.1``; None for any other request."""
    parts = request_line.split()
    if len(parts) != 3 or parts[0].upper() != "CONNECT":
        return None
    host, _, port = parts[1].rpartition(":")
    if not host or not port.isdigit():
        return None
    return host.strip("[]").lower(), int(port)
