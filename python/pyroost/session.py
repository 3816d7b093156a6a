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


def enter_session(session_id: str) -> contextvars.Token[str | None]:
    """Set the current session id and return the token that ``leave_session`` takes."""
    return _session_id.set(session_id)


def leave_session(token: contextvars.Token[str | None]) -> None:
    """Restore the session id that was current before ``enter_session``."""
    _session_id.reset(token)


class session_scope:  # noqa: N801 - used like the function it replaced
    """Set the current session id for the duration of a ``with`` block.

    A class and not a generator-based context manager, because it runs around
    every request and the generator form costs several times more.
    """

    __slots__ = ("_session_id", "_token")

    def __init__(self, session_id: str | None) -> None:
        self._session_id = session_id

    def __enter__(self) -> None:
        self._token = _session_id.set(self._session_id)

    def __exit__(self, *exc_info: object) -> None:
        _session_id.reset(self._token)
