"""``submit_diagnosis``: both published forms, name checks, and the submission file."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client
from mcp_scenario import text_of

from itbench_server.diagnosis import load_submission
from itbench_server.mcp.server import create_server
from itbench_server.mcp.settings import ServerSettings
from itbench_server.snapshot import Snapshot

pytestmark = pytest.mark.anyio


async def test_aa_form_is_recorded_and_written_as_a_loadable_submission(
    client: Client, settings: ServerSettings
) -> None:
    factor = {"name": "otel-demo/Deployment/ad", "reasoning": "crash loop", "evidence": "BackOff events"}

    result = await client.call_tool("submit_diagnosis", {"contributing_factors": [factor]})

    assert not result.is_error
    assert (
        text_of(result)
        == "Diagnosis recorded (submission 1). Root causes, in order: otel-demo/Deployment/ad."
    )
    assert settings.submission_out is not None
    assert json.loads(settings.submission_out.read_text(encoding="utf-8")) == {
        "contributing_factors": [factor],
        "entities": [],
        "propagations": [],
        "alerts_explained": [],
    }
    assert load_submission(settings.submission_out).root_causes() == ["otel-demo/Deployment/ad"]


async def test_ibm_form_names_the_contributing_entities_as_root_causes(
    client: Client, settings: ServerSettings
) -> None:
    arguments = {
        "entities": [
            {"name": "otel-demo/Deployment/ad", "contributing_factor": True},
            {"name": "otel-demo/Deployment/frontend", "contributing_factor": False},
        ],
        "propagations": [
            {
                "source": "otel-demo/Deployment/ad",
                "target": "otel-demo/Deployment/frontend",
                "effect": "errors",
            }
        ],
        "alerts_explained": [{"alert": "HighRequestErrorRate", "explanation": "ad fails"}],
    }

    result = await client.call_tool("submit_diagnosis", arguments)

    assert (
        text_of(result)
        == "Diagnosis recorded (submission 1). Root causes, in order: otel-demo/Deployment/ad."
    )
    assert settings.submission_out is not None
    saved = load_submission(settings.submission_out)
    assert [entity.name for entity in saved.entities] == [
        "otel-demo/Deployment/ad",
        "otel-demo/Deployment/frontend",
    ]
    assert saved.propagations[0].effect == "errors"
    assert saved.alerts_explained[0].explained is True


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("ad", "'ad' is not namespace/Kind/name; did you mean 'otel-demo/Deployment/ad'?"),
        (
            "Deployment/ad",
            "'Deployment/ad' is not namespace/Kind/name; did you mean 'otel-demo/Deployment/ad'?",
        ),
        (
            "otel-demo/ad",
            "'otel-demo/ad' is not namespace/Kind/name; did you mean 'otel-demo/Deployment/ad'?",
        ),
        (
            "Node/worker-1",
            "'Node/worker-1' is not namespace/Kind/name; did you mean 'cluster/Node/worker-1'?",
        ),
        ("worker-1", "'worker-1' is not namespace/Kind/name; did you mean 'cluster/Node/worker-1'?"),
        (
            "nothing here",
            "'nothing here' is not namespace/Kind/name; an entity name is 'namespace/Kind/name', for example "
            "'otel-demo/Deployment/ad' or, for a cluster-scoped object, 'cluster/Node/worker-1'",
        ),
    ],
)
async def test_a_malformed_name_is_refused_with_how_to_write_it(
    client: Client, settings: ServerSettings, name: str, fix: str
) -> None:
    result = await client.call_tool("submit_diagnosis", {"contributing_factors": [{"name": name}]})

    assert result.is_error
    assert text_of(result) == f"Error executing tool submit_diagnosis: nothing was recorded: {fix}"
    assert settings.submission_out is not None and not settings.submission_out.exists()


async def test_names_missing_from_the_recording_are_warnings_not_errors(client: Client) -> None:
    arguments = {
        "contributing_factors": [
            {"name": "default/Node/worker-1"},
            {"name": "otel-demo/deployment/ad"},
            {"name": "otel-demo/Deployment/payment"},
        ]
    }

    result = await client.call_tool("submit_diagnosis", arguments)

    assert not result.is_error
    assert text_of(result) == (
        "Diagnosis recorded (submission 1). Root causes, in order: default/Node/worker-1, "
        "otel-demo/deployment/ad, otel-demo/Deployment/payment.\n"
        "Warnings (the names were recorded as given; submit again to change them):\n"
        "  - 'default/Node/worker-1' does not match any object in the recording; did you mean "
        "'cluster/Node/worker-1'?\n"
        "  - 'otel-demo/deployment/ad': recorded as 'otel-demo/Deployment/ad'\n"
        "  - 'otel-demo/Deployment/payment' does not match any object in the recording"
    )


@pytest.mark.parametrize(
    "arguments",
    [{}, {"contributing_factors": []}, {"entities": [{"name": "otel-demo/Deployment/ad"}]}],
)
async def test_a_diagnosis_without_a_root_cause_is_refused(client: Client, arguments: dict[str, Any]) -> None:
    result = await client.call_tool("submit_diagnosis", arguments)

    assert result.is_error
    assert "name at least one root cause" in text_of(result)


async def test_a_later_submission_replaces_the_earlier_and_both_are_audited(
    client: Client, settings: ServerSettings
) -> None:
    await client.call_tool(
        "submit_diagnosis", {"contributing_factors": [{"name": "otel-demo/Deployment/frontend"}]}
    )
    second = await client.call_tool(
        "submit_diagnosis", {"contributing_factors": [{"name": "otel-demo/Deployment/ad"}]}
    )

    assert text_of(second).startswith("Diagnosis recorded (submission 2; it replaces the earlier one).")
    assert settings.submission_out is not None and settings.audit_log is not None
    assert load_submission(settings.submission_out).root_causes() == ["otel-demo/Deployment/ad"]
    records = [json.loads(line) for line in settings.audit_log.read_text(encoding="utf-8").splitlines()]
    assert [r["arguments"]["contributing_factors"][0]["name"] for r in records] == [
        "otel-demo/Deployment/frontend",
        "otel-demo/Deployment/ad",
    ]


async def test_submission_leaves_no_temporary_file_behind(client: Client, settings: ServerSettings) -> None:
    await client.call_tool(
        "submit_diagnosis", {"contributing_factors": [{"name": "otel-demo/Deployment/ad"}]}
    )

    assert settings.submission_out is not None
    assert sorted(path.name for path in settings.submission_out.parent.iterdir()) == [
        "audit.jsonl",
        "submission.json",
    ]


async def test_without_a_submission_file_the_diagnosis_is_still_checked_and_acknowledged(
    snapshot: Snapshot,
) -> None:
    async with Client(create_server(snapshot, ServerSettings())) as client:
        refused = await client.call_tool("submit_diagnosis", {"contributing_factors": [{"name": "x"}]})
        accepted = await client.call_tool(
            "submit_diagnosis", {"contributing_factors": [{"name": "otel-demo/Pod/ad-5d9f7c6b8-x2x9q"}]}
        )

    assert refused.is_error
    assert text_of(accepted) == (
        "Diagnosis recorded (submission 1). Root causes, in order: otel-demo/Pod/ad-5d9f7c6b8-x2x9q."
    )
