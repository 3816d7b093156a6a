"""Calling one program with a request's inputs.

The inputs must be a dict of keyword arguments. They are bound to the
function's signature before the call, so a missing or unexpected argument is
reported as ``invalid_input`` and not as an error raised inside the program.

The call runs in a copy of the worker's context, with the request's session
id and trace context set, so whatever context a program sets ends with the
call. An ``async def`` program, or any program that returns an awaitable, runs to
completion on one event loop that the worker keeps for its whole life.

Every exception that escapes the program becomes a ``program_error``. This
includes ``SystemExit`` and every other ``BaseException``, so a program cannot
end its worker by accident. The worker's own shutdown paths never rely on
exceptions passing through a program call.
"""

from __future__ import annotations

import contextvars
import inspect
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import errors
from .registry import Program
from .session import set_current_session
from .tracing import attach_trace

if TYPE_CHECKING:
    import asyncio

MAX_EXCEPTION_MESSAGE_CHARS = 2000

# Result types that are never awaitable.
_PLAIN_RESULT_TYPES = frozenset(
    {type(None), bool, int, float, str, bytes, list, tuple, dict, set}
)


@dataclass
class CallOutcome:
    """The result of one program call, or the error that replaced it.

    ``start_ns`` and ``end_ns`` are None when the program was never called.
    """

    ok: bool
    result: Any = None
    error: errors.WorkerError | None = None
    start_ns: int | None = None
    end_ns: int | None = None

    def timing(self) -> dict[str, int] | None:
        if self.start_ns is None or self.end_ns is None:
            return None
        return {"start_ns": self.start_ns, "end_ns": self.end_ns}


class ProgramCaller:
    """Caller of programs, owning the event loop for ``async def`` programs."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def call(
        self,
        program: Program,
        inputs: Any,
        session_id: str | None,
        trace: Any,
    ) -> CallOutcome:
        """Bind inputs, call the program and return its outcome.

        Invalid inputs and every exception raised by the program are returned
        as the outcome's error, not raised.
        """
        try:
            args, kwargs = bind_inputs(program, inputs)
        except errors.WorkerError as error:
            return CallOutcome(ok=False, error=error)

        context = request_context(session_id, trace)
        start_ns = time.time_ns()
        try:
            result = context.run(self._invoke, program, args, kwargs)
        except BaseException as exc:
            end_ns = time.time_ns()
            error = program_error(program.name, session_id, exc)
            return CallOutcome(False, None, error, start_ns, end_ns)
        return CallOutcome(True, result, None, start_ns, time.time_ns())

    def call_batch(
        self,
        program: Program,
        inputs_list: list[Any],
        session_id: str | None,
        trace: Any,
    ) -> list[dict[str, Any]]:
        """Call the program once per inputs and return one batch item per call.

        An item is ``{"ok": true, "result": ...}`` or ``{"ok": false,
        "error": ...}``, as ``call`` would report it. Never raises. The loop
        skips the per-call timing and outcome objects of ``call``, which
        would cost more than a small program itself.
        """
        items: list[dict[str, Any]] = []
        binding = program.keyword_binding
        # Each item runs in its own copy of the request's context, as a single
        # call does, so context that one item leaves set does not reach the next.
        context = request_context(session_id, trace)
        for inputs in inputs_list:
            if type(inputs) is dict and binding is not None and binding.accepts(inputs):
                args: tuple[Any, ...] = ()
                kwargs = inputs
            else:
                try:
                    args, kwargs = bind_inputs(program, inputs)
                except errors.WorkerError as error:
                    items.append({"ok": False, "error": error.to_wire()})
                    continue
            items.append(
                context.copy().run(self._batch_item, program, args, kwargs, session_id)
            )
        return items

    def _batch_item(
        self,
        program: Program,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        session_id: str | None,
    ) -> dict[str, Any]:
        try:
            return {"ok": True, "result": self._invoke(program, args, kwargs)}
        except BaseException as exc:
            error = program_error(program.name, session_id, exc)
            return {"ok": False, "error": error.to_wire()}

    def _invoke(
        self, program: Program, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = program.function(*args, **kwargs)
        # The exact type check skips the slower isawaitable for plain values.
        if type(result) not in _PLAIN_RESULT_TYPES and inspect.isawaitable(result):
            result = self._run_awaitable(result)
        return result

    def _run_awaitable(self, awaitable: Any) -> Any:
        # Imported here, because most workers never run an async program.
        import asyncio

        # A program may close the loop, so a closed loop is replaced.
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        # asyncio.run() inside a program unsets the current loop, so it is set
        # again before each use for programs that call get_event_loop().
        asyncio.set_event_loop(self._loop)
        return self._loop.run_until_complete(awaitable)


def request_context(session_id: str | None, trace: Any) -> contextvars.Context:
    """Return a copy of the current context with the request's session id and trace set.

    A program runs inside such a copy, so context variables that it sets, an
    attached OpenTelemetry context for example, end with the call and never
    reach the next request. The worker's own context is never changed.
    """
    context = contextvars.copy_context()
    if session_id is not None:
        context.run(set_current_session, session_id)
    if trace is not None:
        context.run(attach_trace, trace)
    return context


def bind_inputs(
    program: Program, inputs: Any
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Bind inputs to the program's parameters and return the call arguments.

    Raises WorkerError invalid_input when inputs is not a dict or does not
    match the signature.
    """
    if not isinstance(inputs, dict):
        raise errors.invalid_input(
            f"inputs for program {program.name!r} must be a JSON object of "
            f"keyword arguments, got {json_type_name(inputs)}",
            {"program": program.name},
        )
    binding = program.keyword_binding
    if binding is not None and binding.accepts(inputs):
        return (), inputs
    signature = program.signature
    if signature is None:
        # inspect cannot read the signature of some builtins, so the call
        # itself reports any mismatch as a program_error.
        return (), dict(inputs)
    try:
        bound = signature.bind(**inputs)
    except TypeError as exc:
        expected = describe_parameters(signature)
        raise errors.invalid_input(
            f"invalid inputs for program {program.name!r}: {exc}. "
            f"Expected parameters: {expected}.",
            {
                "program": program.name,
                "parameters": list(signature.parameters),
                "inputs": sorted(inputs),
            },
        ) from exc
    return bound.args, bound.kwargs


def describe_parameters(signature: inspect.Signature) -> str:
    """Return the parameters as ``a, b=1, **options``, without annotations."""
    parts = [
        str(parameter.replace(annotation=inspect.Parameter.empty))
        for parameter in signature.parameters.values()
    ]
    return ", ".join(parts) if parts else "none"


def program_error(
    program_name: str, session_id: str | None, exc: BaseException
) -> errors.WorkerError:
    """Build the program_error for an exception raised by a program."""
    type_name = type(exc).__name__
    return errors.WorkerError(
        errors.PROGRAM,
        errors.PROGRAM_ERROR,
        f"{type_name}: {_exception_text(exc)}",
        {
            "program": program_name,
            "session_id": session_id,
            "exception": type_name,
            "traceback": errors.format_traceback(exc),
        },
    )


def json_type_name(value: Any) -> str:
    """Return the JSON name of a decoded value's type, such as 'array'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _exception_text(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        return "<str() of the exception failed>"
    if len(text) > MAX_EXCEPTION_MESSAGE_CHARS:
        return text[:MAX_EXCEPTION_MESSAGE_CHARS] + "... (truncated)"
    return text
