"""The listening socket of ``serve --transport http``."""

from __future__ import annotations

import asyncio
import socket

from itbench_server.mcp.http import listen


async def _server_side_nodelay(listener: socket.socket) -> int:
    """TCP_NODELAY of the connection asyncio accepts on ``listener`` (as uvicorn's server does)."""
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection: socket.socket = writer.get_extra_info("socket")
        accepted.set_result(connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connection, sock=listener)
    async with server:
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        nodelay = await asyncio.wait_for(accepted, timeout=10)
        writer.close()
    return nodelay


def test_connections_accepted_on_the_listener_send_without_nagle_delay() -> None:
    listener = listen("127.0.0.1", 0)
    assert listener.proto == socket.IPPROTO_TCP
    assert asyncio.run(_server_side_nodelay(listener)) != 0
