"""The encoder-decoder configuration (rnndsl.keras.seq2seq): its type rules, its forward pass against
a NumPy reference of Bahdanau's and Luong's equations, teacher forcing against free decoding,
scheduled sampling, beam search against exhaustive search, saving, and `rnndsl predict`."""

from __future__ import annotations

import itertools
import os
import textwrap

import numpy as np
import pytest

import rnndsl
from helpers import diagnostics

keras = pytest.importorskip("keras")

from rnndsl.keras.search import beam_search, greedy  # noqa: E402
from rnndsl.keras.seq2seq import EncoderDecoder, Stepper, decode, decoder_of  # noqa: E402

VOCAB, START, END = 7, 2, 3

SPEC = textwrap.dedent("""
    import "std/cells.rnn"

    network Copy(units: int = 8) {
        input source: seq[3]
        input target: seq[int]
        feats = Masking()(source)
        output EncoderDecoder(LSTM(units), LSTM(units), vocab=7, embed=5)(feats, target)
    }
    network Additive(units: int = 8) {
        input source: seq[3]
        input target: seq[int]
        feats = Masking()(source)
        output EncoderDecoder(LSTM(units), LSTM(units), vocab=7, embed=5, attention=bahdanau)(feats, target)
    }
    network Dot(units: int = 8) {
        input source: seq[3]
        input target: seq[int]
        feats = Masking()(source)
        output EncoderDecoder(LSTM(units), LSTM(units), vocab=7, embed=5, attention=luong_dot)(feats, target)
    }
    network General(units: int = 8) {
        input source: seq[3]
        input target: seq[int]
        feats = Masking()(source)
        output EncoderDecoder(LSTM(units), LSTM(6), vocab=7, embed=5, attention=luong_general,
                              bridge=dense)(feats, target)
    }
    network Generated(units: int = 8) {
        input source: seq[3]
        input target: seq[int]
        feats = Masking()(source)
        output EncoderDecoder(GRU(units), PeepholeLSTM(units), vocab=7, embed=5, attention=luong_general,
                              bridge=dense)(feats, target)
    }
    network Sampled(units: int = 8) {
        input source: seq[3]
        input target: seq[int]
        feats = Masking()(source)
        output EncoderDecoder(LSTM(units), LSTM(units), vocab=7, embed=5, attention=bahdanau,
                              sampling=1.0)(feats, target)
    }
""")


@pytest.fixture(scope="module")
def program():
    return rnndsl.load(SPEC)


def _batch(seed=0, batch=4, steps=5, length=6):
    """Source features (batch, steps, 3), the last rows padded (zeros) in some sequences, and
    decoder input tokens (batch, length)."""
    rng = np.random.default_rng(seed)
    source = rng.uniform(-1, 1, (batch, steps, 3)).astype("float32")
    lengths = rng.integers(2, steps + 1, batch)
    lengths[0] = steps
    for i, n in enumerate(lengths):
        source[i, n:] = 0.0
    target = rng.integers(4, VOCAB, (batch, length)).astype("int32")
    target[:, 0] = START
    return source, lengths, target


def _model(program, name, seed=0):
    keras.utils.set_random_seed(seed)
    return program.build(name)


