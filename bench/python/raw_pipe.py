"""The limit of the pipe: the smallest loop that serves length-prefixed JSON.

Each frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON,
as in the pyroost protocol. A request is ``{"id": N, "program": NAME,
"inputs": {...}}`` and the reply is ``{"id": N, "result": ...}``. There is no
error handling, tracing, signal handling or output redirection: only what any
bridge has to do.
"""

from __future__ import annotations

import json
import os
import sys
import time

HEADER_BYTES = 4
READ_BYTES = 1 << 16


def spin(ms: float) -> int:
    deadline = time.thread_time() + ms / 1000.0
    loops = 0
    while time.thread_time() < deadline:
        loops += 1
    return loops


PROGRAMS = {
    "noop": lambda: None,
    "echo": lambda payload: payload,
    "cpu": lambda ms=5.0: spin(ms),
}


def main() -> None:
    fd_in = sys.stdin.fileno()
    fd_out = sys.stdout.fileno()
    buffer = b""
    while True:
        # One read usually brings a whole small request.
        while len(buffer) < HEADER_BYTES:
            chunk = os.read(fd_in, READ_BYTES)
            if not chunk:
                return
            buffer += chunk
        size = int.from_bytes(buffer[:HEADER_BYTES], "big")
        end = HEADER_BYTES + size
        if len(buffer) >= end:
            body = buffer[HEADER_BYTES:end]
            buffer = buffer[end:]
        else:
            # A large request is read straight into a buffer of its size.
            body = bytearray(size)
            view = memoryview(body)
            filled = len(buffer) - HEADER_BYTES
            view[:filled] = buffer[HEADER_BYTES:]
            while filled < size:
                count = os.readv(fd_in, [view[filled : filled + (1 << 20)]])
                if not count:
                    return
                filled += count
            buffer = b""
        request = json.loads(body)
        result = PROGRAMS[request["program"]](**request["inputs"])
        body = json.dumps(
            {"id": request["id"], "result": result},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        header = len(body).to_bytes(HEADER_BYTES, "big")
        if len(body) < READ_BYTES:
            # A small reply goes out in one write; a large one is not copied.
            view = memoryview(header + body)
        else:
            os.write(fd_out, header)
            view = memoryview(body)
        while view:
            view = view[os.write(fd_out, view) :]


if __name__ == "__main__":
    main()
