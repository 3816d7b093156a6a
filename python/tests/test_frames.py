"""Frame writing: partial writes and bodies given in parts."""

from __future__ import annotations

import os
import struct
import threading

import pytest

from pyroost import frames


def read_everything(fd: int, into: bytearray) -> None:
    while chunk := os.read(fd, 65536):
        into.extend(chunk)


def write_and_collect(body) -> bytes:
    read_fd, write_fd = os.pipe()
    received = bytearray()
    reader = threading.Thread(target=read_everything, args=(read_fd, received))
    reader.start()
    try:
        frames.write_frame(write_fd, body)
    finally:
        os.close(write_fd)
        reader.join()
        os.close(read_fd)
    return bytes(received)


def test_write_frame_large_body() -> None:
    body = os.urandom(3 * 1024 * 1024)
    assert write_and_collect(body) == struct.pack(">I", len(body)) + body


def test_write_frame_joins_parts() -> None:
    parts = [b'{"a":', b"1", b"}"]
    assert write_and_collect(parts) == b"\x00\x00\x00\x07" + b'{"a":1}'


def test_write_frame_retries_partial_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    sizes: list[int] = []

    def write_at_most_three_bytes(fd: int, data) -> int:
        written = real_write(fd, bytes(data[:3]))
        sizes.append(written)
        return written

    monkeypatch.setattr(frames.os, "write", write_at_most_three_bytes)
    received = write_and_collect(b'{"key":"value"}')
    assert received == b"\x00\x00\x00\x0f" + b'{"key":"value"}'
    assert max(sizes) == 3


def test_reader_rejects_oversized_header_without_body() -> None:
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, struct.pack(">I", 2**31))
        reader = frames.FrameReader(read_fd, 1024)
        with pytest.raises(frames.FrameTooLargeError) as raised:
            reader.read_message()
        assert raised.value.size == 2**31
        assert raised.value.max_frame_bytes == 1024
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_reader_returns_none_at_eof_inside_header() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"\x00\x00")
    os.close(write_fd)
    try:
        assert frames.FrameReader(read_fd, 1024).read_message() is None
    finally:
        os.close(read_fd)


def frame_of(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def test_reader_keeps_bytes_past_one_frame() -> None:
    read_fd, write_fd = os.pipe()
    stream = frame_of(b'{"n":1}') + frame_of(b'{"n":2}') + frame_of(b'{"n":3}')[:5]
    os.write(write_fd, stream)
    try:
        reader = frames.FrameReader(read_fd, 1024)
        assert reader.read_message() == {"n": 1}
        assert reader.has_buffered_bytes
        assert reader.read_message() == {"n": 2}
        os.write(write_fd, frame_of(b'{"n":3}')[5:])
        assert reader.read_message() == {"n": 3}
        assert not reader.has_buffered_bytes
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_reader_joins_a_body_split_over_reads() -> None:
    read_fd, write_fd = os.pipe()
    body = b'{"text":"' + b"x" * 200_000 + b'"}'
    data = frame_of(body)

    def write_in_pieces() -> None:
        for start in range(0, len(data), 777):
            os.write(write_fd, data[start : start + 777])

    writer = threading.Thread(target=write_in_pieces)
    writer.start()
    try:
        message = frames.FrameReader(read_fd, 1024 * 1024).read_message()
        assert message == {"text": "x" * 200_000}
    finally:
        writer.join()
        os.close(read_fd)
        os.close(write_fd)
