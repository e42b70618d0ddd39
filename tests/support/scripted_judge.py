"""A real loopback HTTP server that answers OpenAI-style chat completions from a script."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ScriptedJudge:
    """The replies to give, in order, as ``(HTTP status, message content)``; and what was asked."""

    replies: list[tuple[int, str]]
    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def _handler(judge: ScriptedJudge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            judge.requests.append(json.loads(self.rfile.read(length)))
            judge.authorizations.append(self.headers.get("Authorization"))
            judge.paths.append(self.path)
            status, content = judge.replies.pop(0) if judge.replies else (500, "no reply scripted")
            if status == 200:
                body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
                payload = json.dumps(body).encode()
            else:
                payload = content.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def scripted_judge(*replies: tuple[int, str]) -> Iterator[ScriptedJudge]:
    """Serve ``replies`` on 127.0.0.1 for the duration of the block."""
    judge = ScriptedJudge(replies=list(replies))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(judge))
    judge.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    # A short poll interval keeps shutdown() quick.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield judge
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
