"""Worker script for python-shell in JSON mode: one JSON document per line."""

from __future__ import annotations

import json
import sys
import time


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
    for line in sys.stdin:
        request = json.loads(line)
        result = PROGRAMS[request["program"]](**request["inputs"])
        sys.stdout.write(json.dumps({"id": request["id"], "result": result}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
