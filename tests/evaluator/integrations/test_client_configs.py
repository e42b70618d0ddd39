"""The client configuration snippets of docs/integrations.md: each parses as its client parses it
and has the keys that client needs; where the client is installed (node_modules/.bin), the
client's own ``mcp list`` reads the snippet from a temporary HOME and reaches the server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "integrations.md"
BIN = ROOT / "node_modules" / ".bin"
SCENARIO = ROOT / "fixtures" / "Scenario-synth-1"
SNIPPET = re.compile(
    r"<!-- client: (?P<client>[\w-]+) -->\s*```(?P<lang>json|toml)\n(?P<body>.*?)```", re.DOTALL
)
CLIENTS = {
    "claude-desktop", "claude-code", "claude-code-http", "codex", "codex-http", "gemini", "gemini-http",
    "cursor", "cursor-http", "vscode", "vscode-http",
}  # fmt: skip


def snippets() -> dict[str, tuple[str, str]]:
    found = {m["client"]: (m["lang"], m["body"]) for m in SNIPPET.finditer(DOC.read_text(encoding="utf-8"))}
    return found


def parse(client: str) -> dict[str, Any]:
    lang, body = snippets()[client]
    return tomllib.loads(body) if lang == "toml" else json.loads(body)


def check_stdio(server: dict[str, Any]) -> None:
    assert server["command"] == "itbench-server"
    args = server["args"]
    assert args[:2] == ["serve", "SCENARIO_DIR"]
    assert args[args.index("--submission-out") + 1] == "SUBMISSION_FILE"
    assert args[args.index("--cache-dir") + 1] == "CACHE_DIR"


def check_http_url(url: str) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/mcp", url), url


def test_the_doc_has_a_snippet_for_every_client_and_each_parses_with_the_keys_its_client_needs() -> None:
    assert set(snippets()) == CLIENTS
    for client in ("claude-desktop", "claude-code", "gemini", "cursor"):
        server = parse(client)["mcpServers"]["itbench"]
        check_stdio(server)
    assert parse("claude-code")["mcpServers"]["itbench"]["type"] == "stdio"
    assert parse("gemini")["mcpServers"]["itbench"]["trust"] is True
    vscode = parse("vscode")["servers"]["itbench"]
    assert vscode["type"] == "stdio"
    check_stdio(vscode)
    codex = parse("codex")["mcp_servers"]["itbench"]
    check_stdio(codex)
    assert codex["required"] is True


def test_each_http_snippet_names_the_mcp_url_and_a_bearer_token_from_the_environment() -> None:
    claude = parse("claude-code-http")["mcpServers"]["itbench"]
    assert claude["type"] == "http"
    check_http_url(claude["url"])
    assert claude["headers"]["Authorization"] == "Bearer ${ITBENCH_SERVER_TOKEN}"
    codex = parse("codex-http")["mcp_servers"]["itbench"]
    check_http_url(codex["url"])
    assert codex["bearer_token_env_var"] == "ITBENCH_SERVER_TOKEN"
    gemini = parse("gemini-http")["mcpServers"]["itbench"]
    check_http_url(gemini["httpUrl"])
    assert gemini["headers"]["Authorization"] == "Bearer $ITBENCH_SERVER_TOKEN"
    cursor = parse("cursor-http")["mcpServers"]["itbench"]
    check_http_url(cursor["url"])
    assert cursor["headers"]["Authorization"] == "Bearer ${env:ITBENCH_SERVER_TOKEN}"
    vscode = parse("vscode-http")
    server = vscode["servers"]["itbench"]
    assert server["type"] == "http"
    check_http_url(server["url"])
    [prompt] = vscode["inputs"]
    assert server["headers"]["Authorization"] == f"Bearer ${{input:{prompt['id']}}}"
    assert prompt["password"] is True


def filled(client: str, tmp_path: Path, cache_dir: Path) -> str:
    _, body = snippets()[client]
    for placeholder, value in {
        "SCENARIO_DIR": SCENARIO, "SUBMISSION_FILE": tmp_path / "submission.json", "CACHE_DIR": cache_dir,
    }.items():  # fmt: skip
        body = body.replace(placeholder, str(value))
    return body


def mcp_list(binary: str, home: Path) -> str:
    """``<client> mcp list`` offline, in ``home``, with itbench-server on PATH."""
    executable = BIN / binary
    if not executable.exists():
        pytest.skip(f"{binary} is not installed in node_modules/.bin")
    work = home / "work"
    work.mkdir()
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home), "CODEX_HOME": str(home / ".codex"), "LANG": "C.UTF-8", "TERM": "dumb",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1",
    }  # fmt: skip
    if shutil.which("node", path=env["PATH"]) is None and binary != "claude":
        pytest.skip("node is not on PATH")
    done = subprocess.run(
        [str(executable), "mcp", "list"], cwd=work, env=env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    if re.search(r"ENOTFOUND|EAI_AGAIN|getaddrinfo|network is unreachable", output, re.IGNORECASE):
        pytest.skip(f"{binary} mcp list needs the network here: {output[-300:]}")
    assert done.returncode == 0, output
    return output


def test_claude_codes_own_mcp_list_connects_to_the_server_of_the_snippet(
    tmp_path: Path, cache_dir: Path
) -> None:
    (tmp_path / ".claude.json").write_text(filled("claude-code", tmp_path, cache_dir), encoding="utf-8")
    output = mcp_list("claude", tmp_path)
    assert re.search(r"itbench: .*itbench-server serve .*Scenario-synth-1.* - ✔ Connected", output), output


def test_gemini_clis_own_mcp_list_connects_to_the_server_of_the_snippet(
    tmp_path: Path, cache_dir: Path
) -> None:
    settings = json.loads(filled("gemini", tmp_path, cache_dir))
    settings["security"] = {"folderTrust": {"enabled": False}}  # the temporary HOME is no trusted folder
    (tmp_path / ".gemini").mkdir()
    (tmp_path / ".gemini" / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    output = mcp_list("gemini", tmp_path)
    assert re.search(r"itbench: .*itbench-server serve .*\(stdio\) - Connected", output), output


@pytest.mark.parametrize("client", ["codex", "codex-http"])
def test_codexs_own_mcp_list_reads_the_server_of_the_snippet(
    client: str, tmp_path: Path, cache_dir: Path
) -> None:
    (tmp_path / ".codex").mkdir()
    (tmp_path / ".codex" / "config.toml").write_text(filled(client, tmp_path, cache_dir), encoding="utf-8")
    output = mcp_list("codex", tmp_path)
    [row] = [line for line in output.splitlines() if line.startswith("itbench ")]
    assert "enabled" in row
    assert ("Scenario-synth-1" in row) if client == "codex" else ("http://127.0.0.1:8811/mcp" in row)
