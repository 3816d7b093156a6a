"""Errors that the worker reports in responses and start-up messages.

On the wire an error is an object ``{"category", "type", "message", "context"}``.
``category`` is ``"program"`` for failures of a program or its inputs and
outputs, and ``"communication"`` for malformed requests and oversized frames.
``type`` is a stable identifier that callers match on. ``message`` is for people.
``context`` contains the details as JSON values.
"""

from __future__ import annotations

import importlib.util
import os
import traceback
from typing import Any


def _package_directory(name: str) -> str:
    """Return the folder of a package found on sys.path, without importing it.

    The worker imports asyncio only for the first ``async def`` program, so
    a worker that never runs one does not pay for it in start time and memory.
    """
    spec = importlib.util.find_spec(name)
    origin = spec.origin if spec is not None else None
    if origin is None:
        return "<no folder for " + name + ">"
    return os.path.dirname(os.path.abspath(origin)) + os.sep


# Leading traceback frames from these places belong to the worker, to asyncio or
# to the import system, so format_traceback leaves them out.
_INTERNAL_FRAME_PREFIXES = (
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
    _package_directory("asyncio"),
    "<frozen importlib.",
)

PROGRAM = "program"
COMMUNICATION = "communication"

PROGRAM_NOT_FOUND = "program_not_found"
PROGRAM_ERROR = "program_error"
INVALID_INPUT = "invalid_input"
INVALID_OUTPUT = "invalid_output"
PROTOCOL_ERROR = "protocol_error"
FRAME_TOO_LARGE = "frame_too_large"


class WorkerError(Exception):
    """An error that is reported to Node as an error object, not raised there."""

    def __init__(
        self,
        category: str,
        type: str,
        message: str,
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.category = category
        self.type = type
        self.message = message
        self.context = context or {}

    def to_wire(self) -> dict[str, Any]:
        """Return the error object as sent in a response or start-up message."""
        return {
            "category": self.category,
            "type": self.type,
            "message": self.message,
            "context": self.context,
        }


def protocol_error(message: str) -> WorkerError:
    return WorkerError(COMMUNICATION, PROTOCOL_ERROR, message)


def invalid_input(message: str, context: dict[str, Any]) -> WorkerError:
    return WorkerError(PROGRAM, INVALID_INPUT, message, context)


def format_traceback(exc: BaseException) -> str:
    """Format the exception's traceback without the worker's leading frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(
        _INTERNAL_FRAME_PREFIXES
    ):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))
