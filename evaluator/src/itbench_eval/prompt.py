"""The task prompt every agent is given: ITBench-AA's task, in this project's words."""

from __future__ import annotations

__all__ = ["AA_TASK_PROMPT", "TASK_PROMPT", "build_prompt"]

TASK_PROMPT = """\
An incident happened in a Kubernetes cluster. Its recording (alerts, Kubernetes objects and \
events, application logs, traces and metrics from the time of the incident) is available \
through the tools of this MCP server; start with get_overview.

Investigate the incident and find its root causes: the smallest set of independent faults that \
explain what went wrong. Report the objects where the faults are, not the symptoms they caused \
and not the services the failure passed through on its way.

Name each root cause as namespace/Kind/name, for example otel-demo/Deployment/checkout. For an \
object that belongs to no namespace (a Node, a Namespace), use cluster as the namespace: \
cluster/Node/worker-1.

When you have finished, call submit_diagnosis exactly once, with one contributing_factors entry \
per root cause: its name, your reasoning, and the evidence you found. Extra entries that are not \
root causes lower the score; a missing root cause scores zero. You have at most {max_turns} \
turns.
"""


AA_TASK_PROMPT = """\
An incident happened in a Kubernetes cluster. Its recording (alerts, Kubernetes objects and \
events, application logs, traces and metrics from the time of the incident) is available as \
files; run_shell runs a bash command over them, in their directory, with Python 3 and pandas at \
hand. The server's instructions describe the files.

Investigate the incident and find its root causes: the smallest set of independent faults that \
explain what went wrong. A fault that another one explains is not a root cause. Report the \
objects where the faults are, not the symptoms they caused and not the services the failure \
passed through on its way.

Name each root cause as namespace/Kind/name, for example otel-demo/Deployment/checkout. For an \
object that belongs to no namespace (a Node, a Namespace), use cluster as the namespace: \
cluster/Node/worker-1.

When you have finished, call submit_diagnosis exactly once, with one contributing_factors entry \
per root cause: its name, your reasoning, and the evidence you found. Extra entries that are not \
root causes lower the score; a missing root cause scores zero. You have at most {max_turns} \
turns.
"""


def build_prompt(max_turns: int, profile: str = "full") -> str:
    """The prompt of one run, with its turn cap, for the server's tool ``profile``."""
    template = AA_TASK_PROMPT if profile == "aa" else TASK_PROMPT
    return template.format(max_turns=max_turns)
