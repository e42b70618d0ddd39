"""IBM ITBench's metrics, and the aggregation of per-run scores into task and benchmark numbers.

Per run (see ``docs/scoring.md`` for worked examples):

* **entity precision / recall / F1** over the predicted root causes, deduplicated by the alias set
  they fall in (a name that matches nothing is its own prediction); recall is over the unique
  root-cause sets. The same over the first ``k`` predictions for ``k = 1..5``.
* **propagation chain**: the predicted and ground-truth propagations as service-level paths (every
  name replaced by its alias set, services ordered by first appearance along the listed edges,
  hops inside one set dropped), compared by longest common subsequence: precision = LCS /
  predicted length, recall = LCS / ground-truth length, and their F1.
* **proximity**: each prediction scores ``1 / (1 + hops)``, where ``hops`` is its distance from a
  root-cause set along the ground-truth propagation edges (0 for a root cause, 0 points when it
  is not on the propagation graph); reported as the mean over predictions and the best one.

Predictions in infrastructure namespaces (``kube-system``, ``prometheus``, ``clickhouse``,
``opentelemetry-*``, ``metrics-server``, ``opensearch``, ``data-recorders``) are dropped before
these metrics, as IBM does; the ITBench-AA score does not drop them.

Aggregation: a task's value is the mean of its runs (with the standard error of that mean), and
the benchmark's is the macro average of the task means (its standard error is that of the task
means). pass@1 is the share of runs that scored exactly 1.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from itbench_eval.groundtruth import GroundTruth
from itbench_eval.matching import NameMatch, match_names, parse_entity_name
from itbench_eval.scoring import Matcher
from itbench_server.diagnosis import Diagnosis

__all__ = [
    "INFRASTRUCTURE_NAMESPACES",
    "BenchmarkAggregate",
    "IbmMetrics",
    "MeanWithError",
    "PrecisionRecall",
    "PropagationScore",
    "TaskAggregate",
    "TopK",
    "aggregate_scores",
    "ibm_metrics",
    "ibm_metrics_for_diagnosis",
    "is_infrastructure_namespace",
    "longest_common_subsequence",
    "mean_with_standard_error",
    "pass_at_1",
]

INFRASTRUCTURE_NAMESPACES: tuple[str, ...] = (
    "clickhouse",
    "data-recorders",
    "kube-system",
    "metrics-server",
    "opensearch",
    "opentelemetry-*",
    "prometheus",
)
"""Namespaces whose objects IBM's metrics ignore; a trailing ``*`` is a prefix."""

TOP_K: tuple[int, ...] = (1, 2, 3, 4, 5)


def is_infrastructure_namespace(namespace: str) -> bool:
    """Whether ``namespace`` is one of :data:`INFRASTRUCTURE_NAMESPACES`."""
    return any(
        namespace.startswith(pattern[:-1]) if pattern.endswith("*") else namespace == pattern
        for pattern in INFRASTRUCTURE_NAMESPACES
    )


def _is_infrastructure_name(name: str) -> bool:
    entity = parse_entity_name(name)
    return entity is not None and is_infrastructure_namespace(entity.namespace)


class PrecisionRecall(BaseModel):
    """Precision, recall and their harmonic mean."""

    model_config = ConfigDict(frozen=True)

    precision: float
    recall: float
    f1: float

    @classmethod
    def of(
        cls, correct_predicted: int, predicted: int, correct_expected: int, expected: int
    ) -> PrecisionRecall:
        """From counts; an empty side gives 0 rather than an error."""
        precision = correct_predicted / predicted if predicted else 0.0
        recall = correct_expected / expected if expected else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return cls(precision=precision, recall=recall, f1=f1)


class TopK(PrecisionRecall):
    """Entity precision / recall / F1 over the first ``k`` predictions."""

    k: int


class PropagationScore(PrecisionRecall):
    """The predicted propagation path against the ground truth's, at service level."""

    predicted_path: list[str]
    ground_truth_path: list[str]
    common: int


class IbmMetrics(BaseModel):
    """IBM ITBench's per-run metrics."""

    entity: PrecisionRecall
    top_k: list[TopK]
    propagation: PropagationScore | None
    """``None`` when the ground truth lists no propagation between different sets."""
    proximity: float
    proximity_best: float
    predictions: list[str]
    """The deduplicated predictions, in order: alias-set ids, or ``unmatched:<name>``."""
    dropped_infrastructure: list[str]


def longest_common_subsequence(left: Sequence[str], right: Sequence[str]) -> int:
    """The length of the longest common subsequence of two sequences."""
    previous = [0] * (len(right) + 1)
    for item in left:
        current = [0]
        for index, other in enumerate(right):
            current.append(previous[index] + 1 if item == other else max(previous[index + 1], current[index]))
        previous = current
    return previous[-1]


def _label(ground_truth: GroundTruth, match: NameMatch) -> str:
    if match.group_id is None:
        return f"unmatched:{match.name}"
    return ground_truth.set_ids[match.group_id]


def _path(edges: Sequence[tuple[str, str]]) -> list[str]:
    nodes: dict[str, None] = {}
    for source, target in edges:
        if source != target:
            nodes.setdefault(source)
            nodes.setdefault(target)
    return list(nodes)


def _ground_truth_edges(ground_truth: GroundTruth) -> list[tuple[str, str]]:
    def label(group_id: str) -> str:
        # Edges may name ids that are not groups (seen: `node`); they stay nodes of their own.
        return ground_truth.set_ids.get(group_id, group_id)

    return [(label(edge.source), label(edge.target)) for edge in ground_truth.propagations]


