"""An optional LLM judge as the matcher, as ITBench-AA matches names with a model.

It is used only when asked for (``--matcher llm``). It sends the ground truth's groups and aliases
and the submitted names to any OpenAI-compatible ``/chat/completions`` endpoint, with the
matching rules of :mod:`itbench_eval.matching` stated in the prompt, and expects a JSON object
mapping each submitted name to a group id or ``null``. A reply that cannot be used (not JSON, a
name left out, an id that is no group, an HTTP error) falls back to the deterministic matcher,
and the outcome says so. Every outcome reports how often the judge agreed with the deterministic
matcher.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from itbench_eval.errors import EvalError
from itbench_eval.groundtruth import GroundTruth
from itbench_eval.matching import NameMatch, match_names, parse_entity_name

__all__ = [
    "DEFAULT_API_KEY_ENV",
    "Disagreement",
    "JudgeOutcome",
    "JudgeReplyError",
    "JudgeSettings",
    "LlmJudgeMatcher",
    "judge_matches",
    "judge_messages",
    "parse_judge_reply",
]

DEFAULT_API_KEY_ENV = "ITBENCH_JUDGE_API_KEY"

JUDGE_INSTRUCTIONS = """\
You check a diagnosis of a Kubernetes incident against its answer key. The answer key lists \
groups; each group describes some objects by kind, namespace, and either a list of filters \
(regular expressions that may match anywhere in an object's name) or an exact name. For every \
submitted object name, say which group it refers to, or null.

Rules:
1. A submitted name has the form namespace/Kind/name; objects outside any namespace use the \
namespace "cluster". A name not of this form refers to no group.
2. A name refers to a group only when its kind agrees with the group's kind, its namespace \
equals the group's namespace (when the group has one), and its object name equals the group's \
name or is matched by one of the group's filters.
3. Compare kinds ignoring case. Deployment, Pod, ReplicaSet, StatefulSet, DaemonSet and Rollout \
of one workload in one namespace are the same thing: a workload W stands for its pods \
W-<hash>-<suffix>, so a filter written for pod names also fits the workload.
4. A Chaos Mesh Schedule stands for the chaos object it creates (NetworkChaos, StressChaos, \
PodChaos, HTTPChaos, IOChaos, JVMChaos, TimeChaos, DNSChaos, ...) when its name fits the \
group's filter.
5. Groups listed together under "aliases" denote one thing; any of them is a right answer.
6. When several groups fit equally, pick the one whose id names the object; give two different \
objects the same group only when no other equally fitting group is left.
7. When no group clearly fits, answer null. Do not guess, and do not judge whether the object \
is really the cause of the incident: only say what it refers to.

Reply with one JSON object and nothing else: its keys are the submitted names exactly as given, \
its values a group id (a string) or null."""


class JudgeSettings(BaseModel):
    """Where and how to reach the judge model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(
        description="OpenAI-compatible base URL ending before /chat/completions, e.g. .../v1"
    )
    model: str
    api_key_env: str = DEFAULT_API_KEY_ENV
    timeout_seconds: float = 120.0
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="extra request fields, e.g. {'reasoning_effort': 'medium'}"
    )


class JudgeReplyError(EvalError, ValueError):
    """The judge's reply cannot be used; the message says why."""


class Disagreement(BaseModel):
    """A name the judge and the deterministic matcher matched differently."""

    name: str
    judge: str | None
    deterministic: str | None


class JudgeOutcome(BaseModel):
    """The matches used, where they came from, and the agreement with the deterministic matcher."""

    matches: list[NameMatch]
    matcher: Literal["llm", "deterministic"]
    fallback_reason: str | None = None
    agreement: float | None
    """Share of names both matchers matched alike; ``None`` when the judge's reply was unusable."""
    disagreements: list[Disagreement] = Field(default_factory=list)


def _group_description(ground_truth: GroundTruth) -> list[dict[str, Any]]:
    described: list[dict[str, Any]] = []
    for group in ground_truth.groups:
        entry: dict[str, Any] = {"id": group.id, "kind": group.kind}
        if group.namespace is not None:
            entry["namespace"] = group.namespace
        if group.name is not None:
            entry["name"] = group.name
        if group.filters:
            entry["filter"] = list(group.filters)
        described.append(entry)
    return described


