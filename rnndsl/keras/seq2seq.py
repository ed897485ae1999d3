"""seq2seq: the encoder-decoder configuration, with attention, and its free decoding.

`EncoderDecoder(encoder, decoder, vocab, embed, attention=, bridge=, sampling=)(source, target)`
in a network lowers to the Keras layer `EncoderDecoder` here:

    source   (batch, S, d) float features, padded steps masked (an Embedding with mask_zero)
    target   (batch, T) int32: the tokens the decoder reads, `<s>` and then the target shifted
             right (teacher forcing)
    ->       (batch, T, vocab): the probabilities of each next token

The encoder runs over the source and gives its outputs `m` (batch, S, e), the memory that
attention reads, and its final states. The bridge starts the decoder: `copy` gives each
decoder state the encoder's final state of its name, `dense` a learned map `tanh(W s + b)` of
all of them, `none` the decoder's own initial values. At step t the decoder reads the embedded
token `y[t-1]` and, with attention, a context `c[t] = sum_j a[t, j] m[j]` (the alignment `a`
is a softmax over the source steps; padded steps weigh 0):

    bahdanau       (Bahdanau, Cho & Bengio 2015): e[t, j] = v . tanh(W_q s[t-1] + W_m m[j]), from
                   the decoder's previous output s[t-1]; the cell reads [y[t-1]; c[t]] and the
                   output layer reads [s[t]; c[t]]
    luong_dot      (Luong, Pham & Manning 2015): e[t, j] = s[t] . m[j], from the decoder's output
                   s[t] at this step; the output layer reads h~[t] = tanh(W_c [c[t]; s[t]])
    luong_general  e[t, j] = (W_a s[t]) . m[j], otherwise as luong_dot
    none           the output layer reads s[t]

and the output layer gives `softmax(W_o . + b_o)` over the target vocabulary.

Training reads the true previous token (teacher forcing). With `sampling = p` (scheduled
sampling, Bengio et al. 2015) each step instead reads, with probability p, a token drawn from
the model's own distribution at the previous step. Without attention or with Luong's, and
without sampling, the decoder runs over the whole target at once (Keras's fused layer where the
cell has one) and attention is computed for every step together; otherwise a loop runs the
steps. Both give the same values.

Inference decodes freely (`decode`): `greedy` feeds each step's most probable token back, and
`beam_search` keeps the k most probable prefixes (stopping at `</s>`); both give the alignments.
The searches are rnndsl.keras.search's, over the decoder's step run by `Stepper`.
"""

from __future__ import annotations

import contextlib
from typing import Optional

import keras
import numpy as np
from keras import ops

# The layer is keras.ops only and runs on every Keras back end; Stepper imports the back end's own
# library (TensorFlow, JAX or PyTorch) only to compile or run its step on the back end in use.

from ..lang.errors import UsageError
from . import PACKAGE
from .cell import GeneratedCell
from .search import Decoded, beam_search, greedy


NEG = -1e9  # the score of a padded source step: its alignment weight is 0


