"""Request handling: one decoded request in, one encoded response out.

Every request gets exactly one response with the request's id. A request that
is not a well-formed ``request`` message gets a ``protocol_error`` response,
with id 0 when its own id is not an integer. A response is never larger than
the maximum frame size. One that would be larger is replaced by a
``frame_too_large`` error response, and the worker keeps serving.

The commands are ``ping``, ``execute``, ``execute_batch``, ``describe``,
``stats`` and ``shutdown``, as specified in docs/protocol.md.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable

from . import codec, errors, registry, resources
from .execution import ProgramCaller, json_type_name

# The frame body of a response, as parts that are written one after another.
EncodedResponse = list[bytes]

logger = logging.getLogger(__name__)

COMMANDS = ("ping", "execute", "execute_batch", "describe", "stats", "shutdown")


class CommandHandler:
    """Handler of requests for one worker, counting the requests served."""

    def __init__(self, max_frame_bytes: int, caller: ProgramCaller | None = None):
        self.max_frame_bytes = max_frame_bytes
        self.caller = caller or ProgramCaller()
        self.requests_served = 0
        self._handlers: dict[str, Callable[[int, dict[str, Any]], EncodedResponse]]
        self._handlers = {
            "ping": self._ping,
            "execute": self._execute,
            "execute_batch": self._execute_batch,
            "describe": self._describe,
            "stats": self._stats,
            "shutdown": self._shutdown,
        }

    def handle(self, message: dict[str, Any]) -> tuple[EncodedResponse, bool]:
        """Handle one request and return the encoded response and whether to stop.

        The response is a list of byte strings that together form the frame
        body. The worker stops after a ``shutdown`` request, once it has sent
        the response.
        """
        request_id = message.get("id")
        command = message.get("command")
        try:
            if (
                command == "execute"
                and type(request_id) is int
                and message.get("type") == "request"
            ):
                # An execute request that passes the checks of parse_command.
                body = self._execute(request_id, message)
            else:
                if not _is_integer(request_id):
                    request_id = 0
                command = parse_command(message)
                body = self._handlers[command](request_id, message)
        except errors.WorkerError as error:
            command = None
            if error.type == errors.PROTOCOL_ERROR:
                logger.warning("rejected request %d: %s", request_id, error.message)
            body = self._encode_error(request_id, error)
        self.requests_served += 1
        return body, command == "shutdown"

    def _ping(self, request_id: int, message: dict[str, Any]) -> EncodedResponse:
        return self._encode_ok(request_id, "pong")

    def _shutdown(self, request_id: int, message: dict[str, Any]) -> EncodedResponse:
        return self._encode_ok(request_id, None)

    def _describe(self, request_id: int, message: dict[str, Any]) -> EncodedResponse:
        programs = [
            {
                "name": program.name,
                "doc": program.doc,
                "parameters": program.parameter_names,
            }
            for program in registry.registered_programs()
        ]
        return self._encode_ok(request_id, {"programs": programs})

    def _stats(self, request_id: int, message: dict[str, Any]) -> EncodedResponse:
        stats = {
            "pid": os.getpid(),
            "requests": self.requests_served,
            "rss_bytes": resources.rss_bytes(),
            "max_rss_bytes": resources.max_rss_bytes(),
        }
        return self._encode_ok(request_id, stats)

    def _execute(self, request_id: int, message: dict[str, Any]) -> EncodedResponse:
        program = lookup_program(message)
        session_id = parse_session_id(message)
        inputs = message.get("inputs", {})
        trace = message.get("trace")
        outcome = self.caller.call(program, inputs, session_id, trace)
        timing = outcome.timing()
        if outcome.error is not None:
            return self._encode_error(request_id, outcome.error, timing, program.name)
        try:
            return self._encode_ok(request_id, outcome.result, timing, program.name)
        except Exception as exc:
            error = invalid_output(program.name, exc)
            return self._encode_error(request_id, error, timing)

    def _execute_batch(
        self, request_id: int, message: dict[str, Any]
    ) -> EncodedResponse:
        program = lookup_program(message)
        session_id = parse_session_id(message)
        inputs_list = parse_inputs_list(program.name, message)
        trace = message.get("trace")
        start_ns = time.time_ns()
        items = self.caller.call_batch(program, inputs_list, session_id, trace)
        timing = {"start_ns": start_ns, "end_ns": time.time_ns()}
        try:
            return self._encode_ok(request_id, items, timing, program.name)
        except Exception:
            # Items are encoded one by one only after the whole result failed,
            # so a batch that encodes is encoded once.
            items = [replace_unencodable(program.name, item) for item in items]
            return self._encode_ok(request_id, items, timing, program.name)

    def _encode_ok(
        self,
        request_id: int,
        result: Any,
        timing: dict[str, int] | None = None,
        program_name: str | None = None,
    ) -> EncodedResponse:
        """Encode a successful response. Raises if result cannot be encoded.

        The result is encoded on its own and spliced into the encoded
        envelope, so integers beyond 2**53 - 1 become strings only inside the
        result, and a large result is encoded and copied only once.
        """
        body = [_ok_head(request_id, timing), codec.encode(result), b"}"]
        return self._fit(body, request_id, timing, program_name)

    def _encode_error(
        self,
        request_id: int,
        error: errors.WorkerError,
        timing: dict[str, int] | None = None,
        program_name: str | None = None,
    ) -> EncodedResponse:
        envelope = _envelope(request_id, False, timing)
        envelope["error"] = error.to_wire()
        body = [codec.encode(envelope, stringify_big_integers=False)]
        return self._fit(body, request_id, timing, program_name)

    def _fit(
        self,
        body: EncodedResponse,
        request_id: int,
        timing: dict[str, int] | None,
        program_name: str | None,
    ) -> EncodedResponse:
        """Return body, or a frame_too_large response if body is too large."""
        size = sum(map(len, body))
        if size <= self.max_frame_bytes:
            return body
        error = frame_too_large(size, self.max_frame_bytes, program_name)
        logger.warning("request %d: %s", request_id, error.message)
        envelope = _envelope(request_id, False, timing)
        envelope["error"] = error.to_wire()
        return [codec.encode(envelope, stringify_big_integers=False)]


def parse_command(message: dict[str, Any]) -> str:
    """Return the request's command, or raise WorkerError protocol_error."""
    message_type = message.get("type")
    if message_type != "request":
        raise errors.protocol_error(
            f"expected a message of type 'request', got type {message_type!r}"
        )
    request_id = message.get("id")
    if not _is_integer(request_id):
        raise errors.protocol_error(
            f"request id must be an integer, got {json_type_name(request_id)}"
        )
    command = message.get("command")
    if command not in COMMANDS:
        raise errors.protocol_error(
            f"unknown command {command!r}. Expected one of: {', '.join(COMMANDS)}"
        )
    return command


