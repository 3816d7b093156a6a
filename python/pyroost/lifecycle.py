"""Signals and parent death, the events that stop a worker from outside.

The Node parent owns shutdown, so SIGINT is ignored. Ctrl-C in a terminal
reaches the whole process group, and Node decides when its workers stop.

SIGTERM stops the worker with status 0. While it starts up or waits for a
request, it exits at once. While a request is in flight, including one that
Node has written but the worker has not read yet, it finishes that request and
sends the response first, marked closing. The handler only sets a flag and writes
to a self-pipe, and the main loop waits on that pipe next to the request pipe,
so a signal that arrives just before the loop starts to wait is not missed.

A worker whose parent dies must not live on as an orphan. On Linux the kernel
sends it SIGKILL when the parent exits (``PR_SET_PDEATHSIG``). On every
platform a daemon thread also polls ``os.getppid()`` every 0.5 s and exits the
process when the parent pid changes.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import threading
import time
from types import FrameType

logger = logging.getLogger(__name__)

PARENT_POLL_INTERVAL_SECONDS = 0.5

# From <linux/prctl.h>.
_PR_SET_PDEATHSIG = 1


class StopSignal:
    """SIGTERM state, shared by the signal handler and the main loop."""

    def __init__(self) -> None:
        self.stop_requested = False
        self._serving = False
        self._wake_read_fd = -1
        self._wake_write_fd = -1
        if sys.platform != "win32":
            self._wake_read_fd, self._wake_write_fd = os.pipe()
            os.set_blocking(self._wake_read_fd, False)
            os.set_blocking(self._wake_write_fd, False)

    def install(self) -> None:
        """Ignore SIGINT and handle SIGTERM. Must run in the main thread."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def start_serving(self) -> None:
        """Switch from exiting at once to stopping between requests."""
        self._serving = True

    def wait_for_request(self, input_fd: int) -> bool:
        """Block until input_fd is readable. Return False once a stop is requested.

        A request that Node had already sent when SIGTERM arrived is still
        served, because its caller counts it as in flight. Its response is
        marked closing, so Node sends no more (see ``worker.serve``).

        Windows cannot select() on pipes, so there it returns at once, and
        SIGTERM takes effect after the next request.
        """
        if self._wake_read_fd < 0:
            return not self.stop_requested
        while True:
            timeout = 0 if self.stop_requested else None
            readable, _, _ = select.select(
                [input_fd, self._wake_read_fd], [], [], timeout
            )
            if input_fd in readable:
                return True
            if self.stop_requested:
                return False
            self._drain_wake_pipe()

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True
        if not self._serving:
            logger.info("received SIGTERM during start-up, exiting")
            exit_now(0)
        if self._wake_write_fd < 0:
            return
        try:
            os.write(self._wake_write_fd, b"\0")
        except BlockingIOError:
            pass  # A full pipe already wakes the main loop.

    def _drain_wake_pipe(self) -> None:
        try:
            while os.read(self._wake_read_fd, 512):
                pass
        except BlockingIOError:
            pass


def exit_now(status: int) -> None:
    """Flush stderr and end the process without unwinding any running code."""
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(status)


def watch_parent(expected_ppid: int) -> None:
    """End the process when the parent with pid expected_ppid is gone.

    expected_ppid is the parent pid read as early as possible at start-up. A
    parent that died before that read cannot be detected.
    """
    _set_parent_death_signal()
    # The parent may have died before the prctl call took effect.
    _exit_if_orphaned(expected_ppid)
    thread = threading.Thread(
        target=_poll_parent,
        args=(expected_ppid,),
        name="pyroost-parent-watch",
        daemon=True,
    )
    thread.start()


def _set_parent_death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        status = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (ImportError, OSError, AttributeError) as exc:
        logger.warning("prctl(PR_SET_PDEATHSIG) unavailable, polling only: %s", exc)
        return
    if status != 0:
        error = os.strerror(ctypes.get_errno())
        logger.warning("prctl(PR_SET_PDEATHSIG) failed, polling only: %s", error)


def _poll_parent(expected_ppid: int) -> None:
    while True:
        time.sleep(PARENT_POLL_INTERVAL_SECONDS)
        _exit_if_orphaned(expected_ppid)


def _exit_if_orphaned(expected_ppid: int) -> None:
    ppid = os.getppid()
    if ppid != expected_ppid:
        logger.warning(
            "parent process %d is gone (parent pid is now %d), exiting",
            expected_ppid,
            ppid,
        )
        exit_now(0)
