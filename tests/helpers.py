"""Shared helpers for the tests: compile spec text and render its diagnostics."""

from __future__ import annotations

import textwrap

from rnndsl.program import compile_text


def compile_spec(text: str, file: str = "spec.rnn"):
    """(Program, errors) for `text` (dedented), named `file` in diagnostics."""
    return compile_text(textwrap.dedent(text).lstrip("\n"), file)


def diagnostics(text: str, file: str = "spec.rnn") -> str:
    """Every diagnostic of `text`, rendered, in source order, separated by blank lines."""
    from rnndsl.lang.errors import SpecErrors

    _, errors = compile_spec(text, file)
    assert errors, "expected diagnostics, found none"
    return "\n\n".join(e.render() for e in SpecErrors(errors).errors)


def checked(text: str, file: str = "spec.rnn"):
    """The Program of a spec that must check clean."""
    program, errors = compile_spec(text, file)
    assert not errors, "\n\n".join(e.render() for e in errors)
    return program


def data_error(fn, *args, **kwargs) -> str:
    """The message of the DataError that fn raises; it renders as one line with code E0701."""
    import pytest

    from rnndsl.lang.errors import DataError

    with pytest.raises(DataError) as caught:
        fn(*args, **kwargs)
    rendered = caught.value.render()
    assert "\n" not in rendered and rendered.startswith("error[E0701]: "), rendered
    return caught.value.message
