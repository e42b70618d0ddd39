"""The ``itbench-eval mock-model`` subcommand: serve a script until interrupted.

    itbench-eval mock-model --script FILE [--port P] [--host H] [--record FILE.jsonl]

It prints its URLs on one line each, then serves until Ctrl-C. A script that cannot be read is
one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from itbench_eval.mockmodel.script import ScriptError, load_script
from itbench_eval.mockmodel.server import MockModelServer, RequestLog

__all__ = ["add_mock_model_command", "run_mock_model"]

EXIT_USAGE = 2


def add_mock_model_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``mock-model`` on the ``itbench-eval`` parser."""
    parser = subparsers.add_parser(
        "mock-model",
        help="serve a scripted model (OpenAI Chat/Responses, Anthropic, Gemini) on loopback",
        description=(
            "A loopback model server that answers the OpenAI Chat Completions, OpenAI Responses, "
            "Anthropic Messages and Gemini generateContent APIs (plain and streaming) from a script. "
            "See docs/agents.md for the script format."
        ),
    )
    parser.add_argument("--script", required=True, type=Path, metavar="FILE", help="a YAML or JSON script")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--record",
        type=Path,
        default=None,
        metavar="FILE.jsonl",
        help="write every request as a JSON line (default: not recorded)",
    )
    parser.set_defaults(handler=run_mock_model)


def run_mock_model(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        print(f"error: --port {args.port}: not a port number (0 to 65535)", file=sys.stderr)
        return EXIT_USAGE
    try:
        script = load_script(args.script)
    except ScriptError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        server = MockModelServer(script, host=args.host, port=args.port, log=RequestLog(args.record))
    except OSError as error:
        print(f"error: --port {args.port}: cannot listen: {error.strerror}", file=sys.stderr)
        return EXIT_USAGE
    base = server.base_url
    print(f"mock model serving {args.script} on {base}", flush=True)
    print(f"  openai:, openai-responses:  --base-url {base}/v1", flush=True)
    print(f"  anthropic:                  --base-url {base}", flush=True)
    print(f"  gemini:                     {base}/v1beta/models/MODEL:generateContent", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it is meant to stop
        server.serve_forever()
    return 0
