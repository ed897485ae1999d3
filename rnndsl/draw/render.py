"""render: typed IR -> Graphviz drawings (folded cells, unrolled cells, networks), and their files.

The drawings' entry points; each is a `graphviz.Digraph` built from a typed graph:

- `render_cell(G)`: the cell folded, one step of its equations (rnndsl.draw.folded);
- `render_cell(G, unroll=K)`: K steps left to right, one cluster per step, values only
  (rnndsl.draw.unrolled);
- `render_network(G, graphs, expand)`: a box per layer application, typed edges; an
  expanded layer is a cluster holding its cell's folded drawing (rnndsl.draw.network).

Each drawing comes in two styles. The drawings decide what is drawn: the nodes, clusters
and edges, and the constraints that keep them in order. How each of them looks is the
style's: `style="default"` (`Default`, rnndsl.draw.default) is for the screen, with colour,
shapes beside the names and the docstring as a caption; `style="paper"` (rnndsl.draw.paper)
is drawn for a publication. A style is an object with a method per thing drawn (`Default`
lists them); the drawings call them and never ask which style they have.

`output(dot, path, format)` lays a drawing out with Graphviz's `dot` and writes it (SVG,
PDF, PNG, the DOT text, or TikZ for a `.tex`: rnndsl.draw.tikz writes the picture from
Graphviz's layout). The output of a spec is the same bytes from run to run: the DOT text
is built in the graphs' order, and the one field that varies, the creation date cairo
writes into a PDF, is rewritten (see `_stable_pdf`). A `dot` that is missing or fails is a
one-line `UsageError` (`LayoutError`), as are an unknown format and an unknown style.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Optional

import graphviz

from ..lang.errors import LayoutError, UsageError, did_you_mean
from .default import Default
from .folded import draw_folded
from .network import draw_network
from .paper import Paper
from .tikz import from_layout
from .unrolled import draw_unrolled

FORMATS = ("svg", "pdf", "png", "dot", "tex")
STYLES = ("default", "paper")


# ---------------------------------------------------------------- drawings


def check_style(style) -> str:
    """`style`, one of STYLES; any other is a UsageError that names them (and the closest)."""
    if style not in STYLES:
        hint = "".join(f"; {h}" for h in did_you_mean(str(style), STYLES))
        raise UsageError(f"unknown style `{style}`: use one of {', '.join(STYLES)}{hint}")
    return style


def _style(style):
    """The style object of the style named `style`."""
    return {"default": Default, "paper": Paper}[check_style(style)]()


def render_cell(G, unroll: Optional[int] = None, style: str = "default") -> graphviz.Digraph:
    """The cell of graph `G` folded (one step of its equations), or unrolled over `unroll` steps,
    in `style` ("default" or "paper"; any other is a UsageError)."""
    look = _style(style)
    if unroll is not None:
        return draw_unrolled(G, unroll, look)
    return draw_folded(G, look)


def render_network(G, graphs: dict, expand=(), style: str = "default") -> graphviz.Digraph:
    """The network of graph `G`: its layers, typed edges; the layers in `expand` opened; in `style`
    ("default" or "paper"; any other is a UsageError)."""
    return draw_network(G, graphs, expand, _style(style))


# ---------------------------------------------------------------- output


def _missing_dot() -> UsageError:
    return UsageError("Graphviz's `dot` is not installed: install Graphviz (e.g. `apt install graphviz` "
                      "or `brew install graphviz`), or write the DOT text with a `.dot` output")


def _dot_failed(e: subprocess.CalledProcessError) -> LayoutError:
    lines = [line.strip() for line in (e.stderr or b"").decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    # dot may print warnings and dumps around its error: the first `Error:` line says what failed
    first = next((line for line in lines if line.lower().startswith("error")), lines[0] if lines else "")
    first = first.split(":", 1)[1].strip() if first.lower().startswith("error:") else first
    first = first.removeprefix("<stdin>:").strip()  # the DOT text is piped in: no file to name
    status = f"exit status {e.returncode}" if e.returncode >= 0 else f"killed by signal {-e.returncode}"
    return LayoutError(f"Graphviz's `dot` could not lay the drawing out ({status}): "
                       + (first or "it gave no reason")
                       + "; a .dot output writes the drawing's DOT text without laying it out")


def _layout(dot: graphviz.Digraph, fmt: str) -> bytes:
    """The drawing laid out by `dot` in format `fmt` (svg, pdf, png, json): the same bytes for the
    same DOT text."""
    env = dict(os.environ)
    if fmt == "pdf":
        env["TZ"] = "UTC"  # cairo writes the date in local time: in UTC, its text has one length
    try:
        # quiet: dot's messages are not shown as they come (a failed layout can print
        # hundreds of lines); the first error of a failure is put into the diagnostic
        done = subprocess.run(["dot", f"-T{fmt}"], input=dot.source.encode("utf-8"), capture_output=True,
                              check=True, env=env)
    except FileNotFoundError:
        raise _missing_dot() from None
    except subprocess.CalledProcessError as e:
        raise _dot_failed(e) from None
    return _stable_pdf(done.stdout, env.get("SOURCE_DATE_EPOCH")) if fmt == "pdf" else done.stdout


_PDF_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:(\d{14})(Z|[+-]\d\d'\d\d'?)?\)")


def _stable_pdf(data: bytes, epoch: Optional[str]) -> bytes:
    """A PDF from cairo with its dates made stable; nothing else changes.

    cairo (1.16, under Graphviz 2.43) writes the time of the run into the document information
    as `/CreationDate (D:20261201005739Z)`: the one field that differs between two runs. With
    SOURCE_DATE_EPOCH set it becomes that time (UTC); without, the entry is blanked to spaces.
    Either way the bytes keep their length, so the cross-reference table stays right.
    """
    stamp = None
    if epoch is not None and epoch.strip().isdigit():
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(int(epoch)))

    def fixed(m) -> bytes:
        old = m.group(0)
        if stamp is None:
            return b" " * len(old)
        new = b"/" + m.group(1) + b" (D:" + stamp.encode() + b"Z)"
        return new + b" " * (len(old) - len(new)) if len(new) <= len(old) else old

    return _PDF_DATE.sub(fixed, data)


def output(dot: graphviz.Digraph, path=None, format: Optional[str] = None):
    """Write or return a drawing.

    With `path`: writes the file, in the format its suffix names (or `format`),
    and returns the path. Without: returns the SVG text (format None or "svg"),
    the DOT source ("dot"), the TikZ picture ("tex", rnndsl.draw.tikz), or the PDF /
    PNG bytes.
    """
    if path is None:
        fmt = (format or "svg").lower()
        if fmt not in FORMATS:
            raise UsageError(f"unknown format `{format}`: use one of {', '.join(FORMATS)}")
        if fmt == "dot":
            return dot.source
        if fmt == "tex":
            return _tikz(dot)
        data = _layout(dot, fmt)
        return data.decode("utf-8") if fmt == "svg" else data
    p = Path(path)
    fmt = (format or p.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise UsageError(f"cannot write `{p.suffix or p.name}`: the output must end in "
                         + ", ".join(f".{f}" for f in FORMATS))
    if fmt == "dot":
        data = dot.source.encode("utf-8")
    elif fmt == "tex":
        data = _tikz(dot).encode("utf-8")
    else:
        data = _layout(dot, fmt)
    try:
        p.write_bytes(data)
    except OSError as e:
        raise UsageError(f"cannot write {p}: {e.strerror}") from None
    return path


def _tikz(dot: graphviz.Digraph) -> str:
    """The TikZ picture of a drawing: its layout by `dot` (JSON), written by rnndsl.draw.tikz."""
    return from_layout(json.loads(_layout(dot, "json").decode("utf-8")))
