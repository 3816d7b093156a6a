"""Trace context propagation from the Node span into programs.

When a request carries ``trace.traceparent`` and the ``opentelemetry`` package
is installed, the worker extracts the W3C trace context and attaches it while
the program runs, so spans the program opens become children of the Node span.
Without ``opentelemetry`` this module imports nothing beyond the standard
library. A failure here is logged to stderr and never fails the request.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

logger = logging.getLogger(__name__)

_opentelemetry_found: bool | None = None
_propagator: Any = None


def opentelemetry_available() -> bool:
    """Return whether the opentelemetry package can be imported, checked once."""
    global _opentelemetry_found
    if _opentelemetry_found is None:
        _opentelemetry_found = importlib.util.find_spec("opentelemetry") is not None
    return _opentelemetry_found


class trace_scope:  # noqa: N801 - used like the function it replaced
    """Attach the trace context from a request's ``trace`` field for a ``with`` block.

    Does nothing when ``trace`` has no string ``traceparent`` or opentelemetry
    is missing. A class and not a generator-based context manager, because
    it runs around every request.
    """

    __slots__ = ("_trace", "_token")

    def __init__(self, trace: Any) -> None:
        self._trace = trace

    def __enter__(self) -> None:
        self._token = None if self._trace is None else _attach(self._trace)

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _detach(self._token)


def _carrier(trace: Any) -> dict[str, str] | None:
    if not isinstance(trace, dict):
        return None
    traceparent = trace.get("traceparent")
    if not isinstance(traceparent, str):
        return None
    carrier = {"traceparent": traceparent}
    tracestate = trace.get("tracestate")
    if isinstance(tracestate, str):
        carrier["tracestate"] = tracestate
    return carrier


def _attach(trace: Any) -> Any:
    """Attach the extracted context and return its token, or None."""
    global _opentelemetry_found
    carrier = _carrier(trace)
    if carrier is None or not opentelemetry_available():
        return None
    try:
        from opentelemetry import context

        extracted = _get_propagator().extract(carrier)
        return context.attach(extracted)
    except ImportError as exc:
        # A partial install, for example another opentelemetry-* distribution
        # without opentelemetry-api. Stop trying for the rest of the process.
        _opentelemetry_found = False
        logger.warning("trace propagation disabled: %s", exc)
    except Exception:
        logger.exception("failed to attach trace context %r", carrier)
    return None


def _detach(token: Any) -> None:
    try:
        from opentelemetry import context

        context.detach(token)
    except Exception:
        logger.exception("failed to detach trace context")


def _get_propagator() -> Any:
    global _propagator
    if _propagator is None:
        from opentelemetry.trace.propagation.tracecontext import (
            TraceContextTextMapPropagator,
        )

        _propagator = TraceContextTextMapPropagator()
    return _propagator
