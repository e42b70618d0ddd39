"""The base of the exceptions of ``itbench_eval``.

Every exception the evaluator raises on purpose derives from :class:`EvalError`. The classes live
next to the code that raises them; most also derive from ``ValueError``, as they did before this
base existed, so that callers catching ``ValueError`` still catch them::

    EvalError                       base of everything raised on purpose
    ├── CommandError                a bad invocation of ``itbench-eval`` (cli)
    ├── RunnerError                 the evaluation cannot start (runner)
    ├── TaskError                   a scenario source cannot be used (tasks)
    ├── AgentSpecError              an ``--agent`` value names no agent (agents.loader)
    ├── ModelConfigError            a model agent's options are wrong (agents.model_config)
    ├── CliSetupError               a CLI agent cannot run here: no binary, no sandbox (agents.cli.base)
    ├── PriceTableError             a price table cannot be read (agents.prices)
    ├── ReplayError                 a replay file cannot be read (agents.replay)
    ├── SettingsError               a ``settings.json`` cannot be read (settings)
    ├── ResultsFileError            a ``results.jsonl`` cannot be read (results)
    ├── ReportError                 a results directory cannot be reported on (report)
    ├── GroundTruthError            a ground truth cannot be read (groundtruth)
    ├── JudgeReplyError             the LLM judge's reply cannot be used (judge)
    ├── ScriptError                 a mock model's script is not valid (mockmodel.script)
    ├── ViewError                   a bad invocation of ``itbench-eval view`` (view.server)
    ├── ShardError                  a ``--shard`` that is not ``I/N`` (backends)
    └── errors that end one run with an error class, caught by the runner:
        ├── ModelError              the model API failed after retries: ``model_error`` (agents.base)
        ├── HarnessError            the harness failed around the agent: ``harness_error`` (agents.base)
        ├── TurnLimitExceeded       the agent went past its turn cap (agents.base)
        └── ContextOverflowError    the conversation is too long for the model (agents.model_loop)

``itbench-eval`` (:func:`itbench_eval.cli.main`) turns any ``EvalError`` that reaches it into one
line on stderr, ``error: <message>``, and exit status 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

__all__ = ["EvalError", "one_line"]


class EvalError(Exception):
    """Base class of every error ``itbench_eval`` raises on purpose; the message says what to fix."""


def one_line(error: BaseException) -> str:
    """The message of ``error`` on one line: its lines joined with `` / ``, blank ones dropped.

    ``one_line(EvalError("bad\\n\\n  value"))`` is ``'bad / value'``.
    """
    lines = [line.strip() for line in str(error).splitlines()]
    return " / ".join(line for line in lines if line) or type(error).__name__
