"""The language: from spec text to checked graphs.

Parsing (parse, specfiles, ast), name resolution (resolve, training), the
built-in names (builtins, layers), the graph of a cell or network (graph),
shape inference (infer, dims, limits), causality, diagnostics (errors), and
the tools that read specs as text (fmt, lexer). Nothing here imports another
stage of rnndsl, nor TensorFlow.
"""
