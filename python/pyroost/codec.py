"""JSON codec for protocol messages, following the JSON policy in docs/protocol.md.

Encoding rules, applied to every message the worker sends:

- NaN, Infinity and -Infinity go out as the bare tokens that Python's ``json``
  module writes with ``allow_nan=True``.
- Strings are written as UTF-8. A string with a lone surrogate cannot be UTF-8,
  so such a message is written again with ``ensure_ascii=True``, which escapes
  the surrogate as ``\\udXXX``.
- Integers outside +/-(2**53 - 1) in program values become decimal strings,
  because JavaScript numbers cannot hold them exactly. The worker's own fields,
  such as ``timing`` in nanoseconds, stay numbers as docs/protocol.md shows, so
  responses are encoded in two parts (see ``commands``).
- ``bytes``, ``bytearray`` and ``memoryview`` become standard base64 strings,
  ``set`` and ``frozenset`` become arrays, and objects with a callable
  ``tolist()`` (NumPy arrays and scalars) become the result of ``tolist()``.
- Any other type raises ``UnsupportedTypeError``, which names the type.

Decoding accepts strict UTF-8 JSON that contains one object, including the NaN and
Infinity tokens, and raises ``ProtocolError`` for anything else.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1


def _digit_marks() -> bytes:
    marks = bytearray(b" " * 256)
    for digit in b"0123456789":
        marks[digit] = ord("0")
    marks[ord(".")] = ord(".")
    return bytes(marks)


# Any integer beyond MAX_SAFE_INTEGER has at least 16 digits. Finding no such
# number in the encoded text proves that the slower conversion pass is not
# needed. The scan maps every byte to one of three marks with bytes.translate,
# digits to "0", "." to itself and every other byte to " ", then looks for the
# literal " " + 16 * "0" with bytes.find. Both run in C over the whole body,
# where a regular expression tries a match at every byte: on a 10 MB body of
# rows, the regular expression \d{16} took 300-570 ms and this scan 12-14 ms.
_DIGIT_MARKS = _digit_marks()
_SIXTEEN_DIGITS = b"0" * 16
_NUMBER_START = b" " + _SIXTEEN_DIGITS
_DIGIT_RUN = re.compile(rb"0+")


class ProtocolError(ValueError):
    """A frame body that is not strict UTF-8 JSON holding one object."""


class UnsupportedTypeError(TypeError):
    """A value of a type that the JSON policy cannot encode."""

    def __init__(self, type_name: str) -> None:
        super().__init__(f"values of type {type_name} cannot be encoded as JSON")
        self.type_name = type_name


def encode(value: Any, *, stringify_big_integers: bool = True) -> bytes:
    """Encode a value as UTF-8 JSON bytes under the JSON policy.

    With stringify_big_integers False, integers beyond 2**53 - 1 stay numbers.
    Raises UnsupportedTypeError for a value of an unsupported type, ValueError
    for a circular reference and RecursionError for nesting too deep to encode.
    """
    if value is None:
        return b"null"
    body = _encode_bytes(value)
    if stringify_big_integers and _may_contain_big_integer(body):
        body = _encode_bytes(_stringify_big_integers(value))
    return body


def _encode_bytes(value: Any) -> bytes:
    text = _ENCODER.encode(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Only a lone surrogate makes UTF-8 encoding fail. Escaping every
        # non-ASCII character writes it as \udXXX, which both sides decode back.
        return _ASCII_ENCODER.encode(value).encode("ascii")


def _may_contain_big_integer(body: bytes) -> bool:
    """Return whether body has a number token of 16 or more digits.

    A number token starts after a byte that is neither a digit nor "." and
    never continues with ".", which distinguishes integers from the fraction
    and the integer part of a float. Digits inside strings can give a false
    positive, which only costs the slower pass.
    """
    marks = body.translate(_DIGIT_MARKS)
    if marks.startswith(_SIXTEEN_DIGITS):
        end = _DIGIT_RUN.match(marks).end()
        if marks[end : end + 1] != b".":
            return True
    start = marks.find(_NUMBER_START)
    while start != -1:
        end = _DIGIT_RUN.match(marks, start + 1).end()
        if marks[end : end + 1] != b".":
            return True
        start = marks.find(_NUMBER_START, end)
    return False


def decode(body: bytes) -> dict[str, Any]:
    """Decode a frame body into a dict, or raise ProtocolError."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"frame body is not valid UTF-8: {exc}") from exc
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise ProtocolError("frame body is nested too deeply to decode") from exc
    except ValueError as exc:
        raise ProtocolError(f"frame body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        type_name = type(value).__name__
        raise ProtocolError(f"frame body must be a JSON object, got {type_name}")
    return value


def describe_type(value: Any) -> str:
    """Return the qualified name of the value's type, without 'builtins.'."""
    cls = type(value)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _encode_other(value: Any) -> Any:
    """Convert a value that ``json`` cannot encode itself, for ``default=``."""
    # Bytes come first because memoryview also has tolist().
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (set, frozenset)):
        return list(value)
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    raise UnsupportedTypeError(describe_type(value))


def _make_encoder(ensure_ascii: bool) -> json.JSONEncoder:
    # One encoder per setting, built once: json.dumps with any non-default
    # option builds a new JSONEncoder on every call.
    return json.JSONEncoder(
        ensure_ascii=ensure_ascii,
        allow_nan=True,
        separators=(",", ":"),
        default=_encode_other,
    )


_ENCODER = _make_encoder(ensure_ascii=False)
_ASCII_ENCODER = _make_encoder(ensure_ascii=True)


def _is_big_integer(value: Any) -> bool:
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    return abs(value) > MAX_SAFE_INTEGER


def _stringify_big_integers(value: Any) -> Any:
    """Return a copy of value with integers beyond 2**53 - 1 as decimal strings.

    The walk applies the same container conversions as ``_encode_other`` first,
    so integers inside sets and ``tolist()`` results are found as well.
    """
    if _is_big_integer(value):
        return str(int(value))
    if isinstance(value, dict):
        return {key: _stringify_big_integers(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_stringify_big_integers(item) for item in value]
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return value
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return _stringify_big_integers(tolist())
    return value
