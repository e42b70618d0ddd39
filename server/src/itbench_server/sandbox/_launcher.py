"""Runs as the first process of a confined command: limits, loopback relays, then the command.

This file is executed by the server's own Python interpreter (``-I -S``, standard library only)
inside the sandbox, and also outside it where no sandbox is available. Its arguments::

    [--limit RLIMIT_CPU=31]... [--relay 6443=/run/relay/0.sock]... -- COMMAND [ARG]...
    [--relay 6443=/run/relay/0.sock]... --serve

The resource limits are set on this process before the command starts, so the command inherits
them. A relay listens on ``127.0.0.1:<port>`` of the sandbox's own network namespace and joins
each connection to a Unix socket bound in from outside: that is the only way out of a sandbox
without a network, and it reaches exactly the services the host chose. The listeners are bound
before the command starts, so its first connection never races them. The exit status is the
command's (128 + N for a signal).

With ``--serve`` it keeps the sandbox for many commands (:class:`itbench_server.sandbox.KeptSandbox`):
its standard input is a ``SOCK_SEQPACKET`` socket to the server, on which each message is one
request, fields separated by NUL:

* ``run ID CWD LIMITS N ENV... ARGV...`` with two descriptors (the command's stdout and stderr)
  passed along (``SCM_RIGHTS``): the command starts in a session of its own, with the limits
  (``RLIMIT_CPU=31,RLIMIT_AS=...``), exactly the ``N`` environment entries given, ``/dev/null``
  as stdin and no other descriptor of this process. Answered by ``exit ID STATUS`` when it ends.
* ``kill ID``: the command's session is killed (the ``exit`` answer follows).

When the server's end closes, every command still running is killed and the launcher exits.

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


def _parse(arguments: list[str]) -> tuple[list[tuple[str, int]], list[tuple[int, str]], list[str] | None]:
    """The limits, the relays and the command line of the launcher's arguments (None: ``--serve``)."""
    limits: list[tuple[str, int]] = []
    relays: list[tuple[int, str]] = []
    position = 0
    while arguments[position] not in ("--", "--serve"):
        option, value = arguments[position], arguments[position + 1]
        key, _, rest = value.partition("=")
        if option == "--limit":
            limits.append((key, int(rest)))
        elif option == "--relay":
            relays.append((int(key), rest))
        else:
            raise SystemExit(f"launcher: unknown option {option}")
        position += 2
    if arguments[position] == "--serve":
        return limits, relays, None
    return limits, relays, arguments[position + 1 :]


def _exit_code(wait_status: int) -> int:
    status = os.waitstatus_to_exitcode(wait_status)
    return 128 - status if status < 0 else status


def _start_child(fields: list[str], out: int, err: int) -> int:
    """Fork and exec one requested command (``CWD LIMITS N ENV... ARGV...``); its pid."""
    workdir, limits_text, count_text, *rest = fields
    count = int(count_text)
    environment = {name: value for name, _, value in (entry.partition("=") for entry in rest[:count])}
    argv = rest[count:]
    limits = [
        (name, int(value))
        for name, _, value in (item.partition("=") for item in limits_text.split(",") if item)
    ]
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: nothing here may return into the server loop
        os.setsid()
        for name, value in limits:
            resource.setrlimit(getattr(resource, name), (value, value))
        os.dup2(os.open("/dev/null", os.O_RDONLY), 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.chdir(workdir)
        # The signals Python ignores for itself (SIGPIPE, SIGXFSZ) are reset for the command.
        _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
        _signal.signal(_signal.SIGXFSZ, _signal.SIG_DFL)
        if "/" in argv[0]:
            os.execve(argv[0], argv, environment)
        else:  # a search of PATH (os.execvpe imports warnings to do it: not for every command)
            os.execvpe(argv[0], argv, environment)
    except BaseException as error:  # whatever failed, the child must end here
        try:  # noqa: SIM105 (contextlib is not among the modules loaded at start)
            os.write(2, f"cannot start {argv[0] if argv else '(nothing)'}: {error}\n".encode())
        except BaseException:
            pass
    os._exit(127)


def _serve(control: _socket.socket) -> int:
    """Run the commands the server asks for until it closes its end (see the module's doc)."""
    running: dict[str, int] = {}  # request id -> pid (= its session id)
    lock = _thread.allocate_lock()

    def wait_for(request: str, pid: int) -> None:
        _, wait_status = os.waitpid(pid, 0)
        with lock:
            running.pop(request, None)
        try:  # noqa: SIM105
            control.send(f"exit\0{request}\0{_exit_code(wait_status)}".encode())
        except OSError:
            pass

    descriptor_space = _socket.CMSG_SPACE(2 * 4)
    while True:
        try:
            data, ancillary, _, _ = control.recvmsg(65536, descriptor_space, _socket.MSG_CMSG_CLOEXEC)
        except InterruptedError:
            continue
        except OSError:
            data, ancillary = b"", []
        descriptors = [
            int.from_bytes(payload[index : index + 4], sys.byteorder, signed=True)
            for level, kind, payload in ancillary
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS
            for index in range(0, len(payload) - len(payload) % 4, 4)
        ]
        if not data:  # the server is gone: so are its commands
            with lock:
                for pid in running.values():
                    try:  # noqa: SIM105
                        os.killpg(pid, _signal.SIGKILL)
                    except OSError:
                        pass
            return 0
        action, request, *fields = data.decode("utf-8", "surrogateescape").split("\0")
        if action == "run" and len(descriptors) == 2:
            with lock:  # the waiter must not report an exit before the pid is known here
                try:
                    pid = _start_child(fields, *descriptors)
                except (OSError, ValueError) as error:  # no fork (no memory, no pids left)
                    pid = 0
                    os.write(descriptors[1], f"cannot start the command: {error}\n".encode())
                if pid:
                    running[request] = pid
            if pid:
                _thread.start_new_thread(wait_for, (request, pid))
            else:
                try:  # noqa: SIM105
                    control.send(f"exit\0{request}\0127".encode())
                except OSError:
                    pass
        elif action == "kill":
            with lock:
                pid = running.get(request, 0)
                if pid:
                    try:  # noqa: SIM105
                        os.killpg(pid, _signal.SIGKILL)
                    except OSError:
                        pass
        elif action == "run":
            try:  # noqa: SIM105
                control.send(f"exit\0{request}\0127".encode())
            except OSError:
                pass
        for descriptor in descriptors:
            os.close(descriptor)


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
    if argv is None:
        control = _socket.socket(fileno=os.dup(0))
        os.dup2(os.open("/dev/null", os.O_RDONLY), 0)
        control.send(b"ready")
        return _serve(control)
    try:
        # The signals Python ignores for itself (SIGPIPE, SIGXFSZ) are reset for the command,
        # as subprocess does.
        pid = os.posix_spawnp(argv[0], argv, os.environ, setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ))
    except OSError as error:
        print(f"cannot start {argv[0]}: {error.strerror}", file=sys.stderr)
        return 127
    _, wait_status = os.waitpid(pid, 0)
    return _exit_code(wait_status)


if __name__ == "__main__":
    sys.exit(main())
