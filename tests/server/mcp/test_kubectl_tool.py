"""The ``kubectl`` tool: the real kubectl over MCP, against the small TSV scenario."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp_scenario import text_of

from itbench_server.mcp.kubectl_tool import ALLOWED_VERBS
from itbench_server.mcp.server import create_server
from itbench_server.mcp.settings import ServerSettings
from itbench_server.snapshot import Snapshot

pytestmark = pytest.mark.anyio

REFUSED_VERBS = [
    "apply", "create", "delete", "edit", "patch", "replace", "scale", "autoscale", "rollout", "set",
    "label", "annotate", "taint", "cordon", "uncordon", "drain", "expose", "run", "exec", "attach",
    "port-forward", "proxy", "cp", "debug", "config", "plugin", "kustomize", "wait", "diff",
    "cluster-info", "certificate", "completion", "alpha", "options", "help", "node-shell",
]  # fmt: skip

REFUSED_FLAGS = [
    "--kubeconfig", "--server", "--token", "--as", "--as-group", "--as-uid", "--context", "--cluster",
    "--user", "--username", "--password", "--certificate-authority", "--client-certificate",
    "--client-key", "--insecure-skip-tls-verify", "--tls-server-name", "--cache-dir", "--kuberc",
    "--filename", "--kustomize", "--raw", "--profile", "--watch", "--proxy-url", "--kuberc", "--as-user-extra",
    "--profile-output", "--watch-only", "--follow", "--recursive", "--vmodule", "--v",
]  # fmt: skip


async def call(client: Client, **arguments: Any) -> tuple[bool, str]:
    result = await client.call_tool("kubectl", arguments)
    return bool(result.is_error), text_of(result)


async def test_kubectl_lists_the_recorded_pods(client: Client) -> None:
    error, text = await call(client, command="get pods -n otel-demo -o wide")
    assert not error, text
    lines = text.splitlines()
    assert lines[0].split() == [
        "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES",
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == ["ad-5d9f7c6b8-x2x9q", "frontend-7d9f8-abcde"]


async def test_kubectl_accepts_a_leading_kubectl_and_reads_an_earlier_moment(client: Client) -> None:
    _, at_end = await call(
        client, command="kubectl get deploy ad -n otel-demo -o jsonpath={.status.readyReplicas}"
    )
    _, at_start = await call(
        client, command="get deploy ad -n otel-demo -o jsonpath={.status.readyReplicas}", at="start+1m"
    )
    assert (at_start, at_end) == ("1", "0")


async def test_kubectl_errors_reach_the_model_as_tool_errors(client: Client) -> None:
    assert await call(client, command="get pod nope -n otel-demo") == (
        True,
        'Error executing tool kubectl: Error from server (NotFound): pods "nope" not found',
    )


@pytest.mark.parametrize("verb", REFUSED_VERBS)
async def test_kubectl_refuses_every_verb_outside_the_allowlist(client: Client, verb: str) -> None:
    error, text = await call(client, command=f"{verb} pod ad-5d9f7c6b8-x2x9q -n otel-demo")
    assert error
    assert text == (
        f"Error executing tool kubectl: kubectl {verb} is not allowed: this is a read-only recording of an "
        f"incident. Allowed verbs: {', '.join(ALLOWED_VERBS)}"
    )


async def test_kubectl_auth_is_refused_with_what_is_allowed(client: Client) -> None:
    assert await call(client, command="auth can-i delete pods -n otel-demo") == (
        True,
        "Error executing tool kubectl: kubectl auth is not allowed: permissions need no checking here: every "
        "kind but Secrets can be read (get, list, watch) and nothing can be changed, as in a read-only "
        f"recording of an incident. Allowed verbs: {', '.join(ALLOWED_VERBS)}",
    )


@pytest.mark.parametrize("flag", REFUSED_FLAGS)
@pytest.mark.parametrize("form", ["joined", "separate"])
async def test_kubectl_refuses_flags_that_change_the_target_credentials_or_read_files(
    client: Client, flag: str, form: str
) -> None:
    command = f"get pods -n otel-demo {flag}=x" if form == "joined" else f"get pods {flag} x -n otel-demo"
    error, text = await call(client, command=command)
    assert error
    assert text.startswith(f"Error executing tool kubectl: {flag} is not allowed: ")


async def test_explain_answers_that_schemas_are_not_recorded(client: Client) -> None:
    error, text = await call(client, command="explain pods.spec")
    assert not error
    assert text.startswith(
        "kubectl explain needs the API schemas (OpenAPI), which the recording does not hold."
    )


async def test_describe_says_its_ages_follow_the_wall_clock(client: Client) -> None:
    error, text = await call(client, command="describe pod ad-5d9f7c6b8-x2x9q -n otel-demo")
    assert not error, text
    first, rest = text.split("\n", 1)
    assert first.startswith("[viewed at 2025-12-15T17:")
    assert "from the current wall clock" in first
    assert "Warning  BackOff" in rest and "Back-off restarting failed container ad" in rest


async def test_long_output_is_cut_to_the_budget_and_continues_at_the_offset(snapshot: Snapshot) -> None:
    settings = ServerSettings(output_budget=1_000)
    async with Client(create_server(snapshot, settings)) as client:
        error, first = await call(client, command="get pods,deployments,configmaps -n otel-demo -o yaml")
        assert not error
        assert len(first) <= 1_000
        marker = first.splitlines()[-1]
        assert marker.startswith("[truncated: ") and "call again with offset=" in marker
        offset = int(marker.rsplit("offset=", 1)[1].rstrip("]"))
        _, second = await call(
            client, command="get pods,deployments,configmaps -n otel-demo -o yaml", offset=offset
        )
        assert second.splitlines()[0] != first.splitlines()[0]
