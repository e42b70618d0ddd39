"""Runs as the first process of a confined command: limits, loopback relays, then the command.

This file is executed by the server's own Python interpreter (``-I -S``, standard library only)
inside the sandbox, and also outside it where no sandbox is available. It takes one argument, a
JSON object::

    {"argv": [...], "limits": {"RLIMIT_CPU": 31, ...}, "relays": [[6443, "/run/relay/0.sock"]]}

The resource limits are set on this process before the command starts, so the command inherits
them. A relay listens on ``127.0.0.1:<port>`` of the sandbox's own network namespace and joins
each connection to a Unix socket bound in from outside: that is the only way out of a sandbox
without a network, and it reaches exactly the services the host chose. The listeners are bound
before the command starts, so its first connection never races them. The exit status is the
command's (128 + N for a signal).
"""

from __future__ import annotations

import contextlib
import json
import resource
import socket
import subprocess
import sys
import threading


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (target, source):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


def _join(client: socket.socket, unix_path: str) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(unix_path)
    except OSError:
        client.close()
        upstream.close()
        return
    threading.Thread(target=_pump, args=(client, upstream), daemon=True).start()
    threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()


def _accept_forever(listener: socket.socket, unix_path: str) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        _join(client, unix_path)


def main() -> int:
    spec = json.loads(sys.argv[1])
    for name, value in spec.get("limits", {}).items():
        limit = getattr(resource, name)
        resource.setrlimit(limit, (value, value))
    listeners: list[tuple[socket.socket, str]] = []
    for port, unix_path in spec.get("relays", []):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", int(port)))
        listener.listen(64)
        listeners.append((listener, unix_path))
    for listener, unix_path in listeners:
        threading.Thread(target=_accept_forever, args=(listener, unix_path), daemon=True).start()
    try:
        completed = subprocess.run(spec["argv"], check=False)
    except OSError as error:
        print(f"cannot start {spec['argv'][0]}: {error.strerror}", file=sys.stderr)
        return 127
    status = completed.returncode
    return 128 - status if status < 0 else status


if __name__ == "__main__":
    sys.exit(main())
