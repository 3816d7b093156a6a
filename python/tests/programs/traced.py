"""Programs that open their own OpenTelemetry spans, for the tracing test."""

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from pyroost import program

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
tracer = provider.get_tracer("pyroost-tests")


@program
def traced_work():
    """Open a span and return its trace id and parent span id in hex."""
    with tracer.start_as_current_span("work"):
        pass
    span = exporter.get_finished_spans()[-1]
    parent = span.parent
    return {
        "trace_id": format(span.context.trace_id, "032x"),
        "parent_span_id": None if parent is None else format(parent.span_id, "016x"),
    }


@program
def leave_span_attached():
    """Start a span, attach it as the current context and never detach it."""
    from opentelemetry import context, trace

    span = tracer.start_span("left-attached")
    context.attach(trace.set_span_in_context(span))
    return format(span.get_span_context().trace_id, "032x")
