"""The JSON codec: policy rules beyond the shared vectors."""

from __future__ import annotations

import base64
import datetime
import json
import math

import pytest

from pyroost import codec


class FakeArray:
    """Stands in for a NumPy array, which has tolist()."""

    def __init__(self, values: list) -> None:
        self.values = values

    def tolist(self) -> list:
        return list(self.values)


def roundtrip(value: object) -> object:
    return codec.decode(codec.encode({"v": value}))["v"]


def test_big_integers_become_strings() -> None:
    encoded = codec.encode({"big": 2**64, "negative": -(2**53), "list": [2**70]})
    assert json.loads(encoded) == {
        "big": "18446744073709551616",
        "negative": "-9007199254740992",
        "list": ["1180591620717411303424"],
    }


def test_safe_integers_stay_numbers() -> None:
    value = {"max": 2**53 - 1, "min": -(2**53 - 1), "flag": True, "f": 1e20}
    assert json.loads(codec.encode(value)) == value


def test_big_integers_inside_containers_and_tolist() -> None:
    value = {"tuple": (2**60,), "set": {2**61}, "array": FakeArray([2**62, 1])}
    assert json.loads(codec.encode(value)) == {
        "tuple": [str(2**60)],
        "set": [str(2**61)],
        "array": [str(2**62), 1],
    }


def test_big_integers_kept_when_stringify_disabled() -> None:
    encoded = codec.encode(
        {"ns": 1_700_000_000_000_000_000}, stringify_big_integers=False
    )
    assert encoded == b'{"ns":1700000000000000000}'


def test_long_digit_strings_unchanged() -> None:
    value = {"digits": "12345678901234567890", "small": 5, "bool": False}
    assert json.loads(codec.encode(value)) == value


def test_bytes_become_base64() -> None:
    raw = b"\x00\x01\xfe\xff"
    encoded = json.loads(
        codec.encode({"b": raw, "ba": bytearray(raw), "mv": memoryview(raw)})
    )
    expected = base64.b64encode(raw).decode("ascii")
    assert encoded == {"b": expected, "ba": expected, "mv": expected}


def test_sets_become_lists() -> None:
    encoded = json.loads(codec.encode({"s": {3}, "f": frozenset({"a"})}))
    assert encoded == {"s": [3], "f": ["a"]}


def test_tolist_objects_are_converted() -> None:
    assert json.loads(codec.encode({"a": FakeArray([1.5, 2])})) == {"a": [1.5, 2]}


def test_unsupported_type_raises_with_name() -> None:
    with pytest.raises(codec.UnsupportedTypeError) as raised:
        codec.encode({"when": datetime.date(2024, 1, 1)})
    assert raised.value.type_name == "datetime.date"
    assert "datetime.date" in str(raised.value)


def test_unsupported_builtin_type_name() -> None:
    with pytest.raises(codec.UnsupportedTypeError) as raised:
        codec.encode({"o": object()})
    assert raised.value.type_name == "object"


def test_lone_surrogates_round_trip() -> None:
    value = {"high": "a\ud800b", "low": "\udfff", "text": "é"}
    encoded = codec.encode(value)
    assert b"\\ud800" in encoded
    assert b"\\udfff" in encoded
    assert codec.decode(encoded) == value


def test_non_ascii_written_as_utf8() -> None:
    assert codec.encode({"s": "é世😀"}) == '{"s":"é世😀"}'.encode()


def test_special_floats_as_bare_tokens() -> None:
    encoded = codec.encode({"v": [math.nan, math.inf, -math.inf]})
    assert encoded == b'{"v":[NaN,Infinity,-Infinity]}'


def test_compact_separators() -> None:
    assert codec.encode({"a": [1, 2], "b": None}) == b'{"a":[1,2],"b":null}'


def test_circular_reference_raises_value_error() -> None:
    value: list = []
    value.append(value)
    with pytest.raises(ValueError):
        codec.encode({"v": value})


@pytest.mark.parametrize(
    "body",
    [b'{"s":"\xff"}', b"{not json}", b"[1,2]", b"", b'"text"', b"null"],
    ids=["invalid utf8", "invalid json", "array", "empty", "string", "null"],
)
def test_decode_rejects(body: bytes) -> None:
    with pytest.raises(codec.ProtocolError):
        codec.decode(body)


def test_decode_rejects_deep_nesting() -> None:
    with pytest.raises(codec.ProtocolError):
        codec.decode(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}")


def test_decode_reads_special_tokens() -> None:
    decoded = codec.decode(b'{"n":NaN,"i":-Infinity}')
    assert math.isnan(decoded["n"])
    assert decoded["i"] == -math.inf


def test_roundtrip_keeps_floats() -> None:
    assert roundtrip(0.1) == 0.1
    assert roundtrip(-2.5e-300) == -2.5e-300
