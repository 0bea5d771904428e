"""``_files.parse_range``: which bytes a Range header asks for (RFC 9110 §14)."""

from __future__ import annotations

import pytest

from soundforge.web.api._files import RangeNotSatisfiable, parse_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-99", (0, 100)),
        ("bytes=100-", (100, 1000)),
        ("bytes=-100", (900, 1000)),
        ("bytes=-5000", (0, 1000)),  # a suffix longer than the file: all of it
        ("bytes=990-5000", (990, 1000)),  # the end is clipped to the file
        ("bytes=999-999", (999, 1000)),
        ("BYTES = 0-0", (0, 1)),
        ("bytes=0-1,5-9", None),  # several ranges: the whole file (allowed by RFC 9110)
        ("items=0-5", None),  # a unit we do not serve: ignored
        ("bytes=5-2", None),  # invalid: ignored
        ("bytes=abc", None),
        ("bytes=-", None),
    ],
)
def test_ranges(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=1000-", 1000), ("bytes=-0", 1000), ("bytes=0-", 0), ("bytes=-1", 0)],
)
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as raised:
        parse_range(header, size)
    assert raised.value.status == 416 and raised.value.size == size