def _hops_from_root_causes(ground_truth: GroundTruth) -> dict[str, int]:
    successors: dict[str, list[str]] = {}
    for source, target in _ground_truth_edges(ground_truth):
        successors.setdefault(source, []).append(target)
    hops = dict.fromkeys(ground_truth.root_cause_set_ids, 0)
    queue = deque(ground_truth.root_cause_set_ids)
    while queue:
        node = queue.popleft()
        for successor in successors.get(node, []):
            if successor not in hops:
                hops[successor] = hops[node] + 1
                queue.append(successor)
    return hops


def ibm_metrics(
    ground_truth: GroundTruth,
    names: Sequence[str],
    propagations: Sequence[tuple[str, str]] = (),
    *,
    matcher: Matcher = match_names,
) -> IbmMetrics:
    """IBM's metrics for one run: root-cause ``names`` in order, predicted ``(source, target)`` hops."""
    kept = [name for name in names if not _is_infrastructure_name(name)]
    dropped = [name for name in names if _is_infrastructure_name(name)]
    kept_edges = [
        (source, target)
        for source, target in propagations
        if not (_is_infrastructure_name(source) or _is_infrastructure_name(target))
    ]
    edge_names = list(dict.fromkeys(name for edge in kept_edges for name in edge))
    predictions = list(dict.fromkeys(_label(ground_truth, match) for match in matcher(ground_truth, kept)))
    edge_matches = matcher(ground_truth, edge_names) if edge_names else []
    edge_labels = {match.name: _label(ground_truth, match) for match in edge_matches}

    root_sets = set(ground_truth.root_cause_set_ids)

    def precision_recall(predicted: Sequence[str]) -> PrecisionRecall:
        correct = [label for label in predicted if label in root_sets]
        return PrecisionRecall.of(len(correct), len(predicted), len(correct), len(root_sets))

    ground_truth_path = _path(_ground_truth_edges(ground_truth))
    propagation: PropagationScore | None = None
    if ground_truth_path:
        predicted_path = _path([(edge_labels[source], edge_labels[target]) for source, target in kept_edges])
        common = longest_common_subsequence(predicted_path, ground_truth_path)
        counts = PrecisionRecall.of(common, len(predicted_path), common, len(ground_truth_path))
        propagation = PropagationScore(
            **counts.model_dump(),
            predicted_path=predicted_path,
            ground_truth_path=ground_truth_path,
            common=common,
        )

    hops = _hops_from_root_causes(ground_truth)
    proximities = [1 / (1 + hops[label]) if label in hops else 0.0 for label in predictions]
    return IbmMetrics(
        entity=precision_recall(predictions),
        top_k=[TopK(k=k, **precision_recall(predictions[:k]).model_dump()) for k in TOP_K],
        propagation=propagation,
        proximity=sum(proximities) / len(proximities) if proximities else 0.0,
        proximity_best=max(proximities, default=0.0),
        predictions=predictions,
        dropped_infrastructure=dropped,
    )


def ibm_metrics_for_diagnosis(
    ground_truth: GroundTruth, diagnosis: Diagnosis, *, matcher: Matcher = match_names
) -> IbmMetrics:
    """:func:`ibm_metrics` of a submitted diagnosis: its root causes and its propagations."""
    propagations = [(hop.source, hop.target) for hop in diagnosis.propagations]
    return ibm_metrics(ground_truth, diagnosis.root_causes(), propagations, matcher=matcher)


class MeanWithError(BaseModel):
    """A mean, the standard error of that mean (0 with fewer than two values) and the count."""

    model_config = ConfigDict(frozen=True)

    mean: float
    standard_error: float
    n: int


def mean_with_standard_error(values: Sequence[float]) -> MeanWithError:
    """Mean and standard error (sample standard deviation / sqrt(n)) of ``values``."""
    n = len(values)
    if n == 0:
        return MeanWithError(mean=0.0, standard_error=0.0, n=0)
    mean = math.fsum(values) / n
    if n == 1:
        return MeanWithError(mean=mean, standard_error=0.0, n=1)
    variance = math.fsum((value - mean) ** 2 for value in values) / (n - 1)
    return MeanWithError(mean=mean, standard_error=math.sqrt(variance / n), n=n)


def pass_at_1(scores: Sequence[float]) -> float:
    """The share of runs that scored exactly 1 (0 for no runs)."""
    if not scores:
        return 0.0
    return sum(math.isclose(score, 1.0) for score in scores) / len(scores)


class TaskAggregate(BaseModel):
    """One task's runs summarised."""

    task: str
    score: MeanWithError
    pass_at_1: float


class BenchmarkAggregate(BaseModel):
    """Tasks summarised, then macro-averaged over tasks."""

    tasks: list[TaskAggregate]
    score: MeanWithError
    """Macro average of the task means; its standard error is over the task means."""
    pass_at_1: float
    """Macro average of the tasks' pass@1."""


def aggregate_scores(scores_by_task: Mapping[str, Sequence[float]]) -> BenchmarkAggregate:
    """Per-task mean over repeats, then the macro average over tasks (tasks in name order)."""
    tasks = [
        TaskAggregate(task=task, score=mean_with_standard_error(scores), pass_at_1=pass_at_1(scores))
        for task, scores in sorted(scores_by_task.items())
    ]
    task_means = [task.score.mean for task in tasks]
    return BenchmarkAggregate(
        tasks=tasks,
        score=mean_with_standard_error(task_means),
        pass_at_1=math.fsum(task.pass_at_1 for task in tasks) / len(tasks) if tasks else 0.0,
    )
