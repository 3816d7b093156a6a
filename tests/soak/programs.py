"""Programs for the soak run. Each result is derived from its inputs, so the
soak script can check that every caller got its own result."""

import hashlib
import os
import sys
import time

from pyroost import program


@program
def double(n):
    return {"n": n, "double": n * 2}


@program
def fail(tag):
    raise ValueError(f"soak failure {tag}")


@program
def sleep_then_echo(seconds, tag):
    time.sleep(seconds)
    return {"tag": tag}


@program
def victim(tag):
    """Print this worker's pid to stderr and wait for the soak script to kill it."""
    print(f"soak-victim {tag} {os.getpid()}", file=sys.stderr, flush=True)
    time.sleep(60)
    return {"tag": tag, "survived": True}


@program
def large_result(length, tag):
    """Return a string of length characters and its SHA-256."""
    text = (tag + "-é-") * (length // (len(tag) + 3) + 1)
    text = text[:length]
    return {"text": text, "sha256": hashlib.sha256(text.encode()).hexdigest()}


@program
def large_input(text):
    return {"length": len(text), "sha256": hashlib.sha256(text.encode()).hexdigest()}


@program
def stdout_flood(stdout_bytes, tag):
    print(f"banner {tag}")
    sys.stdout.write(("o" * 99 + "\n") * (stdout_bytes // 100))
    return {"tag": tag}


@program
def stderr_flood(stderr_bytes, tag):
    sys.stderr.write(("e" * 99 + "\n") * (stderr_bytes // 100))
    return {"tag": tag}
