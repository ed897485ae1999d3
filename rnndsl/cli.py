"""The `rnndsl` command: check, render, latex, fmt, build, fit, train, evaluate, predict.

Exit codes: 0 clean, 1 errors in a spec (or `fmt --check` finding a file to
reformat), 2 a usage error (bad option, missing or unreadable file), 3 an
internal error (a bug: set RNNDSL_DEBUG=1 to see its traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from .lang.errors import RnnDslError, SpecErrors, UsageError
from .lang.hparams import from_command_line
from .outputs import check_output, replace_text, save_model
from .streams import discard_stdout, native_logs_hidden

EXIT_OK, EXIT_SPEC, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 128 + 13  # as a shell shows a process ended by SIGPIPE


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


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rnndsl", description="A compiler for recurrent neural networks.")
    p.add_argument("--version", action=_Version)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    c = sub.add_parser("check", help="report every error in spec files")
    c.add_argument("files", nargs="+", metavar="FILE")
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

    ev = sub.add_parser("evaluate", help="a trained run's loss and metrics on a split of its data")
    ev.add_argument("run", metavar="RUN_DIR")
    ev.add_argument("--split", choices=("test", "validation", "train"), default="test")

    pr = sub.add_parser("predict", help="a trained run's outputs for new inputs")
    pr.add_argument("run", metavar="RUN_DIR")
    pr.add_argument("--data", required=True, metavar="IN.npz", help="the inputs, by the network's input names")
    pr.add_argument("-o", "--output", required=True, metavar="OUT.npz",
                    help="`outputs`, and for a CTC model `labels` (padded with -1); for an encoder-decoder, "
                         "its free decoding: `tokens`, `scores`, `alignments`, `text`")
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

    f = sub.add_parser("fmt", help="format spec files in place")
    f.add_argument("files", nargs="+", metavar="FILE")
    f.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command is None:
            raise UsageError("no command given: use check, render, latex, fmt, build, fit, train, evaluate or predict "
                             "(see `rnndsl --help`)")
        commands = {"check": _check, "render": _render, "latex": _latex, "fmt": _fmt, "build": _build, "fit": _fit,
                    "train": _train, "evaluate": _evaluate, "predict": _predict}
        with native_logs_hidden() if args.command in RUNS_TENSORFLOW else contextlib.nullcontext():
            return commands[args.command](args)
    except UsageError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_USAGE
    except RnnDslError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_SPEC
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader of the output closed it early: nothing more is written
        discard_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as e:  # a bug: never show a traceback unless asked
        if os.environ.get("RNNDSL_DEBUG"):
            raise
        print(f"internal error: {type(e).__name__}: {e} (this is a bug in rnndsl; "
              "RNNDSL_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


# The commands that load TensorFlow.
RUNS_TENSORFLOW = frozenset({"build", "fit", "train", "evaluate", "predict"})


def _report(errors: list, file: str) -> None:
    """Every diagnostic of one file, then a count."""
    group = SpecErrors(errors)
    n = len(group.errors)
    body = "\n\n".join(e.render() for e in group.errors)
    print(f"{body}\n\n{n} error{'s' if n != 1 else ''} in {file}", file=sys.stderr)


def _check(args) -> int:
    from .program import check_file

    status = EXIT_OK
    for path in args.files:
        try:
            program, errors = check_file(path, search_path=args.path)
        except UsageError as e:
            print(e.render(), file=sys.stderr)
            status = EXIT_USAGE
            continue
        if errors:
            _report(errors, path)
            status = max(status, EXIT_SPEC)
            continue
        cells = len(program.cells)
        nets = len(program.networks)
        print(f"{path}: ok ({cells} cell{'s' if cells != 1 else ''}, "
              f"{nets} network{'s' if nets != 1 else ''})")
        if args.explain:
            print(program.explain())
    return status


def _chosen(args, program) -> str:
    """The cell or network that --cell or --network names, or the file's default one."""
    name = args.cell or args.network
    if name is None:
        return program.default_name()
    _named(args.file, name, *(("cell", program.cells) if args.cell else ("network", program.networks)))
    return name


