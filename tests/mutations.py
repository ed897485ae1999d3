"""Seeded spec mutations for the fuzz campaign (`tests/fuzz_campaign.py`, `make fuzz`).

`load_seeds()` gives the seed specs (the standard library, the examples and
tests/fuzzing.py's SEEDS), each with the folder its imports start from;
`Mutator(random.Random(seed))` breaks them: token-level mutations as
tests/fuzzing.py's Hypothesis strategy makes them, and structure-aware ones
that keep a spec valid more often, so that more mutants reach inference and
lowering (a number, operator, name, delay, dimension or hyperparameter
changed; an operand put in constant arithmetic; an equation written twice;
lines dropped or swapped). Plain `random`, not Hypothesis: the campaign runs
for minutes and draws hundreds of thousands.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from fuzzing import INTERESTING, SEEDS, tokenize
from rnndsl.lang.builtins import ACTIVATIONS, CONSTRAINTS, FUNCTIONS, HYPER_TYPES, INITIALIZERS, SOLVERS
from rnndsl.lang.layers import ATTENTIONS, BRIDGES, KERAS_LAYERS, WRAPPERS

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Seed:
    """A spec text, the file name its diagnostics show, and the folder its relative imports start from."""

    name: str
    text: str
    base_dir: str


def load_seeds() -> list[Seed]:
    files = sorted(ROOT.glob("specs/std/*.rnn")) + sorted(ROOT.glob("examples/*.rnn"))
    seeds = [Seed(f"fuzz-{p.parent.name}-{p.name}", p.read_text(encoding="utf-8"), str(p.parent)) for p in files]
    return seeds + [Seed(f"fuzz-seed{i}.rnn", text, str(ROOT / "tests")) for i, text in enumerate(SEEDS)]


# ---------------------------------------------------------------- mutations

# Names a person would swap for one another; a name is mostly replaced by one of its own group.
_GROUPS = [sorted(FUNCTIONS), sorted(set(ACTIVATIONS)), sorted(INITIALIZERS), sorted(CONSTRAINTS), sorted(SOLVERS),
           sorted(KERAS_LAYERS) + sorted(WRAPPERS) + ["LSTM", "GRU", "Elman", "IndRNN", "ESN", "CTRNN", "NTM"],
           ["sequences", "last", "states", "concat", "sum", "ave", "mul", *ATTENTIONS, *BRIDGES], ["true", "false"]]
_OPERATORS = ["+", "-", "*", "/", "@", "**", ">>", "<", ">", "<=", "==", "!="]
_NUMBERS = ["0", "1", "2", "3", "-1", "0.5", "2.0", "-0.0", "1e-400", "1e400", "100000", "9" * 400, "1" + "0" * 25]
_DELAYS = ["[t]", "[t-1]", "[t-2]", "[t+1]", "[t-0]", "[t - 1000]", "[t-1-1]", "[n]", "[k]", "[t-units]"]
_DIM_VALUES = ["0", "1", "2", "-1", "100000", "in", "units", "2*units", "units-units", "units/2"]
_DEFAULTS = ["", " = 0", " = 1", " = -1", " = 0.5", " = 1e400", " = " + "9" * 400, " = true", ' = "s"', " = units"]
_NESTS = ["(", "-(", "tanh(", "sum(", "x[t] + (", "concat(x[t], "]
_ARITH = ["({} * (2 * 3))", "({} + (1 - 1))", "({} / (4 / 2))", "(-(-{}))", "({} ** (1 + 1))", "(2 * 3 * {})"]
_OPERAND = re.compile(r"\b\w+\[\w+(?:\s*-\s*\d+)?\]")
_NUMBER = re.compile(r"(?<![\w.])(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")
_DELAY = re.compile(r"\[\s*[tnk]\s*(?:[-+]\s*\w+\s*)?\]")
_DIMS = re.compile(r":\s*(?:seq|vec|tree|grid)?\[([^\[\]\n]*)\]")
_HPARAM = re.compile(r"\b\w+\s*:\s*(?:int|float|bool|str)\b(?:\s*=\s*[^,)\n]+)?")
_EQUATION = re.compile(r"^[ \t]*(?:d/dt[ \t]+\w+|\w+(?:\[\w+\])?(?:[ \t]*,[ \t]*\w+\[\w+\])*)[ \t]*=(?!=)(.*)$", re.M)


class Mutator:
    """Seeded mutations of spec text: `mutate` applies one to three, each a method `_m_KIND`."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.kinds = sorted(name[3:] for name in dir(self) if name.startswith("_m_"))

    def mutate(self, text: str) -> tuple[str, list[str]]:
        """The mutated text and the kinds of the mutations applied."""
        applied = []
        for _ in range(self.rng.choice((1, 1, 1, 2, 2, 3))):
            for _ in range(10):  # a kind may not apply (no number in the text): draw again
                kind = self.rng.choice(self.kinds)
                new = getattr(self, "_m_" + kind)(text)
                if new is not None and new != text:
                    text = new
                    applied.append(kind)
                    break
        return text, applied

    def _odd(self) -> str:
        """Something to insert: the language's punctuation or keywords, or characters that break lexers."""
        r = self.rng.random()
        if r < 0.6:
            return self.rng.choice(INTERESTING)
        if r < 0.85:
            return chr(self.rng.choice((self.rng.randrange(0x20, 0x7F), self.rng.randrange(0x80, 0x2FFF),
                                        self.rng.randrange(0x10000, 0x1FBFF))))
        return "".join(chr(self.rng.randrange(0xD800)) for _ in range(self.rng.randint(1, 4)))

    def _replace_match(self, pattern: re.Pattern, text: str, make, group: int = 0):
        """`text` with one match of `pattern` (its `group`) replaced by `make(matched text)`; None if no match."""
        matches = list(pattern.finditer(text))
        if not matches:
            return None
        m = self.rng.choice(matches)
        return text[: m.start(group)] + make(m.group(group)) + text[m.end(group):]

    def _replace_token(self, text: str, select, make):
        """`text` with one token for which `select` holds replaced by `make(token)`; None if there is none."""
        tokens = tokenize(text)
        at = [i for i, tok in enumerate(tokens) if select(tok)]
        if not at:
            return None
        i = self.rng.choice(at)
        return "".join(tokens[:i] + [make(tokens[i])] + tokens[i + 1:])

    # -- token level, as tests/fuzzing.py
    def _m_delete(self, text):
        tokens = tokenize(text)
        i = self.rng.randrange(max(1, len(tokens)))
        return "".join(tokens[:i] + tokens[i + self.rng.randint(1, 3):])

    def _m_duplicate(self, text):
        return self._replace_token(text, bool, lambda tok: tok + tok)

    def _m_swap(self, text):
        tokens = tokenize(text)
        i = self.rng.randrange(max(1, len(tokens) - 1))
        return "".join(tokens[:i] + tokens[i + 1:i + 2] + tokens[i:i + 1] + tokens[i + 2:])

    def _m_insert(self, text):
        i = self.rng.randint(0, len(text))
        return text[:i] + self._odd() + text[i:]

    def _m_replace(self, text):
        tokens = tokenize(text)
        return self._replace_token(text, str.strip, lambda _: self.rng.choice(tokens) if self.rng.random() < 0.5
                                   else self._odd())

    def _m_truncate(self, text):
        return text[: self.rng.randint(0, len(text))]

    def _m_repeat(self, text):  # long runs (huge numbers and names, many lines): at most ~50k characters more
        count = self.rng.choice((10, 100, 1000, 5000))
        return self._replace_token(text, bool, lambda tok: tok * min(count, max(1, 50_000 // len(tok))))

    def _m_nest(self, text):  # an equation's right side nested deeply
        depth, opener = self.rng.choice((10, 100, 300, 1000, 3000)), self.rng.choice(_NESTS)
        return self._replace_match(_EQUATION, text, lambda rhs: opener * depth + rhs + ")" * depth, group=1)

    # -- structure-aware: the text usually still parses
    def _m_number(self, text):
        return self._replace_match(_NUMBER, text, lambda _: self.rng.choice(_NUMBERS))

    def _m_operator(self, text):
        ops = _OPERATORS[:6] if self.rng.random() < 0.8 else _OPERATORS
        return self._replace_token(text, lambda tok: tok in _OPERATORS, lambda _: self.rng.choice(ops))

    def _m_name(self, text):
        def other(name):
            group = next(g for g in _GROUPS if name in g)
            return self.rng.choice(group if self.rng.random() < 0.9 else self.rng.choice(_GROUPS))
        return self._replace_token(text, lambda tok: any(tok in g for g in _GROUPS), other)

    def _m_arith(self, text):  # an operand in constant arithmetic: constant-only subexpressions
        return self._replace_match(_OPERAND, text, lambda operand: self.rng.choice(_ARITH).format(operand))

    def _m_delay(self, text):
        return self._replace_match(_DELAY, text, lambda _: self.rng.choice(_DELAYS))

    def _m_dimension(self, text):  # one dimension of a shape replaced, dropped or added
        def change(dims: str) -> str:
            parts = [d.strip() for d in dims.split(",") if d.strip()]
            i, new = self.rng.randint(0, len(parts)), self.rng.choice(_DIM_VALUES + parts)
            how = self.rng.choice((1, 1, 0, 0)) if i < len(parts) else 0  # 1: replace, 0: add, then maybe drop
            parts = parts[:i] + ([] if how and self.rng.random() < 0.3 else [new]) + parts[i + how:]
            return ", ".join(parts)
        return self._replace_match(_DIMS, text, change, group=1)

    def _m_hparam(self, text):  # a hyperparameter's default changed, dropped or given; sometimes its type
        def change(decl: str) -> str:
            name, _, rest = decl.partition(":")
            kind = rest.split("=")[0].strip() if self.rng.random() < 0.7 else self.rng.choice(HYPER_TYPES)
            return f"{name}: {kind}{self.rng.choice(_DEFAULTS)}"
        return self._replace_match(_HPARAM, text, change)

    def _m_equation(self, text):  # an equation (or a network's assignment) written twice
        lines = text.splitlines(keepends=True)
        at = [i for i, line in enumerate(lines) if _EQUATION.match(line)]
        if not at:
            return None
        lines.insert(self.rng.choice(at), lines[self.rng.choice(at)].rstrip("\n") + "\n")
        return "".join(lines)

    def _m_drop_line(self, text):
        lines = text.splitlines(keepends=True)
        return "".join(lines[:(i := self.rng.randrange(max(1, len(lines))))] + lines[i + 1:])

    def _m_swap_lines(self, text):
        lines = text.splitlines(keepends=True)
        if len(lines) < 2:
            return None
        i, j = self.rng.sample(range(len(lines)), 2)
        lines[i], lines[j] = lines[j].rstrip("\n") + "\n", lines[i].rstrip("\n") + "\n"
        return "".join(lines)
