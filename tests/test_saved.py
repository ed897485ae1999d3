"""Saved models are hermetic: a generated cell compiles the text its config carries and reads
nothing else; a crafted or broken `.keras` file is a one-line error (rnndsl.keras.saved)."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from rnndsl import load
from rnndsl.lang.errors import UsageError
from rnndsl.keras.saved import load_model

LEAKY = """\
cell Leaky(units: int = 3) {
    input x: [in]
    param W: [units, in]
    param U: [units, units]
    h[t] = 0.5 * h[t-1] + tanh(W @ x[t] + U @ h[t-1])
    output h
}

network N {
    input x: seq[2]
    output Leaky()(x)
}
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "leaky.keras"
    load(LEAKY).build("N").save(path)
    return path


def _crafted(saved, tmp_path, change) -> str:
    """A copy of the saved model whose generated cell's spec text is `change(text)`."""
    out = tmp_path / "crafted.keras"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                _edit_specs(config, change)
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    return str(out)


def _edit_specs(node, change) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("spec"), str):
            node["spec"] = change(node["spec"])
        for value in node.values():
            _edit_specs(value, change)
    elif isinstance(node, list):
        for value in node:
            _edit_specs(value, change)


def test_a_saved_model_reloads_from_itself(saved, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nowhere near the spec
    x = np.random.default_rng(0).normal(size=(2, 4, 2)).astype("float32")
    again = load_model(saved)
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(load_model(saved)(x)), rtol=1e-6)


def test_an_import_in_a_saved_spec_is_refused(saved, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.rnn").write_text("cell Secret {\n    input x: [3]\n    h[t] = x[t]\n    output h\n}\n")
    crafted = _crafted(saved, tmp_path, lambda text: 'import "secret.rnn"\nimport "/etc/passwd"\n' + text)
    with pytest.raises(UsageError) as raised:
        load_model(crafted)
    assert raised.value.render() == (
        f"error: cannot load the model {crafted}: the spec text it carries has errors: error[E0504]: "
        "cannot import `secret.rnn`: a saved model's spec imports only the texts it carries")


@pytest.mark.parametrize("change, reason", [
    (lambda text: text + "# " + "x" * (2 << 20) + "\n", "<Leaky> is 2 MiB: a spec is at most 1 MiB"),
    (lambda text: text.replace("Leaky", "Other"), "the saved spec text defines no cell `Leaky`"),
    (lambda text: text.replace("tanh", "tanh("), "the spec text it carries has errors: error[E0110]: unclosed `(`"),
    (lambda text: text + "network Z {\n    input x: seq[3]\n    output Stack(Leaky(4), depth=1000000000)(x)\n}\n",
     "the spec text it carries has errors: error[E0308]: `Stack` has depth 1000000000: a stack has 1 to 1000 layers"),
])
def test_a_crafted_spec_text_is_one_line(saved, tmp_path, change, reason):
    crafted = _crafted(saved, tmp_path, change)
    with pytest.raises(UsageError) as raised:
        load_model(crafted)
    assert raised.value.render() == f"error: cannot load the model {crafted}: {reason}"


def test_files_that_are_not_models(tmp_path):
    (tmp_path / "text.keras").write_text("not a zip")
    with pytest.raises(UsageError, match="not a .keras file"):
        load_model(tmp_path / "text.keras")
    with pytest.raises(UsageError, match=r"^error: cannot load the model .*missing.keras: no such file$"):
        load_model(tmp_path / "missing.keras")
    with pytest.raises(UsageError, match="not a regular file"):
        load_model(tmp_path)


def test_two_programs_from_text_build_their_own_cells():
    """Both texts are `<string>`: a registry of texts by file name built the second one's cell for the first."""
    first = load(LEAKY)
    second = load(LEAKY.replace("param U: [units, units]", "param U: [units, units]\n    param V: [units]")
                  .replace("+ U @ h[t-1])", "+ U @ h[t-1] + V)"))
    weights = sorted(w.path.rsplit("/", 1)[-1] for w in first.build("N").weights)
    assert weights == ["U", "W"]
    assert sorted(w.path.rsplit("/", 1)[-1] for w in second.build("N").weights) == ["U", "V", "W"]
