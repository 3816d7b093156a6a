"""Programs of the tracing example.

When the ``opentelemetry-sdk`` and ``opentelemetry-exporter-otlp-proto-http``
packages are installed (``pip install -r requirements.txt``), ``word_stats``
opens its own span. The pyroost bridge has attached the trace context sent
from Node, so that span joins the trace of the execution, as a child of its
``pyroost.worker.request`` span. The exporter sends to
``$OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces`` (default
``http://localhost:4318/v1/traces``). Without those packages the programs run
the same and only the Node side is traced.
"""

from __future__ import annotations

import sys
from collections import Counter

from pyroost import current_session_id, program

try:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter,
    )
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
except ImportError:
    tracer = None
else:
    # The provider exports the rest of its spans when the worker exits.
    _provider = TracerProvider(
        resource=Resource.create({"service.name": "pyroost-example-python"})
    )
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    tracer = _provider.get_tracer("pyroost-example-programs")


def _count(text: str) -> dict:
    words = text.lower().split()
    if not words:
        raise ValueError("text has no words; send at least one word")
    counts = Counter(words)
    top, _ = counts.most_common(1)[0]
    return {"words": len(words), "unique": len(counts), "top": top}


@program
def word_stats(text: str) -> dict:
    """Count the words of a text and return the total, distinct and most common."""
    print(f"word_stats: {len(text)} characters", file=sys.stderr, flush=True)
    if tracer is None:
        return _count(text)
    with tracer.start_as_current_span("count words") as span:
        session_id = current_session_id()
        if session_id is not None:
            span.set_attribute("session.id", session_id)
        stats = _count(text)
        span.set_attribute("words", stats["words"])
        return stats
