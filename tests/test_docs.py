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