def lookup_program(message: dict[str, Any]) -> registry.Program:
    """Return the program that an execute request names, or raise WorkerError."""
    name = message.get("program")
    if not isinstance(name, str):
        raise errors.protocol_error(
            f"request field 'program' must be a string, got {json_type_name(name)}"
        )
    program = registry.get_program(name)
    if program is None:
        names = registry.program_names()
        raise errors.WorkerError(
            errors.PROGRAM,
            errors.PROGRAM_NOT_FOUND,
            f"program {name!r} is not registered in this worker. Registered "
            f"programs: {', '.join(names) or 'none'}.",
            {"program": name, "registered": names},
        )
    return program


def parse_session_id(message: dict[str, Any]) -> str | None:
    session_id = message.get("session_id")
    if session_id is not None and not isinstance(session_id, str):
        raise errors.protocol_error(
            "request field 'session_id' must be a string or null, got "
            f"{json_type_name(session_id)}"
        )
    return session_id


def parse_inputs_list(program_name: str, message: dict[str, Any]) -> list[Any]:
    """Return inputs_list, or raise WorkerError invalid_input for the request."""
    inputs_list = message.get("inputs_list")
    if not isinstance(inputs_list, list):
        raise errors.invalid_input(
            f"inputs_list for program {program_name!r} must be an array of "
            f"objects, got {json_type_name(inputs_list)}",
            {"program": program_name},
        )
    for index, inputs in enumerate(inputs_list):
        if not isinstance(inputs, dict):
            raise errors.invalid_input(
                f"inputs_list[{index}] for program {program_name!r} must be an "
                f"object of keyword arguments, got {json_type_name(inputs)}",
                {"program": program_name, "index": index},
            )
    return inputs_list


def _envelope(
    request_id: int, ok: bool, timing: dict[str, int] | None
) -> dict[str, Any]:
    envelope: dict[str, Any] = {"type": "response", "id": request_id, "ok": ok}
    if timing is not None:
        envelope["timing"] = timing
    return envelope


def _ok_head(request_id: int, timing: dict[str, int] | None) -> bytes:
    """Return the encoded envelope of a successful response up to the result.

    Every field is an integer or a constant, so formatting gives the bytes
    that encoding the envelope would, several times faster.
    """
    if timing is None:
        return b'{"type":"response","id":%d,"ok":true,"result":' % request_id
    return (
        b'{"type":"response","id":%d,"ok":true,'
        b'"timing":{"start_ns":%d,"end_ns":%d},"result":'
        % (request_id, timing["start_ns"], timing["end_ns"])
    )


def replace_unencodable(program_name: str, item: dict[str, Any]) -> dict[str, Any]:
    """Return the batch item, or an invalid_output item if it cannot be encoded."""
    if not item["ok"]:
        return item
    try:
        codec.encode(item["result"])
    except Exception as exc:
        return {"ok": False, "error": invalid_output(program_name, exc).to_wire()}
    return item


def invalid_output(program_name: str, exc: Exception) -> errors.WorkerError:
    """Build the invalid_output error for a result that failed to encode."""
    context: dict[str, Any] = {"program": program_name}
    if isinstance(exc, codec.UnsupportedTypeError):
        context["type"] = exc.type_name
        message = (
            f"program {program_name!r} returned a value of type {exc.type_name}, "
            "which cannot be encoded as JSON. Return dicts, lists, strings, "
            "numbers, booleans, None, bytes, sets or objects with tolist()."
        )
    elif isinstance(exc, RecursionError):
        message = (
            f"program {program_name!r} returned a value nested too deeply to "
            "encode as JSON"
        )
    else:
        message = (
            f"program {program_name!r} returned a value that cannot be encoded "
            f"as JSON: {type(exc).__name__}: {exc}"
        )
    return errors.WorkerError(errors.PROGRAM, errors.INVALID_OUTPUT, message, context)


def frame_too_large(
    size: int, max_frame_bytes: int, program_name: str | None
) -> errors.WorkerError:
    subject = "the response"
    if program_name is not None:
        subject = f"the response from program {program_name!r}"
    return errors.WorkerError(
        errors.COMMUNICATION,
        errors.FRAME_TOO_LARGE,
        f"{subject} is {size} bytes, over the maximum frame "
        f"size of {max_frame_bytes} bytes. Return less data, or raise "
        "maxFrameBytes for the pool.",
        {"program": program_name, "size": size, "max_frame_bytes": max_frame_bytes},
    )


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
