"""The session id of the request whose program is running.

The worker sets it around each program call, so a program can read it with
``current_session_id()``. A context variable carries it into ``async def``
programs and any tasks they create.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

_session_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pyroost_session_id", default=None
)


def current_session_id() -> str | None:
    """Return the session id of the running request, or None outside a request.

    The id is None also while a request without a ``session_id`` runs.
    """
    return _session_id.get()


@contextmanager
def session_scope(session_id: str | None) -> Iterator[None]:
    """Set the current session id for the duration of the block."""
    token = _session_id.set(session_id)
    try:
        yield
    finally:
        _session_id.reset(token)
