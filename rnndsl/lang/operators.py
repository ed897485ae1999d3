"""The operators of the language: how a spec writes them, and their op names in a cell's graph.

`a @ b` is the op "matmul", `a ** b` is "pow" (the built-in function `pow` too), `a < b` is "lt".
Unary minus is "neg"; a value defined as another is "copy".
"""

# A spec's binary operators -> their op names in the graph (rnndsl.lang.graph).
BINARY_OPERATORS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "@": "matmul", "**": "pow",
                    "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
# Op names -> the operators a spec writes for them (in diagnostics, LaTeX and diagrams).
OP_SYMBOLS = {v: k for k, v in BINARY_OPERATORS.items()}