# ---------------------------------------------------------------- a NumPy reference


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softmax(x, mask=None):
    if mask is not None:
        x = np.where(mask > 0, x, -1e9)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _lstm_step(x, h, c, rnn):
    """Hochreiter & Schmidhuber's LSTM with a forget gate, in Keras's weight layout (gates i, f, g, o)."""
    W, U, b = (np.asarray(w) for w in (rnn.cell.kernel, rnn.cell.recurrent_kernel, rnn.cell.bias))
    i, f, g, o = np.split(x @ W + h @ U + b, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


def _dense(layer, x):
    y = x @ np.asarray(layer.kernel)
    return y + np.asarray(layer.bias) if layer.use_bias else y


def _reference(layer: EncoderDecoder, source, lengths, target):
    """The teacher-forced probabilities (batch, T, vocab), from the papers' equations (seq2seq's
    module docstring): an LSTM encoder over each source's real steps, the bridge, and the decoder
    with Bahdanau's attention from s[t-1] or Luong's from s[t]."""
    batch, steps, _ = source.shape
    units = layer.encoder.cell.units
    memory = np.zeros((batch, steps, units))
    h, c = np.zeros((batch, units)), np.zeros((batch, units))
    for t in range(steps):
        hn, cn = _lstm_step(source[:, t], h, c, layer.encoder)
        real = (t < lengths)[:, None]
        h, c = np.where(real, hn, h), np.where(real, cn, c)
        memory[:, t] = h
    mask = (np.arange(steps)[None, :] < lengths[:, None]).astype(float)
    if layer.bridge == "copy":
        s, cs = h, c
    else:  # dense: tanh(W [h; c] + b) for each decoder state, in the encoder's (Keras) order h, c
        finals = np.concatenate([h, c], axis=-1)
        by_name = {name: np.tanh(_dense(d, finals)) for name, d in zip(layer.decoder_states, layer.bridge_layers)}
        s, cs = by_name["h"], by_name["c"]
    E = np.asarray(layer.embedding.embeddings)
    out = []
    for t in range(target.shape[1]):
        x = E[target[:, t]]
        if layer.attention == "bahdanau":
            keys = memory @ np.asarray(layer.attend_memory.kernel)
            scores = (np.tanh(keys + (s @ np.asarray(layer.attend_query.kernel))[:, None]) @
                      np.asarray(layer.attend_score.kernel))[..., 0]
            a = _softmax(scores, mask)
            context = np.einsum("bs,bse->be", a, memory)
            s, cs = _lstm_step(np.concatenate([x, context], -1), s, cs, layer.decoder)
            features = np.concatenate([s, context], -1)
        else:
            s, cs = _lstm_step(x, s, cs, layer.decoder)
            if layer.attention == "none":
                features = s
            else:
                query = s @ np.asarray(layer.attend_query.kernel) if layer.attention == "luong_general" else s
                a = _softmax(np.einsum("be,bse->bs", query, memory), mask)
                context = np.einsum("bs,bse->be", a, memory)
                features = np.tanh(np.concatenate([context, s], -1) @ np.asarray(layer.attend_combine.kernel))
        out.append(_softmax(_dense(layer.output_layer, features)))
    return np.stack(out, axis=1)


@pytest.mark.parametrize("network", ["Copy", "Additive", "Dot", "General"])
def test_teacher_forcing_matches_the_papers_equations(program, network):
    model = _model(program, network)
    source, lengths, target = _batch()
    got = np.asarray(model([source, target]))
    want = _reference(decoder_of(model), source.astype("float64"), lengths, target)
    np.testing.assert_allclose(got, want, atol=2e-6)


@pytest.mark.parametrize("network", ["Dot", "General", "Generated"])
def test_the_step_loop_equals_the_whole_sequence_path(program, network):
    """Without Bahdanau's attention or sampling, teacher forcing runs the decoder over the whole
    target at once; the step loop (used for decoding) gives the same values, for a fused and a
    generated decoder cell."""
    model = _model(program, network)
    layer = decoder_of(model)
    source, lengths, target = _batch(1)
    mask = keras.ops.convert_to_tensor(np.arange(source.shape[1])[None, :] < lengths[:, None])
    memory, memory_mask, states, previous = layer.encode(source, mask)
    whole = np.asarray(layer._whole(target, memory, memory_mask, states))
    loop = np.asarray(layer._loop(target, memory, memory_mask, states, previous, training=False))
    np.testing.assert_allclose(loop, whole, atol=1e-6)
    np.testing.assert_allclose(np.asarray(model([source, target])), whole, atol=1e-6)


# ---------------------------------------------------------------- teacher forcing and free decoding


def _stepper(model, source):
    layer = decoder_of(model)
    stepper = Stepper(layer)
    mask = np.any(source != 0, axis=-1)
    return stepper, stepper.init(source, mask)


def test_free_decoding_is_teacher_forcing_on_its_own_tokens(program):
    """Greedy decoding feeds back its own most probable token; teacher forcing fed those same
    tokens gives the same distributions, whose argmax are the tokens. Fed the true tokens
    instead, teacher forcing agrees at the first step and parts from the free decoding after."""
    model = _model(program, "Additive", seed=3)
    source, _, _ = _batch(2)
    stepper, carry = _stepper(model, source)
    decoded = greedy(stepper.step, carry, len(source), start=START, end=END, max_length=6)
    tokens = decoded.tokens
    fed = np.concatenate([np.full((len(source), 1), START), tokens[:, :-1]], axis=1).astype("int32")
    forced = np.asarray(model([source, fed]))
    ended = np.cumsum(tokens == END, axis=1) - (tokens == END) > 0  # steps after </s>
    np.testing.assert_array_equal(np.where(ended, 0, forced.argmax(-1)), tokens)
    chosen = np.take_along_axis(np.log(forced), tokens[..., None], -1)[..., 0]
    np.testing.assert_allclose(np.where(ended, 0, chosen).sum(1), decoded.scores, rtol=1e-5)
    other = fed.copy()
    other[:, 1:] = np.where(fed[:, 1:] == 4, 5, 4)
    forced_other = np.asarray(model([source, other]))
    np.testing.assert_allclose(forced_other[:, 0], forced[:, 0], atol=1e-7)
    assert np.abs(forced_other[:, 1:] - forced[:, 1:]).max() > 1e-3


def test_scheduled_sampling_reads_the_models_own_tokens(program):
    """With sampling = 1, training reads only drawn tokens after the first: the true target past
    `<s>` changes nothing. Outside training (and at sampling = 0) the true tokens are read."""
    model = _model(program, "Sampled", seed=4)
    layer = decoder_of(model)
    source, _, target = _batch(3)
    other = target.copy()
    other[:, 1:] = np.where(target[:, 1:] == 4, 5, 4)
    seed = np.asarray(layer.seed.state)
    first = np.asarray(model([source, target], training=True))
    layer.seed.state.assign(seed)
    second = np.asarray(model([source, other], training=True))
    np.testing.assert_allclose(first, second, atol=1e-6)
    layer.seed.state.assign(seed)
    assert np.abs(np.asarray(model([source, target])) - np.asarray(model([source, other]))).max() > 1e-3


# ---------------------------------------------------------------- beam search


def _markov(seed, vocab=4, length=4):
    """A stepper over a random table of next-token log probabilities by (step, previous token)."""
    rng = np.random.default_rng(seed)
    table = np.log(_softmax(rng.normal(0, 2, (length + 1, vocab, vocab))))

    def step(tokens, carry):
        (t,) = carry
        return table[t, tokens], (t + 1,), None

    return step


def _exhaustive(step, carry, *, vocab, start, end, max_length):
    """The most probable sequence (ending at `end`, or cut at `max_length`), by trying them all."""
    best = (-np.inf, None)
    for length in range(1, max_length + 1):
        for tokens in itertools.product(range(vocab), repeat=length):
            if end in tokens[:-1] or (length < max_length and tokens[-1] != end):
                continue
            c, score, previous = carry, 0.0, np.array([start])
            for token in tokens:
                log_probs, c, _ = step(previous, c)
                score += log_probs[0, token]
                previous = np.array([token])
            if score > best[0]:
                best = (score, tokens)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_beam_search_equals_exhaustive_search_with_a_wide_beam(seed):
    vocab, length = 4, 4
    step = _markov(seed, vocab, length)
    score, tokens = _exhaustive(step, (np.zeros(1, int),), vocab=vocab, start=0, end=1, max_length=length)
    wide = beam_search(step, (np.zeros(1, int),), 1, beam=vocab ** (length - 1), start=0, end=1, max_length=length)
    assert tuple(t for t in wide.tokens[0][:len(tokens)]) == tokens
    assert wide.scores[0] == pytest.approx(score)
    narrow = [beam_search(step, (np.zeros(1, int),), 1, beam=k, start=0, end=1, max_length=length).scores[0]
              for k in (1, 2, 3)]
    found = greedy(step, (np.zeros(1, int),), 1, start=0, end=1, max_length=length)
    assert narrow[0] == pytest.approx(found.scores[0])  # a beam of one is greedy decoding
    assert all(s <= score + 1e-9 for s in narrow)


def test_beam_search_finds_what_greedy_misses():
    """Greedy takes `a` (0.6) and then a poor continuation; the beam keeps `b` (0.4), whose
    continuation is certain: 0.4 > 0.6 * 0.5."""
    log = np.log
    table = {0: [-np.inf, -np.inf, log(0.6), log(0.4)],  # after <s> (token 0): a = 2, b = 3
             2: [-np.inf, log(0.5), log(0.5), -np.inf],  # after a: end or a
             3: [-np.inf, 0.0, -np.inf, -np.inf]}  # after b: end, surely

    def step(tokens, carry):
        return np.array([table.get(int(t), table[2]) for t in tokens]), carry, None

    found = greedy(step, (np.zeros(1),), 1, start=0, end=1, max_length=3)
    assert list(found.tokens[0][:2]) == [2, 1] or list(found.tokens[0][:1]) == [2]
    beam = beam_search(step, (np.zeros(1),), 1, beam=2, start=0, end=1, max_length=3)
    assert list(beam.tokens[0]) == [3, 1]
    assert beam.scores[0] == pytest.approx(log(0.4))


def test_beam_search_on_a_model_equals_exhaustive_search(program):
    """On an encoder-decoder with a vocabulary of 7 and 3 steps, a beam of 49 is the whole search."""
    model = _model(program, "Additive", seed=5)
    source, _, _ = _batch(4, batch=2)
    stepper, carry = _stepper(model, source)
    beam = beam_search(stepper.step, carry, 2, beam=VOCAB ** 2, start=START, end=END, max_length=3)
    for i in range(2):
        one = tuple(a[i:i + 1] for a in carry)
        score, tokens = _exhaustive(stepper.step, one, vocab=VOCAB, start=START, end=END, max_length=3)
        assert tuple(beam.tokens[i][:len(tokens)]) == tokens
        assert beam.scores[i] == pytest.approx(score, rel=1e-5)
        assert beam.alignments[i].shape[-1] == source.shape[1]


# ---------------------------------------------------------------- the model


def test_padding_changes_nothing(program):
    """The source's padded steps are masked: more padding decodes to the same tokens and weights."""
    model = _model(program, "Additive", seed=6)
    source, lengths, _ = _batch(5)
    padded = np.concatenate([source, np.zeros((len(source), 3, 3), "float32")], axis=1)
    a = decode(model, {"source": source}, beam=2, max_length=5)
    b = decode(model, {"source": padded}, beam=2, max_length=5)
    np.testing.assert_array_equal(a.tokens, b.tokens)
    np.testing.assert_allclose(b.alignments[..., :source.shape[1]], a.alignments, atol=1e-6)
    assert np.all(b.alignments[..., source.shape[1]:] == 0)
    for i, n in enumerate(lengths):
        assert np.all(a.alignments[i, :, n:] == 0)


def test_a_saved_encoder_decoder_reloads(program, tmp_path):
    model = _model(program, "General", seed=7)
    source, _, target = _batch(6)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(again([source, target])), np.asarray(model([source, target])), atol=1e-7)
    np.testing.assert_array_equal(decode(again, {"source": source}, beam=3, max_length=5).tokens,
                                  decode(model, {"source": source}, beam=3, max_length=5).tokens)


