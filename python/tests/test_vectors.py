"""The shared vectors in packages/protocol/vectors, run against the Python codec."""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from pyroost import codec, frames

VECTORS_DIR = Path(__file__).parents[2] / "packages/protocol/vectors"
JSON_VECTORS = json.loads((VECTORS_DIR / "json.json").read_text(encoding="utf-8"))
FRAME_VECTORS = json.loads((VECTORS_DIR / "frames.json").read_text(encoding="utf-8"))

FLOAT_MARKERS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def from_vector(value: Any) -> Any:
    """Replace {"$float": ...} markers with the floats they stand for."""
    if isinstance(value, dict):
        if set(value) == {"$float"}:
            return FLOAT_MARKERS[value["$float"]]
        return {key: from_vector(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_vector(item) for item in value]
    return value


def assert_same(actual: Any, expected: Any, path: str = "$") -> None:
    """Assert deep equality with matching types, where NaN equals NaN."""
    assert type(actual) is type(expected), f"{path}: {actual!r} != {expected!r}"
    if isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(actual), f"{path}: {actual!r} is not NaN"
    elif isinstance(expected, dict):
        assert list(actual) == list(expected), f"{path}: keys differ"
        for key in expected:
            assert_same(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), f"{path}: lengths differ"
        for index, (left, right) in enumerate(zip(actual, expected)):
            assert_same(left, right, f"{path}[{index}]")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def read_all(data: bytes, max_frame_bytes: int, chunk_size: int | None = None):
    """Decode every message in data fed through a pipe, in chunks if given."""
    read_fd, write_fd = os.pipe()

    def write() -> None:
        step = chunk_size or max(len(data), 1)
        try:
            for offset in range(0, len(data), step):
                os.write(write_fd, data[offset : offset + step])
        finally:
            os.close(write_fd)

    writer = threading.Thread(target=write)
    writer.start()
    reader = frames.FrameReader(read_fd, max_frame_bytes)
    messages = []
    try:
        while (message := reader.read_message()) is not None:
            messages.append(message)
    finally:
        writer.join()
        os.close(read_fd)
    return messages


def test_assert_same_tells_nan_from_numbers() -> None:
    with pytest.raises(AssertionError):
        assert_same({"x": 1.0}, {"x": math.nan})
    with pytest.raises(AssertionError):
        assert_same([1], [1.0])


@pytest.mark.parametrize("vector", JSON_VECTORS, ids=lambda vector: vector["name"])
def test_json_vector_decodes(vector: dict[str, Any]) -> None:
    expected = from_vector(vector["value"])
    assert_same(codec.decode(vector["text"].encode("utf-8")), expected)


@pytest.mark.parametrize("vector", JSON_VECTORS, ids=lambda vector: vector["name"])
def test_json_vector_round_trips(vector: dict[str, Any]) -> None:
    expected = from_vector(vector["value"])
    assert_same(codec.decode(codec.encode(expected)), expected)


@pytest.mark.parametrize("vector", FRAME_VECTORS, ids=lambda vector: vector["name"])
@pytest.mark.parametrize("chunk_size", [None, 1, 5], ids=["whole", "bytewise", "5"])
def test_frame_vector(vector: dict[str, Any], chunk_size: int | None) -> None:
    data = bytes.fromhex(vector["hex"])
    max_frame_bytes = vector["max_frame_bytes"]
    if "error" in vector:
        expected_error = {
            "frame_too_large": frames.FrameTooLargeError,
            "protocol_error": codec.ProtocolError,
        }[vector["error"]]
        with pytest.raises(expected_error):
            read_all(data, max_frame_bytes, chunk_size)
        return
    messages = read_all(data, max_frame_bytes, chunk_size)
    assert_same(messages, from_vector(vector["messages"]))
