"""The Keras back end: checked graphs to Keras layers and models.

The generated cell and the network builder (lower), the fused path (fused),
the loop-invariant split (optimize), encoder-decoders (seq2seq), CTC (ctc),
and loading saved models safely (saved, hook). Imports the language only.
"""
