"""docs/language.md stays true: every block marked `rnn` is a valid spec that checks."""

from __future__ import annotations

import re
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
    documented = set(re.findall(r"^\| (E\d{4}) \|", (ROOT / "docs" / "language.md").read_text(), flags=re.M))
    sources = "".join(p.read_text() for p in (ROOT / "rnndsl").glob("*.py"))
    raised = set(re.findall(r'code="(E\d{4})"', sources)) | set(re.findall(r'\("(E\d{4})", "', sources))
    assert raised <= documented, sorted(raised - documented)


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
    from rnndsl import data

    text = (ROOT / "docs" / "language.md").read_text()
    missing = [name for name in data.SOURCES if f"| `{name}(" not in text and f"`{name}(...)`" not in text]
    assert not missing, missing
