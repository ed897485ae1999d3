"""Training from a spec's train block: data (data), the run (run), closed-form fits (fit), recall (recall)."""
