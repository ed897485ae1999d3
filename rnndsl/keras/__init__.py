"""The Keras back end: checked graphs to Keras layers and models.

The network builder (network), its layers (layers), the generated cell (cell)
and the interpreter of a cell's graph that it runs (interpret), initializers
and constraints (initializers), the fused path (fused, fused_layer), the
loop-invariant split (optimize), encoder-decoders (seq2seq, search), CTC (ctc),
and loading saved models safely (saved, hook). Imports the language only.
"""

# The package every Keras class and function of rnndsl is registered under (`rnndsl>GeneratedCell`):
# saved models name them so, and load only while these names stay.
PACKAGE = "rnndsl"
