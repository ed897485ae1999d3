"""The language: from spec text to checked graphs.

Parsing (parse, with lark_grammar, tokens, syntax_errors and ast_builder;
specfiles, ast), name resolution (resolve, with imports, resolve_cell,
cell_equations, cell_constants, resolve_network, network_layers, checks,
notation and training; its result in bound), the built-in names (builtins,
layers), the graph of a cell or network (graph), shape inference (infer, with
infer_cell, shape_rules, unify, dtypes, infer_network; dims, limits),
causality, diagnostics (errors), the passes in order (pipeline), and the tools
that read specs as text (fmt, lexer). Nothing here imports another stage of
rnndsl, nor TensorFlow.
"""