def test_decode_errors(program):
    model = _model(program, "Copy")
    with pytest.raises(rnndsl.UsageError, match=r"decoding needs the input source"):
        decode(model, {"words": np.zeros((1, 2, 3))})
    followed = SPEC.replace("(feats, target)\n}\nnetwork Additive", "(feats, target) >> Dropout(0.1)\n}\n"
                            "network Additive", 1)
    assert followed != SPEC
    after = rnndsl.load(followed)
    with pytest.raises(rnndsl.UsageError, match=r"the output of model `Copy` is not its encoder-decoder's"):
        decode(after.build("Copy"), {"source": np.zeros((1, 2, 3), "float32")})
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(rnndsl.UsageError, match=r"has no encoder-decoder to decode with"):
        decode(plain, {})


# ---------------------------------------------------------------- type rules


NET = """
import "std/cells.rnn"

network N(units: int = 8) {{
    input source: seq[int]
    input target: seq[int]
    input other: seq[4]
    words = Embedding(30, 4, mask_zero=true)(source)
    output {call}
}}
"""


@pytest.mark.parametrize("call, message", [
    ("EncoderDecoder(GRU(units), LSTM(units), vocab=9, embed=4)(words, target)",
     "`bridge=copy` starts the decoder's state `c` from the encoder's final `c`, but cell `GRU` has no "
     "state `c` (its states: h)"),
    ("EncoderDecoder(LSTM(units), LSTM(4), vocab=9, embed=4)(words, target)",
     "`bridge=copy` starts the decoder's state `c` [4] from the encoder's final `c` [units]: the sizes differ"),
    ("EncoderDecoder(LSTM(units), LSTM(4), vocab=9, embed=4, attention=luong_dot, bridge=dense)(words, target)",
     "`attention=luong_dot` scores the decoder's output against the encoder's by their dot product, but "
     "their sizes differ: seq[4] and seq[units]"),
    ("EncoderDecoder(LSTM(units), LSTM(units), vocab=9, embed=4)(words, other)",
     "`EncoderDecoder` reads the target as tokens, seq[int], found seq[4]"),
    ("EncoderDecoder(LSTM(units), LSTM(units), vocab=9, embed=4)(words, words)",
     "the target of `EncoderDecoder` is a network input: the tokens the decoder reads"),
    ("EncoderDecoder(LSTM(units), LSTM(units), vocab=9, embed=4)(words)",
     "`EncoderDecoder` takes 2 inputs (the source features and the target tokens), given 1"),
    ("EncoderDecoder(LSTM(units, returns=last), LSTM(units), vocab=9, embed=4)(words, target)",
     "the encoder of `EncoderDecoder` runs over the whole sequence"),
    ("EncoderDecoder(LSTM(units), LSTM(units), vocab=9, embed=4, sampling=1.5)(words, target)",
     "`sampling` is a probability, in [0, 1], not 1.5"),
    ("EncoderDecoder(LSTM(units), LSTM(units), vocab=9, embed=4, attention=luong)(words, target)",
     "argument `attention` of `EncoderDecoder` must be one of none, bahdanau, luong_dot, luong_general"),
    ("EncoderDecoder(LSTM(units), LSTM(units), vocab=9, embed=4)(source, target)",
     "cell `LSTM` takes float features, found seq[int]"),
])
def test_type_errors(call, message):
    assert message in diagnostics(NET.format(call=call))


