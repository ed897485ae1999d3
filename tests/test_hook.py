"""rnndsl's Keras classes are registered in any process that has imported rnndsl and Keras, whichever of
rnndsl.keras's modules imports Keras first (rnndsl.keras.hook)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("GeneratedCell", "GeneratedRNN", "GateStack", "Reservoir", "gelu", "CTCLoss", "EncoderDecoder", "TreeLayer",
         "GridLayer", "MirroredGrid", "MaskedConv2D", "Subsample", "AveragePooling1D", "MaxPooling1D", "UpSampling1D",
         "Gather", "StepMask",
         "WrongBits", "SequenceAccuracy")


@pytest.mark.parametrize("first", ["import rnndsl.keras.initializers", "import rnndsl.keras.interpret",
                                   "import rnndsl.keras.cell", "import rnndsl.keras.network",
                                   "import keras; import rnndsl"])
def test_the_classes_are_registered_whichever_module_imports_keras_first(first):
    code = (f"{first}\nimport sys\nfrom keras.saving import get_registered_object\n"
            f"missing = [n for n in {NAMES!r} if get_registered_object('rnndsl>' + n) is None]\n"
            "assert not missing, missing\n"
            "assert not any(type(f).__name__ == '_AfterKeras' for f in sys.meta_path)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_check_never_imports_keras():
    code = (f"import sys, rnndsl\nprogram = rnndsl.load({str(ROOT / 'specs' / 'std' / 'lstm.rnn')!r})\n"
            "program.explain()\nassert 'keras' not in sys.modules and 'tensorflow' not in sys.modules\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
