"""The stream helpers bundles are written and checked with."""

from __future__ import annotations

import io
import zipfile

from hypothesis import given
from hypothesis import strategies as st

from diagscope.report.bundle import first_difference, iter_jsonl, member_sha256, sha256_hex


def test_equal_streams_have_no_difference():
    assert first_difference(iter([1, 2, 3]), iter([1, 2, 3])) is None
    assert first_difference([], []) is None


def test_the_first_difference_is_found_and_both_streams_are_counted():
    found = first_difference(iter([1, 2, 9, 4, 5]), iter([1, 2, 3, 4]))
    assert found is not None
    assert (found.index, found.left, found.right, found.left_row) == (2, 5, 4, 9)


def test_a_stream_that_ends_early_differs_where_it_ends():
    shorter = first_difference(iter([1, 2]), iter([1, 2, 3]))
    assert shorter is not None
    assert (shorter.index, shorter.left, shorter.right, shorter.left_row) == (2, 2, 3, None)
    longer = first_difference(iter([1, 2, 3]), iter([1, 2]))
    assert longer is not None and (longer.index, longer.left_row) == (2, 3)


@given(st.lists(st.integers(0, 3), max_size=8), st.lists(st.integers(0, 3), max_size=8))
def test_first_difference_agrees_with_comparing_lists(left, right):
    found = first_difference(iter(left), iter(right))
    if left == right:
        assert found is None
        return
    assert found is not None and (found.left, found.right) == (len(left), len(right))
    assert left[:found.index] == right[:found.index]
    assert found.index == len(left) or found.index == len(right) or \
        left[found.index] != right[found.index]


def test_json_lines_are_read_as_a_stream_split_at_line_feeds_only():
    text = '{"a": "x\u2028y\u0085z"}\r\n\n[1, 2]\n'
    data = text.encode("utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("rows.jsonl", data)
    with zipfile.ZipFile(buffer) as zf:
        assert list(iter_jsonl(zf, "rows.jsonl")) == [{"a": "x\u2028y\u0085z"}, [1, 2]]
        assert member_sha256(zf, "rows.jsonl") == sha256_hex(data)
