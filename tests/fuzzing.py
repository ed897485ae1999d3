"""Seed specs and a mutation strategy for robustness (fuzz) tests.

`SEEDS` are valid, realistic `.rnn` texts. `mutations()` is a Hypothesis
strategy that picks one and breaks it the ways a person (or a bad editor) does:
tokens deleted, duplicated, swapped or replaced, odd characters inserted
(non-ASCII, lookalike operators, NUL, `\\r`, tabs), truncation, and a token
repeated many times (huge numbers, deep nesting).

Any property that must hold for every input text can draw from `mutations()`:
`test_fuzz.py` checks that parsing never crashes; a whole-pipeline test
(`rnndsl.load`) can reuse it as it is.
"""

from __future__ import annotations

import re

from hypothesis import strategies as st

LSTM = '''\
"""Standard recurrent cells."""
import "std/layers.rnn"

# Long short-term memory with a forget gate (Hochreiter & Schmidhuber 1997; Gers et al. 2000).
cell LSTM(units: int, forget_bias: float = 1.0) {
    """An LSTM step: gates i, f, o and the cell state c."""
    input  x: [in]                            # `in` is bound when the cell is applied
    param  W_i, W_f, W_o, W_c: [units, in]    ~ glorot_uniform
    param  U_i, U_f, U_o, U_c: [units, units] ~ orthogonal
    param  b_i, b_f, b_o, b_c: [units]        = 0

    i[t] = sigmoid(W_i @ x[t] + U_i @ h[t-1] + b_i)
    f[t] = sigmoid(W_f @ x[t] + U_f @ h[t-1] + b_f + forget_bias)
    o[t] = sigmoid(W_o @ x[t] + U_o @ h[t-1] + b_o)
    c[t] = f[t] * c[t-1] +
           i[t] * tanh(W_c @ x[t] + U_c @ h[t-1] + b_c)
    h[t] = o[t] * tanh(c[t])
    output h, c
}
'''

GRU = '''\
# Gated recurrent unit (Cho et al. 2014), with the gates computed as one split.
cell GRU(units: int, reset_after: bool = true) {
    input x: [in]
    param W: [3*units, in] ~ glorot_uniform
    param U: [3*units, units] ~ orthogonal
    param b: [3*units] = 0
    state h: [units] = 0

    zx[t], rx[t], nx[t] = split(W @ x[t] + b, 3)
    zh[t], rh[t], nh[t] = split(U @ h[t-1], 3, axis=-1)
    z[t] = sigmoid(zx[t] + zh[t])
    r[t] = sigmoid(rx[t] + rh[t])
    n[t] = tanh(nx[t] + r[t] * nh[t])
    h[t] = (1 - z[t]) * n[t] + z[t] * h[t-1]
    output h
}
'''

NTM = '''\
# A neural Turing machine's read/write head over a memory matrix (Graves et al. 2014).
cell NTMHead(N: int = 128, W: int = 20, shifts: int = 3, gamma_min: float = 1.0) {
    "One head: content addressing, interpolation, shift, sharpening, erase/add."
    input  ctrl: [in]
    param  W_k: [W, in]         ~ normal(0.0, 0.1)
    param  W_beta, W_g: [1, in] ~ glorot_normal
    param  W_s: [shifts, in]    ~ truncated_normal(mean=0.0, std=0.05)
    param  W_e, W_a: [W, in]
    param  M0: [N, W] = 0.000001 fixed constrain max_abs(1.0), clip(-1, 1)
    state  M: [N, W] = M0
    state  w: [N]

    k[t]    = tanh(W_k @ ctrl[t])
    beta[t] = softplus(W_beta @ ctrl[t])
    g[t]    = sigmoid(W_g @ ctrl[t])
    s[t]    = softmax(W_s @ ctrl[t], axis=-1)
    wc[t]   = softmax(beta[t] * cosine(M[t-1], k[t]))
    wg[t]   = g[t] * wc[t] + (1 - g[t]) * w[t-1]
    ws[t]   = circular_conv(wg[t], s[t])
    w[t]    = ws[t] ** (gamma_min + 1) / sum(ws[t] ** (gamma_min + 1))
    e[t]    = sigmoid(W_e @ ctrl[t])
    a[t]    = tanh(W_a @ ctrl[t])
    M[t]    = M[t-1] * (1 - outer(w[t], e[t])) + outer(w[t], a[t])
    r[t]    = transpose(M[t]) @ w[t]
    output r, w, M
}
'''