@keras.saving.register_keras_serializable(package=PACKAGE)
class EncoderDecoder(keras.layers.Layer):
    """An encoder, a bridge, a decoder with optional attention, and an output layer (module docstring).

    `encoder`: a Keras RNN layer with return_sequences and return_state; its states come out in
    the order `encoder_states` names them. `decoder`: a Keras RNN layer whose cell steps the
    decoder; its cell takes states in the order `decoder_states`. `query`: the index in
    `decoder_states` of the state that is the decoder's output (Bahdanau's s[t-1] before the
    first step), or -1 when the output is not a state (it starts at 0)."""

    def __init__(self, encoder, decoder, vocab: int, embed: int, *, encoder_states: list, decoder_states: list,
                 query: int = -1, attention: str = "none", bridge: str = "copy", sampling: float = 0.0,
                 start: int = 2, end: int = 3, max_length: int = 100, **kwargs):
        super().__init__(**kwargs)
        if isinstance(encoder, dict):
            encoder = keras.saving.deserialize_keras_object(encoder)
        if isinstance(decoder, dict):
            decoder = keras.saving.deserialize_keras_object(decoder)
        self.encoder, self.decoder = encoder, decoder
        self.vocab, self.embed = int(vocab), int(embed)
        self.encoder_states, self.decoder_states = list(encoder_states), list(decoder_states)
        self.query, self.attention, self.bridge = int(query), attention, bridge
        self.sampling, self.start, self.end, self.max_length = float(sampling), int(start), int(end), int(max_length)
        self.embedding = keras.layers.Embedding(self.vocab, self.embed, name="target_embedding")
        self.output_layer = keras.layers.Dense(self.vocab, name="output_layer")
        # scheduled sampling's draws: seeded from Keras's global seed (a run's `seed`), saved with the model
        self.seed = keras.random.SeedGenerator() if self.sampling > 0 else None
        # the cell's state shapes, in its own order, as values: a matrix state [N, W] is (N, W)
        cell = decoder.cell
        if _generated(cell):
            self.state_shapes = [shape for shape, _ in cell.state_shapes.values()]
        else:
            sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
            self.state_shapes = [(int(n),) for n in sizes]
        self.output_size = int(cell.output_size if _generated(cell) else cell.units)

    # ---- building

    def build(self, input_shapes):
        source_shape, target_shape = input_shapes
        batch = source_shape[0]
        self.encoder.build(source_shape)
        memory_size = int(self.encoder.compute_output_shape(source_shape)[0][-1])
        self.memory_size = memory_size
        self.embedding.build(target_shape)
        reads = self.embed + (memory_size if self.attention == "bahdanau" else 0)
        self.decoder.build((batch, None, reads))
        if self.bridge == "dense":
            encoder_sizes = [int(np.prod(s[1:])) for s in self.encoder.compute_output_shape(source_shape)[1:]]
            self.bridge_layers = [keras.layers.Dense(int(np.prod(shape)), activation="tanh", name=f"bridge_{name}")
                                  for name, shape in zip(self.decoder_states, self.state_shapes)]
            for layer in self.bridge_layers:
                layer.build((batch, sum(encoder_sizes)))
        out = self.output_size
        if self.attention == "bahdanau":
            self.attend_query = keras.layers.Dense(out, use_bias=False, name="attention_query")
            self.attend_query.build((batch, out))
            self.attend_memory = keras.layers.Dense(out, use_bias=False, name="attention_memory")
            self.attend_memory.build((batch, None, memory_size))
            self.attend_score = keras.layers.Dense(1, use_bias=False, name="attention_score")
            self.attend_score.build((batch, None, out))
            self.output_layer.build((batch, out + memory_size))
        elif self.attention in ("luong_dot", "luong_general"):
            if self.attention == "luong_general":
                self.attend_query = keras.layers.Dense(memory_size, use_bias=False, name="attention_general")
                self.attend_query.build((batch, out))
            self.attend_combine = keras.layers.Dense(out, activation="tanh", use_bias=False, name="attention_combine")
            self.attend_combine.build((batch, memory_size + out))
            self.output_layer.build((batch, out))
        else:
            self.output_layer.build((batch, out))
        super().build(input_shapes)

    def compute_output_shape(self, input_shapes):
        source_shape, target_shape = input_shapes
        return tuple(target_shape) + (self.vocab,)

    def compute_mask(self, inputs, mask=None):
        return None  # padded target steps weigh 0 in the loss by their sample weights

    # ---- the forward pass

    def call(self, inputs, mask=None, training=None):
        source, target = inputs
        source_mask = mask[0] if isinstance(mask, (list, tuple)) else None
        memory, memory_mask, states, previous = self.encode(source, source_mask)
        target = ops.cast(target, "int32")
        if self.attention in ("none", "luong_dot", "luong_general") and not (training and self.sampling > 0):
            return self._whole(target, memory, memory_mask, states)
        return self._loop(target, memory, memory_mask, states, previous, bool(training))

    def encode(self, source, source_mask=None):
        """(memory (batch, S, e), memory mask (batch, S) float 1/0 or None when no step is padded, the
        decoder's initial states in its cell's form, the decoder's previous output (batch, out)): what
        decoding needs of the source."""
        encoded = self.encoder(source, mask=source_mask)
        memory, finals = encoded[0], list(encoded[1:])
        batch = ops.shape(memory)[0]
        memory_mask = None if source_mask is None else ops.cast(source_mask, memory.dtype)
        if self.bridge == "copy":
            by_name = dict(zip(self.encoder_states, finals))
            values = [by_name[name] for name in self.decoder_states]
        elif self.bridge == "dense":
            flat = ops.concatenate([ops.reshape(s, (batch, -1)) for s in finals], axis=-1)
            values = [ops.reshape(layer(flat), (batch,) + tuple(shape))
                      for layer, shape in zip(self.bridge_layers, self.state_shapes)]
        else:
            values = None
        cell = self.decoder.cell
        if values is None:
            states = list(cell.get_initial_state(batch))
        elif _generated(cell):
            states = cell.flat_states(values)
        else:
            states = values
        if self.query >= 0:
            previous = ops.reshape(self._values(states)[self.query], (batch, -1))
        else:
            previous = ops.zeros((batch, self.output_size), memory.dtype)
        return memory, memory_mask, states, previous

    def _whole(self, target, memory, memory_mask, states):
        """Teacher forcing with every step at once: the decoder over the whole embedded target, then
        attention for all steps (no attention, or Luong's)."""
        initial = None if self.bridge == "none" else self._values(states)
        outputs = self.decoder(self.embedding(target), initial_state=initial)  # (batch, T, out)
        if self.attention == "none":
            return ops.softmax(self.output_layer(outputs), axis=-1)
        context, _ = self._luong(outputs, memory, memory_mask)
        return ops.softmax(self.output_layer(self.attend_combine(ops.concatenate([context, outputs], axis=-1))),
                           axis=-1)

    def _values(self, states):
        """The decoder cell's states as the RNN layer takes them as initial states."""
        cell = self.decoder.cell
        return cell.state_values(states) if _generated(cell) else states

    def _loop(self, target, memory, memory_mask, states, previous, training: bool):
        """Teacher forcing (with scheduled sampling when training) one step at a time: target (batch, T)
        int32 -> probabilities (batch, T, vocab)."""
        keys = self.attend_memory(memory) if self.attention == "bahdanau" else None
        steps = ops.shape(target)[1]
        batch = ops.shape(target)[0]
        sample = training and self.sampling > 0
        if sample:
            coins = keras.random.uniform((steps, batch), seed=self.seed) < self.sampling
            noise = -ops.log(-ops.log(keras.random.uniform((steps, batch, self.vocab), minval=1e-9, maxval=1.0,
                                                           seed=self.seed)))
        else:
            coins = ops.zeros((steps, batch), "bool")
            noise = ops.zeros((steps, batch, 1), memory.dtype)
        tokens = ops.transpose(target)  # (T, batch)
        first = tokens[0]

        def step(carry, x):
            states, previous, drawn, _ = carry
            token, coin, gumbel = x
            token = ops.where(coin, drawn, token)  # scheduled sampling: the model's own token
            logits, states, previous, _ = self.step_logits(token, states, previous, memory, memory_mask, keys)
            # a token drawn from softmax(logits) by the Gumbel-max trick (no gradient flows through it)
            drawn = ops.cast(ops.argmax(ops.stop_gradient(logits) + gumbel, axis=-1), "int32")
            carry = (list(states), previous, drawn, ops.softmax(logits, axis=-1))
            # TensorFlow's keras.ops.scan stacks outputs shaped as the carry only: the probabilities ride in it
            return carry, carry

        zeros = ops.zeros((batch, self.vocab), memory.dtype)
        # on TensorFlow `unroll` is the while loop's parallel_iterations: at tf.scan's 10 (not Keras's 1) a step's
        # output layer overlaps the next step's cell, 5-10% faster on the CPU; JAX would unroll the body 10 times
        unroll = 10 if keras.backend.backend() == "tensorflow" else 1
        _, (*_, probabilities) = ops.scan(step, (list(states), previous, first, zeros), (tokens, coins, noise),
                                          unroll=unroll)
        return ops.transpose(probabilities, (1, 0, 2))

    def step_logits(self, token, states, previous, memory, memory_mask, keys=None):
        """One decoder step: token (batch,) int32 -> (logits (batch, vocab), new states, the output
        (batch, out), the alignment (batch, S) or None)."""
        inputs = self.embedding(token)
        alignment = None
        if self.attention == "bahdanau":
            if keys is None:
                keys = self.attend_memory(memory)
            context, alignment = self._bahdanau(previous, keys, memory, memory_mask)
            inputs = ops.concatenate([inputs, context], axis=-1)
        output, states = self._cell_step(inputs, states)
        if self.attention == "bahdanau":
            features = ops.concatenate([output, context], axis=-1)
        elif self.attention in ("luong_dot", "luong_general"):
            context, alignment = self._luong(output[:, None, :], memory, memory_mask)
            context, alignment = context[:, 0], alignment[:, 0]
            features = self.attend_combine(ops.concatenate([context, output], axis=-1))
        else:
            features = output
        return self.output_layer(features), states, output, alignment

    def _cell_step(self, inputs, states):
        cell = self.decoder.cell
        if _generated(cell):  # its input-only work, which its RNN layer hoists out of the loop
            inputs = cell.plan.precompute(cell, inputs[:, None, :])[:, 0]
        output, states = cell(inputs, list(states))
        return output, list(states)

    def _bahdanau(self, previous, keys, memory, memory_mask):
        """e[j] = v . tanh(W_q s[t-1] + W_m m[j]): (context (batch, e), alignment (batch, S))."""
        scores = self.attend_score(ops.tanh(keys + self.attend_query(previous)[:, None, :]))[..., 0]
        alignment = _masked_softmax(scores, memory_mask)
        return ops.einsum("bs,bse->be", alignment, memory), alignment

    def _luong(self, outputs, memory, memory_mask):
        """e[t, j] = s[t] . m[j] (dot) or (W_a s[t]) . m[j] (general), for outputs (batch, T, out):
        (contexts (batch, T, e), alignments (batch, T, S))."""
        queries = self.attend_query(outputs) if self.attention == "luong_general" else outputs
        scores = ops.matmul(queries, ops.transpose(memory, (0, 2, 1)))
        alignment = _masked_softmax(scores, None if memory_mask is None else memory_mask[:, None, :])
        return ops.matmul(alignment, memory), alignment

    def get_config(self):
        config = super().get_config()
        config.update({
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "vocab": self.vocab, "embed": self.embed, "encoder_states": self.encoder_states,
            "decoder_states": self.decoder_states, "query": self.query, "attention": self.attention,
            "bridge": self.bridge, "sampling": self.sampling, "start": self.start, "end": self.end,
            "max_length": self.max_length})
        return config