def _latex(args) -> int:
    from .program import check_file

    out = Path(args.output) if args.output else None
    if out is not None and out.suffix.lower() != ".tex":
        raise UsageError(f"cannot write `{out.suffix or out.name}`: the output must end in .tex")
    if out is not None:
        check_output(out, args.file)
    program, errors = check_file(args.file, search_path=args.path)
    if errors:
        _report(errors, args.file)
        return EXIT_SPEC
    text = program.latex(_chosen(args, program), standalone=args.standalone)
    if out is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e.strerror}") from None
    print(f"wrote {out}")
    return EXIT_OK


def _render(args) -> int:
    from .program import check_file
    from .draw.render import FORMATS, check_style
    from .draw.unrolled import MAX_UNROLL

    out = Path(args.output)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise UsageError(f"cannot write `{out.suffix or out.name}`: the output must end in "
                         + ", ".join(f".{f}" for f in FORMATS))
    if args.unroll is not None and not 1 <= args.unroll <= MAX_UNROLL:
        raise UsageError(f"--unroll takes a number of steps from 1 to {MAX_UNROLL}, not {args.unroll}")
    check_output(out, args.file)
    style = args.style if args.style is not None else "paper" if fmt == "tex" else "default"
    check_style(style)  # before the spec: a bad --style is a usage error even in a spec with errors
    program, errors = check_file(args.file, search_path=args.path)
    if errors:
        _report(errors, args.file)
        return EXIT_SPEC
    name = _chosen(args, program)
    item = program[name]
    if args.unroll is not None and name not in program.cells:
        raise UsageError("--unroll draws a cell; give one with --cell")
    if args.expand and name not in program.networks:
        raise UsageError("--expand opens a layer of a network; give one with --network")
    if name in program.cells:
        item.render(out, unroll=args.unroll, style=style)
    else:
        item.render(out, expand=args.expand, style=style)
    print(f"wrote {out}")
    return EXIT_OK




def _named(file: str, name: str, kind: str, table: dict) -> str:
    """`name`, when `table` (the file's cells or networks) has it; else a usage error with a suggestion."""
    if name not in table:
        from .lang.errors import did_you_mean

        hint = "".join(f"; {n}" for n in did_you_mean(name, table))
        raise UsageError(f"{file} has no {kind} named `{name}`{hint}")
    return name


def _target(args):
    """The checked program and the network (or cell) that `build` and `fit` work on, with its `--set` values;
    or None after reporting the spec's errors."""
    from .program import check_file

    out = Path(args.output)
    if out.suffix != ".keras":
        raise UsageError(f"the model is saved as a .keras file; `{out}` does not end in .keras")
    check_output(out, args.file, *([args.data] if getattr(args, "data", None) else []))
    program, errors = check_file(args.file, search_path=args.path)
    if errors:
        _report(errors, args.file)
        return None
    name = args.cell or args.network or program.default_name()
    kind, table = ("cell", program.cells) if args.cell else ("network", program.networks)
    if args.cell is None and args.network is None:
        kind, table = ("network", program.networks) if name in program.networks else ("cell", program.cells)
    _named(args.file, name, kind, table)
    if args.input_size is not None and kind == "network":
        raise UsageError(f"--input-size is for a cell alone; network `{name}` declares its inputs")
    if args.input_size is not None and args.input_size < 1:
        raise UsageError("--input-size takes a number of features of at least 1")
    return program, name, from_command_line(args.set, table[name].graph)


def _build(args) -> int:
    found = _target(args)
    if found is None:
        return EXIT_SPEC
    program, name, values = found
    from .keras.network import describe, lower

    lowered = lower(program, name, input_size=args.input_size, fused=not args.no_fused, **values)
    model = lowered.model
    model.summary()
    print(describe(lowered))
    save_model(model, args.output)
    print(f"wrote {args.output}")
    return EXIT_OK


