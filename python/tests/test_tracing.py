"""Trace context propagation into programs, with opentelemetry-sdk installed."""

from __future__ import annotations

import pytest

from worker_process import program_path

pytest.importorskip("opentelemetry.sdk.trace")

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


def test_program_span_is_child_of_traceparent(spawn_worker) -> None:
    worker = spawn_worker([program_path("traced.py")])
    worker.read_ready()
    traceparent = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"
    response = worker.execute("traced_work", trace={"traceparent": traceparent})
    assert response["ok"] is True, response
    assert response["result"]["trace_id"] == TRACE_ID
    assert response["result"]["parent_span_id"] == PARENT_SPAN_ID


def test_context_detached_after_request(spawn_worker) -> None:
    worker = spawn_worker([program_path("traced.py")])
    worker.read_ready()
    traceparent = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"
    worker.execute("traced_work", trace={"traceparent": traceparent})
    response = worker.execute("traced_work")
    assert response["result"]["trace_id"] != TRACE_ID
    assert response["result"]["parent_span_id"] is None


def test_context_left_attached_ends_with_the_call(spawn_worker) -> None:
    worker = spawn_worker([program_path("traced.py")])
    worker.read_ready()
    leaked = worker.execute("leave_span_attached")["result"]
    response = worker.execute("traced_work")
    assert response["result"]["trace_id"] != leaked
    assert response["result"]["parent_span_id"] is None


@pytest.mark.parametrize(
    "trace",
    [{"traceparent": "not a traceparent"}, {"traceparent": 5}, "text", None],
    ids=["malformed", "number", "string", "null"],
)
def test_bad_trace_never_fails_request(spawn_worker, trace) -> None:
    worker = spawn_worker([program_path("traced.py")])
    worker.read_ready()
    response = worker.execute("traced_work", trace=trace)
    assert response["ok"] is True, response
    assert response["result"]["parent_span_id"] is None


@pytest.mark.parametrize(
    "carrier",
    [
        {"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"},
        {"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-00"},
        {"traceparent": f"00-{TRACE_ID.upper()}-{PARENT_SPAN_ID}-01"},
        {"traceparent": f"00-{'0' * 32}-{PARENT_SPAN_ID}-01"},
        {"traceparent": f"00-{TRACE_ID}-{'0' * 16}-01"},
        {"traceparent": f"01-{TRACE_ID}-{PARENT_SPAN_ID}-01-extra"},
        {"traceparent": f"ff-{TRACE_ID}-{PARENT_SPAN_ID}-01"},
        {"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01", "tracestate": "a=1"},
    ],
    ids=[
        "sampled",
        "not-sampled",
        "upper-case",
        "zero-trace-id",
        "zero-span-id",
        "future-version",
        "version-ff",
        "tracestate",
    ],
)
def test_attached_context_matches_w3c_propagator(carrier) -> None:
    """The bridge parses plain traceparents itself; the result must not differ."""
    from opentelemetry import context, trace
    from opentelemetry.trace.propagation.tracecontext import (
        TraceContextTextMapPropagator,
    )

    from pyroost.tracing import attach_trace, detach_trace

    expected = TraceContextTextMapPropagator().extract(carrier)
    token = attach_trace(carrier)
    try:
        attached = context.get_current()
    finally:
        if token is not None:
            detach_trace(token)
    assert list(attached) == list(expected)
    assert trace.get_current_span(attached).get_span_context() == (
        trace.get_current_span(expected).get_span_context()
    )
