"""Fixtures of the MCP server's tests: one small scenario, indexed once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp_scenario import write_scenario

from itbench_server.mcp.server import create_server
from itbench_server.mcp.settings import ServerSettings
from itbench_server.snapshot import Snapshot, open_snapshot


@pytest.fixture(scope="session")
def scenario_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenario(tmp_path_factory.mktemp("scenarios"))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def snapshot(scenario_dir: Path, cache_dir: Path) -> Iterator[Snapshot]:
    opened = open_snapshot(scenario_dir, cache_dir=cache_dir)
    yield opened
    opened.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    return ServerSettings(audit_log=tmp_path / "audit.jsonl", submission_out=tmp_path / "submission.json")


@pytest.fixture
def server(snapshot: Snapshot, settings: ServerSettings) -> MCPServer[Any]:
    return create_server(snapshot, settings)


@pytest.fixture
async def client(server: MCPServer[Any]) -> AsyncIterator[Client]:
    async with Client(server) as connected:
        yield connected
