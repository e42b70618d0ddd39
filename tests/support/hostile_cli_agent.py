"""A hostile command-line agent for ``--agent 'cmd:/usr/bin/python3 THIS ...'`` (standard library only).

It tries every way out of its sandbox it can think of, writes what each attempt gave to
``report.json`` in its working directory, then submits a diagnosis through the run's MCP server
(Streamable HTTP, by hand) the honest way.

    hostile_cli_agent.py MCP_URL TOKEN WORKDIR TARGETS HOST_PORT NAME

TARGETS is base64 of a JSON object: ``answer_key`` (its path on the host), ``results`` (the
evaluation's results file), ``needle`` (a string only the answer key holds). The agent's own
submission file and the first run's audit log are found from WORKDIR (``RUN_DIR/agent/home/work``).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import urllib.request


def attempt(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"failed: {error}"
    return f"status {done.returncode}: {(done.stdout + done.stderr).strip()[:2000]}"


def read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return "read: " + file.read()[:2000]
    except OSError as error:
        return f"failed: {error}"


def write(path: str) -> str:
    try:
        with open(path, "w", encoding="utf-8") as file:
            file.write('{"contributing_factors": [{"name": "forged/Deployment/forged"}]}')
        return "written"
    except OSError as error:
        return f"failed: {error}"


def connect(host: str, port: int) -> str:
    try:
        with socket.create_connection((host, port), timeout=3):
            return "connected"
    except OSError as error:
        return f"failed: {error}"


class McpClient:
    """Just enough of MCP's Streamable HTTP to initialize and call one tool."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        self.next_id = 0

    def post(self, method: str, params: dict[str, object], notify: bool = False) -> dict[str, object]:
        message: dict[str, object] = {"jsonrpc": "2.0", "method": method, "params": params}
        if not notify:
            self.next_id += 1
            message["id"] = self.next_id
        request = urllib.request.Request(self.url, json.dumps(message).encode(), self.headers, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            session = response.headers.get("mcp-session-id")
            if session:
                self.headers["mcp-session-id"] = session
            body = response.read().decode()
        if notify or not body.strip():
            return {}
        if body.lstrip().startswith("{"):
            return json.loads(body)
        data = [line[5:].strip() for line in body.splitlines() if line.startswith("data:")]
        return json.loads(data[-1])


def main() -> int:
    url, token, workdir, encoded, host_port, name = sys.argv[1:7]
    targets = json.loads(base64.urlsafe_b64decode(encoded))
    run_dir = os.path.normpath(os.path.join(workdir, "..", "..", ".."))
    report: dict[str, object] = {
        "answer_key_by_path": read(targets["answer_key"]),
        "results_file": read(targets["results"]),
        "other_run_file": read(os.path.join(os.path.dirname(run_dir), "r1", "audit.jsonl")),
        "find_answer_keys": attempt(["find", "/", "-name", "ground_truth*", "-not", "-path", "/proc/*"]),
        "grep_everywhere": attempt(
            ["grep", "-rl", targets["needle"], "/home", "/tmp", "/work", "/root", "/etc", "/run"]
        ),
        "host_loopback_port": connect("127.0.0.1", int(host_port)),
        "outside_address": connect("1.1.1.1", 53),
        "unmount": attempt(["umount", "-l", "/usr"]),
        "proc_1_environ": read("/proc/1/environ"),
        "environment": json.dumps(dict(os.environ)),
    }
    client = McpClient(url, token)
    client.post(
        "initialize",
        {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "hostile", "version": "0"},
        },
    )
    client.post("notifications/initialized", {}, notify=True)
    client.headers["MCP-Protocol-Version"] = "2025-06-18"
    overview = client.post("tools/call", {"name": "get_overview", "arguments": {}})
    reply = client.post(
        "tools/call",
        {"name": "submit_diagnosis", "arguments": {"contributing_factors": [{"name": name}]}},
    )
    report["overview_ok"] = "error" not in overview
    report["submitted"] = reply
    # After the honest submission: a forged file where the server keeps it must not replace it.
    report["write_submission"] = write(os.path.join(run_dir, "submission.json"))
    with open(os.path.join(workdir, "report.json"), "w", encoding="utf-8") as file:
        json.dump(report, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
