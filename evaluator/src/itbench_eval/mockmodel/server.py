"""The scripted model server: a loopback HTTP server answering model APIs from a script.

:func:`serve` starts it in a background thread of the calling process and yields its base URL
(``http://127.0.0.1:PORT``); ``itbench-eval mock-model --script FILE`` runs it in the
foreground. Point an OpenAI client at ``BASE/v1``, an Anthropic client at ``BASE``, a Gemini
client at ``BASE`` (``/v1beta/models/M:generateContent``). Paths are matched by their ending,
so ``BASE/v1/messages`` and ``BASE/v1/v1/messages`` both work.

Each request is handled on its own thread and its reply depends only on the request (see
:mod:`itbench_eval.mockmodel.script`), so concurrent conversations never mix. Every request is
recorded in a :class:`RequestLog`, in memory and, if given a path, one JSON line each.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from itbench_eval.mockmodel.script import Script, ScriptStep, UsageSpec, fill_matches
from itbench_eval.mockmodel.wire import (
    TOOL_SEARCH,
    ConversationView,
    ErrorKind,
    Reply,
    ReplyCall,
    ReplyUsage,
    Wire,
    json_stub,
    read_request,
    render_error,
    render_reply,
    wire_of_path,
)

__all__ = ["RETRY_COUNT_HEADER", "MockModel", "MockModelServer", "RequestLog", "serve"]

RETRY_COUNT_HEADER = "x-stainless-retry-count"


class RequestLog:
    """Every request the server answered, in arrival order; thread-safe."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("", encoding="utf-8")

    def add(self, record: dict[str, Any]) -> None:
        with self._lock:
            record = {"seq": len(self._records) + 1, **record}
            self._records.append(record)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    @property
    def records(self) -> list[dict[str, Any]]:
        """A copy of the records so far."""
        with self._lock:
            return list(self._records)