def _fit(args) -> int:
    found = _target(args)
    if found is None:
        return EXIT_SPEC
    program, name, values = found
    from .train.saved_run import read_arrays  # a regular file, each array's size checked before it is read

    data = read_arrays(args.data)
    from .lang.errors import DataError
    from .train.fit import fit_model

    model = program.build(name, input_size=args.input_size, **values)
    try:
        done = fit_model(model, data, washout=args.washout)
    except ValueError as e:
        raise DataError(f"{args.data}: {e}") from None
    if not done:
        raise DataError(f"`{name}` has no parameter declared `fit`: nothing to fit")
    for fitted in done:
        print(f"fitted {fitted}")
    save_model(model, args.output)
    print(f"wrote {args.output}")
    return EXIT_OK


def _train(args) -> int:
    from .program import check_file

    if args.epochs is not None and args.epochs < 1:
        raise UsageError("--epochs takes a number of epochs of at least 1")
    program, errors = check_file(args.file, search_path=args.path)
    if errors:
        _report(errors, args.file)
        return EXIT_SPEC
    name = _named(args.file, args.network or program.default_name(), "network", program.networks)
    values = from_command_line(args.set, program.networks[name].graph)
    out = Path(args.out) if args.out else Path("runs") / name
    result = program.train(name, values=values, out=out, epochs=args.epochs, resume=args.resume)
    for split, metrics in result.metrics.items():
        print(f"{split}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    print(f"trained {name} for {result.epochs} epochs in {result.seconds:.1f} s; the run is in {out}/")
    return EXIT_OK


def _evaluate(args) -> int:
    from .train.saved_run import evaluate, open_run

    metrics = evaluate(open_run(args.run), args.split)
    print(f"{args.split}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    return EXIT_OK


def _predict(args) -> int:
    import numpy as np

    from .keras.seq2seq import decoder_of
    from .train.decode import draw_attention
    from .train.saved_run import open_run, predictions, read_arrays

    if not args.output.endswith(".npz"):
        raise UsageError(f"predictions are saved as a .npz file; `{args.output}` does not end in .npz")
    if args.beam < 1:
        raise UsageError(f"--beam keeps at least 1 hypothesis, not {args.beam}")
    if args.attention is not None and not args.attention.endswith(".png"):
        raise UsageError(f"the heat map is a .png file; `{args.attention}` does not end in .png")
    saved = open_run(args.run)
    given = read_arrays(args.data)
    if args.attention is not None and decoder_of(saved.model) is None:
        raise UsageError(f"--attention draws an encoder-decoder's attention; the model of {args.run} has none")
    result, decoded = predictions(saved, given, beam=args.beam)
    if args.attention is not None:
        if decoded.alignments is None:
            raise UsageError(f"the encoder-decoder of {args.run} has no attention to draw (attention=none)")
        if not 0 <= args.example < len(decoded.tokens):
            raise UsageError(f"--example {args.example} is not one of the {len(decoded.tokens)} inputs")
        draw_attention(saved, given, decoded, args.example, args.attention)
        print(f"wrote {args.attention}: the attention of input {args.example}")
    try:
        np.savez(args.output, **result)
    except OSError as e:
        raise UsageError(f"cannot write {args.output}: {e.strerror}") from None
    print(f"wrote {args.output}: " + ", ".join(f"{k} {v.shape}" for k, v in result.items()))
    return EXIT_OK


def _fmt(args) -> int:
    from .lang.fmt import format_text
    from .lang.specfiles import read_spec

    status = EXIT_OK
    for path in args.files:
        try:
            text = read_spec(path)
            formatted = format_text(text, path)
        except UsageError as e:
            print(e.render(), file=sys.stderr)
            status = EXIT_USAGE
            continue
        except SpecErrors as e:
            _report(e.errors, path)
            status = max(status, EXIT_SPEC)
            continue
        if formatted == text:
            continue
        if args.check:
            print(f"{path}: would reformat")
            status = max(status, EXIT_SPEC)
        else:
            try:
                replace_text(Path(path), formatted)
            except UsageError as e:
                print(e.render(), file=sys.stderr)
                status = EXIT_USAGE
                continue
            print(f"{path}: formatted")
    return status


if __name__ == "__main__":
    sys.exit(main())
