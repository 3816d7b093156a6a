"""The worker process: start-up sequence and request loop.

Start-up runs in this order, and the order matters:

1. Take the protocol channels (see ``stdio``), so nothing that later code
   prints can reach the protocol pipe.
2. Ignore SIGINT and handle SIGTERM (see ``lifecycle``).
3. Watch for the death of the parent process.
4. Import the programs. A failure sends a ``startup_error`` message and exits
   with status 3.
5. Send the ``ready`` message.

The loop then reads one request, handles it and writes its response, until
stdin reaches end of file, a ``shutdown`` request or SIGTERM arrives, or the
request stream breaks. Requests are handled one at a time, in order.

Exit statuses: 0 for every orderly stop, 3 when the programs fail to load, 4
when a request frame is too large or does not decode, because the stream
cannot be resynchronised after either. Status 4 also means that a program
closed the request channel. A response after which the worker exits carries
``"closing": true``. Non-daemon threads that a program
started delay the exit until they end, as in any Python process.
"""

from __future__ import annotations

import logging
import os
import sys

from . import codec, frames, lifecycle, loader, stdio
from .commands import CommandHandler

PROTOCOL_VERSION = 1

EXIT_OK = 0
EXIT_STARTUP_FAILED = 3
EXIT_PROTOCOL_BROKEN = 4

logger = logging.getLogger("pyroost")


def run(program_entries: list[str], max_frame_bytes: int, parent_pid: int) -> int:
    """Start the worker, serve requests and return the exit status.

    parent_pid is the parent pid read as early as possible in the process.
    """
    _configure_logging()
    channels = stdio.take_protocol_channels()
    stop_signal = lifecycle.StopSignal()
    stop_signal.install()
    lifecycle.watch_parent(parent_pid)

    try:
        names = loader.load_programs(program_entries)
    except loader.StartupError as exc:
        traceback_text = exc.error.context.get("traceback", "").rstrip()
        details = f"\n{traceback_text}" if traceback_text else ""
        logger.error("start-up failed: %s%s", exc.error.message, details)
        message = {"type": "startup_error", "error": exc.error.to_wire()}
        _send_quietly(channels.output_fd, message)
        return EXIT_STARTUP_FAILED

    ready = {
        "type": "ready",
        "protocol": PROTOCOL_VERSION,
        "pid": os.getpid(),
        # The version number that platform.python_version() gives, without
        # importing platform.
        "python": sys.version.split()[0],
        "programs": names,
    }
    if not _send_quietly(channels.output_fd, ready):
        return EXIT_OK
    logger.info("ready with %d programs: %s", len(names), ", ".join(names))
    stop_signal.start_serving()
    handler = CommandHandler(max_frame_bytes)
    return serve(channels, handler, stop_signal)


def serve(
    channels: stdio.ProtocolChannels,
    handler: CommandHandler,
    stop_signal: lifecycle.StopSignal,
) -> int:
    """Handle requests until the worker must stop, and return the exit status."""
    reader = frames.FrameReader(channels.input_fd, handler.max_frame_bytes)
    descriptor_check = stdio.DescriptorCheck((channels.input_fd, 1, 2))
    while reader.has_buffered_bytes or stop_signal.wait_for_request(channels.input_fd):
        try:
            message = reader.read_message()
        except (frames.FrameTooLargeError, codec.ProtocolError) as exc:
            logger.error(
                "invalid request frame: %s. The request stream cannot be "
                "resynchronised, exiting with status %d",
                exc,
                EXIT_PROTOCOL_BROKEN,
            )
            return EXIT_PROTOCOL_BROKEN
        if message is None:
            logger.info("stdin closed, exiting")
            return EXIT_OK

        body, stop = handler.handle(message)
        # A program may have closed the request channel. The worker then
        # cannot serve another request, so the response is marked closing,
        # and Node does not hand the worker to the next caller.
        closed_fds = descriptor_check.closed_fds()
        input_closed = channels.input_fd in closed_fds
        if stop or input_closed or stop_signal.stop_requested:
            body = _mark_closing(body)
        try:
            frames.write_frame(channels.output_fd, body)
        except BrokenPipeError:
            logger.info("stdout closed by the parent, exiting")
            return EXIT_OK
        stdio.repair_standard_streams(channels, closed_fds)
        _repair_log_stream()
        if input_closed:
            logger.error(
                "a program closed the request channel (descriptor %d), exiting "
                "with status %d",
                channels.input_fd,
                EXIT_PROTOCOL_BROKEN,
            )
            return EXIT_PROTOCOL_BROKEN
        if stop:
            logger.info("shutdown requested, exiting")
            return EXIT_OK
    logger.info("received SIGTERM, exiting")
    return EXIT_OK


def _mark_closing(body: list[bytes]) -> list[bytes]:
    """Add ``"closing":true`` to an encoded response, whose last byte closes it."""
    return [*body[:-1], body[-1][:-1] + b',"closing":true}']


def _send_quietly(fd: int, message: dict[str, object]) -> bool:
    """Send a start-up message. Return False if the parent closed the pipe."""
    try:
        frames.write_frame(fd, codec.encode(message))
    except BrokenPipeError:
        logger.info("stdout closed by the parent before start-up finished")
        return False
    return True


def _repair_log_stream() -> None:
    """Point the worker's log handler at sys.stderr if a program closed its stream."""
    for handler in logger.handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream.closed:
            # setStream() would flush the closed stream and raise.
            handler.stream = sys.stderr


def _configure_logging() -> None:
    """Send the worker's own log lines to stderr, apart from the root logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("pyroost worker %(process)d %(levelname)s: %(message)s")
    )
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
