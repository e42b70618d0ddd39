"""The Streamable HTTP app's guards, in process: DNS rebinding, the bearer token, where the token comes from.

Requests go through the wrapped ASGI app with Starlette's TestClient (which runs the SDK's
lifespan), so that a request a guard lets through is answered by the real MCP endpoint.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.server import MCPServer
from starlette.testclient import TestClient
from starlette.types import Message, Scope

from itbench_server.cli import main
from itbench_server.mcp import http as http_module
from itbench_server.mcp.http import LoopbackHostGuard, http_app

PORT = 8123
TOKEN = "s3cret-token"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test_http_security", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def authority(host: str, port: int = PORT) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serving(server: MCPServer[Any], host: str, token: str | None = None) -> TestClient:
    """A client of ``http_app`` as ``serve`` builds it for ``host``:``PORT``; its default Host names the server."""
    app = http_app(server, host=host, port=PORT, token=token)
    return TestClient(app, base_url=f"http://{authority(host.strip('[]'))}")


@pytest.fixture
def loopback(server: MCPServer[Any]) -> Iterator[TestClient]:
    """The app for 127.0.0.2 without a token (the address the SDK's own check does not know)."""
    with serving(server, "127.0.0.2") as client:
        yield client


LOOPBACK_ADDRESSES = ["127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "[::1]", "localhost"]


# DNS rebinding: the Host header


@pytest.mark.parametrize("host", LOOPBACK_ADDRESSES)
@pytest.mark.parametrize("foreign", ["rebound.example.com", "192.168.1.20", "127.0.0.1.nip.io"])
def test_a_request_with_a_foreign_host_header_is_refused_on_every_loopback_address(
    server: MCPServer[Any], host: str, foreign: str
) -> None:
    with serving(server, host) as client:
        response = client.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Host": authority(foreign)})

    assert response.status_code == 421
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": f"misdirected request: the Host header must be localhost:{PORT} "
        f"or a loopback address with port {PORT}"
    }


@pytest.mark.parametrize("host_header", [f"127.0.0.2:{PORT + 1}", "localhost", "127.0.0.2:80"])
def test_a_request_naming_this_machine_on_another_port_is_refused(
    loopback: TestClient, host_header: str
) -> None:
    response = loopback.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Host": host_header})

    assert response.status_code == 421


@pytest.mark.parametrize(
    "host_header",
    [f"user@127.0.0.2:{PORT}", f"127.0.0.2:{PORT}/path", f"127.0.0.2:+{PORT}", f"::1:{PORT}", f"[::1:{PORT}"],
)
def test_a_malformed_host_header_is_refused(loopback: TestClient, host_header: str) -> None:
    response = loopback.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Host": host_header})

    assert response.status_code == 421


@pytest.mark.parametrize(
    "host_header",
    [f"127.0.0.2:{PORT}", f"localhost:{PORT}", f"LocalHost:{PORT}", f"127.0.0.1:{PORT}", f"[::1]:{PORT}"],
)
def test_a_request_naming_this_machine_with_the_listened_port_is_served(
    loopback: TestClient, host_header: str
) -> None:
    response = loopback.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Host": host_header})

    assert response.status_code == 200
    assert response.headers["mcp-session-id"]


def test_the_host_check_covers_every_path_not_only_mcp(loopback: TestClient) -> None:
    response = loopback.get("/", headers={"Host": authority("rebound.example.com")})

    assert response.status_code == 421


def test_the_host_check_applies_on_loopback_even_when_a_token_is_set(server: MCPServer[Any]) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}", "Host": authority("rebound.example.com")}

    with serving(server, "127.0.0.2", TOKEN) as client:
        response = client.post("/mcp", json=INITIALIZE, headers=headers)

    assert response.status_code == 421


