"""activerel._util.batching: how many items fit one statement, and the slices."""
from __future__ import annotations

from activerel._util.batching import chunks, per_statement


def test_per_statement_divides_the_limit():
    assert per_statement(999, 3) == 333
    assert per_statement(999, 1) == 999
    assert per_statement(10, 3) == 3  # rounded down: 4 items would need 12


def test_per_statement_leaves_room_for_reserved_parameters():
    assert per_statement(999, 2, reserved=1) == 499
    assert per_statement(10, 3, reserved=1) == 3
    assert per_statement(10, 3, reserved=2) == 2


def test_per_statement_is_at_least_one():
    assert per_statement(2, 5) == 1
    assert per_statement(5, 1, reserved=5) == 1
    assert per_statement(5, 1, reserved=10) == 1


def test_per_statement_counts_an_item_of_no_parameters_as_one():
    assert per_statement(10, 0) == 10


def test_chunks_slice_in_order():
    items = [1, 2, 3, 4, 5, 6, 7]
    assert list(chunks(items, 6, 2)) == [[1, 2, 3], [4, 5, 6], [7]]


def test_chunks_of_an_exact_multiple_have_no_empty_tail():
    assert list(chunks([1, 2, 3, 4], 4, 2)) == [[1, 2], [3, 4]]


def test_chunks_with_reserved_parameters():
    # (5 - 3) // 1 = 2 items per statement
    assert list(chunks(["a", "b", "c", "d", "e"], 5, 1, reserved=3)) == [
        ["a", "b"], ["c", "d"], ["e"]]


def test_chunks_when_nothing_fits_go_one_by_one():
    assert list(chunks([1, 2, 3], 1, 4)) == [[1], [2], [3]]


def test_chunks_of_nothing_are_none():
    assert list(chunks([], 10, 1)) == []


def test_chunks_fit_in_one_statement():
    assert list(chunks([1, 2, 3], 999, 3)) == [[1, 2, 3]]


def test_chunks_are_slices_of_the_sequence():
    assert list(chunks((1, 2, 3), 2, 1)) == [(1, 2), (3,)]
    assert list(chunks("abcde", 4, 2)) == ["ab", "cd", "e"]
