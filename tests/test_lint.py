"""Lint warnings (rnndsl.lang.lint, W01xx): a spec that checks but may not say what its writer meant."""

from __future__ import annotations

import pytest

from rnndsl.cli import main
from rnndsl.lang.errors import SpecWarning
from tests.helpers import checked

MGU = """cell MGU(units: int) {{
    input x: [in]
    param W_f, W_h: [units, in]
    param U_f, U_h: [units, units]
    f[t] = sigmoid(W_f @ x[t] + U_f @ h[t-1])
    h[t] = (1 - f[t]) * h[t-1] + f[t] * tanh(W_h @ x[t] + {candidate})
    output h
}}
"""

WARNING = """\
warning[W0101]: `@` and `*` without parentheses: `U_h @ f[t] * h[t-1]` reads as `(U_h @ f[t]) * h[t-1]`
  --> spec.rnn:6:59
   |
 6 |     h[t] = (1 - f[t]) * h[t-1] + f[t] * tanh(W_h @ x[t] + U_h @ f[t] * h[t-1])
   |                                                           ^^^^^^^^^^^^^^^^^^^ parenthesize what you mean
   = note: `@`, `*` and `/` bind equally tight, left to right: write `(U_h @ f[t]) * h[t-1]` or \
`U_h @ (f[t] * h[t-1])`"""


def test_matmul_beside_a_product_without_parentheses_is_a_warning():
    program = checked(MGU.format(candidate="U_h @ f[t] * h[t-1]"))
    (warning,) = program.warnings
    assert isinstance(warning, SpecWarning) and warning.code == "W0101"
    assert warning.render() == WARNING


@pytest.mark.parametrize("candidate", ["(U_h @ f[t]) * h[t-1]", "U_h @ (f[t] * h[t-1])", "U_h @ f[t] + h[t-1]",
                                       "2 * 3 * h[t-1]", "U_h @ (2 * f[t])",
                                       "0.5 * U_h @ h[t-1]", "U_h @ h[t-1] / 2"])
def test_parenthesized_or_unmixed_products_are_not_warned(candidate):
    assert checked(MGU.format(candidate=candidate)).warnings == []


@pytest.mark.parametrize("candidate, read", [("sum(f[t]) * U_h @ h[t-1]", "(sum(f[t]) * U_h) @ h[t-1]"),
                                             ("U_h @ f[t] / h[t-1]", "(U_h @ f[t]) / h[t-1]")])
def test_either_order_and_division(candidate, read):
    (warning,) = checked(MGU.format(candidate=candidate)).warnings
    assert warning.message.endswith(f"reads as `{read}`"), warning.message


def test_check_prints_warnings_and_exits_0_unless_denied(tmp_path, capsys):
    path = tmp_path / "spec.rnn"
    path.write_text(MGU.format(candidate="U_h @ f[t] * h[t-1]"), encoding="utf-8")
    assert main(["check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{path}: ok (1 cell, 0 networks, 1 warning)\n"
    assert err == WARNING.replace("spec.rnn:6", f"{path}:6") + f"\n\n1 warning in {path}\n"
    assert main(["check", "--deny-warnings", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.endswith(f"\n\n1 warning in {path} (denied by --deny-warnings)\n")


def test_fmt_check_diff_shows_the_change(tmp_path, capsys):
    path = tmp_path / "spec.rnn"
    path.write_text(MGU.format(candidate="U_h @ f[t] * h[t-1]"), encoding="utf-8")
    assert main(["fmt", "--check", "--diff", str(path)]) == 1
    out, err = capsys.readouterr()
    # fmt says what its parentheses make explicit: the warning, and that it writes them as the text reads
    assert err == (WARNING.replace("spec.rnn:6", f"{path}:6")
                   + "\n   = note: fmt writes the parentheses as the text reads\n")
    assert out.startswith(f"{path}: would reformat\n--- {path} (as it is)\n+++ {path} (formatted)\n@@ ")
    assert "\n-    h[t] = (1 - f[t]) * h[t-1] + f[t] * tanh(W_h @ x[t] + U_h @ f[t] * h[t-1])\n" in out
    assert "\n+    h[t] = (1 - f[t]) * h[t-1] + f[t] * tanh(W_h @ x[t] + (U_h @ f[t]) * h[t-1])\n" in out
    assert main(["fmt", "--diff", str(path)]) == 2
    assert capsys.readouterr().err == "error: --diff shows what --check would change; give both\n"


def test_the_standard_library_and_examples_have_no_warnings():
    from pathlib import Path

    import rnndsl

    root = Path(__file__).resolve().parents[1]
    for path in sorted((root / "specs" / "std").glob("*.rnn")) + sorted((root / "examples").glob("*.rnn")):
        assert rnndsl.load(path).warnings == [], path
