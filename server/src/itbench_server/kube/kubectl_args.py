"""The kubectl command lines an investigator may run: an allowlist of verbs, flags and output formats.

Nothing that is not listed here reaches kubectl. The lists are built from ``kubectl <verb>
--help`` of the pinned binary (1.37) and keep only what reads the recording: every flag that
names a file, a directory, a server, credentials or a proxy is absent, so it is refused whatever
spelling it takes, and so is every output format that reads a template from a file. The parser
follows kubectl's own (spf13/pflag): ``--name=value``, ``--name value``, ``-x value``,
``-xvalue``, ``-x=value``, boolean shorthands grouped as in ``-Ap``, flags anywhere among the
arguments, no abbreviations of long names.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from itbench_server.errors import QueryError

__all__ = [
    "ALLOWED_OUTPUT_FORMATS",
    "ALLOWED_VERBS",
    "MAX_COMMAND_CHARS",
    "FlagSpec",
    "KubectlCommand",
    "allowed_flags",
    "check_kubectl_args",
]

MAX_COMMAND_CHARS: Final = 8_192
"""The longest command line accepted (a long jsonpath or custom-columns spec fits easily)."""


@dataclass(frozen=True)
class FlagSpec:
    """One allowed flag: its long name, optional one-letter shorthand, and whether it takes a value."""

    name: str
    short: str | None = None
    takes_value: bool = True


ALLOWED_VERBS: Final = (
    "get",
    "describe",
    "logs",
    "top",
    "events",
    "api-resources",
    "api-versions",
    "explain",
    "version",
)

ALLOWED_OUTPUT_FORMATS: Final = (
    "json",
    "yaml",
    "kyaml",
    "wide",
    "name",
    "go-template=TEMPLATE",
    "template=TEMPLATE",
    "jsonpath=EXPRESSION",
    "jsonpath-as-json=EXPRESSION",
    "custom-columns=SPEC",
)
"""The ``-o`` values accepted; the ``*-file`` forms, which read a local file, are not among them."""

_BARE_FORMATS: Final = frozenset({"json", "yaml", "kyaml", "wide", "name", "go-template", "template"})
_INLINE_FORMATS: Final = frozenset(
    {"go-template", "template", "jsonpath", "jsonpath-as-json", "custom-columns"}
)


def _flags(*specs: FlagSpec) -> dict[str, FlagSpec]:
    return {spec.name: spec for spec in specs}


_NAMESPACE = FlagSpec("namespace", "n")
_SELECTOR = FlagSpec("selector", "l")
_ALL_NAMESPACES = FlagSpec("all-namespaces", "A", takes_value=False)
_OUTPUT = FlagSpec("output", "o")
_NO_HEADERS = FlagSpec("no-headers", takes_value=False)
_SORT_BY = FlagSpec("sort-by")
_CHUNK_SIZE = FlagSpec("chunk-size")
_TEMPLATE = FlagSpec("template")
_MISSING_KEYS = FlagSpec("allow-missing-template-keys", takes_value=False)
_MANAGED_FIELDS = FlagSpec("show-managed-fields", takes_value=False)
_FIELD_SELECTOR = FlagSpec("field-selector")

_GLOBAL_FLAGS: Final = _flags(
    _NAMESPACE,
    FlagSpec("request-timeout"),
    FlagSpec("disable-compression", takes_value=False),
    FlagSpec("warnings-as-errors", takes_value=False),
    FlagSpec("match-server-version", takes_value=False),
)

_VERB_FLAGS: Final[Mapping[str, dict[str, FlagSpec]]] = {
    "get": _flags(
        _ALL_NAMESPACES,
        _MISSING_KEYS,
        _CHUNK_SIZE,
        _FIELD_SELECTOR,
        FlagSpec("ignore-not-found", takes_value=False),
        FlagSpec("label-columns", "L"),
        _NO_HEADERS,
        _OUTPUT,
        _SELECTOR,
        FlagSpec("server-print", takes_value=False),
        FlagSpec("show-kind", takes_value=False),
        FlagSpec("show-labels", takes_value=False),
        _MANAGED_FIELDS,
        _SORT_BY,
        FlagSpec("subresource"),
        _TEMPLATE,
    ),
    "describe": _flags(_ALL_NAMESPACES, _CHUNK_SIZE, _SELECTOR, FlagSpec("show-events", takes_value=False)),
    "logs": _flags(
        FlagSpec("all-containers", takes_value=False),
        FlagSpec("all-pods", takes_value=False),
        FlagSpec("container", "c"),
        FlagSpec("ignore-errors", takes_value=False),
        FlagSpec("limit-bytes"),
        FlagSpec("max-log-requests"),
        FlagSpec("prefix", takes_value=False),
        FlagSpec("previous", "p", takes_value=False),
        _SELECTOR,
        FlagSpec("since"),
        FlagSpec("since-time"),
        FlagSpec("tail"),
        FlagSpec("timestamps", takes_value=False),
    ),
    "top": _flags(
        _ALL_NAMESPACES,
        FlagSpec("containers", takes_value=False),
        _FIELD_SELECTOR,
        _NO_HEADERS,
        _SELECTOR,
        FlagSpec("show-capacity", takes_value=False),
        FlagSpec("show-swap", takes_value=False),
        _SORT_BY,
        FlagSpec("sum", takes_value=False),
    ),
    "events": _flags(
        _ALL_NAMESPACES,
        _MISSING_KEYS,
        _CHUNK_SIZE,
        FlagSpec("for"),
        _NO_HEADERS,
        _OUTPUT,
        _MANAGED_FIELDS,
        _TEMPLATE,
        FlagSpec("types"),
    ),
    "api-resources": _flags(
        FlagSpec("api-group"),
        FlagSpec("cached", takes_value=False),
        FlagSpec("categories"),
        FlagSpec("namespaced", takes_value=False),
        _NO_HEADERS,
        _OUTPUT,
        _SORT_BY,
        FlagSpec("verbs"),
    ),
    "api-versions": {},
    "explain": _flags(FlagSpec("recursive", takes_value=False), FlagSpec("api-version")),
    "version": _flags(FlagSpec("client", takes_value=False), _OUTPUT),
}

# Flags people reach for that are refused on purpose: the reason says why, not only "unknown".
_REFUSAL_REASONS: Final = {
    "kubeconfig": "the kubeconfig is fixed to the recording",
    "server": "the API server is fixed to the recording",
    "context": "the context is fixed to the recording",
    "cluster": "the cluster is fixed to the recording",
    "proxy-url": "the network path to the recording is fixed",
    "cache-dir": "the cache is private",
    "kuberc": "kubectl preferences are fixed",
    "filename": "reading local files is not allowed",
    "kustomize": "reading local files is not allowed",
    "recursive": "reading local files is not allowed",
    "raw": "raw API paths are not allowed; use get/describe",
    "watch": "the recording does not change: watching would only wait for the time limit",
    "watch-only": "the recording does not change: watching would only wait for the time limit",
    "follow": "the recording does not change: following would only wait for the time limit",
    "token": "credentials are fixed",
    "user": "credentials are fixed",
    "username": "credentials are fixed",
    "password": "credentials are fixed",
    "client-certificate": "credentials are fixed",
    "client-key": "credentials are fixed",
    "certificate-authority": "TLS settings are fixed",
    "insecure-skip-tls-verify": "TLS settings are fixed",
    "tls-server-name": "TLS settings are fixed",
    "as": "impersonation is not allowed",
    "as-group": "impersonation is not allowed",
    "as-uid": "impersonation is not allowed",
    "as-user-extra": "impersonation is not allowed",
    "profile": "profiling writes files",
    "profile-output": "profiling writes files",
    "v": "verbose logging is not available",
    "vmodule": "verbose logging is not available",
}
# Verbs people reach for whose answer is known: the reason says it.
_VERB_REFUSALS: Final = {
    "auth": "permissions need no checking here: every kind but Secrets can be read (get, list, watch) and "
    "nothing can be changed, as in a read-only recording of an incident",
}
_SHORT_REFUSALS: Final = {
    "f": "filename",
    "k": "kustomize",
    "R": "recursive",
    "w": "watch",
    "s": "server",
    "v": "v",
}
# A flag value must be plain text: no control characters (kubectl would print them back raw).
_PLAIN_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class KubectlCommand:
    """A checked command line: the arguments to hand to kubectl, and its verb."""

    args: tuple[str, ...]
    verb: str
    positionals: tuple[str, ...] = field(default=(), compare=False)
    """The arguments that are not flags or flag values, the verb first (``logs``, ``deploy/ad``)."""
    values: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    """The flags given with a value, by long name (``("namespace", "otel-demo")``), in order."""

    def value(self, name: str) -> str | None:
        """The last value given for the flag ``name`` (long name), or None."""
        found = [value for flag, value in self.values if flag == name]
        return found[-1] if found else None


def allowed_flags(verb: str | None) -> list[str]:
    """The flags ``verb`` (or, for ``None``, the part before the verb) accepts, as ``-x/--name``, sorted."""
    specs = {**_GLOBAL_FLAGS, **(_VERB_FLAGS.get(verb, {}) if verb else {})}
    return [
        f"-{spec.short}/--{spec.name}" if spec.short else f"--{spec.name}"
        for _, spec in sorted(specs.items())
    ]


def check_kubectl_args(command: str) -> KubectlCommand:
    """Split ``command`` into arguments and check every one against the allowlist.

    Raises:
        QueryError: the command is too long, cannot be split, or uses a verb, flag or output
            format that is not allowed; the message names what is allowed.
    """
    if len(command) > MAX_COMMAND_CHARS:
        raise QueryError(
            f"command: {len(command)} characters; at most {MAX_COMMAND_CHARS} are accepted. "
            "Shorten the template or split the question into several commands"
        )
    if _CONTROL.search(command):
        raise QueryError("command: contains control characters; give a plain kubectl command line")
    try:
        args = shlex.split(command)
    except ValueError as error:
        raise QueryError(f"command: cannot split {_quote(command)}: {error}; check the quotes") from None
    operator = _shell_operator(command)
    if operator is not None:
        raise QueryError(
            f"command: {operator!r} is shell syntax, and no shell runs here: the command line goes to kubectl "
            "alone, so pipes (|), redirections (<, >) and command lists (;, &&) are not supported. Let kubectl "
            "filter: -l/--selector app.kubernetes.io/name=cart, --field-selector status.phase!=Running, a "
            "name (get pod NAME), or -o jsonpath=... / custom-columns=... for the fields you want"
        )
    if args and args[0] in ("kubectl", "k"):
        args = args[1:]
    if not args:
        raise QueryError(
            f"command: empty; give a kubectl command line such as 'get pods -n otel-demo'; verbs: {', '.join(ALLOWED_VERBS)}"
        )
    verb = _find_verb(args)
    flags = {**_GLOBAL_FLAGS, **_VERB_FLAGS[verb]}
    by_short = {spec.short: spec for spec in flags.values() if spec.short}
    index = 0
    output_format: str | None = None
    positionals: list[str] = []
    values: list[tuple[str, str]] = []
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            raise QueryError("'--' is not allowed: nothing runs in the recorded containers")
        if not arg.startswith("-") or arg == "-":
            positionals.append(arg)
            continue
        if arg.startswith("--"):
            name, has_value, value = arg[2:].partition("=")
            spec = flags.get(name)
            if spec is None:
                raise _refused(f"--{name}", name, verb)
            if spec.takes_value and not has_value:
                if index >= len(args):
                    raise QueryError(f"--{name} needs a value")
                value = args[index]
                index += 1
            if spec.takes_value or has_value:
                output_format = _check_value(spec, value, output_format)
                values.append((spec.name, value))
        elif arg.startswith("-") and len(arg) > 1:
            letters = arg[1:]
            position = 0
            while position < len(letters):
                letter = letters[position]
                position += 1
                spec = by_short.get(letter)
                if spec is None:
                    meaning = "follow" if (verb, letter) == ("logs", "f") else _SHORT_REFUSALS.get(letter, "")
                    raise _refused(f"-{letter}", meaning, verb)
                rest = letters[position:]
                if rest.startswith("="):
                    value = rest[1:]
                elif spec.takes_value and rest:
                    value = rest
                elif spec.takes_value:
                    if index >= len(args):
                        raise QueryError(f"-{letter} needs a value")
                    value = args[index]
                    index += 1
                else:
                    continue
                output_format = _check_value(spec, value, output_format)
                values.append((spec.name, value))
                break
    return KubectlCommand(tuple(args), verb, tuple(positionals), tuple(values))


_SHELL_OPERATORS: Final = frozenset("|&;<>")


def _shell_operator(command: str) -> str | None:
    """The first shell operator (``|``, ``>``, ``&&``...) outside quotes in ``command``, or None.

    Quotes and backslashes are read as ``shlex.split`` (POSIX) reads them.
    """
    quote = ""
    escaped = False
    for index, char in enumerate(command):
        if escaped:
            escaped = False
        elif quote == "'":
            quote = "" if char == "'" else quote
        elif char == "\\":
            escaped = True
        elif quote == '"':
            quote = "" if char == '"' else quote
        elif char in "'\"":
            quote = char
        elif char in _SHELL_OPERATORS:
            end = index
            while end < len(command) and command[end] in _SHELL_OPERATORS:
                end += 1
            return command[index:end]
    return None


def _find_verb(args: list[str]) -> str:
    """The first positional argument, skipping global flags (and their values) before it."""
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if not arg.startswith("-") or arg == "-":
            if arg not in ALLOWED_VERBS:
                reason = _VERB_REFUSALS.get(arg, "this is a read-only recording of an incident")
                raise QueryError(
                    f"kubectl {_quote(arg)} is not allowed: {reason}. Allowed verbs: {', '.join(ALLOWED_VERBS)}"
                )
            return arg
        if arg == "--":
            break
        name = arg[2:].partition("=")[0] if arg.startswith("--") else arg[1:2]
        spec = _GLOBAL_FLAGS.get(name) or next(
            (spec for spec in _GLOBAL_FLAGS.values() if spec.short == name and not arg.startswith("--")), None
        )
        if spec is None:
            raise _refused(arg.partition("=")[0], _SHORT_REFUSALS.get(name, name), None)
        if spec.takes_value and "=" not in arg and (arg.startswith("--") or len(arg) == 2):
            index += 1
    raise QueryError(f"command: no verb found; start with one of: {', '.join(ALLOWED_VERBS)}")


def _check_value(spec: FlagSpec, value: str, output_format: str | None) -> str | None:
    """Check one flag value; returns the output format in force after it."""
    if spec.name == "output":
        kind, has_inline, _ = value.partition("=")
        if (has_inline and kind in _INLINE_FORMATS) or (not has_inline and kind in _BARE_FORMATS):
            return kind
        reason = (
            "it reads a template from a local file; give the template inline"
            if kind.endswith("-file") or kind == "templatefile"
            else "unknown output format"
        )
        raise QueryError(
            f"-o {_quote(value)} is not allowed: {reason}. "
            f"Allowed output formats: {', '.join(ALLOWED_OUTPUT_FORMATS)}"
        )
    if (
        spec.name == "template"
        and output_format is not None
        and output_format not in ("go-template", "template")
    ):
        raise QueryError("--template goes with -o go-template (inline); templates from files are not allowed")
    return output_format


def _refused(flag: str, name: str, verb: str | None) -> QueryError:
    reason = _REFUSAL_REASONS.get(name)
    allowed = ", ".join(allowed_flags(verb))
    where = f"with kubectl {verb}" if verb else "before the verb"
    because = f": {reason}" if reason else f" {where}"
    return QueryError(f"{flag} is not allowed{because}. Allowed flags {where}: {allowed}")


def _quote(text: str, limit: int = 80) -> str:
    """``text`` as it can be shown back: bare when it is a plain word, else quoted and cut."""
    if _PLAIN_WORD.fullmatch(text) and len(text) <= limit:
        return text
    return repr(text if len(text) <= limit else text[:limit] + "…")
