"""The `rnndsl` command: exit codes, one-line usage errors, no tracebacks, --explain, fmt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnndsl.cli import main

ROOT = Path(__file__).resolve().parents[1]
RNNDSL = [sys.executable, "-m", "rnndsl.cli"]

GOOD = """cell E(units: int) {
    input x: [in]
    param W: [units, in]
    param U: [units, units]
    h[t] = tanh(W @ x[t] + U @ h[t-1])
    output h
}

network N(units: int = 4) {
    input x: seq[3]
    output x >> E(units)
}
"""


def run(*args, cwd=None):
    """The command in a fresh process: (exit code, stdout, stderr)."""
    proc = subprocess.run(RNNDSL + list(args), capture_output=True, text=True, cwd=cwd or ROOT,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def spec(tmp_path):
    def write(text, name="spec.rnn"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path
    return write


def test_check_clean_file(spec, capsys):
    assert main(["check", str(spec(GOOD))]) == 0
    out = capsys.readouterr().out
    assert out.endswith("spec.rnn: ok (1 cell, 1 network)\n")


def test_check_explain(spec, capsys, monkeypatch):
    monkeypatch.chdir(spec(GOOD).parent)
    assert main(["check", "--explain", "spec.rnn"]) == 0
    assert capsys.readouterr().out == """\
spec.rnn: ok (1 cell, 1 network)
cell E(units: int)  at spec.rnn:1:6
  runs over time
  inputs:  x: [in]
  states:  h: [units] (init 0)
  params:
    W: [units, in]
    U: [units, units]
  outputs: h: [units]
  lowers:  generated: the equation of `h` is not that of keras.layers.SimpleRNN's template, \
`h[t] = tanh(W @ x[t] + U @ h[t-1] + b)` (spec.rnn:5:5)

network N(units: int = 4)  at spec.rnn:9:9
  x -> E_1: seq[3]
  E_1 -> output: seq[units] = seq[4] by default
"""


def test_check_reports_every_error_and_exits_1(spec, capsys, monkeypatch):
    monkeypatch.chdir(spec("cell A {\n    h[t]: x[t]\n    y[t] = W x[t]\n}\n").parent)
    assert main(["check", "spec.rnn"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == """\
error[E0104]: equations use `=`, not `:`
  --> spec.rnn:2:9
   |
 2 |     h[t]: x[t]
   |         ^ write `=`
   = note: an equation reads `h[t] = tanh(W @ x[t])`

error[E0108]: missing operator between `W` and `x`
  --> spec.rnn:3:14
   |
 3 |     y[t] = W x[t]
   |              ^ an operator is missing before this
   = note: write `W @ x` for a matrix product, `W * x` for an element-wise one

