"""starter: `rnndsl init NAME`, a first spec to edit (a cell, a network and a train block that trains as
written), and the examples each command's `--help` ends with."""

from __future__ import annotations

import re
from pathlib import Path

from .lang.errors import UsageError
from .lang.lexer import KEYWORDS
from .outputs import check_output

# The spec `init` writes; {name} is the network's name. It trains in about 12 s on two cores, to a test MSE near
# 5e-4 (predicting the mean gives 0.17).
STARTER = '''\
# {name}: a recurrent network, ready to train.
#
#   rnndsl check {file}   check its shapes and causality
#   rnndsl render {file} -o {name}.svg   draw it (--cell MGU: the cell)
#   rnndsl latex {file} --cell MGU   its equations in LaTeX
#   rnndsl train {file}   train it as its train block says, into runs/{name}/
#
# docs/language.md is the reference of the language.

cell MGU(units: int) {{
    "Minimal gated unit: one gate f decides how much of the state to renew."

    input x: [in]  # one step's input; the network sets `in`
    param W_f, W_h: [units, in] ~ glorot_uniform  # parameters, with their shapes and initializers
    param U_f, U_h: [units, units] ~ orthogonal
    param b_f, b_h: [units] = 0

    # h[t-1] reads the state one step back: h is a state, and starts at 0
    f[t] = sigmoid(W_f @ x[t] + U_f @ h[t-1] + b_f)
    h[t] = (1 - f[t]) * h[t-1] + f[t] * tanh(W_h @ x[t] + U_h @ (f[t] * h[t-1]) + b_h)
    output h
}}

network {name}(units: int = 32) {{
    "The adding problem: the sum of the two numbers marked in a sequence."

    input x: seq[2]  # sequences of 2 features a step: a number, a mark
    h = MGU(units, returns=last)(x)  # the cell's output at the last step
    output Dense(1)(h)

    train {{
        data = adding(steps=20, train=2048, test=256)  # generated from the seed
        loss = mse
        metrics = mae
        optimizer = adam(learning_rate=1e-2, clipnorm=1)
        batch = 64
        epochs = 20
        validation = 0.1
        seed = 1
    }}
}}
'''

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def write_starter(name: str, out: Path) -> Path:
    """Write the starter spec of network `name` to `out` (a new file); returns it."""
    if not _NAME.fullmatch(name) or name in KEYWORDS or name == "MGU":
        raise UsageError(f"`{name}` cannot name a network: a name is letters, digits and `_`, not starting "
                         "with a digit, and not a keyword or `MGU` (the starter's cell)")
    if out.exists() or out.is_symlink():
        raise UsageError(f"{out} exists: init writes a new file; give another name or -o")
    check_output(out)
    try:
        with out.open("x", encoding="utf-8") as f:
            f.write(STARTER.format(name=name, file=out.name))
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e.strerror or e}") from None
    return out


# What each command's `--help` ends with.
EXAMPLES = {
    "init": "rnndsl init Adder                      write Adder.rnn: a cell, a network and a train block\n"
            "rnndsl init Adder -o specs/adder.rnn",
    "check": "rnndsl check model.rnn\n"
             "rnndsl check --explain specs/std/lstm.rnn     shapes, states, and the path each cell lowers by\n"
             "rnndsl check --deny-warnings *.rnn            warnings (W01xx) fail the check",
    "render": "rnndsl render model.rnn -o model.svg\n"
              "rnndsl render specs/std/lstm.rnn --cell LSTM --unroll 3 -o lstm.pdf\n"
              "rnndsl render model.rnn --style paper -o model.tex     a TikZ picture",
    "latex": "rnndsl latex specs/std/lstm.rnn --cell LSTM\n"
             "rnndsl latex model.rnn --standalone -o model.tex",
    "fmt": "rnndsl fmt model.rnn\n"
           "rnndsl fmt --check --diff specs/*.rnn      change nothing; show what would change",
    "build": "rnndsl build examples/tagger.rnn -o tagger.keras\n"
             "rnndsl build specs/std/lstm.rnn --cell LSTM --input-size 8 --set units=64 -o lstm.keras",
    "fit": "rnndsl fit reservoir.rnn --data series.npz --washout 50 -o reservoir.keras",
    "train": "rnndsl train model.rnn                      into runs/NETWORK/\n"
             "rnndsl train model.rnn --set units=64 --epochs 10 --out runs/wide\n"
             "rnndsl train model.rnn --resume             continue a killed run",
    "export": "rnndsl export runs/Adder --format tflite --steps 20 -o adder.tflite   fixed batch (1) and steps\n"
              "rnndsl export model.keras --format saved_model -o model_savedmodel",
    "evaluate": "rnndsl evaluate runs/Adder --split validation",
    "predict": "rnndsl predict runs/Adder --data x.npz -o y.npz        x.npz: arrays by input name",
}
