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
