"""Importing the programs that ``--programs`` names.

Each entry is either a path or a module name. A path ends with ``.py`` or
contains a path separator. It is resolved against the working directory,
imported with importlib under a unique module name, and its folder is put at
the front of ``sys.path`` so that the file can import its siblings. Anything
else is imported as a module name. Importing runs the ``@program`` decorators,
which fill the registry. Nothing that a request sends is ever imported or
evaluated.

A failure raises StartupError, which carries the ``startup_error`` that the
worker sends before it exits.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from types import ModuleType

from . import errors, registry


class StartupError(Exception):
    """A failure to load the programs, reported to Node in a startup_error."""

    def __init__(self, error: errors.WorkerError) -> None:
        super().__init__(error.message)
        self.error = error


def is_path(entry: str) -> bool:
    """Return whether a --programs entry names a file and not a module."""
    separators = [os.sep] + ([os.altsep] if os.altsep else [])
    return entry.endswith(".py") or any(sep in entry for sep in separators)


def load_programs(entries: list[str]) -> list[str]:
    """Import every entry and return the registered program names.

    Raises StartupError when an entry is missing, fails to import, or when no
    program is registered after all entries are imported.
    """
    for index, entry in enumerate(entries):
        if is_path(entry):
            load_file(entry, index)
        else:
            load_module(entry)
    names = registry.program_names()
    if not names:
        raise StartupError(
            errors.WorkerError(
                errors.PROGRAM,
                errors.PROGRAM_NOT_FOUND,
                f"no programs registered by {', '.join(entries)}. Decorate the "
                "functions to serve with @pyroost.program.",
                {"programs": list(entries)},
            )
        )
    return names


def load_file(entry: str, index: int) -> ModuleType:
    """Import a programs file under a unique module name."""
    path = os.path.abspath(entry)
    if os.path.isdir(path):
        raise StartupError(_folder_given(path))
    if not os.path.isfile(path):
        raise StartupError(_file_not_found(path))
    folder = os.path.dirname(path)
    if not sys.path or sys.path[0] != folder:
        sys.path.insert(0, folder)
    module_name = _unique_module_name(path, index)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise StartupError(_import_failed(path, ImportError("no loader for file")))
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs, as a regular import would be, so that
    # dataclasses, pickle and typing can find the module by name.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[module_name]
        raise StartupError(_import_failed(path, exc)) from exc
    return module


def load_module(name: str) -> ModuleType:
    """Import a programs module by its dotted name."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and _is_module_or_parent(exc.name, name):
            raise StartupError(_module_not_found(name)) from exc
        raise StartupError(_import_failed(name, exc)) from exc
    except BaseException as exc:
        raise StartupError(_import_failed(name, exc)) from exc


def _unique_module_name(path: str, index: int) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    identifier = re.sub(r"\W", "_", stem)
    return f"_pyroost_programs_{index}_{identifier}"


def _is_module_or_parent(missing: str, requested: str) -> bool:
    return requested == missing or requested.startswith(missing + ".")


def _file_not_found(path: str) -> errors.WorkerError:
    return errors.WorkerError(
        errors.PROGRAM,
        errors.PROGRAM_NOT_FOUND,
        f"programs file not found: {path}; check the --programs path (relative "
        f"paths resolve against the worker's cwd {os.getcwd()})",
        {"path": path},
    )


def _folder_given(path: str) -> errors.WorkerError:
    return errors.WorkerError(
        errors.PROGRAM,
        errors.PROGRAM_NOT_FOUND,
        f"programs path is a folder, not a .py file: {path}. Pass the file, or "
        "pass a package by its module name with its parent folder on PYTHONPATH",
        {"path": path},
    )


def _module_not_found(name: str) -> errors.WorkerError:
    return errors.WorkerError(
        errors.PROGRAM,
        errors.PROGRAM_NOT_FOUND,
        f"programs module not found: {name}; check the --programs module name "
        f"and that its folder is on PYTHONPATH (sys.path is {sys.path})",
        {"path": name},
    )


def _import_failed(entry: str, exc: BaseException) -> errors.WorkerError:
    type_name = type(exc).__name__
    return errors.WorkerError(
        errors.PROGRAM,
        errors.PROGRAM_ERROR,
        f"importing programs from {entry} failed: {type_name}: {exc}",
        {
            "path": entry,
            "exception": type_name,
            "traceback": errors.format_traceback(exc),
        },
    )
