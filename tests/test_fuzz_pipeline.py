"""The whole pipeline never crashes: mutated specs give a Program or RnnDslErrors, nothing else.

Seeds are the standard library and the examples (which check clean, so
mutations reach resolve, infer and causality) plus the parser's seeds.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, example, given, settings

from fuzzing import SEEDS, mutations
from rnndsl.lang.errors import RnnDslError
from rnndsl.program import compile_text

ROOT = Path(__file__).resolve().parents[1]
SPEC_SEEDS = tuple(p.read_text() for p in sorted(ROOT.glob("specs/std/*.rnn")) + sorted(ROOT.glob("examples/*.rnn"))
                   if "import" not in p.read_text())


def _compiles_or_reports(text: str) -> None:
    program, errors = compile_text(text, "fuzz.rnn", ROOT)
    for e in errors:
        assert isinstance(e, RnnDslError)
        assert isinstance(e.render(), str)
    if not errors:
        assert program is not None and program.explain() is not None


def test_spec_seeds_check_clean():
    assert len(SPEC_SEEDS) >= 8
    for seed in SPEC_SEEDS:
        _, errors = compile_text(seed, "seed.rnn", ROOT)
        assert not errors, errors[0].render()


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations(seeds=SPEC_SEEDS + tuple(SEEDS)))
@example("cell A(n: int) {\n    input x: [n]\n    h[t] = " + "-(" * 300 + "x[t]" + ")" * 300 + "\n    output h\n}\n")
@example("cell A(n: int) {\n    input x: [n]\n    h[t] = " + "x[t] + " * 600 + "h[t-1]\n    output h\n}\n")
@example("cell A(n: int) {\n    input x: [n]\n    h[t] = (" + "1" * 400 + " - x[t]) * h[t-1]\n    output h\n}\n")
def test_pipeline_never_crashes(text):
    _compiles_or_reports(text)