def _generated(cell) -> bool:
    """Whether a decoder cell is rnndsl's generated cell (else a Keras cell, of a fused layer)."""
    return isinstance(cell, GeneratedCell)


def _masked_softmax(scores, mask):
    """Softmax over the last axis, padded steps (mask 0) left out; no mask: every step counts."""
    if mask is None:
        return ops.softmax(scores, axis=-1)
    return ops.softmax(ops.where(mask > 0, scores, NEG), axis=-1)


def lower_encoder_decoder(lowering, app, inputs: list, name: str):
    """The Keras layer of `EncoderDecoder(...)` in a network, applied to its (source, target) tensors:
    source (batch, S, d), target (batch, T) int -> (batch, T, vocab). `lowering` is the network's
    (rnndsl.keras.network.Lowering): it gives the encoder's and the decoder's recurrent layers and the
    values of the arguments."""
    args = app.args
    value = lowering.argument
    encoder_ref, decoder_ref = args["encoder"], args["decoder"]
    source, target = inputs
    encoder, encoder_states = lowering.recurrent_layer(
        encoder_ref.cell, {k: value(v) for k, v in encoder_ref.args.items()}, input_dim=source.shape[-1],
        name=f"{name}_encoder", return_state=True)
    embed = value(args["embed"])
    reads = embed + (int(encoder.compute_output_shape(tuple(source.shape))[0][-1])
                     if args["attention"] == "bahdanau" else 0)
    decoder, decoder_states = lowering.recurrent_layer(
        decoder_ref.cell, {k: value(v) for k, v in decoder_ref.args.items()}, input_dim=reads,
        name=f"{name}_decoder")
    output = lowering.program.graphs[decoder_ref.cell].header.outputs[0]
    layer = EncoderDecoder(encoder, decoder, value(args["vocab"]), embed, encoder_states=list(encoder_states),
                           decoder_states=list(decoder_states),
                           query=decoder_states.index(output) if output in decoder_states else -1,
                           attention=args["attention"], bridge=args["bridge"],
                           sampling=float(value(args["sampling"])), start=value(args["start"]),
                           end=value(args["end"]), max_length=value(args["max_length"]), name=name)
    return layer([source, target])


