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
