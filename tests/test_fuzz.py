"""Robustness: any text, however broken, parses to a Module or raises an RnnDslError.

The inputs are the realistic specs of `fuzzing.SEEDS`, mutated by
`fuzzing.mutations()` (tokens deleted, duplicated, swapped, replaced or
repeated thousands of times; odd characters inserted; truncation). A crash of
any other kind is a parser bug: its input is kept below as an `@example`.
2,000 examples take about 20 s on two cores.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings

from rnndsl.lang import ast as A
from rnndsl.lang.errors import RnnDslError
from rnndsl.lang.parse import parse

from fuzzing import SEEDS, mutations, tokenize


def _parses_or_reports(text: str) -> None:
    try:
        module = parse(text, "fuzz.rnn")
    except RnnDslError as err:
        rendered = err.render()
        assert isinstance(rendered, str) and rendered.startswith("error[E01")
        assert isinstance(str(err), str)
    else:
        assert isinstance(module, A.Module)


@pytest.mark.parametrize("seed", SEEDS, ids=["lstm", "gru", "ntm", "tree", "ctrnn", "network", "scheduled"])
def test_seeds_are_valid(seed):
    assert "".join(tokenize(seed)) == seed
    assert isinstance(parse(seed), A.Module)


@settings(max_examples=200, deadline=None)
@given(mutations())
def test_mutations_stay_small_enough_to_be_quick(text):
    assert isinstance(text, str)
    assert len(text) <= max(map(len, SEEDS)) + 4 * 50_004


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
# Crashes hypothesis found, kept as regressions:
@example("cell units: int, reset_after: bool = true) {\n    input x: [in]\n}\n")  # `{` in a mistake label
@example("cell A {\n    d/dt y = (" + "-" * 1000 + "y)\n}\n")  # RecursionError building the AST
@example("cell A {\n    h[t] = " + "f(" * 400 + "x" + ")" * 400 + "\n}\n")
@example("cell A {\n    h[t] = " + "a + " * 1000 + "a\n}\n")
@example("cell A(u: int = " + "9" * 5000 + ") {\n}\n")  # int() refuses more than 4300 digits
def test_parse_never_crashes(text):
    _parses_or_reports(text)
