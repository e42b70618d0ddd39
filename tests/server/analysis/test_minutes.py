from datetime import timedelta

from incident_index import WINDOW_END, WINDOW_START, at

from itbench_server.analysis.minutes import minutes_between, onset_of


def test_the_minutes_of_a_range_end_with_the_one_before_its_end_on_a_minute_boundary() -> None:
    assert minutes_between(WINDOW_START, WINDOW_END) == [at(minute) for minute in range(20)]
    assert minutes_between(at(1.5), at(3.25)) == [at(1), at(2), at(3)]


def test_the_onset_is_where_a_run_of_counts_begins_not_a_stray_one() -> None:
    stray_then_run = {at(2): 1, at(9): 3, at(10): 2, at(11): 4, at(13): 1}

    assert onset_of(stray_then_run, at(19)) == at(9)
    assert onset_of({at(2): 1, at(7): 1, at(12): 1}, at(19)) is None
    assert onset_of({at(18): 1, at(19): 1}, at(19)) == at(18)
    assert onset_of({at(19): 5}, at(19)) is None
    assert onset_of({at(minute): 0 for minute in range(20)}, at(19)) is None
    assert minutes_between(WINDOW_START, WINDOW_START) == [WINDOW_START]
    assert minutes_between(WINDOW_START, WINDOW_START + timedelta(seconds=59)) == [WINDOW_START]
