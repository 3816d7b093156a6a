"""Command line entry point: ``python -m pyroost --programs PATH_OR_MODULE ...``.

Node starts each worker this way, with pipes for stdin, stdout and stderr.
See ``pyroost.worker`` for the start-up sequence and exit statuses.
"""

from __future__ import annotations

import os

# Read before anything else, so that a parent that dies during start-up is
# still noticed.
_PARENT_PID = os.getppid()

import argparse  # noqa: E402
import sys  # noqa: E402

from .frames import DEFAULT_MAX_FRAME_BYTES  # noqa: E402
from .worker import run  # noqa: E402

# Responses larger than the limit are replaced by a frame_too_large error,
# which must itself fit in a frame.
MIN_MAX_FRAME_BYTES = 1024


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pyroost",
        description=(
            "Run a pyroost worker: serve the @program functions in the given "
            "files or modules to a Node.js parent over stdin and stdout."
        ),
    )
    parser.add_argument(
        "--programs",
        nargs="+",
        required=True,
        metavar="PATH_OR_MODULE",
        help=(
            "Python files (ending in .py or containing a path separator) or "
            "module names to import. Their @program functions are served."
        ),
    )
    parser.add_argument(
        "--max-frame-bytes",
        type=int,
        default=DEFAULT_MAX_FRAME_BYTES,
        metavar="N",
        help=(
            "maximum size in bytes of a request or response frame body "
            f"(default {DEFAULT_MAX_FRAME_BYTES}, minimum {MIN_MAX_FRAME_BYTES})"
        ),
    )
    arguments = parser.parse_args(argv)
    if arguments.max_frame_bytes < MIN_MAX_FRAME_BYTES:
        parser.error(
            f"--max-frame-bytes must be at least {MIN_MAX_FRAME_BYTES}, "
            f"got {arguments.max_frame_bytes}"
        )
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    return run(arguments.programs, arguments.max_frame_bytes, _PARENT_PID)


if __name__ == "__main__":
    sys.exit(main())