TREE = '''\
# Child-Sum Tree-LSTM (Tai et al. 2015): the recurrence runs over a node's children.
cell ChildSumTreeLSTM(units: int) over tree {
    input x: [in]
    param W_i, W_o, W_u, W_f: [units, in]
    param U_i, U_o, U_u, U_f: [units, units] ~ orthogonal
    param b_i, b_o, b_u, b_f: [units] = 0

    hs[n] = sum(h[k] for k in children(n))
    i[n] = sigmoid(W_i @ x[n] + U_i @ hs[n] + b_i)
    o[n] = sigmoid(W_o @ x[n] + U_o @ hs[n] + b_o)
    u[n] = tanh(W_u @ x[n] + U_u @ hs[n] + b_u)
    c[n] = i[n] * u[n] + sum(sigmoid(W_f @ x[n] + U_f @ h[k] + b_f) * c[k] for k in children(n))
    h[n] = o[n] * tanh(c[n])
    output h
}
'''

CTRNN = '''\
# Continuous time: tau dy/dt = -y + W sigma(y - theta) + I(t), stepped by a solver.
cell CTRNN(units: int, dt: float = 0.1) solver rk4(step=dt / 2) {
    input  I: [units]
    param  tau: [units] = 1 constrain positive
    param  W: [units, units] ~ reservoir(0.1, spectral_radius=0.95) fixed
    param  theta
    d/dt y = (-y + W @ sigmoid(y - theta) + I[t]) / tau
    gate[t] = where(y > 0.5e-1, y, -+y)
    output y
}
'''

NETWORK = '''\
import "std/cells.rnn"

network Tagger(vocab: int = 10000, tags: int = 17, units: int = 256, name: str = "tagger") {
    """Tags every token of a sentence."""
    input  words: seq[int]
    input  mask, extra: seq[float, 8]
    emb  = Embedding(vocab, 128, mask_zero=true)(words)             # seq[128]
    ctx  = Bidirectional(LSTM(units), merge=concat)(emb)            # seq[2*units]
    deep = ctx >> Stack(GRU(units), depth=2) >> Dropout(0.5)
    last = LSTM(units, returns=last)(deep)
    both = Concatenate(axis=-1)(deep, mask)
    output Dense(tags, activation=softmax)(both), last

    train {
        data = jsonl("tags.jsonl", field="tokens", label="tags", test="tags_test.jsonl")
        loss = cross_entropy
        metrics = accuracy, mae
        optimizer = adam(learning_rate=1e-3 * 2, clipnorm=1.0)
        schedule = cosine(alpha=0.05)
        batch = units - 224
        epochs = 10
    }
}
'''

SCHEDULED = '''\
# The step's number, and values computed on a schedule.
cell TwoRates(units: int, k: int = 3) {
    input x: [in]
    param W: [units, in] ~ glorot_uniform
    param U: [units, units] ~ orthogonal
    state slow: [units] = 0
    fast[t] = tanh(W @ x[t] + U @ fast[t-1] + slow[t-1])
    slow[t] = tanh(U @ fast[t] + slow[t-1]) every k
    g[t] = binarize(sigmoid(W @ x[t])) when mod(t, 2) == 0
    when sum(x[t]) > 0 {
        c[t] = tanh(W @ x[t] + c[t-1])
        d[t] = c[t] * 2
    }
    y[t] = fast[t] + g[t] * 0.5 ** t + d[t]
    output y
}
'''

