"""Length-prefixed frames over file descriptors.

A frame is a 4-byte unsigned big-endian length N, then N bytes of body. The
reader checks N against the maximum frame size before it reads or allocates the
body, and decodes the body only once all N bytes have arrived. The writer takes
the body as a sequence of parts. It joins a small frame and writes it with one
call, and writes a large one part by part, so a large body is never copied.
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
    """Reader of decoded messages from a file descriptor."""

    def __init__(self, fd: int, max_frame_bytes: int) -> None:
        self.fd = fd
        self.max_frame_bytes = max_frame_bytes

    def read_message(self) -> dict[str, Any] | None:
        """Read one frame and return its decoded body.

        Returns None at end of stream, including end of stream inside a frame.
        Raises FrameTooLargeError for an oversized header and
        codec.ProtocolError for a body that does not decode.
        """
        header = self._read_exactly(HEADER.size)
        if header is None:
            return None
        (size,) = HEADER.unpack(header)
        if size > self.max_frame_bytes:
            raise FrameTooLargeError(size, self.max_frame_bytes)
        body = self._read_exactly(size)
        if body is None:
            return None
        return codec.decode(body)

    def _read_exactly(self, size: int) -> bytes | None:
        """Read exactly size bytes, or return None if the stream ends first."""
        chunks = []
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
    parts = [body] if isinstance(body, bytes) else body
    size = sum(map(len, parts))
    header = HEADER.pack(size)
    if size <= _JOIN_MAX_BYTES:
        # One system call for the whole frame: each write wakes the reader.
        _write_all(fd, b"".join([header, *parts]))
        return
    _write_all(fd, header)
    for part in parts:
        _write_all(fd, part)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
