"""Parent of a worker for the parent-death test.

Usage: parent_process.py STDIN_FD STDOUT_FD PROGRAMS. It starts a worker with
the given descriptors as its stdin and stdout, prints the worker's pid and then
sleeps until the test kills it. Because the test keeps the other ends of both
pipes, the worker gets no end of file when this parent dies.
"""

import subprocess
import sys
import time

stdin_fd, stdout_fd, programs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
worker = subprocess.Popen(
    [sys.executable, "-m", "pyroost", "--programs", programs],
    stdin=stdin_fd,
    stdout=stdout_fd,
)
print(worker.pid, flush=True)
time.sleep(60)