SEEDS = (LSTM, GRU, NTM, TREE, CTRNN, NETWORK, SCHEDULED)

# Tokens as a person sees them; whitespace runs and comments are tokens too, so
# that deleting or swapping them joins or splits statements.
_TOKEN = re.compile(r'"""[\s\S]*?"""|"[^"\n]*"|#[^\n]*|\n|[ \t]+|\w+|d/dt|\*\*|>>|[<>=!]=|.')


def tokenize(text: str) -> list[str]:
    """Split `text` into tokens whose concatenation is `text`."""
    return _TOKEN.findall(text)


# Characters worth inserting: the language's own punctuation, keywords, and the
# characters that break lexers (lookalikes, quotes, control characters).
INTERESTING = [
    "(", ")", "[", "]", "{", "}", ",", ":", "=", "~", "+", "-", "*", "/", "@", "**", ">>",
    "<", "<=", "==", "!=", "d/dt", '"', '"""', "'", "\\", "#", ".", ";", "^", "$", "?", "`",
    "\n", "\r", "\r\n", "\t", " ", "\x00", "\x0b", "\x0c", "\x1b", "\x7f", "\ufeff", "\u00a0",
    "\u2212", "\u2013", "\u00d7", "\u22c5", "\u00b7", "\u2299", "\u2218", "\u2264", "\u2265",
    "\u2260", "\u03c3", "\u201c", "\u201d", "\u00e9", "\u4e2d", "\U0001f600", "\ud7ff",
    "cell", "network", "import", "input", "param", "state", "output", "over", "solver",
    "fixed", "constrain", "for", "in", "every", "when", "mod", "%", "t", "t-1", "n", "k", "children(n)", "0", "1.5e-3",
    "1e", "007", ".5", "x[t]", "h[t-1]",
]

_inserted = st.one_of(
    st.sampled_from(INTERESTING),
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
    st.text(min_size=1, max_size=4),
)


@st.composite
def _mutate(draw, tokens: list[str]) -> list[str]:
    """Apply one mutation to a list of tokens."""
    n = len(tokens)
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "replace", "truncate", "repeat"]))
    if n == 0:
        kind = "insert"
    if kind == "insert":
        i = draw(st.integers(0, n))
        return tokens[:i] + [draw(_inserted)] + tokens[i:]
    i = draw(st.integers(0, n - 1))
    if kind == "delete":
        j = draw(st.integers(i + 1, min(n, i + 3)))  # one to three tokens
        return tokens[:i] + tokens[j:]
    if kind == "duplicate":
        return tokens[: i + 1] + [tokens[i]] + tokens[i + 1 :]
    if kind == "repeat":  # long runs: huge numbers and names, deep nesting, many lines
        count = draw(st.sampled_from([10, 100, 1000, 5000]))
        count = min(count, max(1, 50_000 // len(tokens[i])))  # at most ~50k characters more
        return tokens[:i] + [tokens[i]] * count + tokens[i + 1 :]
    if kind == "swap":
        if i + 1 >= n:
            return tokens
        return tokens[:i] + [tokens[i + 1], tokens[i]] + tokens[i + 2 :]
    if kind == "replace":
        other = draw(st.one_of(st.sampled_from(tokens), _inserted))
        return tokens[:i] + [other] + tokens[i + 1 :]
    # truncate: cut at a character, possibly inside a token
    text = "".join(tokens)
    cut = draw(st.integers(0, len(text)))
    return tokenize(text[:cut])


@st.composite
def mutations(draw, seeds=SEEDS, max_mutations: int = 4) -> str:
    """A seed spec with one to `max_mutations` mutations applied: a text that is usually invalid."""
    tokens = tokenize(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, max_mutations))):
        tokens = draw(_mutate(tokens))
    return "".join(tokens)