2 errors in spec.rnn
"""


@pytest.mark.parametrize("case, text", [
    ("zero-delay cycle", "cell A(n: int) {\n    input x: [n]\n    h[t] = tanh(x[t] + h[t])\n    output h\n}\n"),
    ("shape mismatch", "cell A(n: int) {\n    input x: [in]\n    param W: [n, n]\n    h[t] = W @ x[t]\n    output h\n}\n"),
    ("unknown name", "cell A(n: int) {\n    input x: [n]\n    h[t] = sigmod(x[t])\n    output h\n}\n"),
    ("syntax error", "cell A(n: int) {\n    input x = [n]\n}\n"),
])
def test_spec_errors_exit_1_without_traceback(spec, case, text):
    code, out, err = run("check", str(spec(text)))
    assert code == 1, err
    assert err.startswith("error[E0")
    assert "Traceback" not in err and "Traceback" not in out


def test_usage_errors_exit_2_with_one_line(tmp_path):
    (tmp_path / "binary.rnn").write_bytes(os.urandom(512) + b"\x00\xff")
    (tmp_path / "nul.rnn").write_bytes(b"cell A {\x00}\n")
    cases = {
        "missing": (["check", str(tmp_path / "missing.rnn")], f"error: no such file: {tmp_path / 'missing.rnn'}"),
        "directory": (["check", str(tmp_path)], f"error: {tmp_path} is a directory, not a spec file"),
        "binary": (["check", str(tmp_path / "binary.rnn")], "error: "),
        "nul": (["check", str(tmp_path / "nul.rnn")],
                f"error: {tmp_path / 'nul.rnn'} is binary, not a spec file (it contains NUL bytes)"),
        "option": (["check", "--frobnicate", "x.rnn"],
                   "error: unrecognized arguments: --frobnicate (see `rnndsl --help`)"),
        "command": (["compile", "x.rnn"], "error: argument COMMAND: invalid choice: 'compile' "),
        "none": ([], "error: no command given: use init, check, render, latex, fmt, build, fit, train, evaluate, "
                     "predict or export (see `rnndsl --help`)"),
    }
    for name, (args, expected) in cases.items():
        code, out, err = run(*args)
        assert code == 2, (name, err)
        assert err.count("\n") == 1, (name, err)
        assert err.startswith(expected), (name, err)
        assert "Traceback" not in err


def test_render_usage_errors(spec, capsys):
    path = str(spec(GOOD))
    assert main(["render", path, "-o", "x.gif"]) == 2
    assert capsys.readouterr().err == \
        "error: cannot write `.gif`: the output must end in .svg, .pdf, .png, .dot, .tex\n"
    assert main(["render", path, "--style", "papr", "-o", "x.svg"]) == 2
    assert capsys.readouterr().err == "error: unknown style `papr`: use one of default, paper; did you mean `paper`?\n"
    assert main(["render", path, "--style", "", "-o", "x.svg"]) == 2
    assert capsys.readouterr().err == "error: unknown style ``: use one of default, paper\n"
    assert main(["render", path, "--cell", "Nope", "-o", "x.svg"]) == 2
    assert capsys.readouterr().err == f"error: {path} has no cell named `Nope`\n"
    assert main(["render", path, "--network", "N", "--unroll", "3", "-o", "x.svg"]) == 2
    assert capsys.readouterr().err == "error: --unroll draws a cell; give one with --cell\n"
    assert main(["render", path, "--cell", "E", "--unroll", "0", "-o", "x.svg"]) == 2
    assert capsys.readouterr().err == "error: --unroll takes a number of steps from 1 to 32, not 0\n"
    assert main(["render", path]) == 2
    assert "the following arguments are required: -o/--output" in capsys.readouterr().err


def test_render_writes_svg(spec, tmp_path, capsys):
    out = tmp_path / "e.svg"
    assert main(["render", str(spec(GOOD)), "--cell", "E", "--unroll", "3", "-o", str(out)]) == 0
    assert out.read_text().lstrip().startswith(("<?xml", "<svg", "<!--"))
    assert capsys.readouterr().out == f"wrote {out}\n"


def test_render_paper_style_and_tikz(spec, tmp_path, capsys):
    path = str(spec(GOOD))
    svg, tex = tmp_path / "e.svg", tmp_path / "e.tex"
    assert main(["render", path, "--cell", "E", "--style", "paper", "-o", str(svg)]) == 0
    assert 'font-family="Times' in svg.read_text() and "⊙" not in svg.read_text()
    assert main(["render", path, "--cell", "E", "-o", str(tex)]) == 0  # .tex draws the paper style
    text = tex.read_text()
    assert "\\begin{tikzpicture}" in text and "$\\mathbf{h}_t$" in text
    assert main(["render", path, "--cell", "E", "--style", "default", "-o", str(tex)]) == 0
    assert "\\begin{tikzpicture}" in tex.read_text() and "$\\mathbf{h}_t$" not in tex.read_text()
    capsys.readouterr()


def test_fmt_rewrites_and_check_reports(spec, capsys):
    path = spec("cell   A(n:int){\n  input x:[n]\n  h[t]=tanh(x[t]+h[t-1])  # keep me\n  output h\n}\n")
    assert main(["fmt", "--check", str(path)]) == 1
    assert capsys.readouterr().out == f"{path}: would reformat\n"
    assert main(["fmt", str(path)]) == 0
    assert path.read_text() == ("cell A(n: int) {\n    input x: [n]\n"
                                "    h[t] = tanh(x[t] + h[t-1])  # keep me\n    output h\n}\n")
    assert main(["fmt", "--check", str(path)]) == 0


def test_fmt_syntax_error_exits_1(spec, capsys):
    assert main(["fmt", str(spec("cell A {\n"))]) == 1
    assert "error[E0102]: unclosed `{`" in capsys.readouterr().err


def test_internal_errors_are_one_line(monkeypatch, capsys, spec):
    import rnndsl.program

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(rnndsl.program, "check_file", boom)
    monkeypatch.delenv("RNNDSL_DEBUG", raising=False)
    assert main(["check", str(spec(GOOD))]) == 3
    assert capsys.readouterr().err == ("internal error: RuntimeError: boom (this is a bug in rnndsl; "
                                       "RNNDSL_DEBUG=1 shows the traceback)\n")


def test_check_standard_library_and_examples_without_tensorflow():
    files = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("specs/**/*.rnn")) + \
        sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("examples/*.rnn"))
    assert len(files) >= 12
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "rnndsl.cli", "check", *files],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    imported = [line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time")]
    assert "rnndsl.lang.infer" in imported
    assert not [m for m in imported if m.split(".")[0] in ("tensorflow", "keras", "graphviz")]


def test_version_is_the_installed_package_s(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out == f"rnndsl {version('rnndsl')}\n"


def test_build_stderr_has_no_native_tensorflow_logs(spec, tmp_path):
    """TensorFlow's C++ runtime logs to descriptor 2 as it loads (CUDA probing, CPU features);
    `rnndsl build` drops those lines and keeps its own messages on stderr."""
    path = spec(GOOD)
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "RNNDSL_DEBUG")}
    proc = subprocess.run(RNNDSL + ["build", str(path), "-o", str(tmp_path / "n.keras")], capture_output=True,
                          text=True, cwd=ROOT, env={**env, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout
    assert proc.stderr == ""
    proc = subprocess.run(RNNDSL + ["build", str(path), "--set", "units=x", "-o", str(tmp_path / "n.keras")],
                          capture_output=True, text=True, cwd=ROOT, env={**env, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 1
    assert proc.stderr.startswith("error[")


# ---------------------------------------------------------------- outputs, pipes and hostile command lines


@pytest.mark.parametrize("command, name", [
    (["latex"], "x.tex"),
    (["render"], "x.svg"),
    (["build", "--cell", "E", "--set", "units=2", "--input-size", "3"], "x.keras"),
])
def test_an_output_that_names_the_input_is_refused(spec, capsys, command, name):
    path = spec(GOOD, name)
    code = main([command[0], str(path), *command[1:], "-o", str(path)])
    assert code == 2
    assert capsys.readouterr().err == (f"error: the output {path} is the input {path}: it would be overwritten; "
                                       "give another -o\n")
    assert path.read_text() == GOOD


@pytest.mark.parametrize("command", [["render"], ["latex"], ["build", "--cell", "E", "--input-size", "3"]])
def test_an_output_in_no_folder_or_onto_a_folder(spec, tmp_path, capsys, command):
    path = str(spec(GOOD))
    suffix = {"render": ".svg", "latex": ".tex", "build": ".keras"}[command[0]]
    missing = tmp_path / "nowhere" / f"out{suffix}"
    assert main([command[0], path, *command[1:], "-o", str(missing)]) == 2
    assert capsys.readouterr().err == f"error: cannot write {missing}: there is no folder {missing.parent}\n"
    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    assert main([command[0], path, *command[1:], "-o", str(folder)]) == 2
    assert capsys.readouterr().err == f"error: cannot write {folder}: it is a directory\n"


def test_build_onto_a_read_only_file_system(spec, tmp_path, capsys, monkeypatch):
    import errno

    import keras

    def read_only(self, *a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(keras.Model, "save", read_only)
    out = tmp_path / "m.keras"
    assert main(["build", str(spec(GOOD)), "--cell", "E", "--set", "units=2", "--input-size", "3",
                 "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"error: cannot write {out}: Read-only file system\n"


def test_fmt_leaves_a_read_only_file_alone(spec, capsys):
    path = spec(GOOD.replace("    output h", "  output   h"))
    before = path.read_text()
    path.chmod(0o444)
    try:
        assert main(["fmt", str(path)]) == 2
        assert capsys.readouterr().err == f"error: cannot write {path}: it is read-only\n"
        assert path.read_text() == before
    finally:
        path.chmod(0o644)


def test_fmt_on_a_full_disk_keeps_the_old_text(spec, capsys, monkeypatch):
    import errno

    path = spec(GOOD.replace("    output h", "  output   h"))
    before = path.read_text()
    real_write = Path.write_text

    def full(self, *a, **k):
        if self.name.endswith(".tmp"):
            real_write(self, "half a fi", encoding="utf-8")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", full)
    assert main(["fmt", str(path)]) == 2
    assert capsys.readouterr().err == f"error: cannot write {path}: No space left on device\n"
    assert path.read_text() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["spec.rnn"]


def test_a_closed_pipe_ends_quietly():
    # Four times the standard library: more than a pipe holds (64 KiB), so writing surely fails.
    specs = " ".join(["specs/std/*.rnn"] * 4)
    done = subprocess.run(["bash", "-c", f"{sys.executable} -m rnndsl.cli check --explain {specs} | head -1"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.startswith("specs/std/cells.rnn: ok (") and done.stdout.count("\n") == 1
    assert done.stderr == ""  # no "internal error: BrokenPipeError"


@pytest.mark.parametrize("given, message", [
    ("units=١٢", "error[E0241]: --set units=١٢: `units` is an int"),
    ("units=1_0", "error[E0241]: --set units=1_0: `units` is an int"),
    ("units= 12", "error[E0241]: --set units= 12: `units` is an int"),
    ("rate=1e400", "error[E0241]: --set rate=1e400: `rate` is a float"),
    ("rate=nan", "error[E0241]: --set rate=nan: `rate` is a float"),
    ("rate=٣.5", "error[E0241]: --set rate=٣.5: `rate` is a float"),
])
def test_set_takes_numbers_as_a_spec_writes_them(spec, tmp_path, capsys, given, message):
    path = spec(GOOD.replace("network N(units: int = 4)", "network N(units: int = 4, rate: float = 0.5)"))
    assert main(["build", str(path), "--set", given, "-o", str(tmp_path / "m.keras")]) == 1
    assert capsys.readouterr().err.startswith(message + "\n")
