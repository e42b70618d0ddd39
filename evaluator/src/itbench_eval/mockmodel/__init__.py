"""A scripted model server: OpenAI Chat/Responses, Anthropic Messages and Gemini on loopback.

It stands in for a model provider in tests and demonstrations: every reply comes from a script
(:mod:`itbench_eval.mockmodel.script`), chosen from the conversation in the request, so it is
stateless and safe under concurrency; scripts can inject failures (HTTP errors with
``retry-after``, malformed or unknown tool calls, slow replies, context overflows).

    with serve(load_script(Path("script.yaml"))) as base_url:
        ...  # OpenAI SDK: base_url + "/v1"; Anthropic SDK: base_url
"""

from itbench_eval.mockmodel.script import Script, ScriptError, ScriptStep, load_script
from itbench_eval.mockmodel.server import MockModelServer, RequestLog, serve

__all__ = ["MockModelServer", "RequestLog", "Script", "ScriptError", "ScriptStep", "load_script", "serve"]
