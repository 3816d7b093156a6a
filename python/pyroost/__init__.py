"""pyroost: serve Python functions to Node.js callers from long-lived workers.

Decorate the functions to serve with ``@program``, then start a worker with
``python -m pyroost --programs FILE_OR_MODULE``. Node sends requests over the
worker's stdin and reads responses from its stdout, as docs/protocol.md in the
pyroost repository specifies.
"""

from __future__ import annotations

from .registry import program
from .session import current_session_id

__version__ = "0.1.0"

__all__ = ["__version__", "current_session_id", "program"]
