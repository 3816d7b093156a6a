"""Separating the protocol channels from the program's standard streams.

Node talks to the worker over its stdin and stdout pipes. Before any program
is imported, the worker keeps private duplicates of those two descriptors for
the protocol, then points descriptor 1 at stderr and descriptor 0 at the null
device. After that:

- ``print()``, ``sys.stdout`` and C code that writes to descriptor 1 all write
  to stderr, so output from a program can never corrupt a frame.
- ``input()`` and reads of ``sys.stdin`` or descriptor 0 see end of file at
  once, so a program cannot block on or consume protocol bytes.

The duplicates are not inheritable (``os.dup`` default since Python 3.4), so a
subprocess that a program starts does not keep the protocol pipes open.

The worker also keeps a duplicate of stderr. A program that closes
``sys.stdout``, ``sys.stderr`` or descriptors 1 and 2 would otherwise break
every later program on the worker that prints, so the worker calls
``repair_standard_streams`` after each request to reopen what was closed.
``DescriptorCheck`` finds closed descriptors among the request channel and
descriptors 1 and 2 with one poll() call per request, not one fstat() each.
"""

from __future__ import annotations

import os
import select
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class ProtocolChannels:
    """File descriptors for reading requests and writing responses."""

    input_fd: int
    output_fd: int
    stderr_fd: int


def take_protocol_channels() -> ProtocolChannels:
    """Duplicate stdin and stdout for the protocol and redirect fds 0 and 1."""
    for stream in (sys.stdout, sys.__stdout__):
        if stream is not None:
            stream.flush()
    output_fd = os.dup(1)
    input_fd = os.dup(0)
    stderr_fd = os.dup(2)

    os.dup2(2, 1)
    sys.stdout = _open_text_output(1)

    null_fd = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null_fd, 0)
    finally:
        os.close(null_fd)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115

    return ProtocolChannels(input_fd=input_fd, output_fd=output_fd, stderr_fd=stderr_fd)


class DescriptorCheck:
    """Finder of closed descriptors among a fixed set, with one system call.

    poll() reports POLLNVAL for a descriptor that is not open, whatever
    events were asked for, so the check asks for none and waits for nothing.
    Where poll() is missing (Windows), it falls back to one fstat() each.
    """

    def __init__(self, fds: tuple[int, ...]) -> None:
        self.fds = fds
        self._poll = None
        if hasattr(select, "poll"):
            self._poll = select.poll()
            for fd in fds:
                self._poll.register(fd, 0)

    def closed_fds(self) -> set[int]:
        """Return the descriptors of the set that are not open."""
        if self._poll is None:
            return {fd for fd in self.fds if not is_open(fd)}
        return {fd for fd, events in self._poll.poll(0) if events & select.POLLNVAL}


def repair_standard_streams(
    channels: ProtocolChannels, closed_fds: set[int] | None = None
) -> None:
    """Reopen the standard output streams that a program closed.

    This covers descriptors 1 and 2, sys.stdout and sys.stderr. A closed
    descriptor 1 or 2 points at stderr again. A descriptor that a
    program pointed somewhere else on purpose stays as it is. closed_fds is
    the result of a ``DescriptorCheck`` that covers 1 and 2, when the caller
    has one; without it, each descriptor is checked with fstat().
    """
    for fd in (2, 1):
        closed = fd in closed_fds if closed_fds is not None else not is_open(fd)
        if closed:
            os.dup2(channels.stderr_fd, fd)
    if sys.stderr is None or sys.stderr.closed:
        sys.stderr = _open_text_output(2)
    if sys.stdout is None or sys.stdout.closed:
        sys.stdout = _open_text_output(1)


def is_open(fd: int) -> bool:
    """Return whether fd is an open file descriptor."""
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _open_text_output(fd: int):
    """Open a line-buffered UTF-8 text stream on fd that never closes fd."""
    return open(  # noqa: SIM115 - replaces a process-wide stream
        fd,
        "w",
        buffering=1,
        encoding="utf-8",
        errors="backslashreplace",
        closefd=False,
    )
