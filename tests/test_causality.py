"""causality: every cycle passes through a delay; zero-delay cycles are reported whole."""

import pytest

from helpers import diagnostics

CASES = {
    "zero_delay_cycle": (
        """
cell A(units: int) {
    input x: [units]
    param W: [units, units]
    a[t] = tanh(W @ b[t] + x[t])
    b[t] = a[t] * 2
    output a
}
""",
        """\
error[E0401]: `a` depends on itself within one step: a[t] -> b[t] -> a[t]
  --> spec.rnn:5:12
   |
 5 |     b[t] = a[t] * 2
   |            ^^^^ `a[t]` is read by `b`
  --> spec.rnn:4:21
   |
 4 |     a[t] = tanh(W @ b[t] + x[t])
   |                     ^^^^ `b[t]` is read by `a`
   = note: every cycle needs a delay: read one of these values at an earlier step, such as `b[t-1]`
""",
    ),
    "self_cycle": (
        """
cell A(units: int) {
    input x: [units]
    h[t] = tanh(x[t] + h[t])
    output h
}
""",
        """\
error[E0401]: `h` depends on itself within one step: h[t] -> h[t]
  --> spec.rnn:3:24
   |
 3 |     h[t] = tanh(x[t] + h[t])
   |                        ^^^^ `h[t]` is read by `h`
   = note: every cycle needs a delay: read one of these values at an earlier step, such as `h[t-1]`
""",
    ),
    "long_cycle": (
        """
cell A(units: int) {
    input x: [units]
    i[t] = sigmoid(x[t] + h[t])
    c[t] = i[t] * c[t-1]
    h[t] = tanh(c[t])
    output h
}
""",
        """\
error[E0401]: `i` depends on itself within one step: i[t] -> c[t] -> h[t] -> i[t]
  --> spec.rnn:4:12
   |
 4 |     c[t] = i[t] * c[t-1]
   |            ^^^^ `i[t]` is read by `c`
  --> spec.rnn:5:17
   |
 5 |     h[t] = tanh(c[t])
   |                 ^^^^ `c[t]` is read by `h`
  --> spec.rnn:3:27
   |
 3 |     i[t] = sigmoid(x[t] + h[t])
   |                           ^^^^ `h[t]` is read by `i`
   = note: every cycle needs a delay: read one of these values at an earlier step, such as `h[t-1]`
""",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_diagnostic_text(name):
    spec, expected = CASES[name]
    assert diagnostics(spec) + "\n" == expected
