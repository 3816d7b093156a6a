"""Programs of the stdlib-analysis example: static analysis of one Python file.

The worker loads this file with ``python -m pyroost --programs programs.py``.
"""

from __future__ import annotations

import ast
import tokenize
from typing import Any

from pyroost import program


def ast_types(*names: str) -> tuple[type, ...]:
    """Return the ast node classes of this Python version among ``names``.

    ``ast.Match`` and ``ast.match_case`` are new in Python 3.10, and
    ``ast.TryStar`` in 3.11. Older versions cannot parse those statements, so
    leaving the classes out there changes no count.
    """
    return tuple(getattr(ast, name) for name in names if hasattr(ast, name))


FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef)
TRY_NODES = ast_types("Try", "TryStar")
MATCH_NODES = ast_types("Match")

# Statements that contain a block of other statements. Each one is a level of
# nesting. An `elif`, an `else`, an `except`, a `finally` or a `case` clause
# belongs to its statement and adds no level of its own.
COMPOUND_NODES = (
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.ClassDef,
    *FUNCTION_NODES,
    *TRY_NODES,
    *MATCH_NODES,
)

# Nodes that each add 1 to the complexity score, see count_nodes.
BRANCH_NODES = (
    ast.If,
    ast.IfExp,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.ExceptHandler,
    ast.With,
    ast.AsyncWith,
    *ast_types("match_case"),
)


@program
def analyze_module(path: str) -> dict[str, Any]:
    """Parse the Python file at ``path`` with ``ast`` and return its statistics.

    The file is decoded as the interpreter would decode it: UTF-8 unless a BOM
    or a coding cookie declares another encoding. Nothing is caught, so a file
    that cannot be read or parsed raises to the caller, for example OSError,
    UnicodeDecodeError or SyntaxError.
    """
    with tokenize.open(path) as file:
        source = file.read()
    tree = ast.parse(source, filename=path)

    # tokenize.open reads with universal newlines, so every line break is "\n".
    lines = source.count("\n")
    if source and not source.endswith("\n"):
        lines += 1

    counts = count_nodes(tree)
    blocks = measure_blocks(tree)
    return {
        "lines": lines,
        "functions": counts["functions"],
        "async_functions": counts["async_functions"],
        "methods": blocks["methods"],
        "classes": counts["classes"],
        "import_statements": counts["import_statements"],
        "imported_names": counts["imported_names"],
        "max_nesting": blocks["max_nesting"],
        "complexity": counts["complexity"],
    }


def count_nodes(tree: ast.AST) -> dict[str, int]:
    """Count definitions, imports and branch points in the whole tree.

    ``complexity`` is a McCabe-style score: 1 per function or method, plus 1
    per branch point. These statements and clauses are branch points: ``if``,
    ``elif``, ``for``, ``async for``, ``while``, ``except``, ``with``, ``async
    with`` and ``case``. So are conditional expressions, the ``for`` and
    ``if`` clauses of comprehensions, and each operand of a boolean operator
    after the first, so ``a and b or c`` counts 2. A module without functions
    or branches scores 0.
    """
    counts = {
        "functions": 0,
        "async_functions": 0,
        "classes": 0,
        "import_statements": 0,
        "imported_names": 0,
        "complexity": 0,
    }
    # ast.walk visits the nodes from a queue, not by recursion, so deeply
    # nested expressions cannot exceed the recursion limit here.
    for node in ast.walk(tree):
        if isinstance(node, FUNCTION_NODES):
            counts["functions"] += 1
            counts["complexity"] += 1
            if isinstance(node, ast.AsyncFunctionDef):
                counts["async_functions"] += 1
        elif isinstance(node, ast.ClassDef):
            counts["classes"] += 1
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            counts["import_statements"] += 1
            counts["imported_names"] += len(node.names)
        elif isinstance(node, BRANCH_NODES):
            counts["complexity"] += 1
        elif isinstance(node, ast.BoolOp):
            counts["complexity"] += len(node.values) - 1
        elif isinstance(node, ast.comprehension):
            counts["complexity"] += 1 + len(node.ifs)
    return counts


def measure_blocks(tree: ast.Module) -> dict[str, int]:
    """Return the deepest nesting of compound statements and the number of methods.

    A statement at module level has nesting 0, the body of a top-level ``def``
    or ``if`` has nesting 1, and so on. An ``elif`` stays at the depth of its
    ``if``. A method is a ``def`` or ``async def`` directly in a class body.
    Definitions inside expressions, such as lambdas, are not statements and
    are not counted.
    """
    max_nesting = 0
    methods = 0
    # Each entry is a statement list, the depth of its statements, and whether
    # the list is a class body.
    pending: list[tuple[list[ast.stmt], int, bool]] = [(tree.body, 0, False)]
    while pending:
        statements, depth, in_class = pending.pop()
        for statement in statements:
            if in_class and isinstance(statement, FUNCTION_NODES):
                methods += 1
            if not isinstance(statement, COMPOUND_NODES):
                continue
            inner = depth + 1
            max_nesting = max(max_nesting, inner)
            is_class = isinstance(statement, ast.ClassDef)
            for block in child_blocks(statement):
                pending.append((block, inner, is_class))
            if is_elif_chain(statement):
                # An elif is the only statement of its else block, and it
                # stays at the depth of the first if.
                pending.append((statement.orelse, depth, False))
    return {"max_nesting": max_nesting, "methods": methods}


def is_elif_chain(statement: ast.stmt) -> bool:
    """Return whether the statement is an ``if`` whose else block is one ``elif``.

    The AST stores ``elif`` as an ``if`` that is the only statement of the
    outer ``orelse``. It cannot tell ``elif x:`` from ``else:`` followed by a
    lone ``if x:``, so both count as ``elif``.
    """
    return (
        isinstance(statement, ast.If)
        and len(statement.orelse) == 1
        and isinstance(statement.orelse[0], ast.If)
    )


def child_blocks(statement: ast.stmt) -> list[list[ast.stmt]]:
    """Return the statement lists one level inside a compound statement."""
    if isinstance(statement, MATCH_NODES):
        return [case.body for case in statement.cases]  # type: ignore[attr-defined]
    blocks: list[list[ast.stmt]] = [statement.body]  # type: ignore[attr-defined]
    if isinstance(statement, TRY_NODES):
        blocks.extend(handler.body for handler in statement.handlers)  # type: ignore[attr-defined]
        blocks.append(statement.finalbody)  # type: ignore[attr-defined]
    if not is_elif_chain(statement):
        blocks.append(getattr(statement, "orelse", []))
    return blocks
