"""Intervals, pass@k / pass^k and the paired test of two agents (see ``docs/scoring.md``).

* :func:`bootstrap_interval`: the 95% interval of a benchmark number (the mean over tasks of a
  per-task value) by a **nested bootstrap**: tasks are resampled with replacement, and within each
  resampled task its repeats are resampled with replacement, 10,000 times; the interval is the
  2.5th and 97.5th percentiles of the resampled numbers. The seed is fixed, so one results file
  always gives one interval.
* :func:`pass_at_k` and :func:`pass_hat_k`: for a task with ``n`` runs of which ``c`` succeeded
  (scored exactly 1), the chance that at least one of ``k`` runs drawn without replacement
  succeeds (pass@k, the unbiased estimator of Chen et al. 2021), and that all ``k`` do (pass^k,
  as tau-bench defines it): ``1 - C(n-c, k) / C(n, k)`` and ``C(c, k) / C(n, k)``.
* :func:`paired_comparison`: B against A over the tasks both ran: the mean of the per-task
  differences of mean scores, its nested-bootstrap interval, and the two-sided p-value of a paired
  permutation (sign-flip) test, exact when there are at most 13 shared tasks
  (``scipy.stats.permutation_test``).

The resampling and quantiles are numpy's, the binomial coefficients and the permutation test
scipy's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict
from scipy import special
from scipy import stats as scipy_stats

__all__ = [
    "ALPHA",
    "CONFIDENCE",
    "RESAMPLES",
    "SEED",
    "PairedTest",
    "PassK",
    "bootstrap_interval",
    "format_p_value",
    "paired_comparison",
    "pass_at_k",
    "pass_hat_k",
    "pass_k_table",
    "score_interval",
    "succeeded",
]

CONFIDENCE = 0.95
RESAMPLES = 10_000
SEED = 0
ALPHA = 0.05
"""A paired test's p-value below this is a detectable difference."""
_BATCH = 1_000

Floats = NDArray[np.float64]
TaskStatistic = Callable[[Floats, NDArray[np.int64]], Floats]
"""Per-task values from resampled runs: ``(values[..., run], counts[...]) -> values[...]``.

``values`` holds the resampled scores of each task, NaN past the task's count of runs."""


