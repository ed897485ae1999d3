"""Training from a spec's train block: the data (sources, with containers, files, checks, generators,
transduction, readers, token_readers), the run (run, with placement, stream, bptt, callbacks, folder,
model_checks), a trained run read back (saved_run, decode), closed-form fits (fit), recall (recall),
real-time recurrent learning's exact gradients (rtrl)."""
