"""The docs stay true: every `rnn` block of docs/language.md checks, and docs/papers.md shows what
rnndsl writes and its example paper compiles."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rnndsl

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```rnn\n(.*?)```", (ROOT / "docs" / "language.md").read_text(), flags=re.S)


def test_the_reference_has_examples():
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_every_rnn_block_checks(index, monkeypatch):
    monkeypatch.chdir(ROOT)  # imports resolve against the repository and the standard library
    rnndsl.load(BLOCKS[index])


def test_every_error_code_raised_is_documented():
    """Every code in the package (`code="E0302"`, a class's `code = "E0901"`, a table's `("E0101", "...`), errors
    and warnings, has its row; the base classes' placeholders (E0000, W0100) are never raised."""
    documented = set(re.findall(r"^\| ([EW]\d{4}) \|", (ROOT / "docs" / "language.md").read_text(), flags=re.M))
    sources = "".join(p.read_text() for p in (ROOT / "rnndsl").rglob("*.py"))
    raised = (set(re.findall(r'code="([EW]\d{4})"', sources)) | set(re.findall(r'\("([EW]\d{4})", "', sources))
              | set(re.findall(r'code = "([EW]\d{4})"', sources))) - {"E0000", "W0100"}
    assert len(raised) > 60 and raised <= documented, sorted(raised - documented)


# ---------------------------------------------------------------- docs/gallery.md


def _gallery():
    """docs/gallery.py, the generator of the gallery (docs/ is not a package)."""
    import importlib.util
    import sys

    name = "rnndsl_docs_gallery"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "gallery.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]


GALLERY = _gallery()


def test_the_gallery_is_what_make_gallery_writes():
    # The markdown only; drawing the SVG files is left to `make gallery`.
    assert (ROOT / "docs" / "gallery.md").read_text(encoding="utf-8") == GALLERY.markdown(), \
        "docs/gallery.md is stale: run `make gallery`"


def test_every_image_of_the_gallery_exists_and_every_diagram_is_shown():
    text = (ROOT / "docs" / "gallery.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert images, "the gallery shows no diagram"
    missing = [i for i in images if not (ROOT / "docs" / i).is_file()]
    assert not missing, f"run `make gallery`: missing {missing}"
    drawn = {f"gallery/{p.name}" for p in (ROOT / "docs" / "gallery").glob("*.svg")}
    assert drawn == set(images), f"SVG files the gallery does not show: {sorted(drawn - set(images))}"


def test_every_cell_of_the_standard_library_is_in_the_gallery():
    defined = set()
    for path in sorted((ROOT / "specs" / "std").glob("*.rnn")):
        program = rnndsl.load(path)
        defined |= {name for name in program.main if name in program.cells}
    shown = {e.name for e in GALLERY.entries()}
    assert all(reason for reason in GALLERY.EXCLUDED.values()), "an excluded cell needs its reason"
    assert defined - shown - set(GALLERY.EXCLUDED) == set(), "cells of specs/std missing from docs/gallery.py"
    assert set(GALLERY.EXCLUDED) <= defined, "docs/gallery.py excludes a cell the standard library lacks"


def test_every_data_source_is_documented():
    from rnndsl.train import sources as data

    text = (ROOT / "docs" / "language.md").read_text()
    missing = [name for name in data.SOURCES if f"| `{name}(" not in text and f"`{name}(...)`" not in text]
    assert not missing, missing


# ---------------------------------------------------------------- docs/papers.md

PAPERS = (ROOT / "docs" / "papers.md").read_text(encoding="utf-8")


def _block(language: str, index: int = 0) -> str:
    return re.findall(rf"```{language}\n(.*?)```", PAPERS, flags=re.S)[index]


def test_papers_shows_the_lstm_as_the_standard_library_has_it():
    assert _block("rnn") == (ROOT / "specs" / "std" / "lstm.rnn").read_text(encoding="utf-8")


def test_papers_shows_what_rnndsl_latex_writes(monkeypatch):
    monkeypatch.chdir(ROOT)
    written = rnndsl.load("specs/std/lstm.rnn").latex("LSTM")
    header, body = written.split("\n", 2)[:2], written.split("\n", 2)[2]
    assert all(line.startswith("%") for line in header)
    assert _block("latex", 0) == body, "docs/papers.md: paste the output of `rnndsl latex` again"


def test_every_image_papers_shows_exists():
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", PAPERS)
    assert len(images) == 2 and all((ROOT / "docs" / image).is_file() for image in images)


def test_the_example_paper_compiles_with_equations_figure_and_a_minted_listing(tmp_path):
    """The document of docs/papers.md, with the files its commands make: pdflatex, minted through the
    `rnn` Pygments lexer of this installation, the TikZ figure and the equations."""
    from rnndsl.cli import main

    pdflatex = shutil.which("pdflatex")
    assert pdflatex, "pdflatex is not installed: `make test` installs TeX Live (`make tex`)"
    spec = ROOT / "specs" / "std" / "lstm.rnn"
    assert main(["latex", str(spec), "--cell", "LSTM", "-o", str(tmp_path / "lstm-equations.tex")]) == 0
    assert main(["render", str(spec), "--cell", "LSTM", "-o", str(tmp_path / "lstm-figure.tex")]) == 0
    shutil.copy(spec, tmp_path / "lstm.rnn")
    (tmp_path / "paper.tex").write_text(_block("latex", 1), encoding="utf-8")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # pygmentize
    for _ in range(2):  # the second run resolves the figure's number
        run = subprocess.run([pdflatex, "-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, [line for line in run.stdout.splitlines() if line.startswith("!")] \
            or run.stdout[-3000:]
    text = subprocess.run(["pdftotext", str(tmp_path / "paper.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Long short-term memory" in text and "Figure 1" in text and "??" not in text
    assert "param W_i, W_f, W_c, W_o: [units, in] ~ glorot_uniform" in text  # the minted listing
