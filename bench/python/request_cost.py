"""Time the bridge's Python work per request, without pipes or processes.

Run from the repository root (opentelemetry-api is needed for the last two
lines):

    python3 bench/python/request_cost.py [BRIDGE_DIRECTORY]

BRIDGE_DIRECTORY is the folder that contains the ``pyroost`` package, by default
this repository's ``python/``; pass another checkout's to compare versions.
Prints microseconds per request, the best of five rounds of 100,000. The
rows time decoding a no-op ``execute`` request, and handling it (program
call and encoded response) without a session, with a session id and with a
``traceparent``. The last two rows time the trace attach and detach done
around a program, through the W3C propagator of opentelemetry-api and
through the bridge.
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path

BRIDGE = (
    Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[2] / "python"
)
sys.path.insert(0, str(BRIDGE.resolve()))

from pyroost import codec, loader
from pyroost.commands import CommandHandler

CALLS = 100_000
REPETITIONS = 5
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
PROGRAMS = Path(__file__).parent / "programs.py"
PLAIN = b'{"type":"request","id":7,"command":"execute","program":"noop","session_id":null,"inputs":{}}'
WITH_SESSION = PLAIN.replace(b'"session_id":null', b'"session_id":"session-1"')
WITH_TRACE = PLAIN[:-1] + b',"trace":{"traceparent":"' + TRACEPARENT.encode() + b'"}}'


def best_microseconds(function) -> float:
    times = timeit.repeat(function, number=CALLS, repeat=REPETITIONS)
    return min(times) / CALLS * 1e6


def report(label: str, microseconds: float) -> None:
    print(f"{label:<40} {microseconds:6.2f} us per request")


def main() -> None:
    print(f"bridge: {BRIDGE.resolve()}")
    loader.load_programs([str(PROGRAMS)])
    handler = CommandHandler(64 * 1024 * 1024)
    report("decode a no-op request", best_microseconds(lambda: codec.decode(PLAIN)))
    for label, body in (
        ("handle, no session", PLAIN),
        ("handle, session id", WITH_SESSION),
        ("handle, traceparent", WITH_TRACE),
    ):
        message = codec.decode(body)
        report(label, best_microseconds(lambda m=message: handler.handle(m)))
    try:
        from opentelemetry import context
        from opentelemetry.trace.propagation.tracecontext import (
            TraceContextTextMapPropagator,
        )
    except ImportError:
        print("opentelemetry-api is not installed: trace attach not timed")
        return
    propagator = TraceContextTextMapPropagator()

    def through_propagator() -> None:
        extracted = propagator.extract({"traceparent": TRACEPARENT})
        context.detach(context.attach(extracted))

    report("propagator attach + detach", best_microseconds(through_propagator))
    try:
        from pyroost.tracing import attach_trace, detach_trace
    except ImportError:
        return
    trace = {"traceparent": TRACEPARENT}
    report(
        "bridge attach + detach",
        best_microseconds(lambda: detach_trace(attach_trace(trace))),
    )


if __name__ == "__main__":
    main()