def _estimate_tokens(text_length: int) -> int:
    return max(1, text_length // 4)


def _deferred_names(view: ConversationView, names: list[str]) -> list[str]:
    """The client's names of the script's tools that the request mentions without offering them."""
    found: list[str] = []
    for name in names:
        match = re.search(rf"mcp__[A-Za-z0-9_-]+?__{re.escape(name)}\b", view.text)
        if match and match.group(0) not in found:
            found.append(match.group(0))
    return found


class MockModel:
    """The decisions of the server, apart from HTTP: which step, which reply, which failure."""

    def __init__(self, script: Script, log: RequestLog, stopping: threading.Event) -> None:
        self.script = script
        self.log = log
        self._stopping = stopping
        self._lock = threading.Lock()
        self._attempts: Counter[str] = Counter()
        self._replies = 0

    def _attempt(self, retry_header: str | None, raw_body: bytes) -> int:
        """Which attempt at this request this is: 0 for the first."""
        if retry_header is not None and retry_header.isdigit():
            return int(retry_header)
        # No SDK retry counter: count identical bodies (a retry repeats its body exactly).
        digest = hashlib.sha256(raw_body).hexdigest()
        with self._lock:
            self._attempts[digest] += 1
            return self._attempts[digest] - 1

    def _next_id(self) -> int:
        with self._lock:
            self._replies += 1
            return self._replies

    def _usage(self, step: ScriptStep, view: ConversationView, reply_chars: int) -> ReplyUsage:
        spec = step.usage or self.script.usage or UsageSpec()
        input_tokens = spec.input_tokens if spec.input_tokens is not None else _estimate_tokens(view.chars)
        output_tokens = (
            spec.output_tokens if spec.output_tokens is not None else _estimate_tokens(reply_chars)
        )
        return ReplyUsage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_tokens=spec.cached_tokens,
            cache_write_tokens=spec.cache_write_tokens,
            reasoning_tokens=spec.reasoning_tokens,
        )

    def _offers_any_script_tool(self, view: ConversationView) -> bool:
        """Whether the request offers any tool the script calls, by any name.

        When it does, a step's tool that is not offered is sent as written: the script names an
        unknown tool on purpose, and the model must recover from the error.
        """
        return any(view.resolve_tool(name) is not None for name in self.script.tool_names())

    def _reply(self, index: int, step: ScriptStep, view: ConversationView) -> Reply:
        prefix = {"anthropic": "toolu", "gemini": "fc"}.get(view.wire, "call")
        text = step.say
        calls: list[ReplyCall] = []
        specs = step.tool_calls()
        if view.json_schema is not None:
            # A JSON-only side request (Gemini CLI's router): answer its schema, off the script.
            specs, text = [], json.dumps(json_stub(view.json_schema))
        resolved = [(spec, view.resolve_tool(spec.name)) for spec in specs]
        unresolved = [spec.name for spec, found in resolved if found is None]
        deferred = _deferred_names(view, self.script.tool_names()) if unresolved else []
        if unresolved and TOOL_SEARCH in view.tools and _deferred_names(view, unresolved):
            # Claude Code lists MCP tools only by name until ToolSearch loads them: load every
            # tool the script uses, in a turn the script does not count.
            arguments = json.dumps({"query": "select:" + ",".join(deferred), "max_results": len(deferred)})
            calls.append(ReplyCall(call_id=f"{prefix}_{index}_search", name=TOOL_SEARCH, arguments=arguments))
            specs, resolved, text = [], [], None
        elif specs and view.tools and not self._offers_any_script_tool(view):
            # The request offers tools, but none the script uses under any name: a side request
            # of the client (a title, a summary), which gets a short text. A request that offers
            # no tools at all gets the step as written.
            specs, resolved, text = [], [], text or "OK"
        for number, (spec, found) in enumerate(resolved):
            arguments = spec.raw_arguments
            if arguments is None:
                arguments = json.dumps(fill_matches(spec.arguments, view.tool_results_text))
            name, namespace = found if found is not None else (spec.name, None)
            calls.append(
                ReplyCall(
                    call_id=f"{prefix}_{index}_{number}", name=name, arguments=arguments, namespace=namespace
                )
            )
        reply_chars = len(text or "") + sum(len(call.arguments) + len(call.name) for call in calls)
        response_id = {"openai-chat": "chatcmpl", "anthropic": "msg"}.get(view.wire, "resp")
        return Reply(
            response_id=f"{response_id}_mock_{self._next_id()}",
            model=self.script.model or view.model or "mock-model",
            text=text,
            calls=calls,
            usage=self._usage(step, view, reply_chars),
        )

    def answer(
        self, wire: Wire, path: str, body: dict[str, Any], raw_body: bytes, retry_header: str | None
    ) -> tuple[int, dict[str, str], str, bytes, dict[str, Any]]:
        """(status, extra headers, content type, body, log summary) for one request."""
        view = read_request(wire, path, body)
        index, step = self.script.step_for(view.assistant_turns, view.forced_tool)
        attempt = self._attempt(retry_header, raw_body)
        summary: dict[str, Any] = {
            "wire": wire,
            "model": view.model,
            "stream": view.stream,
            "step": index,
            "attempt": attempt,
            "forced_tool": view.forced_tool,
            "tools": len(view.tools),
            "conversation_chars": view.chars,
        }
        limit = self.script.context_limit_chars
        if limit is not None and view.chars > limit:
            message = (
                f"context overflow: this conversation holds {view.chars} characters, the limit is {limit}"
            )
            if wire == "anthropic":
                message = f"prompt is too long: {view.chars} characters > {limit} maximum"
            summary["error"] = "context_overflow"
            return self._error(wire, 400, message, "context_overflow", None, summary)
        failure = step.fail
        if failure is not None and (failure.times is None or attempt < failure.times):
            summary["error"] = f"scripted {failure.status}"
            return self._error(
                wire, failure.status, failure.message, "failure", failure.retry_after_s, summary
            )
        if step.delay_s and self._stopping.wait(step.delay_s):
            summary["error"] = "server stopping"
            return self._error(wire, 503, "the mock model is stopping", "failure", None, summary)
        reply = self._reply(index, step, view)
        summary["reply"] = {"text": reply.text, "calls": [[c.name, c.arguments] for c in reply.calls]}
        content_type, payload = render_reply(reply, view)
        return 200, {}, content_type, payload, summary

    @staticmethod
    def _error(
        wire: Wire | None,
        status: int,
        message: str,
        kind: ErrorKind,
        retry_after_s: float | None,
        summary: dict[str, Any],
    ) -> tuple[int, dict[str, str], str, bytes, dict[str, Any]]:
        headers: dict[str, str] = {}
        if retry_after_s is not None:
            headers["retry-after-ms"] = str(round(retry_after_s * 1000))
            headers["retry-after"] = str(retry_after_s)
        return status, headers, "application/json", render_error(wire, status, message, kind), summary


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the SDKs pool their connections

    @property
    def mock(self) -> _MockHTTPServer:
        return cast(_MockHTTPServer, self.server)

    def log_message(self, format: str, *args: Any) -> None:
        return  # requests go to the RequestLog, not stderr

    def _send(
        self, status: int, content_type: str, payload: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        model = self.mock.model
        status = 200
        if path.endswith("/models"):
            name = model.script.model or "mock-model"
            body = {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "itbench-mock"}]}
            self._send(200, "application/json", json.dumps(body).encode("utf-8"))
        elif path in ("/", "/health"):
            self._send(200, "application/json", b'{"status":"ok"}')
        else:
            status = 404
            self._send(404, "application/json", render_error(None, 404, f"no route GET {path}", "not_found"))
        self.mock.log.add({"time": time.time(), "method": "GET", "path": self.path, "status": status})

    def do_POST(self) -> None:
        started = time.monotonic()
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        record: dict[str, Any] = {"time": time.time(), "method": "POST", "path": self.path}
        wire = wire_of_path(path)
        try:
            body = json.loads(raw_body or b"{}")
        except json.JSONDecodeError:
            body = None
        if path.endswith(("/count_tokens", ":countTokens")):
            count = _estimate_tokens(len(raw_body))
            key = "input_tokens" if path.endswith("/count_tokens") else "totalTokens"
            self._send(200, "application/json", json.dumps({key: count}).encode("utf-8"))
            self.mock.log.add({**record, "status": 200, "count_tokens": count})
            return
        if wire is None or not isinstance(body, dict):
            status, kind = (404, "not_found") if wire is None else (400, "bad_request")
            message = f"no route POST {path}" if wire is None else "the request body is not a JSON object"
            self._send(status, "application/json", render_error(wire, status, message, kind))
            self.mock.log.add({**record, "status": status, "error": message})
            return
        try:
            status, headers, content_type, payload, summary = self.mock.model.answer(
                wire, path, body, raw_body, self.headers.get(RETRY_COUNT_HEADER)
            )
        except Exception as error:  # a bug in a script's reply must not drop the connection
            message = f"the mock model failed: {type(error).__name__}: {error}"
            status, headers, content_type = 500, {}, "application/json"
            payload, summary = render_error(wire, 500, message), {"wire": wire, "error": message}
        self._send(status, content_type, payload, headers)
        latency = round(time.monotonic() - started, 4)
        self.mock.log.add({**record, **summary, "status": status, "latency_s": latency, "body": body})


