"""`rnndsl init`: a first spec that checks, is formatted, and trains as written; each command's examples."""

from __future__ import annotations

import json

import pytest

from rnndsl.cli import main
from rnndsl.cli_parser import command_parser
from rnndsl.lang.fmt import format_text
from rnndsl.starter import EXAMPLES


def test_init_writes_a_spec_that_trains_as_written(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "Adder"]) == 0
    assert capsys.readouterr().out == ("wrote Adder.rnn: check it with `rnndsl check Adder.rnn`, train it with "
                                       "`rnndsl train Adder.rnn`\n")
    text = (tmp_path / "Adder.rnn").read_text()
    assert format_text(text, "Adder.rnn") == text  # as `rnndsl fmt` writes it
    assert main(["check", "--deny-warnings", "Adder.rnn"]) == 0
    assert main(["train", "Adder.rnn", "--epochs", "2"]) == 0
    metrics = json.loads((tmp_path / "runs" / "Adder" / "metrics.json").read_text())
    assert metrics["network"] == "Adder" and metrics["test"]["loss"] < 1.0


def test_init_refuses_a_bad_name_or_an_existing_file(tmp_path, capsys):
    out = tmp_path / "a.rnn"
    assert main(["init", "Net", "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["init", "Net", "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"error: {out} exists: init writes a new file; give another name or -o\n"
    for name in ("3x", "in", "MGU", "a-b"):
        assert main(["init", name, "-o", str(tmp_path / "b.rnn")]) == 2
        assert capsys.readouterr().err == (f"error: `{name}` cannot name a network: a name is letters, digits and "
                                           "`_`, not starting with a digit, and not a keyword or `MGU` (the "
                                           "starter's cell)\n")
    assert main(["init", "Net", "-o", str(tmp_path / "no" / "c.rnn")]) == 2
    assert capsys.readouterr().err == f"error: cannot write {tmp_path / 'no' / 'c.rnn'}: there is no folder " \
                                      f"{tmp_path / 'no'}\n"


@pytest.mark.parametrize("command", sorted(EXAMPLES))
def test_each_commands_help_ends_with_examples(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert "\nexamples:\n  rnndsl " + command in out
    assert out.rstrip().endswith(EXAMPLES[command].split("\n")[-1])


def test_every_command_has_examples():
    sub = next(a for a in command_parser()._actions if a.dest == "command")
    assert set(sub.choices) == set(EXAMPLES)
