"""Host side of a sandbox relay: a Unix socket whose every connection is joined to a loopback TCP port.

A confined agent has no network of its own. For each service it may reach (the run's MCP server,
the model endpoint), the evaluator listens on a Unix socket in a directory bound into the
sandbox and joins each connection to ``127.0.0.1:<port>`` on the host; inside, the sandbox's
launcher listens on the same port number of its own loopback and joins it to the socket
(:mod:`itbench_server.sandbox`). The agent therefore uses the very same URL inside as outside,
and reaches those services and nothing else.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path
from types import TracebackType

__all__ = ["TcpRelay", "pump"]


def pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (target, source):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


class TcpRelay:
    """Listens on ``socket_path`` and joins each connection to ``host:port``; a context manager."""

    def __init__(self, socket_path: Path, port: int, *, host: str = "127.0.0.1") -> None:
        self.socket_path = socket_path
        self.port = port
        self.host = host
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(socket_path))
        socket_path.chmod(0o600)
        self._listener.listen(64)
        self._thread = threading.Thread(target=self._accept, name=f"relay-{port}", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                inside, _ = self._listener.accept()
            except OSError:
                return
            try:
                outside = socket.create_connection((self.host, self.port), timeout=10)
            except OSError:
                inside.close()
                continue
            outside.settimeout(None)
            threading.Thread(target=pump, args=(inside, outside), daemon=True).start()
            threading.Thread(target=pump, args=(outside, inside), daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=5)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    def __enter__(self) -> TcpRelay:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
