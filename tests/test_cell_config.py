"""A generated cell rebuilds from its own config: the compiled-cell cache is bounded and changes only the time."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import rnndsl  # noqa: E402
from rnndsl.keras.cell import COMPILED_CELLS, GeneratedCell, GeneratedRNN, cell_rnn, compile_cell  # noqa: E402

STD = Path(__file__).resolve().parents[1] / "specs" / "std"


def test_the_compiled_cells_are_a_bounded_cache():
    assert compile_cell.cache_info().maxsize == COMPILED_CELLS


def test_a_cell_rebuilds_from_its_config_alone(tmp_path, monkeypatch):
    layer = cell_rnn(rnndsl.load(STD / "gru.rnn"), "GRU", input_dim=3, units=4)
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    want = layer(x).numpy()
    config = layer.cell.get_config()
    # Nothing else it could read: an empty cache, another folder, a search path that leads nowhere.
    compile_cell.cache_clear()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RNNDSL_PATH", str(tmp_path / "nowhere"))
    again = GeneratedRNN(GeneratedCell.from_config(config), return_sequences=True)
    again.build((None, None, 3))
    for name, w in again.cell.weights_by_name.items():
        w.assign(layer.cell.weights_by_name[name])
    np.testing.assert_allclose(again(x).numpy(), want, rtol=1e-6, atol=1e-6)
    assert compile_cell.cache_info().currsize == 1
