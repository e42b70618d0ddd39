"""ITBench-AA's score: average precision at full recall.

1. Each submitted name is matched to at most one ground-truth group (:mod:`itbench_eval.matching`,
   or the LLM judge of :mod:`itbench_eval.judge`).
2. Groups are merged into sets along the ``aliases``; root-cause sets hold a root-cause group.
3. A name in a root-cause set is a true positive; a name that matched nothing, or a set that is
   not a root cause (a symptom), is a false positive; a root-cause set no name fell in is a
   false negative.
4. The score is ``TP / (TP + FP)`` when ``FN == 0`` and 0 otherwise; an empty or unreadable
   submission scores 0.

Two choices the published description leaves open are options here. ``duplicates``: whether a
second name in an already-named root-cause set counts as a true positive (``count``, as the public
replication does, the default) or as a false positive (``once``). ``ranked``: precision at the
first rank where recall is full, so names listed after the last root cause needed are ignored;
the default is the set-based score over every name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from itbench_eval.groundtruth import GroundTruth
from itbench_eval.matching import NameMatch, match_names
from itbench_server.diagnosis import Diagnosis, SubmissionFormatError, load_submission

__all__ = [
    "DuplicatePolicy",
    "Matcher",
    "NameVerdict",
    "ScoreOptions",
    "ScoreResult",
    "ScoredName",
    "explain_names",
    "score_diagnosis",
    "score_names",
    "score_submission_file",
    "submission_error_message",
]

Matcher = Callable[[GroundTruth, Sequence[str]], list[NameMatch]]
"""Anything that maps submitted names to group ids, in order (see :func:`match_names`)."""

Verdict = Literal["root_cause", "duplicate", "symptom", "unmatched", "after_full_recall"]


class DuplicatePolicy(StrEnum):
    """How a second name in an already-named root-cause set counts."""

    COUNT = "count"
    """Each counts as a true positive (the public replication's behaviour)."""
    ONCE = "once"
    """The set counts once; later names in it are false positives."""


class ScoreOptions(BaseModel):
    """The choices the published score leaves open."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    duplicates: DuplicatePolicy = DuplicatePolicy.COUNT
    ranked: bool = False


class ScoredName(BaseModel):
    """One submitted name: its group, its alias set and how it counted."""

    model_config = ConfigDict(frozen=True)

    name: str
    group_id: str | None
    set_id: str | None
    verdict: Verdict
    counted_as: Literal["tp", "fp", "ignored"]
    reason: str


class ScoreResult(BaseModel):
    """The score of one submission against one ground truth."""

    score: float
    tp: int
    fp: int
    fn: int
    matches: list[ScoredName]
    missed_root_causes: list[list[str]]
    """The group ids of each root-cause set no name fell in."""
    root_cause_sets: list[list[str]]
    options: ScoreOptions
    reason: str
    """Why the score is what it is, in one sentence."""
    submission_error: str | None = None


def _verdicts(
    ground_truth: GroundTruth, matches: Sequence[NameMatch], options: ScoreOptions
) -> list[ScoredName]:
    root_sets = set(ground_truth.root_cause_set_ids)
    named: set[str] = set()
    full_recall_reached = False
    scored: list[ScoredName] = []
    for match in matches:
        set_id = ground_truth.set_ids.get(match.group_id) if match.group_id is not None else None
        verdict: Verdict
        if full_recall_reached and options.ranked:
            verdict = "after_full_recall"
        elif set_id is None:
            verdict = "unmatched"
        elif set_id not in root_sets:
            verdict = "symptom"
        elif set_id in named and options.duplicates is DuplicatePolicy.ONCE:
            verdict = "duplicate"
        else:
            verdict = "root_cause"
        if verdict == "root_cause" and set_id is not None:
            named.add(set_id)
            full_recall_reached = named >= root_sets
        counted_as: Literal["tp", "fp", "ignored"] = (
            "tp" if verdict == "root_cause" else "ignored" if verdict == "after_full_recall" else "fp"
        )
        scored.append(
            ScoredName(
                name=match.name,
                group_id=match.group_id,
                set_id=set_id,
                verdict=verdict,
                counted_as=counted_as,
                reason=match.reason,
            )
        )
    return scored


def score_names(
    ground_truth: GroundTruth,
    names: Sequence[str],
    *,
    options: ScoreOptions | None = None,
    matcher: Matcher = match_names,
    matches: Sequence[NameMatch] | None = None,
) -> ScoreResult:
    """Score submitted root-cause names, in submission order.

    ``matches`` (one per name, in order) skips matching, for a caller that already matched the
    names, for example with the LLM judge.
    """
    options = options or ScoreOptions()
    if matches is None:
        matches = matcher(ground_truth, names)
    if [match.name for match in matches] != list(names):
        raise ValueError("matches must give one entry per submitted name, in order")
    scored = _verdicts(ground_truth, matches, options)
    named_sets = {name.set_id for name in scored if name.verdict == "root_cause"}
    missed = [
        list(ground_truth.alias_sets[set_id])
        for set_id in ground_truth.root_cause_set_ids
        if set_id not in named_sets
    ]
    tp = sum(name.counted_as == "tp" for name in scored)
    fp = sum(name.counted_as == "fp" for name in scored)
    fn = len(missed)
    if not names:
        score, reason = 0.0, "empty submission"
    elif fn:
        score = 0.0
        reason = f"missed {fn} of {len(ground_truth.root_cause_set_ids)} root causes"
    else:
        score = tp / (tp + fp)
        reason = f"every root cause named; {tp} true and {fp} false positives"
    return ScoreResult(
        score=score,
        tp=tp,
        fp=fp,
        fn=fn,
        matches=scored,
        missed_root_causes=missed,
        root_cause_sets=[list(ground_truth.alias_sets[set_id]) for set_id in ground_truth.root_cause_set_ids],
        options=options,
        reason=reason,
    )


def score_diagnosis(
    ground_truth: GroundTruth,
    diagnosis: Diagnosis,
    *,
    options: ScoreOptions | None = None,
    matcher: Matcher = match_names,
) -> ScoreResult:
    """Score a submitted :class:`~itbench_server.diagnosis.Diagnosis` (either form)."""
    return score_names(ground_truth, diagnosis.root_causes(), options=options, matcher=matcher)


def submission_error_message(error: SubmissionFormatError) -> str:
    """``error`` as one line: a shape error names the first field at fault, not pydantic's dump."""
    cause = error.__context__
    if isinstance(cause, ValidationError):
        detail = cause.errors()[0]
        location = ".".join(str(part) for part in detail["loc"]) or "top level"
        return f"the submission does not have the expected shape: {location}: {detail['msg']}"
    return " ".join(str(error).split())


def score_submission_file(
    ground_truth: GroundTruth,
    path: Path,
    *,
    options: ScoreOptions | None = None,
    matcher: Matcher = match_names,
) -> ScoreResult:
    """Score a submission file; a missing, non-JSON or malformed one scores 0 with the reason."""
    try:
        diagnosis = load_submission(path)
    except SubmissionFormatError as error:
        result = score_names(ground_truth, [], options=options, matcher=matcher)
        update = {"reason": "unreadable submission", "submission_error": submission_error_message(error)}
        return result.model_copy(update=update)
    return score_diagnosis(ground_truth, diagnosis, options=options, matcher=matcher)


# ---------------------------------------------------------------------------------------------
# Why each name counted as it did (for reports)

Outcome = Literal[
    "root_cause",
    "duplicate",
    "after_full_recall",
    "symptom",
    "wrong_kind",
    "wrong_namespace",
    "unknown_object",
    "malformed",
    "unmatched",
]
"""A name's verdict, with ``unmatched`` told apart by why nothing matched (where the answer key
is at hand; without it, ``unmatched``)."""


class NameVerdict(BaseModel):
    """One submitted name: the group it matched, or why it matched none, in words."""

    model_config = ConfigDict(frozen=True)

    name: str
    outcome: Outcome
    group_id: str | None
    counted_as: Literal["tp", "fp", "ignored"]
    why: str


def _unmatched_outcome(ground_truth: GroundTruth, name: str) -> tuple[Outcome, str]:
    """Why ``name`` matched no group: not a name, a kind or namespace that does not fit a group
    whose filter takes the object's name, or an object no group describes."""
    from itbench_eval.matching import EntityName, parse_entity_name

    entity = parse_entity_name(name)
    if entity is None:
        return "malformed", "not of the form namespace/Kind/name"
    for group in ground_truth.groups:
        if any(pattern.fullmatch("q0-no-such-object-9z") for pattern in group.patterns):
            continue  # a catch-all filter (``*.*``) takes every name: it tells nothing about this one
        # The name against the group as if the kind fitted (its own kind, so pod rewrites apply).
        alone = GroundTruth(groups=(group,))
        as_group = match_names(alone, [f"{entity.namespace}/{group.kind}/{entity.name}"])[0]
        if as_group.group_id is not None:
            return "wrong_kind", f"group {group.id} takes the name {entity.name!r}, but as a {group.kind}"
        other_namespace = group.namespace or entity.namespace
        if other_namespace != entity.namespace:
            renamed = EntityName(other_namespace, entity.kind, entity.name)
            moved = match_names(alone, ["/".join(renamed)])[0]
            if moved.group_id is not None:
                return "wrong_namespace", f"group {group.id} takes it in namespace {other_namespace}"
    return "unknown_object", "no group of the answer key describes this object"


def explain_names(ground_truth: GroundTruth | None, matches: Sequence[ScoredName]) -> list[NameVerdict]:
    """Each scored name (``ScoreResult.matches``) with its group, or why it matched none.

    Without the answer key an unmatched name stays ``unmatched``, with the matcher's reason."""
    verdicts: list[NameVerdict] = []
    for scored in matches:
        if scored.verdict == "unmatched":
            outcome, why = (
                ("unmatched", scored.reason)
                if ground_truth is None
                else _unmatched_outcome(ground_truth, scored.name)
            )
        elif scored.verdict == "symptom":
            outcome, why = (
                "symptom",
                f"group {scored.group_id} is not a root cause (its set: {scored.set_id})",
            )
        else:
            outcome, why = scored.verdict, scored.reason
        verdicts.append(
            NameVerdict(
                name=scored.name,
                outcome=outcome,
                group_id=scored.group_id,
                counted_as=scored.counted_as,
                why=why,
            )
        )
    return verdicts
