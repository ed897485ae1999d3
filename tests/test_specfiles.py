"""What rnndsl reads to get spec text (rnndsl.lang.specfiles): the file a user names, imports, and
the texts a saved model carries; and the parser's tables, which are never unpickled."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rnndsl import load
from rnndsl.cli import main
from rnndsl.lang.errors import SpecErrors, UsageError
from rnndsl.program import check_file, compile_text
from rnndsl.lang.specfiles import MAX_SPEC_BYTES, CarriedTexts, display_path, read_spec, stdlib_root

ELMAN = """\
cell E(units: int = 2) {
    input x: [in]
    param W: [units, in]
    param U: [units, units]
    h[t] = tanh(W @ x[t] + U @ h[t-1])
    output h
}
"""

POLICY = ("   = note: imports are looked for next to the importing file, then in the standard library, "
          "then in the folders of --path and RNNDSL_PATH")


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _errors(main_file: Path, **kw) -> list:
    _, errors = check_file(main_file, **kw)
    return sorted(errors, key=lambda e: e.span.line)


# ---------------------------------------------------------------- the file a user names


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "fifo"])
def test_a_device_or_a_pipe_is_refused_at_once(tmp_path, special, capsys):
    if special == "fifo":
        special = str(tmp_path / "spec.rnn")
        os.mkfifo(special)  # nothing ever writes to it: reading it would wait forever
    assert main(["check", special]) == 2
    assert capsys.readouterr().err == (f"error: {special} is not a regular file: a spec is read from a file, "
                                       "not a device or a pipe\n")


def test_a_spec_over_the_size_limit_is_refused(tmp_path, capsys):
    big = tmp_path / "big.rnn"
    big.write_text("#" * (MAX_SPEC_BYTES + 1))
    assert main(["check", str(big)]) == 2
    assert capsys.readouterr().err == f"error: {big} is over 1 MiB: a spec is at most 1 MiB\n"
    with pytest.raises(UsageError, match=r"^error: <string> is 1 MiB: a spec is at most 1 MiB$"):
        compile_text("#" * (MAX_SPEC_BYTES + 1))


def test_a_byte_order_mark_is_dropped(tmp_path):
    spec = tmp_path / "bom.rnn"
    spec.write_bytes(b"\xef\xbb\xbf" + ELMAN.encode())
    assert read_spec(spec) == ELMAN
    program, errors = check_file(spec)
    assert not errors and list(program.cells) == ["E"]


# ---------------------------------------------------------------- imports


@pytest.mark.parametrize("path, problem", [
    ("/etc/passwd", "an import path is relative: absolute paths are not imported"),
    ("/proc/self/environ", "an import path is relative: absolute paths are not imported"),
    ("../outside.rnn", "an import path may not go up a folder (`..`)"),
    ("lib/../../outside.rnn", "an import path may not go up a folder (`..`)"),
    ("lib//e.rnn", "an import path has no empty or `.` part"),
    ("./e.rnn", "an import path has no empty or `.` part"),
    ("lib\\\\e.rnn", "an import path separates its parts with `/`, not `\\`"),
    ("notes.txt", "an import names a `.rnn` spec file"),
    ("", "the import path is empty"),
])
def test_import_paths_outside_the_policy_are_refused(tmp_path, path, problem):
    spec = _write(tmp_path / "main.rnn", f'import "{path}"\n')
    (error,) = _errors(spec)
    shown = path.replace("\\\\", "\\")
    underline = "^" * (len(path) + 2)
    assert error.render() == f"""\
error[E0504]: cannot import `{shown}`: {problem}
  --> {display_path(spec)}:1:8
   |
 1 | import "{path}"
   |        {underline} not an allowed import path
{POLICY}"""


def test_a_nul_byte_in_an_import_path_through_the_api(tmp_path):
    _, errors = compile_text('import "a\\u0000b.rnn"\n'.replace("\\u0000", "\x00"), "main.rnn", tmp_path)
    (error,) = errors
    assert error.code == "E0504"
    assert error.message == "cannot import `a\x00b.rnn`: the import path contains a NUL byte"


def test_a_file_that_is_not_a_spec_is_never_quoted(tmp_path):
    _write(tmp_path / "passwd.rnn", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/bin/false\n")
    _write(tmp_path / "env.rnn", "\n# a comment\nSECRET_TOKEN=hunter2\n")
    spec = _write(tmp_path / "main.rnn", 'import "passwd.rnn"\nimport "env.rnn"\n')
    errors = _errors(spec)
    text = "\n\n".join(e.render() for e in errors)
    assert "x:0:0" not in text and "daemon" not in text and "hunter2" not in text
    assert [e.render() for e in errors] == [f"""\
