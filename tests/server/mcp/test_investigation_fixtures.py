"""The investigation tools of the full server on a bundled fixture, through an MCP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import Client
from mcp.types import TextContent

from itbench_server.mcp.server import create_server
from itbench_server.mcp.settings import ServerSettings
from itbench_server.snapshot import open_snapshot

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


def _flag_fixture() -> Path | None:
    for scenario in sorted(FIXTURES.glob("Scenario-*")):
        document = yaml.safe_load((scenario / "ground_truth.yaml").read_text())
        spec = document.get("spec", document)
        if any(fault.get("fault_mechanism") == "custom(flagd)" for fault in spec.get("fault", [])):
            return scenario
    return None


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    scenario = _flag_fixture()
    if scenario is None:
        pytest.skip("no bundled feature-flag fixture")
    cache = tmp_path_factory.getbasetemp() / "fixture-index-cache"  # shared with the analysis tests
    with open_snapshot(scenario, cache_dir=cache) as snapshot:
        async with Client(create_server(snapshot, ServerSettings())) as connected:
            yield connected


async def call(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    (content,) = result.content
    assert isinstance(content, TextContent)
    return content.text


async def test_a_flag_incident_can_be_followed_from_alert_to_flag(client: Client) -> None:
    alerts = await call(client, "get_alerts", severity="critical")
    assert "HighRequestErrorRate" in alerts

    errors = await call(client, "query_traces", mode="errors", limit=3)
    assert "payment" in errors.splitlines()[2]  # errors begin in payment

    upstream = await call(
        client, "get_topology", entity="otel-demo/Deployment/payment", direction="up", depth=3
    )
    assert "up 1: otel-demo/Service/flagd" in upstream  # payment asks flagd for its flags

    changes = await call(client, "get_changes", object="cm/flagd-config")
    assert '.flags.paymentFailure.defaultVariant: "off" -> "100%"' in changes

    logs = await call(client, "search_logs", service="payment", mode="patterns", min_severity="warn")
    assert logs.splitlines()[0] != "0 log templates of 0 matching lines"