# ---------------------------------------------------------------- free decoding


class Stepper:
    """The decoder of a model run one step at a time on NumPy arrays, for free decoding.

    `init(source)` encodes a batch of source features (and its mask); `step(tokens, carry)` gives
    (log probabilities (n, vocab), the new carry, alignments (n, S) or None) for n rows, each row
    one hypothesis, its carry holding its own decoder states and its source's memory.

    The step is compiled where the back end does it cheaply: tf.function on TensorFlow, jax.jit on
    JAX (the weights passed in, read through a StatelessScope, so the compiled step never holds stale
    ones); PyTorch runs it eagerly, without recording gradients."""

    def __init__(self, layer: EncoderDecoder):
        self.layer = layer
        backend = keras.backend.backend()
        self._step, self._context = self._step_graph, contextlib.nullcontext  # eager (PyTorch, any other)
        if backend == "tensorflow":
            import tensorflow as tf

            self._step = tf.function(self._step_graph, reduce_retracing=True)
        elif backend == "jax":
            import jax

            compiled = jax.jit(self._stateless_step)
            variables = layer.variables
            self._step = lambda tokens, carry: compiled([v.value for v in variables], tokens, carry)
        elif backend == "torch":  # inference only: autograd's bookkeeping is wasted work
            import torch

            self._context = torch.no_grad

    def init(self, source, source_mask=None) -> tuple:
        with self._context():
            memory, memory_mask, states, previous = self.layer.encode(source, source_mask)
            if memory_mask is None:  # the carry holds arrays only: no padding is a mask of ones
                memory_mask = np.ones(tuple(memory.shape)[:2], "float32")
            keys = self.layer.attend_memory(memory) if self.layer.attention == "bahdanau" else memory
        return tuple(ops.convert_to_numpy(a) for a in [memory, memory_mask, keys, previous] + list(states))

    def step(self, tokens: np.ndarray, carry: tuple):
        with self._context():
            logits, carry, alignment = self._step(np.asarray(tokens, "int32"), tuple(carry))
        logits = ops.convert_to_numpy(logits)
        carry = tuple(ops.convert_to_numpy(a) for a in carry)
        alignment = None if alignment is None else ops.convert_to_numpy(alignment)
        return logits - _logsumexp(logits), carry, alignment

    def _step_graph(self, tokens, carry):
        tokens = ops.convert_to_tensor(tokens)
        memory, memory_mask, keys, previous, *states = (ops.convert_to_tensor(a) for a in carry)
        logits, states, previous, alignment = self.layer.step_logits(
            tokens, states, previous, memory, memory_mask, keys if self.layer.attention == "bahdanau" else None)
        return logits, (memory, memory_mask, keys, previous, *states), alignment

    def _stateless_step(self, values, tokens, carry):
        """The step with the layer's variables read from `values` (JAX's jit traces pure functions)."""
        with keras.StatelessScope(state_mapping=list(zip(self.layer.variables, values))):
            return self._step_graph(tokens, carry)