def test_a_non_loopback_address_with_a_token_serves_any_host_name(server: MCPServer[Any]) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}", "Host": "itbench.lan:8000"}

    with serving(server, "0.0.0.0", TOKEN) as client:
        response = client.post("/mcp", json=INITIALIZE, headers=headers)

    assert response.status_code == 200


async def call_guard(scope: Scope) -> tuple[list[Scope], list[Message]]:
    """Run ``LoopbackHostGuard`` (port ``PORT``) on ``scope``: the scopes it passed on, the messages it sent."""
    passed: list[Scope] = []
    sent: list[Message] = []

    async def downstream(scope: Scope, receive: Any, send: Any) -> None:
        passed.append(scope)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await LoopbackHostGuard(downstream, PORT)(scope, receive, send)
    return passed, sent


@pytest.mark.anyio
@pytest.mark.parametrize(
    "headers",
    [[], [(b"host", f"127.0.0.1:{PORT}".encode()), (b"host", f"rebound.example.com:{PORT}".encode())]],
    ids=["no-host", "two-hosts"],
)
async def test_a_request_without_exactly_one_host_header_is_refused(
    headers: list[tuple[bytes, bytes]],
) -> None:
    passed, sent = await call_guard({"type": "http", "method": "GET", "path": "/mcp", "headers": headers})

    assert passed == []
    assert sent[0]["status"] == 421


@pytest.mark.anyio
async def test_a_websocket_handshake_with_a_foreign_host_is_closed() -> None:
    headers = [(b"host", f"rebound.example.com:{PORT}".encode())]

    passed, sent = await call_guard({"type": "websocket", "path": "/mcp", "headers": headers})

    assert passed == []
    assert [message["type"] for message in sent] == ["websocket.close"]


# DNS rebinding: the Origin header


@pytest.mark.parametrize(
    "origin",
    [
        "http://rebound.example.com",
        f"http://rebound.example.com:{PORT}",
        "null",
        "http://127.0.0.1.nip.io",
        "http://localhost@rebound.example.com",
        "file://",
        "ftp://localhost",
        "http://localhost/page",
    ],
)
def test_a_request_from_a_foreign_origin_is_refused(loopback: TestClient, origin: str) -> None:
    response = loopback.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Origin": origin})

    assert response.status_code == 403
    assert response.json() == {
        "error": "forbidden: requests from a web page are served only if it is on this machine"
    }


@pytest.mark.parametrize(
    "origin", ["http://localhost:6274", f"http://127.0.0.2:{PORT}", "https://[::1]", "http://127.0.0.1"]
)
def test_a_request_from_a_page_on_this_machine_is_served(loopback: TestClient, origin: str) -> None:
    response = loopback.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Origin": origin})

    assert response.status_code == 200


# The bearer token


@pytest.fixture
def guarded(server: MCPServer[Any]) -> Iterator[TestClient]:
    """The app for 127.0.0.1 with the token ``TOKEN``."""
    with serving(server, "127.0.0.1", TOKEN) as client:
        yield client


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_matched_in_any_case(guarded: TestClient, scheme: str) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"{scheme} {TOKEN}"}

    response = guarded.post("/mcp", json=INITIALIZE, headers=headers)

    assert response.status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN.upper()}",
        f"Bearer{TOKEN}",
        TOKEN,
        "Bearer",
        f"Basic {TOKEN}",
    ],
)
def test_a_request_without_the_exact_token_is_refused(guarded: TestClient, authorization: str) -> None:
    response = guarded.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": authorization})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="itbench-server"'
    assert response.json() == {"error": "unauthorized: send Authorization: Bearer <token>"}


def test_a_request_with_two_authorization_headers_is_refused(guarded: TestClient) -> None:
    headers = [
        *MCP_HEADERS.items(),
        ("Authorization", f"Bearer {TOKEN}"),
        ("Authorization", f"Bearer {TOKEN}"),
    ]

    response = guarded.post("/mcp", json=INITIALIZE, headers=headers)

    assert response.status_code == 401


