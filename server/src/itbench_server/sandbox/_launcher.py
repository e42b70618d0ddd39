"""Runs as the first process of a confined command: limits, loopback relays, then the command.

This file is executed by the server's own Python interpreter (``-I -S``, standard library only)
inside the sandbox, and also outside it where no sandbox is available. Its arguments::

    [--limit RLIMIT_CPU=31]... [--relay 6443=/run/relay/0.sock]... -- COMMAND [ARG]...

The resource limits are set on this process before the command starts, so the command inherits
them. A relay listens on ``127.0.0.1:<port>`` of the sandbox's own network namespace and joins
each connection to a Unix socket bound in from outside: that is the only way out of a sandbox
without a network, and it reaches exactly the services the host chose. The listeners are bound
before the command starts, so its first connection never races them. The exit status is the
command's (128 + N for a signal).

It runs before every confined command, so it imports only modules built into the interpreter or
frozen in it (``_socket``, ``_thread``, ``resource``, ``os``): ``json``, ``socket`` and
``subprocess`` would pull in ``re``, ``enum`` and ``selectors`` and cost tens of milliseconds of
each call.
"""

from __future__ import annotations

import _signal  # pyright: ignore[reportMissingImports]  # signal.py would load enum
import _socket
import _thread
import os
import resource
import sys


def _shutdown(end: _socket.socket) -> None:
    try:  # noqa: SIM105 (contextlib is not among the modules loaded at start)
        end.shutdown(_socket.SHUT_RDWR)
    except OSError:
        pass


def _pump(source: _socket.socket, target: _socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        _shutdown(target)
        _shutdown(source)


def _join(client: _socket.socket, unix_path: str) -> None:
    upstream = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        upstream.connect(unix_path)
    except OSError:
        client.close()
        upstream.close()
        return
    _thread.start_new_thread(_pump, (client, upstream))
    _thread.start_new_thread(_pump, (upstream, client))


def _accept_forever(listener: _socket.socket, unix_path: str) -> None:
    while True:
        try:
            descriptor, _ = listener._accept()  # pyright: ignore[reportAttributeAccessIssue]  # socket.py is not loaded
        except OSError:
            return
        client = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM, 0, descriptor)
        # Responses are relayed in the chunks they arrive in; Nagle would hold a short last chunk
        # until the client's delayed ACK (40 ms).
        client.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        _join(client, unix_path)


def _parse(arguments: list[str]) -> tuple[list[tuple[str, int]], list[tuple[int, str]], list[str]]:
    """The limits, the relays and the command line of the launcher's arguments."""
    limits: list[tuple[str, int]] = []
    relays: list[tuple[int, str]] = []
    position = 0
    while arguments[position] != "--":
        option, value = arguments[position], arguments[position + 1]
        key, _, rest = value.partition("=")
        if option == "--limit":
            limits.append((key, int(rest)))
        elif option == "--relay":
            relays.append((int(key), rest))
        else:
            raise SystemExit(f"launcher: unknown option {option}")
        position += 2
    return limits, relays, arguments[position + 1 :]


def main() -> int:
    limits, relays, argv = _parse(sys.argv[1:])
    for name, value in limits:
        resource.setrlimit(getattr(resource, name), (value, value))
    for port, unix_path in relays:
        listener = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        listener.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        _thread.start_new_thread(_accept_forever, (listener, unix_path))
    try:
        # The signals Python ignores for itself (SIGPIPE, SIGXFSZ) are reset for the command,
        # as subprocess does.
        pid = os.posix_spawnp(argv[0], argv, os.environ, setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ))
    except OSError as error:
        print(f"cannot start {argv[0]}: {error.strerror}", file=sys.stderr)
        return 127
    _, wait_status = os.waitpid(pid, 0)
    status = os.waitstatus_to_exitcode(wait_status)
    return 128 - status if status < 0 else status


if __name__ == "__main__":
    sys.exit(main())
