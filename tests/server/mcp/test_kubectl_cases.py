"""The kubectl tool where it misled an investigator, and the overview that must agree with it
(the recording of ``cluster_cases``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from cluster_cases import EMAIL_POD, build_cases_index
from mcp import Client
from mcp_scenario import text_of

from itbench_server.mcp.server import create_server
from itbench_server.mcp.settings import ServerSettings
from itbench_server.snapshot import Snapshot

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snapshot]:
    with build_cases_index(tmp_path_factory.mktemp("cluster-cases")) as snapshot:
        yield snapshot


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(cases: Snapshot) -> AsyncIterator[Client]:
    async with Client(create_server(cases, ServerSettings(call_timeout=20))) as connected:
        yield connected


async def call(client: Client, tool: str, **arguments: Any) -> tuple[bool, str]:
    result = await client.call_tool(tool, arguments)
    return bool(result.is_error), text_of(result)


async def test_the_overview_counts_the_pods_kubectl_lists_at_the_windows_end(client: Client) -> None:
    _, overview = await call(client, "get_overview")
    _, pods = await call(client, "kubectl", command="get pods -A --no-headers -o name")

    namespaces = overview.split("Namespaces (pods at the window's end):\n")[1].split("\n\n")[0]
    assert namespaces == "  chaos-mesh: 0 pods\n  otel-demo: 3 pods, 1 not Running"
    assert pods.splitlines() == ["pod/ad-5d9f7c6b8-x2x9q", "pod/cart-7f9b2c-bbbbb", "pod/frontend-7c9f-abcde"]


async def test_a_pipe_is_refused_with_what_to_use_instead(client: Client) -> None:
    assert await call(client, "kubectl", command="get pods -n otel-demo | grep cart") == (
        True,
        "Error executing tool kubectl: command: '|' is shell syntax, and no shell runs here: the command line "
        "goes to kubectl alone, so pipes (|), redirections (<, >) and command lists (;, &&) are not supported. "
        "Let kubectl filter: -l/--selector app.kubernetes.io/name=cart, --field-selector status.phase!=Running, "
        "a name (get pod NAME), or -o jsonpath=... / custom-columns=... for the fields you want",
    )


async def test_logs_of_a_deployment_without_pods_answer_at_once_when_the_last_pod_was_seen(
    client: Client,
) -> None:
    started = time.monotonic()
    error, text = await call(client, "kubectl", command="logs deploy/email -n otel-demo")
    elapsed = time.monotonic() - started

    assert (error, text) == (
        True,
        "Error executing tool kubectl: no pod of deploy/email in namespace otel-demo exists at "
        "2025-12-15T17:40:00Z (kubectl would wait for one until the time limit); the last one, "
        f'{EMAIL_POD}, was listed at 2025-12-15T17:25:02Z: read its logs with at="2025-12-15T17:25:02Z", '
        f"or kubectl logs {EMAIL_POD} -n otel-demo",
    )
    assert elapsed < 10  # the call limit is 20 s; kubectl alone would have waited for it


async def test_a_time_outside_the_recording_is_refused_with_its_window(client: Client) -> None:
    assert await call(client, "kubectl", command="get pods -A", at="end+10m") == (
        True,
        "Error executing tool kubectl: at: 2025-12-15T17:50:00Z is outside the recording, 10m00s after its "
        "end; the recording covers 2025-12-15T17:20:00Z .. 2025-12-15T17:40:00Z (start .. end); give a time "
        "inside it",
    )


async def test_version_prints_no_version_skew_warning(client: Client) -> None:
    assert await call(client, "kubectl", command="version") == (
        False,
        "Client Version: v1.37.1\nKustomize Version: v5.8.1\nServer Version: v1.31.4",
    )