def test_the_encoder_decoder_checks_and_types():
    from helpers import checked

    program = checked(NET.format(call="EncoderDecoder(GRU(units), LSTM(16), vocab=9, embed=4, attention=bahdanau, "
                                      "bridge=dense)(words, target)"))
    G = program.graphs["N"]
    (output,) = G.of_kind("output")
    assert str(G.node(output).type) == "seq[9]"


# ---------------------------------------------------------------- rnndsl train and predict

TRANSLATE = """
import "std/lstm.rnn"

network Tiny(units: int = 8) {
    input source: seq[int]
    input target: seq[int]
    words = Embedding(330, 8, mask_zero=true)(source)
    output EncoderDecoder(LSTM(units), LSTM(units), vocab=15, embed=6, attention=bahdanau, max_length=12)(words, target)
    train {
        data = dates(train=128, test=16)
        loss = cross_entropy
        epochs = 1
    }
}

network Unattended(units: int = 8) {
    input source: seq[int]
    input target: seq[int]
    words = Embedding(330, 8, mask_zero=true)(source)
    output EncoderDecoder(LSTM(units), LSTM(units), vocab=15, embed=6, max_length=12)(words, target)
    train {
        data = dates(train=64, test=16)
        loss = cross_entropy
        epochs = 1
    }
}

network Plain(units: int = 4) {
    input x: seq[2]
    output LSTM(units, returns=last)(x) >> Dense(1)
    train {
        data = adding(steps=5, train=64, test=16)
        loss = mse
        epochs = 1
    }
}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A trained encoder-decoder run, a trained plain run, and the dates' test sources as a .npz."""
    from rnndsl.train import sources as data
    from rnndsl.cli import main

    folder = tmp_path_factory.mktemp("runs")
    spec = folder / "translate.rnn"
    spec.write_text(TRANSLATE)
    for network in ("Tiny", "Unattended", "Plain"):
        assert main(["train", str(spec), "--network", network, "--out", str(folder / network)]) == 0
    test = data.load("dates", {"train": 128, "test": 16}, base=folder, seed=0).test
    np.savez(folder / "sources.npz", source=test.inputs[0])
    return folder


