"""Label and field selectors, parsed and matched as the Kubernetes API server does.

Label selectors: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k`` (exists),
``!k`` (does not exist), ``k>1`` and ``k<1``, joined by commas (all must hold).
Field selectors: ``path=v``, ``path==v``, ``path!=v`` joined by commas, on the field paths each
kind supports (``metadata.name``, ``metadata.namespace``, ``status.phase``, ``spec.nodeName``,
``involvedObject.*`` ...). A field the server does not index is a 400, as on a real server. One
leniency: an Event recorded without the uid of its object matches any ``involvedObject.uid`` (or
``regarding.uid``), so that ``kubectl describe``, which asks by uid, still finds it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from itbench_server.errors import QueryError

__all__ = [
    "FIELDS_BY_KIND",
    "FieldRequirement",
    "LabelRequirement",
    "SelectorError",
    "fields_match",
    "labels_match",
    "parse_field_selector",
    "parse_label_selector",
]


class SelectorError(QueryError):
    """A label or field selector that cannot be parsed or is not supported."""


@dataclass(frozen=True)
class LabelRequirement:
    key: str
    operator: str  # = != in notin exists !exists gt lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.operator:
            case "=" | "in":
                return present and value in self.values
            case "!=" | "notin":
                return not present or value not in self.values
            case "exists":
                return present
            case "!exists":
                return not present
            case "gt" | "lt":
                try:
                    number, bound = int(str(value)), int(self.values[0])
                except (TypeError, ValueError):
                    return False
                return number > bound if self.operator == "gt" else number < bound
        return False


_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_LABEL_TERM = re.compile(
    rf"\s*(?:(?P<not>!)\s*(?P<nkey>{_KEY})"
    rf"|(?P<key>{_KEY})(?:\s*(?P<op>==|=|!=|>|<)\s*(?P<value>[-A-Za-z0-9_.]*)"
    rf"|\s+(?P<setop>in|notin)\s*\((?P<set>[^)]*)\))?)\s*"
)


def parse_label_selector(text: str) -> list[LabelRequirement]:
    """Parse a label selector; raises ``SelectorError`` naming the unreadable part."""
    requirements: list[LabelRequirement] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _LABEL_TERM.match(text, position)
        if match is None or match.end() == position:
            raise SelectorError(f"unable to parse requirement: {text[position:]!r} in labelSelector {text!r}")
        if match.group("not"):
            requirements.append(LabelRequirement(match.group("nkey"), "!exists"))
        elif match.group("op"):
            operator = {"==": "=", ">": "gt", "<": "lt"}.get(match.group("op"), match.group("op"))
            requirements.append(LabelRequirement(match.group("key"), operator, (match.group("value"),)))
        elif match.group("setop"):
            values = tuple(sorted(v.strip() for v in match.group("set").split(",") if v.strip()))
            requirements.append(LabelRequirement(match.group("key"), match.group("setop"), values))
        else:
            requirements.append(LabelRequirement(match.group("key"), "exists"))
        position = match.end()
        if position < len(text):
            if text[position] != ",":
                raise SelectorError(
                    f"unable to parse requirement: {text[position:]!r} in labelSelector {text!r}"
                )
            position += 1
    return requirements


def labels_match(requirements: list[LabelRequirement], obj: Mapping[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(requirement.matches(labels) for requirement in requirements)


@dataclass(frozen=True)
class FieldRequirement:
    path: str
    operator: str  # = or !=
    value: str


def parse_field_selector(text: str) -> list[FieldRequirement]:
    """Parse ``a=b,c!=d``; backslash escapes ``\\,`` ``\\=`` ``\\\\`` inside values."""
    requirements: list[FieldRequirement] = []
    for term in _split_unescaped(text.strip(), ","):
        if not term.strip():
            continue
        match = re.match(r"\s*([A-Za-z0-9_.\-/]+)\s*(==|!=|=)(.*)$", term)
        if match is None:
            raise SelectorError(
                f"invalid selector: {term!r} in fieldSelector {text!r}; use field=value or field!=value"
            )
        operator = "!=" if match.group(2) == "!=" else "="
        value = re.sub(r"\\(.)", r"\1", match.group(3))
        requirements.append(FieldRequirement(match.group(1), operator, value))
    return requirements


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _path(*keys: str) -> Callable[[Mapping[str, Any]], str]:
    def read(obj: Mapping[str, Any]) -> str:
        value: Any = obj
        for key in keys:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    return read


_COMMON_FIELDS = {
    "metadata.name": _path("metadata", "name"),
    "metadata.namespace": _path("metadata", "namespace"),
}

_EVENT_CORE_FIELDS = {
    **{
        f"involvedObject.{key}": _path("involvedObject", key)
        for key in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    },
    "reason": _path("reason"),
    "reportingComponent": _path("reportingComponent"),
    "source": _path("source", "component"),
    "type": _path("type"),
}

_EVENT_V1_FIELDS = {
    **{
        f"regarding.{key}": _path("regarding", key)
        for key in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    },
    "reason": _path("reason"),
    "reportingController": _path("reportingController"),
    "type": _path("type"),
}

_EVENT_UID_PATHS = frozenset({"involvedObject.uid", "regarding.uid"})

FIELDS_BY_KIND: dict[str, dict[str, Callable[[Mapping[str, Any]], str]]] = {
    "Pod": {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": _path("spec", "hostNetwork"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    "Node": {"spec.unschedulable": _path("spec", "unschedulable")},
    "Namespace": {"status.phase": _path("status", "phase")},
    "ReplicaSet": {"status.replicas": _path("status", "replicas")},
    "ReplicationController": {"status.replicas": _path("status", "replicas")},
    "Job": {"status.successful": _path("status", "succeeded")},
    "Secret": {"type": _path("type")},
    "PersistentVolume": {"name": _path("metadata", "name")},
}


def fields_match(
    requirements: list[FieldRequirement], obj: Mapping[str, Any], kind: str, *, events_v1: bool = False
) -> bool:
    """Whether ``obj`` meets every requirement; a field ``kind`` does not support is an error."""
    if kind == "Event":
        supported = {**_COMMON_FIELDS, **(_EVENT_V1_FIELDS if events_v1 else _EVENT_CORE_FIELDS)}
    else:
        supported = {**_COMMON_FIELDS, **FIELDS_BY_KIND.get(kind, {})}
    for requirement in requirements:
        reader = supported.get(requirement.path)
        if reader is None:
            raise SelectorError(f"field label not supported: {requirement.path}")
        recorded = reader(obj)
        equal = recorded == requirement.value
        if recorded == "" and requirement.path in _EVENT_UID_PATHS:
            equal = True  # an event recorded without its object's uid still belongs to the object
        if equal != (requirement.operator == "="):
            return False
    return True
