"""The ``@program`` decorator and the registry of callable programs.

Only functions registered here can be called by a request, by name. The
decorator returns the function unchanged, so a program stays an ordinary
function that tests and other code can call directly.

Registering a different function under a name that is already taken raises
ValueError. Registering the same function again is allowed. A function counts
as the same when its qualified name, source file and first line match, which
happens when one programs file is imported under two module names, for example
once by the worker and once by a sibling module.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class KeywordBinding:
    """The parameters of a function that takes all its inputs as keywords.

    Inputs bind when they include every required name and, unless the
    function has ``**kwargs``, only known names. The function is then called
    with the inputs as keyword arguments, which gives the same call as
    ``Signature.bind`` without its cost.
    """

    names: frozenset[str]
    required: frozenset[str]
    accepts_any: bool

    @classmethod
    def of(cls, signature: inspect.Signature | None) -> KeywordBinding | bool:
        """Return the binding of a signature, or False if it has none."""
        if signature is None:
            return False
        names = set()
        required = set()
        accepts_any = False
        for parameter in signature.parameters.values():
            kind = parameter.kind
            if kind is inspect.Parameter.POSITIONAL_ONLY:
                return False
            if kind is inspect.Parameter.VAR_KEYWORD:
                accepts_any = True
            elif kind is not inspect.Parameter.VAR_POSITIONAL:
                names.add(parameter.name)
                if parameter.default is inspect.Parameter.empty:
                    required.add(parameter.name)
        return cls(frozenset(names), frozenset(required), accepts_any)

    def accepts(self, inputs: dict[str, Any]) -> bool:
        """Return whether inputs bind to the parameters as keywords."""
        keys = inputs.keys()
        return (self.accepts_any or keys <= self.names) and self.required <= keys


@dataclass
class Program:
    """A registered program: its name, function and cached signature."""

    name: str
    function: Callable[..., Any]
    _signature: inspect.Signature | None = field(default=None, init=False, repr=False)
    # False once computed and unusable, so that it is computed only once.
    _keyword_binding: KeywordBinding | bool | None = field(
        default=None, init=False, repr=False
    )

    @property
    def signature(self) -> inspect.Signature | None:
        """The function's signature, or None if inspect cannot determine it."""
        if self._signature is None:
            try:
                self._signature = inspect.signature(self.function)
            except (TypeError, ValueError):
                return None
        return self._signature

    @property
    def keyword_binding(self) -> KeywordBinding | None:
        """How inputs bind as keywords, or None when only Signature.bind can tell.

        None for anything but a plain function or method, for a wrapper made
        with functools.wraps, and for a function with positional-only
        parameters.
        """
        if self._keyword_binding is None:
            function = self.function
            # A wrapper's signature is the wrapped function's, and the wrapper
            # may accept positional arguments only, so it gets bound ones.
            plain = inspect.isfunction(function) or inspect.ismethod(function)
            wrapped = getattr(function, "__wrapped__", None) is not None
            self._keyword_binding = (
                KeywordBinding.of(self.signature) if plain and not wrapped else False
            )
        return self._keyword_binding or None

    @property
    def doc(self) -> str | None:
        return inspect.getdoc(self.function)

    @property
    def parameter_names(self) -> list[str]:
        signature = self.signature
        if signature is None:
            return []
        return list(signature.parameters)


_programs: dict[str, Program] = {}


@overload
def program(function: F, /) -> F: ...


@overload
def program(name: str | None = None) -> Callable[[F], F]: ...


def program(*args: Any, **kwargs: Any) -> Any:
    """Register a function as a program that requests can call by name.

    Use it as ``@program``, ``@program("name")`` or ``@program(name="name")``.
    The name defaults to the function's ``__name__``.
    """
    name, function = _parse_decorator_arguments(args, kwargs)
    if function is not None:
        return _register(function, name)

    def decorate(function: F) -> F:
        return _register(function, name)

    return decorate


def get_program(name: str) -> Program | None:
    return _programs.get(name)


def program_names() -> list[str]:
    """Return the registered program names, sorted."""
    return sorted(_programs)


def registered_programs() -> list[Program]:
    """Return the registered programs, sorted by name."""
    return [_programs[name] for name in program_names()]


def _parse_decorator_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[str | None, Callable[..., Any] | None]:
    """Split the decorator's arguments into a name and a function to register."""
    unknown = set(kwargs) - {"name"}
    if unknown:
        raise TypeError(
            f"program() got unexpected keyword arguments: {sorted(unknown)}"
        )
    if len(args) > 1 or (args and "name" in kwargs):
        raise TypeError("program() takes at most one argument, the program name")
    if len(args) == 1 and callable(args[0]):
        return None, args[0]
    name = args[0] if args else kwargs.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"program name must be a non-empty string, got {name!r}")
    return name, None


def _register(function: F, name: str | None) -> F:
    if not callable(function):
        raise TypeError(f"@program can only decorate a callable, got {function!r}")
    if name is None:
        name = getattr(function, "__name__", None)
        if not name:
            raise TypeError(f"@program needs a name for {function!r}, which has none")
    existing = _programs.get(name)
    if existing is not None and not _is_same_function(existing.function, function):
        raise ValueError(
            f"program name {name!r} is already registered to "
            f"{_describe_function(existing.function)}, so "
            f"{_describe_function(function)} cannot use it. Pass another name "
            f"with @program(name=...)."
        )
    if existing is None:
        _programs[name] = Program(name, function)
    return function


def _is_same_function(first: Callable[..., Any], second: Callable[..., Any]) -> bool:
    if first is second:
        return True
    identity = _function_identity(first)
    return identity is not None and identity == _function_identity(second)


def _function_identity(function: Callable[..., Any]) -> tuple[str, str, int] | None:
    code = getattr(function, "__code__", None)
    qualname = getattr(function, "__qualname__", None)
    if code is None or qualname is None:
        return None
    return (qualname, code.co_filename, code.co_firstlineno)


def _describe_function(function: Callable[..., Any]) -> str:
    module = getattr(function, "__module__", "?")
    qualname = getattr(function, "__qualname__", repr(function))
    code = getattr(function, "__code__", None)
    if code is None:
        return f"{module}.{qualname}"
    return f"{module}.{qualname} ({code.co_filename}:{code.co_firstlineno})"
