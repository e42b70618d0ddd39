"""A black-box command-line agent for ``cmd:python3 THIS {mcp_url} {mcp_token} NAME`` (standard
library only): it calls get_overview, then submits NAME, over Streamable HTTP by hand."""

from __future__ import annotations

import json
import sys
import urllib.request


class McpClient:
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
    url, token, name = sys.argv[1:4]
    client = McpClient(url, token)
    client.post(
        "initialize",
        {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "black-box", "version": "1"},
        },
    )
    client.post("notifications/initialized", {}, notify=True)
    client.post("tools/call", {"name": "get_overview", "arguments": {}})
    factors = [{"name": name, "reasoning": "black box", "evidence": "overview"}]
    client.post("tools/call", {"name": "submit_diagnosis", "arguments": {"contributing_factors": factors}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
