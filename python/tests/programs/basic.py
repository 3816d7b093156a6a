"""Programs for the end-to-end tests of the worker."""

from __future__ import annotations

import asyncio
import contextvars
import os
import sys
import time

import sibling_helper

from pyroost import current_session_id, program


@program
def add(a, b=0):
    """Return a + b."""
    return a + b


@program("echo")
def echo_inputs(**inputs):
    return inputs


@program(name="session")
def session_id():
    return current_session_id()


@program
def fail(message="bad value"):
    raise ValueError(message)


@program
def call_exit():
    sys.exit(2)


@program
def sleep(seconds):
    print("sleep started", file=sys.stderr, flush=True)
    time.sleep(seconds)
    return "slept"


@program
def print_to_stdout(size):
    """Print size characters without a newline or flush, then write to fd 1."""
    print("x" * size, end="")
    os.write(1, b"written to fd 1\n")
    return "printed"


@program
def write_to_stderr(size):
    sys.stderr.write("e" * size)
    sys.stderr.flush()
    return {"size": size}


@program
def repeat(text, count):
    return text * count


@program
def special_floats():
    return [float("nan"), float("inf"), float("-inf")]


@program
def big_integers():
    return {"big": 2**64, "negative": -(2**53), "safe": 2**53 - 1, "flag": True}


@program
def binary():
    return b"\x00\x01\xfe\xff"


@program
def unencodable(kind="object"):
    if kind == "object":
        return object()
    return kind


@program
async def async_add(a, b):
    await asyncio.sleep(0.01)
    return {"sum": a + b, "session": current_session_id()}


@program
async def async_fail():
    await asyncio.sleep(0)
    raise KeyError("missing")


@program
def read_stdin():
    return input()


@program
def is_imported(module):
    return module in sys.modules


@program
def sibling():
    return sibling_helper.GREETING


_calls_seen: contextvars.ContextVar[int] = contextvars.ContextVar(
    "calls_seen", default=0
)


@program
def bump_context_var():
    """Set a context variable and return the value that this call found."""
    seen = _calls_seen.get()
    _calls_seen.set(seen + 1)
    return seen
