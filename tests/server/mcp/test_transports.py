"""``itbench-server serve`` over real transports: stdio, Streamable HTTP, and the MCP Inspector."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_scenario import text_of

from itbench_server.cli import main

REPO_ROOT = Path(__file__).resolve().parents[3]
SERVE = [sys.executable, "-m", "itbench_server.cli", "serve"]


def serve_arguments(scenario_dir: Path, cache_dir: Path, *extra: str) -> list[str]:
    return [str(scenario_dir), "--cache-dir", str(cache_dir), *extra]


@pytest.mark.anyio
async def test_stdio_server_lists_tools_and_answers_calls(
    scenario_dir: Path, cache_dir: Path, tmp_path: Path
) -> None:
    audit_log = tmp_path / "audit.jsonl"
    parameters = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "itbench_server.cli",
            "serve",
            *serve_arguments(scenario_dir, cache_dir, "--audit-log", str(audit_log)),
        ],
        env=dict(os.environ),
    )

    async with Client(parameters) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        overview = await client.call_tool("get_overview", {})

    assert names[0] == "get_overview" and names[-1] == "submit_diagnosis"
    assert text_of(overview).startswith("Incident window: 2025-12-15T17:20:00Z")
    assert [json.loads(line)["tool"] for line in audit_log.read_text(encoding="utf-8").splitlines()] == [
        "get_overview"
    ]


@pytest.mark.anyio
async def test_a_stdio_server_that_ran_kubectl_leaves_no_private_files_when_it_exits(
    scenario_dir: Path, cache_dir: Path, tmp_path: Path
) -> None:
    # serve ends its process without the interpreter's teardown; its exit handlers must still run.
    private = tmp_path / "tmp"
    private.mkdir()
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "itbench_server.cli", "serve", *serve_arguments(scenario_dir, cache_dir)],
        env={**os.environ, "TMPDIR": str(private)},
    )
    async with Client(parameters) as client:
        listing = await client.call_tool("kubectl", {"command": "get namespaces"})
        assert any(path.name.startswith("itbench-kubectl-") for path in private.iterdir())

    assert "otel-demo" in text_of(listing)
    assert sorted(path.name for path in private.iterdir()) == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(process: subprocess.Popen[str], port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"the server exited with {process.returncode}: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listened on port {port} within {timeout} s")


class HttpServer(NamedTuple):
    url: str
    token: str
    banner: str  # the first line it wrote on stderr


@pytest.fixture(scope="module")
def http_server(scenario_dir: Path, cache_dir: Path) -> Iterator[HttpServer]:
    """A ``serve --transport http`` subprocess with a token, listening."""
    port, token = free_port(), "s3cret-token"
    process = subprocess.Popen(
        [*SERVE, *serve_arguments(scenario_dir, cache_dir, "--transport", "http", "--port", str(port))],
        env={**os.environ, "ITBENCH_SERVER_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(process, port)
        assert process.stderr is not None
        yield HttpServer(f"http://127.0.0.1:{port}/mcp", token, process.stderr.readline())
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


@pytest.mark.anyio
async def test_http_server_answers_a_client_that_sends_the_token(http_server: HttpServer) -> None:
    url, token, banner = http_server

    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        names = [tool.name for tool in (await client.list_tools()).tools]
        answer = await client.call_tool("run_sql", {"sql": "SELECT count(*) AS n FROM alerts"})

    assert banner == f"itbench-server: serving MCP over Streamable HTTP at {url} (bearer token required)\n"
    assert "get_overview" in names
    assert text_of(answer) == "n\n--\n14\n(1 row)"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", "s3cret-token", "Basic czNjcmV0LXRva2Vu"]
)
async def test_http_server_refuses_requests_without_the_token(
    http_server: HttpServer, authorization: str | None
) -> None:
    url = http_server.url
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}

    async with httpx2.AsyncClient() as http:
        response = await http.post(url, json=request, headers=headers)
        other_path = await http.get(url.removesuffix("/mcp") + "/", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert other_path.status_code == 401


@pytest.mark.anyio
async def test_http_server_refuses_a_foreign_host_header_even_with_the_token(http_server: HttpServer) -> None:
    url, token, _ = http_server
    headers = {
        "Accept": "application/json, text/event-stream",
        "Authorization": f"Bearer {token}",
        "Host": "rebound.example.com" + url.removeprefix("http://127.0.0.1").removesuffix("/mcp"),
    }
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}

    async with httpx2.AsyncClient() as http:
        response = await http.post(url, json=request, headers=headers)

    assert response.status_code == 421
    assert response.json()["error"].startswith("misdirected request: the Host header must be localhost:")


def test_serve_refuses_a_non_loopback_address_without_a_token(
    scenario_dir: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ITBENCH_SERVER_TOKEN", raising=False)

    status = main(
        ["serve", *serve_arguments(scenario_dir, cache_dir, "--transport", "http", "--host", "0.0.0.0")]
    )

    assert status == 2
    assert capsys.readouterr().err == (
        "error: refusing to serve on 0.0.0.0 without a bearer token; pass --token-file or set "
        "ITBENCH_SERVER_TOKEN (or bind to 127.0.0.1)\n"
    )


def test_serve_rejects_an_output_budget_below_the_minimum(
    scenario_dir: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["serve", *serve_arguments(scenario_dir, cache_dir, "--output-budget", "10")])

    assert status == 2
    assert (
        capsys.readouterr().err == "error: --output-budget: Input should be greater than or equal to 1000\n"
    )


def test_serve_reports_a_missing_scenario_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["serve", str(tmp_path / "nope"), "--cache-dir", str(tmp_path / "cache")])

    assert status == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1


@pytest.fixture(scope="module")
def bundled_scenario() -> Path:
    """The first of the bundled fixtures."""
    scenarios = sorted((REPO_ROOT / "fixtures").glob("Scenario-*"))
    assert scenarios, "no bundled scenario under fixtures/"
    return scenarios[0]


def inspector(scenario_dir: Path, cache_dir: Path, *method: str) -> dict[str, object]:
    """Run the MCP Inspector CLI (the version pinned in package.json) against the stdio server."""
    npx = shutil.which("npx")
    if npx is None or shutil.which("node") is None:
        pytest.skip("node/npx are not installed")
    package = json.loads((REPO_ROOT / "package.json").read_text(encoding="utf-8"))
    version = package["devDependencies"]["@modelcontextprotocol/inspector"]
    completed = subprocess.run(
        [
            npx,
            "--yes",
            f"@modelcontextprotocol/inspector@{version}",
            "--cli",
            *SERVE,
            *serve_arguments(scenario_dir, cache_dir),
            *method,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_mcp_inspector_cli_lists_the_tools(bundled_scenario: Path, cache_dir: Path) -> None:
    listing = inspector(bundled_scenario, cache_dir, "--method", "tools/list")

    tools = listing["tools"]
    assert isinstance(tools, list)
    assert tools[0]["name"] == "get_overview"
    assert tools[0]["annotations"]["readOnlyHint"] is True


def test_mcp_inspector_cli_calls_the_overview(bundled_scenario: Path, cache_dir: Path) -> None:
    result = inspector(bundled_scenario, cache_dir, "--method", "tools/call", "--tool-name", "get_overview")

    assert result["isError"] is False
    content = result["content"]
    assert isinstance(content, list)
    text = content[0]["text"]
    assert text.startswith("Incident window: ")
    assert "\nFiring alerts (" in text and "\nHow to investigate:\n" in text


def test_the_http_server_accepts_connections_as_soon_as_it_prints_its_url(
    scenario_dir: Path, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "itbench_server.cli", "serve", str(scenario_dir), "--transport", "http",
         "--port", "0", "--cache-dir", str(tmp_path / "cache")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        line = ""
        while "serving MCP over Streamable HTTP at" not in line:
            line = process.stderr.readline()
            assert line, "the server exited before printing its URL"
        port = int(line.rsplit(":", 1)[1].split("/", 1)[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # refused if the URL were printed before the socket listened
    finally:
        process.terminate()
        process.wait(timeout=30)
