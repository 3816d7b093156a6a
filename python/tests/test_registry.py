"""The @program decorator and the registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pyroost import program, registry


@pytest.fixture(autouse=True)
def empty_registry() -> Iterator[None]:
    saved = dict(registry._programs)
    registry._programs.clear()
    yield
    registry._programs.clear()
    registry._programs.update(saved)


def test_bare_decorator_uses_function_name() -> None:
    def word_count(text):
        return len(text.split())

    assert program(word_count) is word_count
    assert registry.program_names() == ["word_count"]
    assert registry.get_program("word_count").function is word_count


def test_decorator_with_positional_name() -> None:
    @program("custom")
    def function():
        return 1

    assert registry.program_names() == ["custom"]
    assert function() == 1


def test_decorator_with_keyword_name() -> None:
    @program(name="by_keyword")
    def function():
        return 1

    assert registry.program_names() == ["by_keyword"]


def test_decorator_with_empty_call() -> None:
    @program()
    def called_empty():
        return 1

    assert registry.program_names() == ["called_empty"]


def test_duplicate_name_different_function_raises() -> None:
    @program("shared")
    def first():
        return 1

    def second():
        return 2

    with pytest.raises(ValueError, match="'shared' is already registered"):
        program("shared")(second)
    assert registry.get_program("shared").function is first


def test_same_function_registers_twice() -> None:
    def twice():
        return 1

    program(twice)
    program(twice)
    assert registry.program_names() == ["twice"]


@pytest.mark.parametrize("name", ["", 3])
def test_invalid_name_raises(name: object) -> None:
    with pytest.raises(TypeError):
        program(name)  # type: ignore[call-overload]


def test_unknown_keyword_raises() -> None:
    with pytest.raises(TypeError, match="unexpected keyword"):
        program(title="x")  # type: ignore[call-overload]


def test_describe_fields() -> None:
    @program
    def documented(a, b=2, *, c):
        """Add things.

        More detail.
        """

    entry = registry.get_program("documented")
    assert entry.doc == "Add things.\n\nMore detail."
    assert entry.parameter_names == ["a", "b", "c"]


def test_programs_sorted_by_name() -> None:
    for name in ["b", "c", "a"]:
        program(name)(lambda: None)
    assert registry.program_names() == ["a", "b", "c"]
