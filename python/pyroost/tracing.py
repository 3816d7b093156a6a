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
import re
from typing import Any

logger = logging.getLogger(__name__)

_opentelemetry_found: bool | None = None
_propagator: Any = None
_api_modules: _Api | None = None

_PLAIN_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def opentelemetry_available() -> bool:
    """Return whether the opentelemetry package can be imported, checked once."""
    global _opentelemetry_found
    if _opentelemetry_found is None:
        _opentelemetry_found = importlib.util.find_spec("opentelemetry") is not None
    return _opentelemetry_found


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


def attach_trace(trace: Any) -> Any:
    """Attach the context from a request's ``trace`` field and return its token.

    Returns None when there is nothing to attach or attaching failed.
    """
    global _opentelemetry_found
    carrier = _carrier(trace)
    if carrier is None or not opentelemetry_available():
        return None
    try:
        api = _api()
        extracted = _extract_plain(api, carrier)
        if extracted is None:
            extracted = _get_propagator().extract(carrier)
        return api.context.attach(extracted)
    except ImportError as exc:
        # A partial install, for example another opentelemetry-* distribution
        # without opentelemetry-api. Stop trying for the rest of the process.
        _opentelemetry_found = False
        logger.warning("trace propagation disabled: %s", exc)
    except Exception:
        logger.exception("failed to attach trace context %r", carrier)
    return None


def _extract_plain(api: _Api, carrier: dict[str, str]) -> Any:
    """Return the context of a plain version 00 traceparent, or None.

    Node sends exactly this form whenever it sends a trace: no tracestate,
    lower-case hex, nonzero ids. Building the span context directly gives the context
    that the W3C propagator would, in less time
    (bench/python/request_cost.py compares the two). Anything else,
    including an invalid header, is left to the propagator.
    """
    if len(carrier) != 1:
        return None
    match = _PLAIN_TRACEPARENT.fullmatch(carrier["traceparent"])
    if match is None:
        return None
    trace_id = int(match.group(1), 16)
    span_id = int(match.group(2), 16)
    if trace_id == 0 or span_id == 0:
        return None
    trace = api.trace
    span_context = trace.SpanContext(
        trace_id=trace_id,
        span_id=span_id,
        is_remote=True,
        trace_flags=trace.TraceFlags(int(match.group(3), 16)),
    )
    # The propagator also extracts into an empty context.
    return trace.set_span_in_context(
        trace.NonRecordingSpan(span_context), api.context.Context()
    )


def detach_trace(token: Any) -> None:
    """Detach the context that ``attach_trace`` attached."""
    try:
        _api().context.detach(token)
    except Exception:
        logger.exception("failed to detach trace context")


class _Api:
    """The opentelemetry modules that every request uses, imported once."""

    def __init__(self) -> None:
        from opentelemetry import context, trace

        self.context = context
        self.trace = trace


def _api() -> _Api:
    """Return the imported opentelemetry modules. Raises ImportError without them."""
    global _api_modules
    if _api_modules is None:
        _api_modules = _Api()
    return _api_modules


def _get_propagator() -> Any:
    global _propagator
    if _propagator is None:
        from opentelemetry.trace.propagation.tracecontext import (
            TraceContextTextMapPropagator,
        )

        _propagator = TraceContextTextMapPropagator()
    return _propagator