def test_the_token_is_compared_in_constant_time(guarded: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    compare_digest = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return compare_digest(a, b)

    monkeypatch.setattr(http_module.hmac, "compare_digest", spy)

    response = guarded.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": "Bearer guess"})

    assert response.status_code == 401
    assert compared == [(b"guess", TOKEN.encode())]


# Where the token comes from


@pytest.fixture
def served_token(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The token ``serve`` hands to ``serve_http`` (which is replaced: nothing listens)."""
    tokens: list[str | None] = []

    async def fake_serve_http(server: MCPServer[Any], *, host: str, port: int, token: str | None) -> None:
        tokens.append(token)

    monkeypatch.setattr(http_module, "serve_http", fake_serve_http)
    monkeypatch.delenv("ITBENCH_SERVER_TOKEN", raising=False)
    return tokens


def serve(scenario_dir: Path, cache_dir: Path, *extra: str) -> int:
    return main(["serve", str(scenario_dir), "--cache-dir", str(cache_dir), "--transport", "http", *extra])


def test_serve_reads_the_token_from_the_first_line_of_a_token_file(
    scenario_dir: Path, cache_dir: Path, tmp_path: Path, served_token: list[str | None]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"  {TOKEN}\t\r\nsecond line\n", encoding="utf-8")

    status = serve(scenario_dir, cache_dir, "--token-file", str(token_file))

    assert status == 0
    assert served_token == [TOKEN]


def test_a_token_file_takes_precedence_over_the_environment(
    scenario_dir: Path,
    cache_dir: Path,
    tmp_path: Path,
    served_token: list[str | None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ITBENCH_SERVER_TOKEN", "from-the-environment")
    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n", encoding="utf-8")

    status = serve(scenario_dir, cache_dir, "--token-file", str(token_file))

    assert status == 0
    assert served_token == [TOKEN]


def test_serve_takes_the_token_from_the_environment_when_no_option_gives_one(
    scenario_dir: Path, cache_dir: Path, served_token: list[str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ITBENCH_SERVER_TOKEN", TOKEN)

    status = serve(scenario_dir, cache_dir)

    assert status == 0
    assert served_token == [TOKEN]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "No such file or directory"),
        ("", "the first line holds no token"),
        ("   \nsecond-line-token\n", "the first line holds no token"),
        (b"\xff\xfe\x00token", "not UTF-8 text"),
        ("directory", "Is a directory"),
    ],
    ids=["missing", "empty", "blank-first-line", "not-utf8", "directory"],
)
def test_serve_reports_an_unusable_token_file_in_one_line(
    scenario_dir: Path,
    cache_dir: Path,
    tmp_path: Path,
    served_token: list[str | None],
    capsys: pytest.CaptureFixture[str],
    content: str | bytes | None,
    problem: str,
) -> None:
    token_file = tmp_path / "token"
    if content == "directory":
        token_file.mkdir()
    elif isinstance(content, bytes):
        token_file.write_bytes(content)
    elif content is not None:
        token_file.write_text(content, encoding="utf-8")

    status = serve(scenario_dir, cache_dir, "--token-file", str(token_file))

    assert status == 2
    assert capsys.readouterr().err == f"error: --token-file {token_file}: {problem}\n"
    assert served_token == []


def test_serve_refuses_both_a_token_and_a_token_file(
    scenario_dir: Path, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        serve(scenario_dir, cache_dir, "--token", TOKEN, "--token-file", str(tmp_path / "token"))

    assert exit_info.value.code == 2
    assert "error: argument --token-file: not allowed with argument --token\n" in capsys.readouterr().err


def test_serve_reports_a_port_out_of_range_in_one_line(
    scenario_dir: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ITBENCH_SERVER_TOKEN", raising=False)

    status = serve(scenario_dir, cache_dir, "--port", "70000")

    assert status == 2
    assert capsys.readouterr().err == "error: --port 70000: not a port number (0 to 65535)\n"