def test_predict_decodes_freely_and_draws_the_attention(runs, capsys):
    from rnndsl.cli import main

    out, png = runs / "out.npz", runs / "attention.png"
    assert main(["predict", str(runs / "Tiny"), "--data", str(runs / "sources.npz"), "-o", str(out),
                 "--beam", "3", "--attention", str(png), "--example", "2"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {png}: the attention of input 2" in printed
    with np.load(out) as result:
        assert set(result.files) == {"tokens", "scores", "alignments", "text"}
        tokens, alignments, text = result["tokens"], result["alignments"], result["text"]
    assert tokens.shape[0] == 16 and tokens.shape[1] <= 12
    assert alignments.shape[:2] == tokens.shape and alignments.shape[2] == 6
    assert all(set(t.split()) <= set("0123456789-") for t in text)  # characters of the target vocabulary
    real = tokens != 0
    np.testing.assert_allclose(alignments.sum(-1)[real], 1.0, rtol=1e-5)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("extra, message", [
    (["--beam", "0"], "--beam keeps at least 1 hypothesis, not 0"),
    (["--attention", "a.jpg"], "the heat map is a .png file; `a.jpg` does not end in .png"),
    (["--attention", "a.png", "--example", "99"], "--example 99 is not one of the 16 inputs"),
])
def test_predict_errors(runs, capsys, extra, message):
    from rnndsl.cli import main

    assert main(["predict", str(runs / "Tiny"), "--data", str(runs / "sources.npz"), "-o",
                 str(runs / "x.npz")] + extra) == 2
    assert message in capsys.readouterr().err


def test_predict_attention_unwritable(runs, capsys):
    from rnndsl.cli import main

    png = runs / "no" / "such" / "a.png"
    assert main(["predict", str(runs / "Tiny"), "--data", str(runs / "sources.npz"), "-o", str(runs / "w.npz"),
                 "--attention", str(png)]) == 2
    assert f"cannot write {png}: No such file or directory" in capsys.readouterr().err


def test_predict_attention_needs_attention(runs, capsys):
    from rnndsl.cli import main

    assert main(["predict", str(runs / "Unattended"), "--data", str(runs / "sources.npz"), "-o",
                 str(runs / "u.npz"), "--attention", str(runs / "u.png")]) == 2
    assert "has no attention to draw (attention=none)" in capsys.readouterr().err
    assert main(["predict", str(runs / "Unattended"), "--data", str(runs / "sources.npz"), "-o",
                 str(runs / "u.npz")]) == 0
    with np.load(runs / "u.npz") as result:
        assert set(result.files) == {"tokens", "scores", "text"}


def test_a_saved_run_decodes_in_a_fresh_process(runs):
    """Loading the model registers the encoder-decoder's Keras class: a new process that imports
    only rnndsl and keras reloads and decodes it."""
    import subprocess
    import sys

    code = ("import numpy as np, rnndsl, keras\n"
            "from rnndsl.keras.seq2seq import decode\n"
            f"model = keras.saving.load_model({str(runs / 'Tiny' / 'model.keras')!r})\n"
            f"print(decode(model, {{'source': np.load({str(runs / 'sources.npz')!r})['source']}}).tokens.shape)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().startswith("(16, ")


def test_predict_decoding_options_need_a_decoder(runs, capsys):
    from rnndsl.cli import main

    np.savez(runs / "x.npz", x=np.zeros((2, 5, 2), "float32"))
    for extra, message in ((["--beam", "2"], "--beam decodes CTC and encoder-decoder models; the model of"),
                           (["--attention", "a.png"], "--attention draws an encoder-decoder's attention; the "
                                                      "model of")):
        assert main(["predict", str(runs / "Plain"), "--data", str(runs / "x.npz"), "-o",
                     str(runs / "y.npz")] + extra) == 2
        assert message in capsys.readouterr().err


def test_predict_unreadable_data(runs, capsys):
    from rnndsl.cli import main

    bad = runs / "bad.npz"
    bad.write_text("source,target\n1,2\n")
    assert main(["predict", str(runs / "Tiny"), "--data", str(bad), "-o", str(runs / "b.npz")]) == 2
    assert f"cannot read {bad}: it is not a .npz archive (numpy.savez writes one)" in capsys.readouterr().err


def test_heat_map_draws_the_real_tokens_only(tmp_path):
    """heat_map cuts the alignment of a padded batch to the tokens it labels."""
    from rnndsl.keras.seq2seq import heat_map

    alignment = np.zeros((11, 6))
    alignment[:, 0] = 1.0
    heat_map(alignment, ["march", "23", "1994"], ["1", "9", "</s>"], tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
