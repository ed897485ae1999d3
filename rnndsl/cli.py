"""The `rnndsl` command: init, check, render, latex, fmt, build, fit, train, evaluate, predict, export.

Exit codes: 0 clean, 1 errors in a spec (or `fmt --check` finding a file to
reformat), 2 a usage error (bad option, missing or unreadable file), 3 an
internal error (a bug: set RNNDSL_DEBUG=1 to see its traceback).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from .lang.errors import RnnDslError, SpecErrors, UsageError
from .lang.hparams import from_command_line
from .outputs import check_output, replace_text, save_model
from .cli_parser import command_parser
from .starter import write_starter
from .streams import discard_stdout, native_logs_hidden

EXIT_OK, EXIT_SPEC, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 128 + 13  # as a shell shows a process ended by SIGPIPE


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        args = command_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("no command given: use init, check, render, latex, fmt, build, fit, train, evaluate, "
                             "predict or export (see `rnndsl --help`)")
        commands = {"init": _init, "check": _check, "render": _render, "latex": _latex, "fmt": _fmt, "build": _build,
                    "fit": _fit, "train": _train, "evaluate": _evaluate, "predict": _predict, "export": _export}
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
RUNS_TENSORFLOW = frozenset({"build", "fit", "train", "evaluate", "predict", "export"})


def _report(errors: list, file: str) -> None:
    """Every diagnostic of one file, then a count."""
    group = SpecErrors(errors)
    n = len(group.errors)
    body = "\n\n".join(e.render() for e in group.errors)
    print(f"{body}\n\n{n} error{'s' if n != 1 else ''} in {file}", file=sys.stderr)


def _init(args) -> int:
    out = write_starter(args.name, Path(args.output or f"{args.name}.rnn"))
    print(f"wrote {out}: check it with `rnndsl check {out}`, train it with `rnndsl train {out}`")
    return EXIT_OK


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
        warned = len(program.warnings)
        if warned:
            body = "\n\n".join(w.render() for w in program.warnings)
            denied = " (denied by --deny-warnings)" if args.deny_warnings else ""
            print(f"{body}\n\n{warned} warning{'s' if warned != 1 else ''} in {path}{denied}", file=sys.stderr)
            if args.deny_warnings:
                status = max(status, EXIT_SPEC)
                continue
        print(f"{path}: ok ({cells} cell{'s' if cells != 1 else ''}, "
              f"{nets} network{'s' if nets != 1 else ''}"
              + (f", {warned} warning{'s' if warned != 1 else ''})" if warned else ")"))
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
    result = program.train(name, values=values, out=out, epochs=args.epochs, resume=args.resume,
                           mixed_precision=args.mixed_precision,
                           jit_compile=None if args.jit_compile is None else args.jit_compile == "on")
    for split, metrics in result.metrics.items():
        print(f"{split}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    stopped = " (stopped early: the loss stopped falling; the model has its best epoch's weights)" \
        if result.stopped else ""
    print(f"trained {name} for {result.epochs} epochs in {result.seconds:.1f} s{stopped}; the run is in {out}/")
    return EXIT_OK


def _evaluate(args) -> int:
    from .train.saved_run import evaluate, open_run

    metrics = evaluate(open_run(args.run), args.split)
    print(f"{args.split}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    return EXIT_OK


def _sample(args) -> int:
    from .train.sampling import sample_images, write_sheet
    from .train.saved_run import open_run

    if not args.output.endswith(".png"):
        raise UsageError(f"--sample writes a .png image; `{args.output}` does not end in .png")
    if args.data is not None:
        raise UsageError("--sample draws images from the model alone: give no --data")
    images = sample_images(open_run(args.run).model, args.sample, args.seed)
    write_sheet(images, args.output)
    print(f"wrote {args.output}: {len(images)} images drawn pixel by pixel")
    return EXIT_OK


def _predict(args) -> int:
    import numpy as np

    from .keras.seq2seq import decoder_of
    from .train.decode import draw_attention
    from .train.saved_run import open_run, predictions, read_arrays

    if args.sample is not None:
        return _sample(args)
    if args.data is None:
        raise UsageError("predict reads its inputs from --data IN.npz (or draws images with --sample N)")
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


def _export(args) -> int:
    from .keras.export import export
    from .keras.saved import load_model

    given = Path(args.model)
    path = given / "model.keras" if given.is_dir() else given
    out = Path(args.output)
    if out.exists():
        raise UsageError(f"{out} exists: export writes a new {'folder' if args.format == 'saved_model' else 'file'}")
    check_output(out, str(path))
    export(load_model(path), out, args.format, batch=args.batch, steps=args.steps)
    print(f"wrote {out}")
    return EXIT_OK


def _warn_of_parentheses(text: str, path: str) -> None:
    """What `fmt` makes explicit without a change of meaning: the W0101 warnings (to standard error)."""
    from .lang.lint import lint
    from .lang.parse import parse_file

    for warning in lint(parse_file(text, path).module):
        if warning.code == "W0101":
            print(f"{warning.render()}\n   = note: fmt writes the parentheses as the text reads", file=sys.stderr)


def _fmt(args) -> int:
    from .lang.fmt import format_text
    from .lang.specfiles import read_spec

    if args.diff and not args.check:
        raise UsageError("--diff shows what --check would change; give both")
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
        _warn_of_parentheses(text, path)
        if formatted == text:
            continue
        if args.check:
            print(f"{path}: would reformat")
            if args.diff:
                import difflib

                sys.stdout.writelines(difflib.unified_diff(text.splitlines(keepends=True),
                                                           formatted.splitlines(keepends=True),
                                                           f"{path} (as it is)", f"{path} (formatted)"))
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
