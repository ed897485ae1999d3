"""Training reproductions of memory-augmented networks (issue 16): the networks of examples/memory.rnn,
each trained by its train block as `rnndsl train` runs it (rnndsl.train.run.run), from its seed. Marked
`slow`: `make repro` runs them, each within 15 minutes on 2 CPU cores.

- The NTM's copy task (Graves, Wayne & Danihelka 2014): 8-bit vectors, lengths 1 to 20, a fresh batch
  every step. The NTM must copy sequences of length 20 with under 1 wrong bit per sequence on average
  (the paper's curves reach about 0 within its budget); its errors at lengths 30, 40 and 60, longer than
  any it saw, are reported, as is an LSTM of about its parameter count trained on the same number of
  sequences.
- The NTM's repeat copy (same paper, section 4.2), in a smaller range than the paper's: lengths 1 to 5,
  1 to 5 copies; at most 1 wrong bit per sequence.
- Sequence reversal with the neural stack (Grefenstette et al. 2015): trained on 8 to 64 symbols, the
  whole-sequence accuracy on 65 to 128 must be at least 0.95; an LSTM trained the same way is reported.
- The DNC (Graves et al. 2016) on repeat copy, eight problems a sequence with a memory of 8 slots, fewer than
  a sequence writes: under 1 wrong bit per sequence, and slots freed and then used again; a figure of the
  usage over one test sequence is drawn (dnc-usage.png beside $RNNDSL_REPRO_RESULTS); its controller alone,
  an LSTM of 64 units trained the same way, is reported.

docs/reproductions.md records the figures reached.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import rnndsl
from test_repro import _record

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _train(network: str, tmp_path):
    """Train `network` of examples/memory.rnn by its train block: (the result, its plan)."""
    from rnndsl.train.run import plan_of, run

    program = rnndsl.load(EXAMPLES / "memory.rnn")
    plan = plan_of(program, network, {})
    return run(program, network, out=tmp_path / network, verbose=0), plan


def _wrong_bits(model, plan, lengths: tuple, n: int = 200) -> tuple:
    """(mean wrong bits per sequence, fraction of sequences right) of `model` on n fresh copies of
    lengths in `lengths`, drawn from a seed of their own."""
    from rnndsl.keras.sequence_metrics import wrong_per_sequence
    from rnndsl.train import sources as data

    args = dict(plan.data.args, train=1, test=n, test_min_length=lengths[0], test_max_length=lengths[1])
    test = data.load(plan.data.name, args, base=EXAMPLES, seed=plan.seed + 1000 + lengths[1]).test
    predicted = model.predict(test.inputs[0], verbose=0, batch_size=50)
    wrong, _ = wrong_per_sequence(test.targets, predicted, test.sample_weight)
    wrong = np.asarray(wrong)
    return float(wrong.mean()), float(np.mean(wrong == 0))


def test_ntm_copy(tmp_path):
    started = time.perf_counter()
    ntm, plan = _train("CopyNTM", tmp_path)
    at20 = ntm.metrics["test"]["wrong_bits"]
    longer = {f"length_{n}": _wrong_bits(ntm.model, plan, (n, n)) for n in (30, 40, 60)}
    lstm, _ = _train("CopyLSTM", tmp_path)
    _record("NTM copy, 8 bits, trained on lengths 1-20: NTM(100, 64 slots)", "wrong bits per sequence, length 20",
            at20, "< 1", plan.seed, started, sequences=plan.epochs * plan.data.args["train"],
            ntm_seconds=round(ntm.seconds, 1), **{k: round(v[0], 3) for k, v in longer.items()},
            lstm_66_at_20=round(lstm.metrics["test"]["wrong_bits"], 3), lstm_seconds=round(lstm.seconds, 1))
    assert at20 < 1


def test_ntm_repeat_copy(tmp_path):
    started = time.perf_counter()
    ntm, plan = _train("RepeatNTM", tmp_path)
    at = ntm.metrics["test"]["wrong_bits"]
    _record("NTM repeat copy, lengths 1-5, 1-5 copies: NTM(100, 64 slots)", "wrong bits per sequence", at, "<= 1",
            plan.seed, started, sequences=plan.epochs * plan.data.args["train"], ntm_seconds=round(ntm.seconds, 1),
            sequence_accuracy=round(ntm.metrics["test"]["sequence_accuracy"], 4))
    assert at <= 1


def test_neural_stack_reverses_longer_sequences_than_it_saw(tmp_path):
    started = time.perf_counter()
    stack, plan = _train("ReverseStack", tmp_path)
    accuracy = stack.metrics["test"]["sequence_accuracy"]
    lstm, _ = _train("ReverseLSTM", tmp_path)
    _record("reversal, trained on lengths 8-64: NeuralStack(32, 260 slots)", "whole-sequence accuracy, lengths 65-128",
            accuracy, ">= 0.95", plan.seed, started, sequences=plan.epochs * plan.data.args["train"],
            stack_seconds=round(stack.seconds, 1), symbol_accuracy=round(stack.metrics["test"]["accuracy"], 4),
            lstm_64=round(lstm.metrics["test"]["sequence_accuracy"], 4),
            lstm_64_symbols=round(lstm.metrics["test"]["accuracy"], 4), lstm_seconds=round(lstm.seconds, 1))
    assert accuracy >= 0.95


def _usage(model, test, path) -> dict:
    """Draw the DNC's write weighting and usage of each slot over the steps of the first test sequence (two
    heat maps, slots down, steps across, the ends of problems dashed) to `path`; and count, over the test
    sequences, those that write more vectors than there are slots, the slots written (a write weighting
    above 0.3) in two problems or more of their sequence, and the steps at which a slot's usage falls by more
    than 0.1 (the free gates at work)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnndsl.keras.cell import observer

    layer = next(layer for layer in model.layers if type(layer).__name__ == "GeneratedRNN")
    values = np.asarray(observer(layer, ["use", "w_w"])(test.inputs[0]))
    slots = values.shape[-1] // 2
    use, write = values[..., :slots], values[..., slots:]
    ends = test.targets[..., -1]  # the end markers: a problem answered
    steps = int(test.sample_weight[0].nonzero()[0].max()) + 1
    fig, axes = plt.subplots(2, 1, figsize=(10, 4.2), sharex=True)
    for ax, data, title in ((axes[0], write[0, :steps].T, "write weighting w_w"), (axes[1], use[0, :steps].T, "usage")):
        ax.imshow(data, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        ax.set_ylabel("slot")
        ax.set_title(title, fontsize=10)
        for end in np.nonzero(ends[0, :steps])[0]:
            ax.axvline(end + 0.5, color="white", linewidth=0.8, linestyle="--")
    axes[1].set_xlabel("step (dashed: the end of a problem)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    reused = 0
    for sequence_write, sequence_ends in zip(write, ends):
        problem = np.concatenate([[0], np.cumsum(sequence_ends)[:-1]])  # the problem each step belongs to
        reused += sum(len(set(problem[sequence_write[:, slot] > 0.3])) > 1 for slot in range(slots))
    written = (test.inputs[0][..., :-2].any(axis=-1) & (test.inputs[0][..., -2] == 0)).sum(axis=1)
    return {"sequences": len(use), "more_vectors_than_slots": int((written > slots).sum()),
            "slots_written_in_two_problems": int(reused), "usage_drops": int((np.diff(use, axis=1) < -0.1).sum())}


def test_dnc_frees_and_reuses_memory_in_repeat_copy(tmp_path):
    import os

    started = time.perf_counter()
    dnc, plan = _train("RepeatDNC", tmp_path)
    at = dnc.metrics["test"]["wrong_bits"]
    from rnndsl.train import sources as data

    test = data.load(plan.data.name, plan.data.args, base=EXAMPLES, seed=plan.seed).test
    results = os.environ.get("RNNDSL_REPRO_RESULTS")
    figure = (Path(results).parent if results else tmp_path) / "dnc-usage.png"
    counts = _usage(dnc.model, test, figure)
    lstm, _ = _train("RepeatLSTM", tmp_path)
    _record("repeat copy, 8 problems a sequence, 8 slots: DNC(64)", "wrong bits per sequence", at, "< 1",
            plan.seed, started, dnc_seconds=round(dnc.seconds, 1), figure=str(figure), **counts,
            sequence_accuracy=round(dnc.metrics["test"]["sequence_accuracy"], 4),
            lstm_64=round(lstm.metrics["test"]["wrong_bits"], 3),
            lstm_64_sequences=round(lstm.metrics["test"]["sequence_accuracy"], 4), lstm_seconds=round(lstm.seconds, 1))
    assert at < 1
    # the memory is smaller than all some sequences write: slots are freed and written again
    assert counts["more_vectors_than_slots"] > 0
    assert counts["usage_drops"] > 0 and counts["slots_written_in_two_problems"] > 0