def judge_messages(ground_truth: GroundTruth, names: Sequence[str]) -> list[dict[str, str]]:
    """The chat messages sent to the judge."""
    aliases = [list(alias) for alias in ground_truth.aliases if len(alias) > 1]
    question = (
        f"Groups:\n{json.dumps(_group_description(ground_truth), indent=1)}\n\n"
        f"Aliases:\n{json.dumps(aliases)}\n\n"
        f"Submitted names:\n{json.dumps(list(dict.fromkeys(names)), indent=1)}"
    )
    return [{"role": "system", "content": JUDGE_INSTRUCTIONS}, {"role": "user", "content": question}]


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def parse_judge_reply(text: str, ground_truth: GroundTruth, names: Sequence[str]) -> dict[str, str | None]:
    """Validate the judge's reply: a JSON object mapping every name to a group id or null.

    Raises:
        JudgeReplyError: the reply is not such an object.
    """
    fenced = _FENCE.match(text.strip())
    body = fenced[1] if fenced else text.strip()
    try:
        reply = json.loads(body)
    except json.JSONDecodeError:
        raise JudgeReplyError(f"the reply is not JSON: {text[:80]!r}") from None
    if isinstance(reply, dict) and set(reply) == {"matches"} and isinstance(reply["matches"], dict):
        reply = reply["matches"]
    if not isinstance(reply, dict):
        raise JudgeReplyError(f"the reply is a JSON {type(reply).__name__}, not an object")
    mapping: dict[str, str | None] = {}
    for name in dict.fromkeys(names):
        if name not in reply:
            raise JudgeReplyError(f"the reply leaves out {name!r}")
        group_id = reply[name]
        if group_id is not None and (
            not isinstance(group_id, str) or group_id not in ground_truth.groups_by_id
        ):
            raise JudgeReplyError(f"the reply maps {name!r} to {group_id!r}, which is no group id")
        mapping[name] = group_id
    return mapping


def _ask(settings: JudgeSettings, messages: list[dict[str, str]], client: httpx.Client) -> str:
    headers = {}
    api_key = os.environ.get(settings.api_key_env)
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    body = {"model": settings.model, "messages": messages, **settings.extra_body}
    url = settings.base_url.rstrip("/") + "/chat/completions"
    try:
        response = client.post(url, json=body, headers=headers, timeout=settings.timeout_seconds)
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
    except httpx.HTTPStatusError as error:
        raise JudgeReplyError(f"the judge answered HTTP {error.response.status_code}") from None
    except httpx.HTTPError as error:
        raise JudgeReplyError(f"the judge could not be reached: {error}") from None
    except (ValueError, KeyError, IndexError, TypeError):
        raise JudgeReplyError("the judge's response is not a chat completion") from None
    if not isinstance(content, str):
        raise JudgeReplyError("the judge's message has no text content")
    return content


def judge_matches(
    ground_truth: GroundTruth,
    names: Sequence[str],
    settings: JudgeSettings,
    *,
    client: httpx.Client | None = None,
) -> JudgeOutcome:
    """Match ``names`` with the judge, falling back to the deterministic matcher on a bad reply."""
    deterministic = match_names(ground_truth, names)
    if not names:
        return JudgeOutcome(matches=[], matcher="llm", agreement=1.0)
    try:
        if client is None:
            with httpx.Client() as own_client:
                text = _ask(settings, judge_messages(ground_truth, names), own_client)
        else:
            text = _ask(settings, judge_messages(ground_truth, names), client)
        mapping = parse_judge_reply(text, ground_truth, names)
    except JudgeReplyError as error:
        return JudgeOutcome(
            matches=deterministic, matcher="deterministic", fallback_reason=str(error), agreement=None
        )
    matches: list[NameMatch] = []
    disagreements: list[Disagreement] = []
    for name, fallback in zip(names, deterministic, strict=True):
        group_id = mapping[name] if parse_entity_name(name) is not None else None
        if group_id is None:
            reason = "the judge matched no group" if parse_entity_name(name) else fallback.reason
        else:
            reason = f"the judge matched group {group_id}"
        matches.append(NameMatch(name=name, group_id=group_id, reason=reason))
        if group_id != fallback.group_id:
            disagreements.append(Disagreement(name=name, judge=group_id, deterministic=fallback.group_id))
    agreement = (len(names) - len(disagreements)) / len(names)
    return JudgeOutcome(matches=matches, matcher="llm", agreement=agreement, disagreements=disagreements)


class LlmJudgeMatcher:
    """A :data:`~itbench_eval.scoring.Matcher` backed by the judge; keeps every outcome it produced."""

    def __init__(self, settings: JudgeSettings, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self.client = client
        self.outcomes: list[JudgeOutcome] = []

    def __call__(self, ground_truth: GroundTruth, names: Sequence[str]) -> list[NameMatch]:
        outcome = judge_matches(ground_truth, names, self.settings, client=self.client)
        self.outcomes.append(outcome)
        return outcome.matches