def _logsumexp(x: np.ndarray) -> np.ndarray:
    top = x.max(axis=-1, keepdims=True)
    return top + np.log(np.exp(x - top).sum(axis=-1, keepdims=True))


# ---------------------------------------------------------------- a model's decoder


def decoder_of(model) -> Optional[EncoderDecoder]:
    """The model's EncoderDecoder layer, when its output is one's; else None."""
    for layer in model.layers:
        if isinstance(layer, EncoderDecoder):
            return layer
    return None


def decode(model, arrays: dict, *, beam: int = 1, max_length: Optional[int] = None) -> Decoded:
    """Decode freely for each source of `arrays` ({input name: array}; the target input, the
    decoder's teacher-forcing tokens, is not needed): greedy with `beam=1`, else beam search."""
    layer = decoder_of(model)
    if layer is None:
        raise UsageError(f"model `{model.name}` has no encoder-decoder to decode with")
    if model.outputs[0] is not layer.output:
        raise UsageError(f"the output of model `{model.name}` is not its encoder-decoder's: "
                         "free decoding gives the encoder-decoder's tokens")
    source_tensor = layer.input[0]
    source_inputs = _source_inputs(model, layer)
    missing = [t.name for t in source_inputs if t.name not in arrays]
    if missing:
        raise UsageError(f"decoding needs the input{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    encoder_side = keras.Model(source_inputs, source_tensor)
    given = [np.asarray(arrays[t.name]) for t in source_inputs]
    source = encoder_side(given)
    source_mask = getattr(source, "_keras_mask", None)
    if source_mask is None:
        source_mask = _mask_of(encoder_side, given)
    stepper = Stepper(layer)
    carry = stepper.init(source, source_mask)
    batch = int(source.shape[0])
    length = max_length or layer.max_length
    if beam <= 1:
        return greedy(stepper.step, carry, batch, start=layer.start, end=layer.end, max_length=length)
    return beam_search(stepper.step, carry, batch, beam=beam, start=layer.start, end=layer.end, max_length=length)


def _source_inputs(model, layer: EncoderDecoder) -> list:
    """The model's inputs that the encoder reads: all but the target tokens."""
    return [t for t in model.inputs if t is not layer.input[1]]


def source_names(model) -> list:
    """The names of the inputs free decoding needs: the encoder's, not the decoder's target."""
    return [t.name for t in _source_inputs(model, decoder_of(model))]


def _mask_of(encoder_side, given):
    """The padding mask the source features carry (an Embedding with mask_zero), or None."""
    source_tensor = encoder_side.outputs[0]
    mask = getattr(source_tensor, "_keras_mask", None)
    if mask is None:
        return None
    return keras.Model(encoder_side.inputs, mask)(given)


def decoded_arrays(decoded: Decoded, target_vocabulary=None) -> dict:
    """What `rnndsl predict` saves of free decoding: `tokens`, `scores`, `alignments` (with
    attention) and, given the target vocabulary, `text`: each sequence's tokens to `</s>`,
    joined by spaces."""
    result = {"tokens": decoded.tokens, "scores": decoded.scores}
    if decoded.alignments is not None:
        result["alignments"] = decoded.alignments.astype("float32")
    if target_vocabulary is not None:
        result["text"] = np.array([" ".join(target_vocabulary.decode(row, strip=True)) for row in decoded.tokens])
    return result


def heat_map(alignment: np.ndarray, source_tokens: list, target_tokens: list, path) -> None:
    """Save one sequence's attention as a PNG heat map: a row per target token (the token the
    decoder gave at that step), a column per source token, darker where it attends more.

    alignment: (steps, source steps), each row summing to 1; cut to (len(target_tokens),
    len(source_tokens)), the tokens drawn (padding left out)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    from matplotlib import pyplot

    alignment = np.asarray(alignment)[:len(target_tokens), :len(source_tokens)]
    rows, columns = alignment.shape
    figure, axes = pyplot.subplots(figsize=(1.0 + 0.45 * columns, 1.0 + 0.4 * rows), dpi=100)
    axes.imshow(alignment, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(columns), source_tokens, rotation=60, ha="right")
    axes.set_yticks(range(rows), target_tokens)
    axes.set_xlabel("source")
    axes.set_ylabel("output")
    figure.tight_layout()
    try:
        figure.savefig(path, format="png")
    finally:
        pyplot.close(figure)
