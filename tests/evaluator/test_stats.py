"""Intervals, pass@k / pass^k and the paired test, against answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from itbench_eval.stats import (
    bootstrap_interval,
    format_p_value,
    paired_comparison,
    pass_at_k,
    pass_hat_k,
    pass_k_table,
    score_interval,
)


def test_an_interval_collapses_to_the_score_when_every_run_scores_alike() -> None:
    assert score_interval({"a": [0.5, 0.5, 0.5], "b": [0.5], "c": [0.5, 0.5]}) == (0.5, 0.5)


def test_two_tasks_scoring_0_and_1_give_the_interval_0_to_1() -> None:
    # Resampling two tasks: the mean is 0 (1/4), 1/2 (1/2) or 1 (1/4); 2.5% and 97.5% fall on 0 and 1.
    assert score_interval({"a": [0.0], "b": [1.0]}) == (0.0, 1.0)


def test_one_success_in_four_tasks_gives_the_interval_0_to_three_quarters() -> None:
    # The resampled mean is Binomial(4, 1/4) / 4: P(0) = 0.316, P(<= 1/2) = 0.949, P(<= 3/4) = 0.996,
    # so the 2.5th percentile is 0 and the 97.5th is 3/4.
    assert score_interval({"a": [0.0], "b": [0.0], "c": [0.0], "d": [1.0]}) == (0.0, 0.75)


def test_repeats_are_resampled_inside_their_task() -> None:
    # One task: only its repeats vary. Three repeats 0, 1, 1: the resampled mean is 0 with
    # probability 1/27 (> 2.5%) and 1 with probability 8/27 (> 2.5%).
    assert score_interval({"a": [0.0, 1.0, 1.0]}) == (0.0, 1.0)
    # Without nesting, one task would give the single value 2/3.
    assert score_interval({"a": [2 / 3]}) == pytest.approx((2 / 3, 2 / 3))


def test_with_one_run_per_task_the_interval_is_scipys_percentile_bootstrap() -> None:
    rng = np.random.default_rng(7)
    scores = rng.choice([0.0, 0.5, 1.0], size=40, p=[0.5, 0.2, 0.3])
    ours = bootstrap_interval([[score] for score in scores])
    theirs = scipy_stats.bootstrap(
        (scores,), np.mean, method="percentile", n_resamples=10_000, rng=1
    ).confidence_interval
    assert ours == pytest.approx((theirs.low, theirs.high), abs=0.02)


def test_the_same_results_always_give_the_same_interval() -> None:
    scores = {"a": [0.0, 1.0, 0.5], "b": [1.0, 1.0, 0.0], "c": [0.0, 0.0, 0.5]}
    assert score_interval(scores) == score_interval(dict(scores))


@pytest.mark.parametrize(
    ("n", "c", "k", "at", "hat"),
    [
        (3, 0, 1, 0.0, 0.0),
        (3, 3, 3, 1.0, 1.0),
        (3, 1, 1, 1 / 3, 1 / 3),
        (3, 2, 2, 1.0, 1 / 3),  # any 2 of 3 runs hold a success; 1 of the 3 pairs is both successes
        (3, 1, 2, 2 / 3, 0.0),  # 2 of the 3 pairs hold the success; no pair is two successes
        (4, 2, 2, 5 / 6, 1 / 6),  # pairs: 6; without a success: 1; both successes: 1
    ],
)
def test_pass_at_k_and_pass_hat_k_count_the_k_run_draws(
    n: int, c: int, k: int, at: float, hat: float
) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(at)
    assert pass_hat_k(n, c, k) == pytest.approx(hat)


def test_pass_k_refuses_k_beyond_the_runs() -> None:
    with pytest.raises(ValueError, match="between 1 and the 3 runs"):
        pass_at_k(3, 1, 4)


def test_the_pass_k_table_averages_over_tasks_with_enough_runs() -> None:
    table = pass_k_table({"a": [1.0, 1.0, 0.0], "b": [0.0, 0.5, 0.0], "c": [1.0]})

    assert [row.k for row in table] == [1, 2, 3]
    assert [row.tasks for row in table] == [3, 2, 2]
    assert table[0].pass_at_k == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert table[1].pass_at_k == pytest.approx((1 + 0) / 2)
    assert table[1].pass_hat_k == pytest.approx((1 / 3 + 0) / 2)
    assert table[2].pass_hat_k == pytest.approx(0.0)
    assert table[2].pass_hat_k_ci[0] == 0.0  # resampled repeats of 'a' may all succeed: not (0, 0)
    for row in table:
        assert row.pass_at_k_ci[0] <= row.pass_at_k <= row.pass_at_k_ci[1]


def test_three_tasks_all_better_are_no_detectable_difference() -> None:
    # Sign flips of three differences of +1: 8 assignments, 2 of them (all + or all -) as extreme.
    test = paired_comparison({"a": [0.0], "b": [0.0], "c": [0.0]}, {"a": [1.0], "b": [1.0], "c": [1.0]})

    assert test is not None
    assert test.p_value == pytest.approx(2 / 8)
    assert (test.difference, test.detectable) == (1.0, False)
    assert test.verdict == "no detectable difference (p = 0.250, 3 shared tasks)"
    assert "exact over all 8 sign flips" in test.method


def test_six_tasks_all_better_are_a_detectable_difference() -> None:
    a = {f"t{index}": [0.0, 0.0] for index in range(6)}
    b = {f"t{index}": [1.0, 0.5] for index in range(6)}

    test = paired_comparison(a, b)

    assert test is not None
    assert test.p_value == pytest.approx(2 / 64)
    assert test.difference == pytest.approx(0.75)
    assert test.detectable
    assert test.verdict == "B scores higher (p = 0.031, 6 shared tasks)"


def test_the_paired_p_value_counts_sign_flips_of_unequal_differences() -> None:
    # Differences +1, +1/2, -1/2: the observed sum is 1. The 8 sign flips give the sums
    # ±(1 + 1/2 - 1/2) = ±1, ±(1 + 1/2 + 1/2) = ±2, ±(1 - 1/2 + 1/2) = ±1 and ±(1 - 1/2 - 1/2) = 0:
    # 6 of the 8 are at least 1 away from 0.
    a = {"x": [0.0], "y": [0.5], "z": [1.0]}
    b = {"x": [1.0], "y": [1.0], "z": [0.5]}

    test = paired_comparison(a, b)

    assert test is not None
    assert test.difference == pytest.approx(1 / 3)
    assert test.p_value == pytest.approx(6 / 8)
    assert not test.detectable


def test_identical_agents_show_no_difference_and_a_zero_interval() -> None:
    scores = {"a": [0.0, 1.0], "b": [0.5, 0.5]}

    test = paired_comparison(scores, scores)

    assert test is not None
    assert (test.p_value, test.difference, test.detectable) == (1.0, 0.0, False)


def test_only_shared_tasks_are_compared() -> None:
    test = paired_comparison({"a": [0.0], "b": [1.0]}, {"b": [1.0], "c": [0.0]})

    assert test is not None
    assert (test.tasks, test.difference) == (1, 0.0)
    assert paired_comparison({"a": [0.0]}, {"c": [1.0]}) is None


def test_one_shared_task_can_show_no_detectable_difference() -> None:
    # One difference d: its two sign flips, +d and -d, are both as far from 0 as d: p = 1.
    test = paired_comparison({"a": [0.0, 0.0]}, {"a": [1.0, 1.0]})

    assert test is not None
    assert (test.tasks, test.difference, test.p_value, test.detectable) == (1, 1.0, 1.0, False)


def test_the_interval_of_the_difference_brackets_it() -> None:
    a = {f"t{index}": [0.0, 1.0, 0.0] for index in range(10)}
    b = {f"t{index}": [1.0, 1.0, float(index % 2)] for index in range(10)}

    test = paired_comparison(a, b)

    assert test is not None
    low, high = test.difference_ci
    assert low < test.difference < high
    assert math.isclose(test.difference, (2 + 0.5) / 3 - 1 / 3)


def test_small_p_values_are_written_as_below_a_thousandth() -> None:
    assert format_p_value(0.0002) == "p < 0.001"
    assert format_p_value(0.04) == "p = 0.040"
