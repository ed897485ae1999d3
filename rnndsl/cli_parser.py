"""cli_parser: the command line of `rnndsl`, its commands and their options (rnndsl.cli runs them)."""

from __future__ import annotations

import argparse

from .lang.errors import UsageError
from .starter import EXAMPLES


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one-line usage errors."""

    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


class _Version(argparse.Action):
    """`--version`: looks the version up only when asked for it (see `rnndsl.__getattr__`)."""

    def __init__(self, option_strings, dest, **_):
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        import rnndsl

        print(f"rnndsl {rnndsl.__version__}")
        parser.exit()


def command_parser() -> argparse.ArgumentParser:
    """The parser of `rnndsl`'s command line: a subcommand each, its help ending with examples."""
    p = _Parser(prog="rnndsl", description="A compiler for recurrent neural networks.")
    p.add_argument("--version", action=_Version)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    i = sub.add_parser("init", help="write a first spec to edit: a cell, a network and a train block")
    i.add_argument("name", metavar="NAME", help="the network's name; the file is NAME.rnn unless -o")
    i.add_argument("-o", "--output", metavar="FILE.rnn")

    c = sub.add_parser("check", help="report every error and warning in spec files")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.add_argument("--deny-warnings", action="store_true",
                   help="a warning (W01xx) fails the check as an error does (exit 1)")
    c.add_argument("--explain", action="store_true",
                   help="print each cell's states and parameter shapes, and each network edge's type")

    r = sub.add_parser("render", help="draw a cell or a network with Graphviz")
    _add_item(r)
    r.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="the file to write: .svg, .pdf, .png, .dot, or .tex (a TikZ picture)")
    r.add_argument("--style", metavar="STYLE",
                   help="`default`, or `paper`: a figure for a publication (the default for .tex)")
    r.add_argument("--unroll", type=int, metavar="K", help="draw a cell unrolled over K steps")
    r.add_argument("--expand", action="append", default=[], metavar="LAYER",
                   help="draw a network's layer (by bound name or id) opened to its cell; repeatable")

    x = sub.add_parser("latex", help="write a cell's equations, or a network's data flow, as LaTeX")
    _add_item(x)
    x.add_argument("-o", "--output", metavar="OUT.tex", help="the file to write (default: standard output)")
    x.add_argument("--standalone", action="store_true",
                   help="a whole document that pdflatex compiles, not a block to \\input into one")

    b = sub.add_parser("build", help="lower a network, or a cell alone, to a Keras model and save it (.keras)")
    _add_target(b)
    b.add_argument("-o", "--output", required=True, metavar="OUT.keras")
    b.add_argument("--no-fused", action="store_true",
                   help="lower every cell to a generated cell, even those that are exactly Keras's LSTM/GRU/SimpleRNN")

    t = sub.add_parser("fit", help="build a network, compute its `fit` parameters from data, and save it (.keras)")
    _add_target(t)
    t.add_argument("--data", required=True, metavar="DATA.npz",
                   help="arrays by name: the network's inputs, `targets` for a ridge readout, "
                        "patterns by state name for Hebbian storage")
    t.add_argument("--washout", type=int, default=0, metavar="K",
                   help="steps at the start of each sequence left out of a ridge fit (default 0)")
    t.add_argument("-o", "--output", required=True, metavar="OUT.keras")

    tr = sub.add_parser("train", help="train a network as its `train` block says")
    tr.add_argument("file", metavar="FILE")
    tr.add_argument("--network", metavar="NAME")
    _add_set(tr)
    tr.add_argument("--epochs", type=int, metavar="N", help="train for N epochs instead of the block's")
    tr.add_argument("--out", metavar="DIR", help="the run's folder (default runs/NETWORK)")
    tr.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    tr.add_argument("--mixed-precision", action="store_true",
                    help="compute in float16, the weights in float32 (Keras's mixed_float16; for GPUs and TPUs)")
    tr.add_argument("--jit-compile", choices=("on", "off"),
                    help="compile the training step with XLA, or not (default: where rnndsl measured it pays)")

    ev = sub.add_parser("evaluate", help="a trained run's loss and metrics on a split of its data")
    ev.add_argument("run", metavar="RUN_DIR")
    ev.add_argument("--split", choices=("test", "validation", "train"), default="test")

    pr = sub.add_parser("predict", help="a trained run's outputs for new inputs")
    pr.add_argument("run", metavar="RUN_DIR")
    pr.add_argument("--data", metavar="IN.npz", help="the inputs, by the network's input names (needed unless "
                                                     "--sample)")
    pr.add_argument("-o", "--output", required=True, metavar="OUT.npz",
                    help="`outputs`, and for a CTC model `labels` (padded with -1); for an encoder-decoder, "
                         "its free decoding: `tokens`, `scores`, `alignments`, `text`; with --sample, a .png")
    pr.add_argument("--sample", type=int, metavar="N",
                    help="draw N images pixel by pixel from a model of images (a grid[H, W, 1] input, its "
                         "distribution at every pixel) and write them side by side to OUT.png")
    pr.add_argument("--seed", type=int, default=0, help="the seed of --sample's draws (default 0)")
    pr.add_argument("--beam", type=int, default=1, metavar="K",
                    help="decode by beam search keeping K hypotheses (CTC and encoder-decoder models; "
                         "default 1: greedy)")
    pr.add_argument("--attention", metavar="OUT.png",
                    help="an encoder-decoder's attention over the source, for one input, as a heat map")
    pr.add_argument("--example", type=int, default=0, metavar="I",
                    help="which input's attention --attention draws (default 0, the first)")

    for compiling in (c, r, x, b, t, tr):
        compiling.add_argument("--path", action="append", default=[], metavar="DIR",
                               help="a folder to search for imports after the standard library; repeatable "
                                    "(then the folders of RNNDSL_PATH)")

    e = sub.add_parser("export", help="write a saved model or a run's model as a TensorFlow SavedModel or TFLite")
    e.add_argument("model", metavar="MODEL_OR_RUN", help="a .keras file, or a run's folder (its model.keras)")
    e.add_argument("--format", required=True, choices=("saved_model", "tflite"))
    e.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="a folder (saved_model) or a .tflite file")
    e.add_argument("--batch", type=int, metavar="B", help="a fixed batch size (tflite: default 1)")
    e.add_argument("--steps", type=int, metavar="T",
                   help="a fixed number of time steps (tflite: needed where the model's is open)")

    f = sub.add_parser("fmt", help="format spec files in place")
    f.add_argument("files", nargs="+", metavar="FILE")
    f.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    f.add_argument("--diff", action="store_true", help="with --check, print how each file would change "
                                                        "(a unified diff)")
    for name, command in sub.choices.items():  # each command's help ends with examples
        command.formatter_class = argparse.RawDescriptionHelpFormatter
        command.epilog = "examples:\n" + "\n".join(f"  {line}" for line in EXAMPLES[name].split("\n"))
    return p


def _add_item(p) -> None:
    """FILE [--cell NAME | --network NAME]: what `render` and `latex` draw or write."""
    p.add_argument("file", metavar="FILE")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--cell", metavar="NAME")
    which.add_argument("--network", metavar="NAME")


def _add_target(p) -> None:
    """FILE --network NAME | --cell NAME [--input-size N] [--set KEY=VALUE ...]: what `build` and `fit` lower."""
    p.add_argument("file", metavar="FILE")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--network", metavar="NAME")
    which.add_argument("--cell", metavar="NAME", help="a cell alone: a model from its inputs to its outputs")
    p.add_argument("--input-size", type=int, metavar="N",
                   help="a cell's inputs, side by side, have N features (where its hyperparameters leave it open)")
    _add_set(p)


def _add_set(p) -> None:
    """--set KEY=VALUE, repeatable: the hyperparameters of what a command builds or trains."""
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="set a hyperparameter of the network; repeatable")
