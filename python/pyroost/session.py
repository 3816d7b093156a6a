"""The session id of the request whose program is running.

The worker sets it around each program call, so a program can read it with
``current_session_id()``. A context variable carries it into ``async def``
programs and any tasks they create.
"""

from __future__ import annotations

import contextvars

_session_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pyroost_session_id", default=None
)


def current_session_id() -> str | None:
    """Return the session id of the running request, or None outside a request.

    The id is None also while a request without a ``session_id`` runs.
    """
    return _session_id.get()


def set_current_session(session_id: str | None) -> None:
    """Set the session id that ``current_session_id()`` returns in the current context.

    The worker calls it in a copy of its context made for each request.
    """
    _session_id.set(session_id)