class _MockHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a slow reply never keeps the process alive

    def __init__(self, address: tuple[str, int], model: MockModel, log: RequestLog) -> None:
        super().__init__(address, _Handler)
        self.model = model
        self.log = log


class MockModelServer:
    """A started server: its URL, its log; :meth:`stop` ends it (slow replies answer 503 at once)."""

    def __init__(
        self, script: Script, host: str = "127.0.0.1", port: int = 0, log: RequestLog | None = None
    ) -> None:
        self.log = log if log is not None else RequestLog()
        self._stopping = threading.Event()
        self.model = MockModel(script, self.log, self._stopping)
        self._http = _MockHTTPServer((host, port), self.model, self.log)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT``: Anthropic's base URL; OpenAI's is this plus ``/v1``."""
        host = str(self._http.server_address[0])
        return f"http://{host}:{self.port}"

    def start(self) -> MockModelServer:
        # A short poll interval: stopping (at the end of every test) waits for at most one poll.
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, name="mock-model", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        try:
            self._http.serve_forever()
        finally:
            self._http.server_close()

    def stop(self) -> None:
        self._stopping.set()
        self._http.shutdown()
        self._http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


@contextlib.contextmanager
def serve(
    script: Script, *, port: int = 0, host: str = "127.0.0.1", log: RequestLog | None = None
) -> Iterator[str]:
    """Run a mock model in this process for the ``with`` block; yields its base URL.

    ``port=0`` picks a free port. Pass a :class:`RequestLog` to read the requests afterwards.
    """
    server = MockModelServer(script, host=host, port=port, log=log).start()
    try:
        yield server.base_url
    finally:
        server.stop()
