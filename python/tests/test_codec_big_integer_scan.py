"""The scan that decides whether an encoded value needs big integers as strings."""

from __future__ import annotations

import json

import pytest

from pyroost import codec


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2**60, str(2**60)),
        (-(2**60), str(-(2**60))),
        ([2**53, 1], [str(2**53), 1]),
        ({"a": 1.5, "b": 2**64}, {"a": 1.5, "b": str(2**64)}),
        ({"nested": [[{"n": -(2**70)}]]}, {"nested": [[{"n": str(-(2**70))}]]}),
    ],
)
def test_big_integer_anywhere_becomes_string(value: object, expected: object) -> None:
    assert json.loads(codec.encode(value)) == expected


@pytest.mark.parametrize(
    "value",
    [
        1234567890123456.0,
        {"f": 1234567890123456.0},
        [0.12345678901234567],
        {"e": 1.2345678901234567e300},
        [2**53 - 1, -(2**53 - 1)],
        {"digits": "x 12345678901234567890"},
    ],
)
def test_floats_safe_integers_and_strings_unchanged(value: object) -> None:
    assert codec.encode(value) == json.dumps(value, separators=(",", ":")).encode()


def test_big_integer_next_to_lone_surrogate() -> None:
    encoded = codec.encode({"s": "\udc00", "n": 2**60})
    assert json.loads(encoded) == {"s": "\udc00", "n": str(2**60)}


def test_scan_tells_integer_from_float_part() -> None:
    assert codec._may_contain_big_integer(b"[12345678901234567]")
    assert codec._may_contain_big_integer(b"12345678901234567")
    assert not codec._may_contain_big_integer(b"[1234567890123456.0]")
    assert not codec._may_contain_big_integer(b"[0.12345678901234567]")
    assert not codec._may_contain_big_integer(b"[123456789012345]")