def succeeded(score: float) -> bool:
    """A run succeeded when it scored exactly 1 (as pass@1 counts it)."""
    return math.isclose(score, 1.0)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of ``k`` of ``n`` runs (``c`` succeeded) succeeds."""
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the {n} runs, not {k}")
    return float(1.0 - special.comb(n - c, k) / special.comb(n, k))


def pass_hat_k(n: int, c: int, k: int) -> float:
    """The chance that all of ``k`` of ``n`` runs (``c`` succeeded) succeed: pass^k."""
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the {n} runs, not {k}")
    return float(special.comb(c, k) / special.comb(n, k))


def _padded(runs: Sequence[Sequence[float]]) -> tuple[Floats, NDArray[np.int64]]:
    counts = np.array([len(task) for task in runs], dtype=np.int64)
    values = np.full((len(runs), int(counts.max(initial=1))), np.nan)
    for index, task in enumerate(runs):
        values[index, : len(task)] = task
    return values, counts


def _resampled_task_values(
    values: Floats,
    counts: NDArray[np.int64],
    tasks: NDArray[np.int64],
    rng: np.random.Generator,
    statistic: TaskStatistic,
) -> Floats:
    """``statistic`` of each resampled task (``tasks[b, t]``), its repeats resampled too."""
    chosen_counts = counts[tasks]  # (B, T)
    width = values.shape[1]
    positions = np.floor(rng.random((*tasks.shape, width)) * chosen_counts[..., None]).astype(np.int64)
    drawn = values[tasks[..., None], positions]
    drawn[np.arange(width) >= chosen_counts[..., None]] = np.nan
    return statistic(drawn, chosen_counts)


def _mean_of_runs(drawn: Floats, counts: NDArray[np.int64]) -> Floats:
    return np.nansum(drawn, axis=-1) / counts


def bootstrap_interval(
    runs: Sequence[Sequence[float]],
    statistic: TaskStatistic = _mean_of_runs,
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> tuple[float, float]:
    """The percentile interval of the mean over tasks of ``statistic``, by a nested bootstrap.

    ``runs`` holds each task's run scores (a task needs at least one). The default statistic is
    the task's mean score, so the interval is that of the benchmark score.
    """
    if not runs or any(len(task) == 0 for task in runs):
        raise ValueError("every task needs at least one run")
    values, counts = _padded(runs)
    rng = np.random.default_rng(seed)
    numbers: list[Floats] = []
    for start in range(0, resamples, _BATCH):
        size = min(_BATCH, resamples - start)
        tasks = rng.integers(0, len(runs), size=(size, len(runs)))
        numbers.append(_resampled_task_values(values, counts, tasks, rng, statistic).mean(axis=1))
    tail = (1 - confidence) / 2
    low, high = np.quantile(np.concatenate(numbers), [tail, 1 - tail])
    return float(low), float(high)


def score_interval(scores_by_task: Mapping[str, Sequence[float]]) -> tuple[float, float]:
    """The 95% interval of the mean over tasks of the task mean scores (tasks with runs only)."""
    runs = [scores for scores in scores_by_task.values() if scores]
    if not runs:
        return (0.0, 0.0)
    return bootstrap_interval(runs)


class PassK(BaseModel):
    """pass@k and pass^k of one k, averaged over the tasks with at least k runs."""

    model_config = ConfigDict(extra="forbid")

    k: int
    tasks: int
    pass_at_k: float
    pass_at_k_ci: tuple[float, float]
    pass_hat_k: float
    pass_hat_k_ci: tuple[float, float]


def _pass_statistic(k: int, all_succeed: bool) -> TaskStatistic:
    def statistic(drawn: Floats, counts: NDArray[np.int64]) -> Floats:
        successes = np.sum(np.isclose(drawn, 1.0), axis=-1)
        if all_succeed:
            return np.asarray(special.comb(successes, k) / special.comb(counts, k), dtype=np.float64)
        return np.asarray(
            1.0 - special.comb(counts - successes, k) / special.comb(counts, k), dtype=np.float64
        )

    return statistic


def pass_k_table(scores_by_task: Mapping[str, Sequence[float]]) -> list[PassK]:
    """pass@k and pass^k for k = 1 .. the most runs of a task, each with its 95% interval.

    The value of k is the mean over the tasks that have at least k runs.
    """
    most = max((len(scores) for scores in scores_by_task.values()), default=0)
    table: list[PassK] = []
    for k in range(1, most + 1):
        runs = [list(scores) for scores in scores_by_task.values() if len(scores) >= k]
        successes = [sum(succeeded(score) for score in scores) for scores in runs]
        at = [pass_at_k(len(scores), c, k) for scores, c in zip(runs, successes, strict=True)]
        hat = [pass_hat_k(len(scores), c, k) for scores, c in zip(runs, successes, strict=True)]
        table.append(
            PassK(
                k=k,
                tasks=len(runs),
                pass_at_k=float(np.mean(at)),
                pass_at_k_ci=bootstrap_interval(runs, _pass_statistic(k, all_succeed=False)),
                pass_hat_k=float(np.mean(hat)),
                pass_hat_k_ci=bootstrap_interval(runs, _pass_statistic(k, all_succeed=True)),
            )
        )
    return table


class PairedTest(BaseModel):
    """B against A over the tasks both ran (``difference`` is B minus A, as a fraction)."""

    model_config = ConfigDict(extra="forbid")

    tasks: int
    difference: float
    difference_ci: tuple[float, float]
    p_value: float
    method: str
    detectable: bool
    verdict: str


def _difference_interval(
    runs_a: Sequence[Sequence[float]], runs_b: Sequence[Sequence[float]]
) -> tuple[float, float]:
    values_a, counts_a = _padded(runs_a)
    values_b, counts_b = _padded(runs_b)
    rng = np.random.default_rng(SEED)
    numbers: list[Floats] = []
    for start in range(0, RESAMPLES, _BATCH):
        size = min(_BATCH, RESAMPLES - start)
        tasks = rng.integers(0, len(runs_a), size=(size, len(runs_a)))
        means_a = _resampled_task_values(values_a, counts_a, tasks, rng, _mean_of_runs)
        means_b = _resampled_task_values(values_b, counts_b, tasks, rng, _mean_of_runs)
        numbers.append((means_b - means_a).mean(axis=1))
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(np.concatenate(numbers), [tail, 1 - tail])
    return float(low), float(high)


def format_p_value(p_value: float) -> str:
    """``p = 0.031``, or ``p < 0.001`` for the smallest."""
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


def _mean_difference(a: Floats, b: Floats, axis: int = -1) -> Floats:
    return np.mean(b - a, axis=axis)


def paired_comparison(
    scores_a: Mapping[str, Sequence[float]],
    scores_b: Mapping[str, Sequence[float]],
    *,
    alpha: float = ALPHA,
) -> PairedTest | None:
    """B against A over the tasks both have runs of; ``None`` when they share no task.

    The test statistic is the mean over shared tasks of (B's mean score - A's mean score). Under
    the null hypothesis (no difference) each task's difference is as likely negated: the p-value
    is the share of the ``2^tasks`` sign assignments (all of them up to 13 tasks, else 10,000 at
    random) whose statistic is at least as far from 0 as the observed one, both sides counted.
    """
    shared = [task for task in scores_a if scores_a[task] and scores_b.get(task)]
    if not shared:
        return None
    runs_a = [list(scores_a[task]) for task in shared]
    runs_b = [list(scores_b[task]) for task in shared]
    means_a = np.array([np.mean(runs) for runs in runs_a])
    means_b = np.array([np.mean(runs) for runs in runs_b])
    difference = float(np.mean(means_b - means_a))
    exact = 2 ** len(shared) <= RESAMPLES
    if np.allclose(means_a, means_b) or len(shared) == 1:
        # Every sign assignment gives 0, or (one task) +d and -d, both as far from 0: p = 1.
        p_value = 1.0
    else:
        result = scipy_stats.permutation_test(
            (means_a, means_b),
            _mean_difference,
            permutation_type="samples",
            vectorized=True,
            n_resamples=RESAMPLES,
            alternative="two-sided",
            rng=SEED,
        )
        p_value = min(1.0, float(result.pvalue))
    method = (
        f"paired permutation test, exact over all {2 ** len(shared)} sign flips"
        if exact
        else f"paired permutation test, {RESAMPLES} random sign flips"
    )
    detectable = p_value < alpha
    if detectable:
        higher = "B" if difference > 0 else "A"
        verdict = f"{higher} scores higher ({format_p_value(p_value)}, {len(shared)} shared tasks)"
    else:
        verdict = f"no detectable difference ({format_p_value(p_value)}, {len(shared)} shared tasks)"
    return PairedTest(
        tasks=len(shared),
        difference=difference,
        difference_ci=_difference_interval(runs_a, runs_b),
        p_value=p_value,
        method=method,
        detectable=detectable,
        verdict=verdict,
    )
