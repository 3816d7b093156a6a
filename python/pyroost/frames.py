"""Length-prefixed frames over file descriptors.

A frame is a 4-byte unsigned big-endian length N, then N bytes of body. The
reader checks N against the maximum frame size before it reads or allocates the
body, and decodes the body only once all N bytes have arrived. A small frame
usually arrives with one read, because the reader requests up to
``_READ_AHEAD_BYTES`` at a time and keeps any bytes past the frame for the next
call. The writer takes the body as a sequence of parts. It joins a small
frame and writes it with one call, and writes a large one part by part, so a
large body is never copied.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from typing import Any

from . import codec

HEADER = struct.Struct(">I")
DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024

# os.read returns at most this many bytes per call while a body is read.
_READ_CHUNK_BYTES = 1024 * 1024

# Each read that starts a frame requests this many bytes, so that a small
# frame's header and body arrive with one system call instead of two.
_READ_AHEAD_BYTES = 64 * 1024

# Frames up to this size are joined and written with one call; larger ones are
# written part by part, so their body is never copied.
_JOIN_MAX_BYTES = 64 * 1024


class FrameTooLargeError(Exception):
    """A frame header that announces a body larger than the maximum frame size."""

    def __init__(self, size: int, max_frame_bytes: int) -> None:
        super().__init__(
            f"frame of {size} bytes exceeds the maximum frame size of "
            f"{max_frame_bytes} bytes"
        )
        self.size = size
        self.max_frame_bytes = max_frame_bytes


class FrameReader:
    """Reader of decoded messages from a file descriptor.

    The reader may read past the end of a frame. Those bytes stay in the
    reader for the next frame, and ``has_buffered_bytes`` shows whether any
    are waiting, because a select() on the descriptor does not see them.
    """

    def __init__(self, fd: int, max_frame_bytes: int) -> None:
        self.fd = fd
        self.max_frame_bytes = max_frame_bytes
        self._buffer = b""

    @property
    def has_buffered_bytes(self) -> bool:
        """Whether bytes of a next frame were read already and wait in the reader."""
        return bool(self._buffer)

    def read_message(self) -> dict[str, Any] | None:
        """Read one frame and return its decoded body.

        Returns None at end of stream, including end of stream inside a frame.
        Raises FrameTooLargeError for an oversized header and
        codec.ProtocolError for a body that does not decode.
        """
        data = self._buffer
        self._buffer = b""
        while len(data) < HEADER.size:
            chunk = os.read(self.fd, _READ_AHEAD_BYTES)
            if not chunk:
                return None
            data += chunk
        (size,) = HEADER.unpack_from(data)
        if size > self.max_frame_bytes:
            raise FrameTooLargeError(size, self.max_frame_bytes)
        end = HEADER.size + size
        if len(data) >= end:
            body = data[HEADER.size : end]
            self._buffer = data[end:]
        else:
            body = self._read_exactly(end - len(data), data[HEADER.size :])
            if body is None:
                return None
        return codec.decode(body)

    def _read_exactly(self, size: int, start: bytes = b"") -> bytes | None:
        """Read size more bytes and return them after start.

        Returns None if the stream ends first.
        """
        chunks = [start]
        remaining = size
        while remaining > 0:
            chunk = os.read(self.fd, min(remaining, _READ_CHUNK_BYTES))
            if not chunk:
                return None
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)


def write_frame(fd: int, body: bytes | Sequence[bytes]) -> None:
    """Write one frame to fd, retrying after partial writes.

    body is the frame body, or a sequence of parts that together form it.
    """
    parts = (body,) if isinstance(body, bytes) else body
    size = sum(map(len, parts))
    header = HEADER.pack(size)
    if size <= _JOIN_MAX_BYTES:
        # One system call for the whole frame: each write wakes the reader.
        data = header + b"".join(parts)
        written = os.write(fd, data)
        if written < len(data):
            _write_all(fd, data[written:])
        return
    _write_all(fd, header)
    for part in parts:
        _write_all(fd, part)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
