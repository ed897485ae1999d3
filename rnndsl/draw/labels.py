"""labels: the pieces of Graphviz labels that the drawings and both styles share.

A label is either plain text or HTML-like (`<...>`, which the graphviz package passes
through unquoted); `escape` makes text safe inside the latter. `spec_text` writes an
argument's value as a spec does, for the default style's labels and a layer's call.
"""

from __future__ import annotations

import html
from typing import Optional

from ..lang import ast as A


def escape(text) -> str:
    """Text made safe for a Graphviz HTML-like label."""
    return html.escape(str(text), quote=True)


def html_label(body: str) -> str:
    """An HTML-like label (the graphviz package passes `<...>` through unquoted)."""
    return f"<{body}>"


def small(text: str, size, color: Optional[str] = None) -> str:
    """`text` (HTML-like) at point size `size`, in `color` where one is given."""
    c = f' color="{color}"' if color else ""
    return f'<font point-size="{size}"{c}>{text}</font>'


def spec_text(v) -> str:
    """An argument value as a spec writes it: `true`, `units`, `1e-3`, `"concat"`."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, A.Name):
        return v.id
    if isinstance(v, A.Number):
        return v.text or str(v.value)
    if isinstance(v, A.String):
        return f'"{v.value}"'
    if isinstance(v, float):
        return repr(v)
    return str(v)


def param_note(param) -> str:
    """What a parameter's label adds: ` fixed`, ` fit hebbian` (not trained by gradient descent).
    `param` is the parameter's record (`ParamNode`) in a cell's graph."""
    note = " fixed" if param.fixed else ""
    return note + (f" fit {param.fit.name.id}" if param.fit is not None else "")
