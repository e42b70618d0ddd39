"""The deterministic matcher: which ground-truth group, if any, each submitted name denotes.

A submitted name ``namespace/Kind/name`` can match a group when all three agree:

* **namespace**: equal to the group's when the group has one. Cluster-scoped kinds (Namespace,
  Node, PersistentVolume, ClusterRole, ...) are written with the namespace ``cluster``; the
  group's own namespace is accepted too, since some files give a Namespace group one.
* **kind**: equal ignoring case (``HttpChaos`` is ``HTTPChaos``), or both in one family: the
  workload kinds (Deployment, Pod, ReplicaSet, StatefulSet, DaemonSet, Rollout) name the same
  workload, and the Chaos Mesh kinds (any ``*Chaos`` and ``Schedule``) name the same experiment,
  since a ``Schedule`` spawns the chaos object and files label either one.
* **name**: equal to the group's ``name``, or matched by one of its filters (regular expressions,
  searched anywhere in the name). Across a workload family a workload ``W`` also stands for its
  pods ``W-<hash>-<id>``, and a pod name for its workload, so a Deployment group whose filter was
  written for pod names (``product-catalog-.*``) matches ``Deployment/product-catalog``.

When several groups can match, the best by these criteria in order wins: the kind equal rather
than of the same family; the group whose id shares more leading words with the name
(``frontend-proxy-pod-1`` over ``frontend-pod-1`` for ``frontend-proxy-7d4b9c8f6-x2k4q``, and
``ad-horizontal-pod-autoscaler-1`` for the HPA ``ad`` among groups sharing one catch-all filter);
the name matched as submitted rather than through a workload/pod rewrite, and in full rather
than somewhere inside. Groups still tied are shared out one to one where possible (a maximum
bipartite matching, earlier names first; root-cause groups, then earlier groups, first), so two
different objects never claim one group while an equally good group stays unhit; identical
names always get the same group.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

from itbench_eval.groundtruth import CLUSTER_NAMESPACE, GroundTruth, Group, is_cluster_scoped

__all__ = [
    "WORKLOAD_KINDS",
    "EntityName",
    "NameMatch",
    "kind_family",
    "match_names",
    "parse_entity_name",
]

WORKLOAD_KINDS: frozenset[str] = frozenset(
    {"deployment", "pod", "replicaset", "statefulset", "daemonset", "rollout"}
)
"""Kinds (lower case) that name one workload: a Deployment, its ReplicaSets and its Pods."""

_ENTITY_NAME = re.compile(r"^([^/\s]+)/([A-Za-z][A-Za-z0-9]*)/([^/\s]+)$")
# A placeholder pod of workload W, shaped like a Deployment's pod: W-<pod-template-hash>-<suffix>.
_POD_SUFFIX = "-5c7b9d8f6-x2k4q"
# A Deployment's pod (W-<hash>-<suffix>) or a StatefulSet's (W-<ordinal>).
_POD_NAME = re.compile(r"^(?P<workload>.+?)(?:-[a-z0-9]{6,10}-[a-z0-9]{5}|-[0-9]+)$")
_WORD_SEPARATORS = re.compile(r"[-_.]+")


class EntityName(NamedTuple):
    """A submitted name split into its parts."""

    namespace: str
    kind: str
    name: str


def parse_entity_name(text: str) -> EntityName | None:
    """Split ``namespace/Kind/name``; ``None`` when ``text`` is not of that form."""
    found = _ENTITY_NAME.match(text.strip())
    if found is None:
        return None
    return EntityName(found[1], found[2], found[3])


def kind_family(kind: str) -> str | None:
    """``"workload"``, ``"chaos"`` or ``None`` for a kind (any case)."""
    lowered = kind.lower()
    if lowered in WORKLOAD_KINDS:
        return "workload"
    if lowered.endswith("chaos") or lowered == "schedule":
        return "chaos"
    return None


class NameMatch(BaseModel):
    """The group one submitted name was matched to, and why."""

    model_config = ConfigDict(frozen=True)

    name: str
    group_id: str | None
    reason: str


class _Candidate(NamedTuple):
    rank: tuple[int, int, int]
    group_index: int
    reason: str


def _namespace_matches(entity: EntityName, group: Group) -> bool:
    if is_cluster_scoped(group.kind):
        # Some files give a Namespace group a namespace (its own name); accept it as well.
        return entity.namespace in {CLUSTER_NAMESPACE, group.namespace}
    return group.namespace is None or entity.namespace == group.namespace


def _kind_rank(entity: EntityName, group: Group) -> int:
    if entity.kind.lower() == group.kind.lower():
        return 2
    family = kind_family(entity.kind)
    if family is not None and family == kind_family(group.kind):
        return 1
    return 0


def _name_variants(entity: EntityName, group: Group) -> list[tuple[str, str]]:
    """The names to try against ``group``: the submitted one, then workload/pod rewrites."""
    variants = [(entity.name, "")]
    if kind_family(entity.kind) == "workload" and kind_family(group.kind) == "workload":
        variants.append((entity.name + _POD_SUFFIX, f" (as its pod {entity.name}{_POD_SUFFIX})"))
        pod = _POD_NAME.match(entity.name)
        if pod is not None:
            workload = pod["workload"]
            variants.append((workload, f" (as its workload {workload})"))
    return variants


def _name_rank(entity: EntityName, group: Group) -> tuple[int, str]:
    """How well the name matches: 4 exactly, 3 inside, 2/1 the same through a rewrite, 0 not."""
    best = (0, "")
    for position, (variant, note) in enumerate(_name_variants(entity, group)):
        rewritten = 2 if position else 0
        if group.name is not None and variant == group.name:
            return (4 - rewritten, f"name {group.name!r} equals {variant!r}{note}")
        for text, pattern in zip(group.filters, group.patterns, strict=True):
            if pattern.fullmatch(variant):
                rank = 4 - rewritten
            elif pattern.search(variant):
                rank = 3 - rewritten
            else:
                continue
            if rank > best[0]:
                best = (rank, f"filter {text!r} matches {variant!r}{note}")
    return best


def _shared_leading_words(group_id: str, name: str) -> int:
    id_words = _WORD_SEPARATORS.split(group_id.lower())
    name_words = _WORD_SEPARATORS.split(name.lower())
    shared = 0
    for id_word, name_word in zip(id_words, name_words, strict=False):
        if id_word != name_word:
            break
        shared += 1
    return shared


def _candidates(entity: EntityName, ground_truth: GroundTruth) -> list[_Candidate]:
    candidates: list[_Candidate] = []
    for index, group in enumerate(ground_truth.groups):
        if not _namespace_matches(entity, group):
            continue
        kind_rank = _kind_rank(entity, group)
        if not kind_rank:
            continue
        name_rank, why = _name_rank(entity, group)
        if not name_rank:
            continue
        kind_note = "" if kind_rank == 2 else f", kind {entity.kind} stands for {group.kind}"
        rank = (kind_rank, _shared_leading_words(group.id, entity.name), name_rank)
        candidates.append(_Candidate(rank, index, f"{why}{kind_note}"))
    return candidates


def _assign_one_to_one(tied: list[list[int]]) -> dict[int, int]:
    """A maximum matching of objects to their tied best groups (Kuhn's algorithm)."""
    owner: dict[int, int] = {}

    def claim(obj: int, visited: set[int]) -> bool:
        # A free group first, so earlier names keep their first choice when nobody needs it.
        for group_index in tied[obj]:
            if group_index not in owner:
                owner[group_index] = obj
                return True
        for group_index in tied[obj]:
            if group_index in visited:
                continue
            visited.add(group_index)
            if group_index not in owner or claim(owner[group_index], visited):
                owner[group_index] = obj
                return True
        return False

    for obj in range(len(tied)):
        claim(obj, set())
    return {obj: group_index for group_index, obj in owner.items()}


def match_names(ground_truth: GroundTruth, names: Sequence[str]) -> list[NameMatch]:
    """Match each submitted name to at most one group, keeping the submitted order."""
    parsed = [parse_entity_name(name) for name in names]
    objects = list(
        dict.fromkeys(
            (entity.namespace, entity.kind.lower(), entity.name) for entity in parsed if entity is not None
        )
    )
    best: dict[tuple[str, str, str], list[_Candidate]] = {}
    for entity in parsed:
        if entity is None:
            continue
        key = (entity.namespace, entity.kind.lower(), entity.name)
        if key in best:
            continue
        candidates = _candidates(entity, ground_truth)
        top_rank = max((candidate.rank for candidate in candidates), default=None)
        top = [candidate for candidate in candidates if candidate.rank == top_rank]
        # Groups the name cannot tell apart select the same objects as far as this name goes;
        # the root-cause group is tried first so a file that lists one object twice, once as the
        # root cause and once not (without aliasing the two), still credits a correct answer.
        top.sort(key=lambda candidate: not ground_truth.groups[candidate.group_index].root_cause)
        best[key] = top
    tied = [[candidate.group_index for candidate in best[key]] for key in objects]
    assigned = _assign_one_to_one(tied)

    matches: list[NameMatch] = []
    for name, entity in zip(names, parsed, strict=True):
        if entity is None:
            matches.append(NameMatch(name=name, group_id=None, reason="not of the form namespace/Kind/name"))
            continue
        obj = objects.index((entity.namespace, entity.kind.lower(), entity.name))
        if not best[objects[obj]]:
            reason = f"no group of kind {entity.kind} in namespace {entity.namespace} matches {entity.name!r}"
            matches.append(NameMatch(name=name, group_id=None, reason=reason))
            continue
        group_index = assigned.get(obj, tied[obj][0])
        candidate = next(c for c in best[objects[obj]] if c.group_index == group_index)
        group = ground_truth.groups[group_index]
        reason = candidate.reason
        if len(tied[obj]) > 1:
            others = ", ".join(ground_truth.groups[i].id for i in tied[obj] if i != group_index)
            reason += f"; as good as {others}, assigned one to one"
        matches.append(NameMatch(name=name, group_id=group.id, reason=reason))
    return matches
