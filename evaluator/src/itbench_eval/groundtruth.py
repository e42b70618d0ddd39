"""The ITBench v1 ground truth ("groups" format): models and loaders.

A ground-truth file is either flat or wrapped as ``{apiVersion, kind: GroundTruth, metadata,
spec}``; the payload is the same. Its ``groups`` describe objects by ``kind``, optional
``namespace`` and either ``filter`` (regular expressions matched anywhere in the object's name)
or ``name``; the groups with ``root_cause: true`` are the answer. ``aliases`` say which groups
denote the same thing, ``propagations`` how the fault spread between groups.

Loading is lenient about what scoring does not need (unknown keys are kept, references to
unknown group ids are tolerated) and strict about what it does: every group needs an ``id`` and
a ``kind`` and some way to match a name, and at least one group must be a root cause.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from itbench_eval.errors import EvalError

__all__ = [
    "CLUSTER_NAMESPACE",
    "CLUSTER_SCOPED_KINDS",
    "Alert",
    "Fault",
    "GroundTruth",
    "GroundTruthError",
    "Group",
    "Propagation",
    "compile_filter",
    "ground_truth_from_mapping",
    "ground_truth_from_yaml",
    "is_cluster_scoped",
    "load_ground_truth",
    "oracle_entity_name",
    "oracle_names",
]

CLUSTER_NAMESPACE = "cluster"
"""The namespace written in an entity name for a cluster-scoped object (``cluster/Node/n1``)."""

CLUSTER_SCOPED_KINDS: frozenset[str] = frozenset(
    kind.lower()
    for kind in (
        "APIService",
        "CSIDriver",
        "CSINode",
        "ClusterIssuer",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    )
)
"""Kinds (lower case) whose objects live outside any namespace."""


def is_cluster_scoped(kind: str) -> bool:
    """Whether objects of ``kind`` (any case) are cluster-scoped."""
    return kind.lower() in CLUSTER_SCOPED_KINDS


class GroundTruthError(EvalError, ValueError):
    """A ground truth cannot be read or does not describe an answer; the message says where."""


# Characters that make a string a regular expression rather than a literal name.
_REGEX_METACHARACTERS = frozenset(".^$*+?{}[]\\|()")


def _glob_to_regex(pattern: str) -> str:
    # Filters such as `*.*` mix the two notations: `*` is "any run of characters" as in a glob,
    # and a `.` is kept as "any character" because that is what its author meant by it.
    parts: list[str] = []
    for character in pattern:
        if character == "*":
            parts.append(".*")
        elif character in "?.":
            parts.append(".")
        else:
            parts.append(re.escape(character))
    return "".join(parts)


def compile_filter(pattern: str) -> re.Pattern[str]:
    """Compile one ``filter`` entry: a regular expression, or a glob when it is not a valid one."""
    try:
        return re.compile(pattern)
    except re.error:
        return re.compile(_glob_to_regex(pattern))


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


class Group(_Lenient):
    """One ground-truth group: the objects of ``kind`` (in ``namespace``) matched by its filters."""

    id: str
    kind: str
    namespace: str | None = None
    name: str | None = None
    filters: tuple[str, ...] = Field(default=(), validation_alias=AliasChoices("filter", "filters"))
    root_cause: bool = False

    @field_validator("filters", mode="before")
    @classmethod
    def _one_filter_is_a_list(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        return value

    @field_validator("root_cause", mode="before")
    @classmethod
    def _missing_root_cause_is_false(cls, value: Any) -> Any:
        return False if value is None else value

    @field_validator("id", "kind", "namespace", "name", mode="before")
    @classmethod
    def _scalars_are_text(cls, value: Any) -> Any:
        # YAML reads `name: 123` or `namespace: null`-like scalars as non-strings.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @cached_property
    def patterns(self) -> tuple[re.Pattern[str], ...]:
        """The compiled filters (see :func:`compile_filter`)."""
        return tuple(compile_filter(pattern) for pattern in self.filters)


class Propagation(_Lenient):
    """A directed edge of how the fault spread, between two group ids."""

    source: str
    target: str
    condition: str = ""
    effect: str = ""


class Alert(_Lenient):
    """An alert of the incident and the group it belongs to (when the file says)."""

    id: str | None = None
    group_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Fault(_Lenient):
    """How the fault was injected; descriptive only, never scored."""

    category: str | None = None
    condition: str | None = None
    fault_mechanism: str | None = None
    entity: dict[str, Any] = Field(default_factory=dict)


class GroundTruth(_Lenient):
    """The answer key of one incident."""

    groups: tuple[Group, ...]
    aliases: tuple[tuple[str, ...], ...] = ()
    propagations: tuple[Propagation, ...] = ()
    fault: tuple[Fault, ...] = ()
    alerts: tuple[Alert, ...] = ()
    recommended_actions: tuple[dict[str, Any], ...] = Field(
        default=(), validation_alias=AliasChoices("recommended_actions", "recommendedActions")
    )
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("aliases", "propagations", "fault", "alerts", "recommended_actions", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return () if value is None else value

    @field_validator("fault", mode="before")
    @classmethod
    def _one_fault_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @cached_property
    def groups_by_id(self) -> dict[str, Group]:
        """Groups by id, in file order."""
        return {group.id: group for group in self.groups}

    @cached_property
    def root_cause_groups(self) -> tuple[Group, ...]:
        """The groups marked ``root_cause: true``, in file order."""
        return tuple(group for group in self.groups if group.root_cause)

    @cached_property
    def set_ids(self) -> dict[str, str]:
        """Each group id -> the id of its alias set (the set's first group in file order).

        Alias lists are merged transitively (union-find); a group in no alias list is a set of
        its own. Ids in ``aliases`` that name no group still connect the groups listed with them.
        """
        parent: dict[str, str] = {}

        def find(item: str) -> str:
            parent.setdefault(item, item)
            while parent[item] != item:
                parent[item] = parent[parent[item]]
                item = parent[item]
            return item

        order = {group.id: index for index, group in enumerate(self.groups)}
        for alias in self.aliases:
            for member in alias[1:]:
                first, other = find(alias[0]), find(member)
                if first != other:
                    # The root is the member listed first in the file, so set ids are stable.
                    keep, drop = sorted((first, other), key=lambda item: (order.get(item, len(order)), item))
                    parent[drop] = keep
        members: dict[str, list[str]] = {}
        for group in self.groups:
            members.setdefault(find(group.id), []).append(group.id)
        return {group_id: ids[0] for ids in members.values() for group_id in ids}

    @cached_property
    def alias_sets(self) -> dict[str, tuple[str, ...]]:
        """Set id -> the group ids of the set, both in file order."""
        sets: dict[str, list[str]] = {}
        for group in self.groups:
            sets.setdefault(self.set_ids[group.id], []).append(group.id)
        return {set_id: tuple(ids) for set_id, ids in sets.items()}

    @cached_property
    def root_cause_set_ids(self) -> tuple[str, ...]:
        """The ids of the sets holding a root-cause group, in file order."""
        return tuple(dict.fromkeys(self.set_ids[group.id] for group in self.root_cause_groups))


def _deduplicate_groups(groups: list[Any], source: str) -> list[Any]:
    # Real files repeat a group verbatim now and then; the same id with two meanings is an error.
    seen: dict[str, Any] = {}
    unique: list[Any] = []
    for group in groups:
        group_id = group.get("id") if isinstance(group, dict) else None
        if isinstance(group_id, str) and group_id in seen:
            if seen[group_id] != group:
                raise GroundTruthError(f"{source}: two different groups have the id {group_id!r}")
            continue
        if isinstance(group_id, str):
            seen[group_id] = group
        unique.append(group)
    return unique


def _first_error(error: ValidationError) -> str:
    detail = error.errors()[0]
    location = ".".join(str(part) for part in detail["loc"]) or "top level"
    return f"{location}: {detail['msg']}"


def ground_truth_from_mapping(data: Any, source: str = "<ground truth>") -> GroundTruth:
    """Validate decoded ground-truth data, flat or ``spec:``-wrapped.

    Raises:
        GroundTruthError: ``data`` is not a v1 ground truth; the message starts with ``source``.
    """
    if not isinstance(data, Mapping):
        raise GroundTruthError(f"{source}: a ground truth is a mapping, not {type(data).__name__}")
    payload: Mapping[str, Any] = data
    metadata = payload.get("metadata")
    if "spec" in payload and "groups" not in payload:
        spec = payload["spec"]
        if not isinstance(spec, Mapping):
            raise GroundTruthError(f"{source}: 'spec' is not a mapping")
        payload = spec
    if "groups" not in payload:
        if "entities" in payload:
            raise GroundTruthError(
                f"{source}: this is a v2 ground truth ('entities'); the scored answer key is v1 ('groups')"
            )
        raise GroundTruthError(f"{source}: no 'groups' (not a v1 ground truth)")
    groups = payload["groups"]
    if not isinstance(groups, list) or not groups:
        raise GroundTruthError(f"{source}: 'groups' must be a non-empty list")
    fields = dict(payload)
    fields["groups"] = _deduplicate_groups(groups, source)
    if isinstance(metadata, Mapping) and "metadata" not in fields:
        fields["metadata"] = dict(metadata)
    try:
        ground_truth = GroundTruth.model_validate(fields)
    except ValidationError as error:
        raise GroundTruthError(f"{source}: {_first_error(error)}") from None
    for group in ground_truth.groups:
        if not group.filters and not group.name:
            raise GroundTruthError(f"{source}: group {group.id!r} has neither 'filter' nor 'name'")
    if not ground_truth.root_cause_groups:
        raise GroundTruthError(f"{source}: no group has 'root_cause: true'")
    return ground_truth


def ground_truth_from_yaml(text: str, source: str = "<ground truth>") -> GroundTruth:
    """Parse a ground truth from YAML (or JSON) text, such as a dataset's ``data.jsonl`` field.

    Raises:
        GroundTruthError: the text is not YAML or not a v1 ground truth.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise GroundTruthError(f"{source}: not valid YAML{where}") from None
    return ground_truth_from_mapping(data, source)


def load_ground_truth(path: Path | str) -> GroundTruth:
    """Read a ``groundtruth_v1.yaml`` / ``ground_truth.yaml`` file.

    Raises:
        GroundTruthError: the file cannot be read or is not a v1 ground truth.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise GroundTruthError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise GroundTruthError(f"{path}: not UTF-8 text") from None
    return ground_truth_from_yaml(text, str(path))


_TRAILING_WILDCARDS = re.compile(r"(?:-?\.[*+]|-\*|\\b|\$)+$")
_LEADING_WILDCARDS = re.compile(r"^(?:\^|\\b|\.\*)+")


def _literal_from_filter(pattern: str) -> str | None:
    stem = _TRAILING_WILDCARDS.sub("", _LEADING_WILDCARDS.sub("", pattern))
    stem = re.sub(r"\\([-.\\/_])", r"\1", stem.replace(r"\b", ""))
    if not stem or _REGEX_METACHARACTERS & set(stem.replace(".", "")):
        return None
    return stem


def oracle_entity_name(group: Group) -> str:
    """The ``namespace/Kind/name`` an oracle submits for ``group``.

    The object name is the group's ``name`` when it has one; otherwise the literal left of the
    first usable filter once its anchors, word boundaries and leading/trailing wildcards are
    removed (``product-catalog-.*`` gives ``product-catalog``: for a workload kind, the workload
    whose pods the filter was written for). Cluster-scoped kinds use the namespace ``cluster``.

    Raises:
        GroundTruthError: no literal name can be derived from the group's filters.
    """
    namespace = CLUSTER_NAMESPACE if is_cluster_scoped(group.kind) else group.namespace or "default"
    if group.name:
        return f"{namespace}/{group.kind}/{group.name}"
    for pattern in group.filters:
        literal = _literal_from_filter(pattern)
        if literal is not None:
            return f"{namespace}/{group.kind}/{literal}"
    raise GroundTruthError(f"group {group.id!r}: no literal object name can be derived from its filters")


def oracle_names(ground_truth: GroundTruth) -> list[str]:
    """One entity name per root-cause set, in file order: a perfect submission.

    Each set is named by its first root-cause group (see :func:`oracle_entity_name`), so the
    list is the minimal set of independent root causes.
    """
    names: list[str] = []
    named_sets: set[str] = set()
    for group in ground_truth.root_cause_groups:
        set_id = ground_truth.set_ids[group.id]
        if set_id not in named_sets:
            named_sets.add(set_id)
            names.append(oracle_entity_name(group))
    return names