error[E0505]: `{display_path(tmp_path / 'passwd.rnn')}` is not an rnndsl spec
  --> {display_path(spec)}:1:8
   |
 1 | import "passwd.rnn"
   |        ^^^^^^^^^^^^ imports a file of another kind
   = note: its line 1 is not a statement of the language (see it with `rnndsl check \
{display_path(tmp_path / 'passwd.rnn')}`)""", f"""\
error[E0505]: `{display_path(tmp_path / 'env.rnn')}` is not an rnndsl spec
  --> {display_path(spec)}:2:8
   |
 2 | import "env.rnn"
   |        ^^^^^^^^^ imports a file of another kind
   = note: its line 3 is not a statement of the language (see it with `rnndsl check \
{display_path(tmp_path / 'env.rnn')}`)"""]


def test_a_spec_with_a_typo_after_its_first_statement_is_still_shown(tmp_path):
    _write(tmp_path / "lib.rnn", ELMAN + "cell F {\n    h[t]: x[t]\n}\n")
    (error,) = _errors(_write(tmp_path / "main.rnn", 'import "lib.rnn"\n'))
    assert error.code == "E0104" and error.span.file == display_path(tmp_path / "lib.rnn")


def test_imports_that_cannot_be_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.rnn")
    (tmp_path / "loop1.rnn").symlink_to("loop2.rnn")
    (tmp_path / "loop2.rnn").symlink_to("loop1.rnn")
    long_name = "a" * 300 + ".rnn"
    spec = _write(tmp_path / "main.rnn", f'import "pipe.rnn"\nimport "loop1.rnn"\nimport "{long_name}"\n')
    messages = [e.message for e in _errors(spec)]
    assert messages == [
        f"{display_path(tmp_path / 'pipe.rnn')} is not a regular file: a spec is read from a file, "
        "not a device or a pipe",
        "cannot read `loop1.rnn`: Too many levels of symbolic links",
        f"cannot read `{'a' * 59}…`: File name too long",
    ]


def test_a_folder_that_may_not_be_entered(tmp_path, monkeypatch):
    real_stat = os.stat

    def stat(path, *a, **kw):
        if str(path).endswith("locked/e.rnn"):
            raise PermissionError(13, "Permission denied")
        return real_stat(path, *a, **kw)

    monkeypatch.setattr(os, "stat", stat)
    (error,) = _errors(_write(tmp_path / "main.rnn", 'import "locked/e.rnn"\n'))
    assert (error.code, error.message) == ("E0503", "cannot read `locked/e.rnn`: Permission denied")


def test_the_search_path_comes_after_the_standard_library(tmp_path, monkeypatch, capsys):
    _write(tmp_path / "shared" / "e.rnn", ELMAN)
    _write(tmp_path / "more" / "f.rnn", ELMAN.replace("cell E", "cell F"))
    _write(tmp_path / "shared" / "std" / "lstm.rnn", "not even a spec\n")  # the standard library's wins
    spec = _write(tmp_path / "project" / "main.rnn",
                  'import "e.rnn"\nimport "f.rnn"\nimport "std/lstm.rnn"\n')
    (missing, _) = _errors(spec)
    assert missing.message == "cannot find `e.rnn`"
    assert missing.notes == [f"looked in {display_path(spec.parent)} and the standard library "
                             f"({display_path(stdlib_root())})",
                             "give other folders to search with --path DIR or RNNDSL_PATH"]
    monkeypatch.setenv("RNNDSL_PATH", str(tmp_path / "more"))
    program, errors = check_file(spec, search_path=[tmp_path / "shared"])
    assert not errors and {"E", "F", "LSTM"} <= set(program.cells)
    assert main(["check", str(spec), "--path", str(tmp_path / "shared")]) == 0
    assert capsys.readouterr().out.startswith(f"{spec}: ok")
    assert set(load(str(spec), path=[tmp_path / "shared"]).cells) >= {"E", "F"}


def test_a_saved_models_text_imports_nothing_but_what_it_carries():
    carried = CarriedTexts({"lib.rnn": ELMAN})
    program, errors = compile_text('import "lib.rnn"\n', "<saved>", finder=carried)
    assert not errors and list(program.cells) == ["E"]
    _, errors = compile_text('import "std/lstm.rnn"\n', "<saved>", finder=CarriedTexts())
    (error,) = errors
    assert (error.code, error.message) == (
        "E0504", "cannot import `std/lstm.rnn`: a saved model's spec imports only the texts it carries")


# ---------------------------------------------------------------- one program, its own texts


def test_programs_from_text_keep_their_own_text():
    a = load(ELMAN.replace("tanh", "sigmoid"))
    b = load(ELMAN + "\n# the second text: its lines would otherwise be quoted for the first\n")
    assert a.cells["E"].graph.header.span.text != b.cells["E"].graph.header.span.text
    with pytest.raises(SpecErrors) as raised:
        load("cell A {\n    h[t] = nope(x[t])\n}\n")
    load("cell B {\n    input x: [3]\n    h[t] = x[t]\n    output h\n}\n")  # another <string>
    assert " 2 |     h[t] = nope(x[t])" in raised.value.render()
    from rnndsl.keras.cell import cell_source

    assert "sigmoid" in cell_source(a, "E") and "sigmoid" not in cell_source(b, "E")


# ---------------------------------------------------------------- the parser's tables


def test_the_parser_never_unpickles_anything(tmp_path):
    """Lark's grammar cache was a pickle in the shared temp folder under a guessable name:
    anyone could plant one for another user's `rnndsl check` to run. No pickle is loaded,
    from there or anywhere, and nothing is written to the temp folder."""
    marker = tmp_path / "ran"
    spec = _write(tmp_path / "e.rnn", ELMAN)
    temp = tmp_path / "tmp"
    temp.mkdir()
    script = textwrap.dedent(f"""
        import pickle, sys
        from lark import Lark
        from rnndsl.lang.lark_grammar import grammar_text, _not_newline
        # Where the old parser (cache=True) kept its tables: plant a pickle that runs code there.
        Lark(grammar_text(), parser="lalr", lexer="basic", propagate_positions=_not_newline,
             maybe_placeholders=True, cache=True)
        class Plant:
            def __reduce__(self):
                return (open, ({str(marker)!r}, "w"))
        import glob, tempfile
        (planted,) = glob.glob(tempfile.gettempdir() + "/.lark_cache_*")
        with open(planted, "wb") as f:
            pickle.dump(Plant(), f)
        def refuse(*a, **k):
            raise AssertionError("a pickle was loaded")
        pickle.load = pickle.loads = refuse
        from rnndsl.cli import main
        sys.exit(main(["check", {str(spec)!r}]))
    """)
    env = dict(os.environ, TMPDIR=str(temp))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{spec}: ok (1 cell, 0 networks)\n"
    assert not marker.exists()


def test_a_long_line_is_shown_as_a_window_around_the_error(tmp_path, capsys):
    """One 50 MB line once wrote 157 MB to stderr; a line is now cut to 100 columns around the span."""
    line = "    h[t] = x[t]" + " " * 20000 + "+ qq(x[t])"
    spec = _write(tmp_path / "long.rnn", "cell A {\n    input x: [3]\n" + line + "\n    output h\n}\n")
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert len(err) < 1000
    column = len(line) - len("qq(x[t])") + 1
    assert err.startswith(f"error[E0203]: unknown function `qq`\n  --> {spec}:3:{column}\n   |\n 3 | …")
    shown, under = err.split("\n")[3:5]
    assert shown.endswith("   + qq(x[t])") and len(shown) <= 6 + 1 + 100
    assert under.index("^^") == shown.index("qq") and under.endswith("^^ not a built-in function")
