"""Programs that every system in the benchmark runs, as pyroost programs."""

from __future__ import annotations

import time

from pyroost import program


@program
def noop() -> None:
    """Return None at once: the cost of one round trip and nothing else."""


@program
def echo(payload):
    """Return the payload unchanged, so it crosses the pipe in both directions."""
    return payload


@program
def cpu(ms: float = 5.0) -> int:
    """Spin until the thread has used ms milliseconds of CPU time."""
    return spin(ms)


def spin(ms: float) -> int:
    """Busy-loop for ms milliseconds of this thread's CPU time and return the loop count."""
    deadline = time.thread_time() + ms / 1000.0
    loops = 0
    while time.thread_time() < deadline:
        loops += 1
    return loops
