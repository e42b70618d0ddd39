"""The task prompt every agent is given: ITBench-AA's task, in this project's words."""

from __future__ import annotations

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


def build_prompt(max_turns: int) -> str:
    """The prompt of one run, with its turn cap."""
    return TASK_PROMPT.format(max_turns=max_turns)
