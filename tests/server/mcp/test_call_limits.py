"""The limits every tool call gets, whatever the tool: a slow call cannot starve the others (calls
interleave, and past the concurrency limit a call is told the server is busy instead of queueing
for a worker thread without end), and arguments no tool can take are refused before any tool sees
them, even by a tool that declares no bounds of its own."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import anyio.to_thread
import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult
from mcp_scenario import text_of

from itbench_server.mcp.calls import tool_errors
from itbench_server.mcp.server import create_server
from itbench_server.mcp.settings import ServerSettings, default_concurrent_calls
from itbench_server.snapshot import Snapshot

pytestmark = pytest.mark.anyio

SAFETY = 30.0
"""How long a blocked tool waits at most, so that a failing test cannot hang the run."""


class Gate:
    """A sync tool ``wait_at_gate`` that blocks its worker thread until the gate opens."""

    def __init__(self, server: MCPServer[Any]) -> None:
        self.opened = threading.Event()
        self.arrived = threading.Semaphore(0)
        self.count = 0
        lock = threading.Lock()

        @server.tool()
        @tool_errors
        def wait_at_gate() -> str:
            with lock:
                self.count += 1
            self.arrived.release()
            return "through" if self.opened.wait(SAFETY) else "gate never opened"

    async def wait_for_arrivals(self, count: int) -> None:
        for _ in range(count):
            assert await anyio.to_thread.run_sync(self.arrived.acquire, True, SAFETY)


async def test_a_slow_call_does_not_hold_up_a_fast_one(snapshot: Snapshot) -> None:
    server = create_server(snapshot, ServerSettings())
    gate = Gate(server)
    finished: list[str] = []

    async with Client(server) as client:

        async def slow() -> None:
            result = await client.call_tool("wait_at_gate", {})
            finished.append(f"slow: {text_of(result)}")

        async with anyio.create_task_group() as group:
            group.start_soon(slow)
            try:
                await gate.wait_for_arrivals(1)  # the slow call holds a worker thread now
                fast = await client.call_tool("run_sql", {"sql": "SELECT 1 AS one"})
                finished.append(f"fast: {text_of(fast)}")
            finally:
                gate.opened.set()

    assert finished == ["fast: one\n---\n1\n(1 row)", "slow: through"]


async def test_calls_beyond_the_concurrency_limit_are_told_the_server_is_busy(snapshot: Snapshot) -> None:
    server = create_server(snapshot, ServerSettings(max_concurrent_calls=2, call_timeout=0.2))
    gate = Gate(server)
    held: list[str] = []
    refused: CallToolResult | None = None

    async with Client(server) as client:

        async def hold() -> None:
            held.append(text_of(await client.call_tool("wait_at_gate", {})))

        async with anyio.create_task_group() as group:
            group.start_soon(hold)
            group.start_soon(hold)
            try:
                await gate.wait_for_arrivals(2)  # both slots are taken
                refused = await client.call_tool("run_sql", {"sql": "SELECT 1 AS one"})
            finally:
                gate.opened.set()
        after = await client.call_tool("run_sql", {"sql": "SELECT 1 AS one"})

    assert refused is not None and refused.is_error
    assert text_of(refused) == (
        "Error executing tool run_sql: the server is busy: 2 calls are already running, the most it "
        "runs at once, and none finished within 0.2 s; wait for your other calls to answer, then try again"
    )
    assert held == ["through", "through"]
    assert not after.is_error


async def test_tool_calls_never_hold_more_worker_threads_than_the_limit(snapshot: Snapshot) -> None:
    server = create_server(snapshot, ServerSettings(max_concurrent_calls=3, call_timeout=0.2))
    gate = Gate(server)
    threads = anyio.to_thread.current_default_thread_limiter()
    answers: list[str] = []
    seven_refused = anyio.Event()
    borrowed = arrived = -1

    async with Client(server) as client:

        async def call() -> None:
            answers.append(text_of(await client.call_tool("wait_at_gate", {})))
            if sum("the server is busy" in answer for answer in answers) == 7:
                seven_refused.set()

        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(call)
            try:
                with anyio.fail_after(SAFETY):
                    await seven_refused.wait()
                borrowed, arrived = threads.borrowed_tokens, gate.count
            finally:
                gate.opened.set()

    assert (borrowed, arrived) == (3, 3)
    assert sorted(answers)[-3:] == ["through"] * 3


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        (
            "\ud800",
            "argument text is not valid Unicode text: it holds a lone surrogate ('\\ud800') at character 0",
        ),
        ("a\x00b", "argument text holds a NUL character (U+0000)"),
        (
            "x" * 20_001,
            "argument text is 20001 characters long; no argument may be longer than 20000 characters",
        ),
    ],
)
async def test_a_tool_without_declared_bounds_is_still_refused_text_no_tool_can_take(
    snapshot: Snapshot, text: str, refusal: str
) -> None:
    server = create_server(snapshot, ServerSettings())
    seen: list[str] = []

    @server.tool()
    def echo(text: str) -> str:  # no max_length, no check of its own
        seen.append(text)
        return text

    async with Client(server) as client:
        result = await client.call_tool("echo", {"text": text})

    assert result.is_error
    assert text_of(result).startswith(f"Error executing tool echo: {refusal}")
    assert seen == []


def test_a_server_runs_two_calls_at_once_per_core_from_two_to_eight() -> None:
    assert [default_concurrent_calls(cores) for cores in (None, 1, 2, 3, 4, 64)] == [2, 2, 4, 6, 8, 8]
