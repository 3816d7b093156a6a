"""A programs file that takes seconds to import, for the start-up SIGTERM test."""

import sys
import time

from pyroost import program

print("import started", file=sys.stderr, flush=True)
time.sleep(5)


@program
def never_ready():
    return None
