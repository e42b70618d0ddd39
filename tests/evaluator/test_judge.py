from __future__ import annotations

import json

import pytest
from ground_truths import quota_incident
from scripted_judge import scripted_judge

from itbench_eval.judge import (
    Disagreement,
    JudgeOutcome,
    JudgeSettings,
    LlmJudgeMatcher,
    judge_matches,
)
from itbench_eval.matching import NameMatch, match_names
from itbench_eval.scoring import score_names

NAMESPACE = "cluster/Namespace/otel-demo"
NAMES = [NAMESPACE, "otel-demo/Deployment/ad", "not a name"]


def settings(base_url: str) -> JudgeSettings:
    return JudgeSettings(base_url=base_url, model="judge-model", api_key_env="ITBENCH_TEST_JUDGE_KEY")


def test_the_judges_mapping_is_used_and_its_agreement_with_the_deterministic_matcher_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ITBENCH_TEST_JUDGE_KEY", "secret-123")
    reply = {
        NAMESPACE: "otel-demo-namespace-1",
        "otel-demo/Deployment/ad": "ad-service-1",
        "not a name": None,
    }

    with scripted_judge((200, json.dumps(reply))) as judge:
        outcome = judge_matches(quota_incident(), NAMES, settings(judge.base_url))

    assert outcome == JudgeOutcome(
        matches=[
            NameMatch(
                name=NAMESPACE,
                group_id="otel-demo-namespace-1",
                reason="the judge matched group otel-demo-namespace-1",
            ),
            NameMatch(
                name="otel-demo/Deployment/ad",
                group_id="ad-service-1",
                reason="the judge matched group ad-service-1",
            ),
            NameMatch(name="not a name", group_id=None, reason="not of the form namespace/Kind/name"),
        ],
        matcher="llm",
        agreement=2 / 3,
        disagreements=[
            Disagreement(
                name="otel-demo/Deployment/ad", judge="ad-service-1", deterministic="ad-deployment-1"
            )
        ],
    )
    assert judge.paths == ["/v1/chat/completions"]
    assert judge.authorizations == ["Bearer secret-123"]
    [request] = judge.requests
    assert request["model"] == "judge-model"
    system, user = request["messages"]
    assert "Chaos Mesh Schedule" in system["content"] and "null" in system["content"]
    assert '"otel-demo/Deployment/ad"' in user["content"] and '"ad-deployment-1"' in user["content"]
    assert "root_cause" not in user["content"]


def test_a_reply_in_a_code_fence_is_accepted() -> None:
    reply = "```json\n" + json.dumps(dict.fromkeys(NAMES)) + "\n```"

    with scripted_judge((200, reply)) as judge:
        outcome = judge_matches(quota_incident(), NAMES, settings(judge.base_url))

    assert (outcome.matcher, [match.group_id for match in outcome.matches]) == ("llm", [None, None, None])


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (
            (200, "The first name is the namespace."),
            "the reply is not JSON: 'The first name is the namespace.'",
        ),
        ((200, json.dumps([NAMESPACE])), "the reply is a JSON list, not an object"),
        (
            (200, json.dumps({NAMESPACE: "otel-demo-namespace-1"})),
            "the reply leaves out 'otel-demo/Deployment/ad'",
        ),
        (
            (200, json.dumps({**dict.fromkeys(NAMES), NAMESPACE: "quota-1"})),
            f"the reply maps {NAMESPACE!r} to 'quota-1', which is no group id",
        ),
        ((503, "overloaded"), "the judge answered HTTP 503"),
    ],
)
def test_an_unusable_reply_falls_back_to_the_deterministic_matcher(
    reply: tuple[int, str], reason: str
) -> None:
    with scripted_judge(reply) as judge:
        outcome = judge_matches(quota_incident(), NAMES, settings(judge.base_url))

    assert outcome == JudgeOutcome(
        matches=match_names(quota_incident(), NAMES),
        matcher="deterministic",
        fallback_reason=reason,
        agreement=None,
    )


def test_an_unreachable_judge_falls_back_to_the_deterministic_matcher() -> None:
    with scripted_judge() as judge:
        url = judge.base_url
    outcome = judge_matches(quota_incident(), NAMES, settings(url))

    assert outcome.matcher == "deterministic"
    assert outcome.fallback_reason is not None and outcome.fallback_reason.startswith(
        "the judge could not be reached"
    )


def test_the_judge_is_not_asked_about_an_empty_submission() -> None:
    with scripted_judge() as judge:
        outcome = judge_matches(quota_incident(), [], settings(judge.base_url))

    assert (outcome, judge.requests) == (JudgeOutcome(matches=[], matcher="llm", agreement=1.0), [])


def test_the_judge_can_score_a_submission_and_keeps_its_outcomes() -> None:
    reply = {NAMESPACE: "otel-demo-namespace-1", "otel-demo/Service/frontend": None}

    with scripted_judge((200, json.dumps(reply))) as judge:
        matcher = LlmJudgeMatcher(settings(judge.base_url))
        result = score_names(quota_incident(), list(reply), matcher=matcher)

    assert (result.score, result.tp, result.fp) == (0.5, 1, 1)
    assert [outcome.disagreements for outcome in matcher.outcomes] == [
        [Disagreement(name="otel-demo/Service/frontend", judge=None, deterministic="frontend-service-1")]
    ]
