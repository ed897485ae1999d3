"""tikz: a Graphviz drawing as a TikZ picture, laid out by Graphviz, labelled in LaTeX.

    graphviz.Digraph --dot -Tjson (rnndsl.draw.render)--> layout (positions, xdot drawing operations)
        --from_layout--> tikzpicture

This module writes the picture from the layout alone; running Graphviz is
rnndsl.draw.render's business (`output(dot, format="tex")`).

`dot -Tjson` gives every cluster, node and edge with the operations that draw it
(xdot: ellipses, polygons, polylines, Bézier splines, text, with the pen, fill,
dash and width before them), in PostScript points, y upwards. Each operation
becomes one TikZ path at the same coordinates (`x=1bp, y=1bp`): an edge is its
spline, `.. controls .. and ..`, and its arrowhead the polygon Graphviz computed,
so the picture is the PDF's, line for line.

Text is typeset by LaTeX. An object whose DOT attributes carry its label as LaTeX
(`texlbl`, after dot2tex's attribute, for a node's, a cluster's, the graph's or an
edge's label; `headtexlbl`, `tailtexlbl`, `xtexlbl` for an edge's head label,
tail label and xlabel: the paper style, rnndsl.draw.paper, sets them all) has that
text set where Graphviz set its own: a label of one line centred on Graphviz's
baseline; a label of several lines (LaTeX `\\\\` between them) line by line on
Graphviz's baselines, centred, or from the left for the graph's own label (the
legend). Any other text is written as text, escaped (`tex_escape`).

The picture needs `\\usepackage{tikz}`, `\\usepackage{amsmath}` where a label
uses it (`\\operatorname{softmax}`, `\\text{..}`), and `\\usepackage{bm}` where a
bold Greek letter is drawn (`\\bm{\\alpha}`); its leading comment says which. It
includes no preamble: `\\input{fig.tex}` inside a `figure`. Numbers are written
with two decimals, so the text of a layout is the same from run to run.
"""

from __future__ import annotations

import re
from typing import Optional

from .notation import tex_escape

# Font sizes (points) and the LaTeX size that is closest in a 10pt document.
_SIZES = ((5.5, "\\tiny"), (7.5, "\\scriptsize"), (8.5, "\\footnotesize"), (9.5, "\\small"),
          (11.0, "\\normalsize"), (13.0, "\\large"), (16.0, "\\Large"))
# Graphviz's dash patterns, as its SVG writes them.
_DASHES = {"dashed": "dash pattern=on 5bp off 2bp", "dotted": "dash pattern=on 1bp off 5bp"}
# Text flags of xdot's `t` operation.
_BOLD, _ITALIC, _SUPER, _SUB = 1, 2, 8, 16


def _size(points: float) -> str:
    """The LaTeX size for text Graphviz laid out at `points` in Times: Computer Modern sets about a
    tenth wider, so the size nearest nine tenths of it."""
    for limit, command in _SIZES:
        if 0.9 * points <= limit:
            return command
    return "\\LARGE"


def _n(v: float) -> str:
    text = f"{float(v):.2f}"
    return "0.00" if text == "-0.00" else text


def _pt(p) -> str:
    return f"({_n(p[0])},{_n(p[1])})"


def _color(value: str) -> Optional[str]:
    """A Graphviz colour as an xcolor colour; None for a transparent one."""
    value = value.strip().lower()
    if value in ("none", "transparent", "invis"):
        return None
    if re.fullmatch(r"#[0-9a-f]{6}([0-9a-f]{2})?", value):
        if len(value) == 9 and value[7:] == "00":
            return None
        r, g, b = (int(value[i:i + 2], 16) for i in (1, 3, 5))
        if (r, g, b) == (0, 0, 0):
            return "black"
        if (r, g, b) == (255, 255, 255):
            return "white"
        return f"{{rgb,255:red,{r};green,{g};blue,{b}}}"
    return value  # a name xcolor knows (black, white, gray, red, ...)


def _rows(tex: str) -> list:
    """The lines of a LaTeX label: split at `\\\\` outside braces."""
    rows, depth, start, i = [], 0, 0, 0
    while i < len(tex):
        c = tex[i]
        if c == "\\" and tex[i + 1:i + 2] == "\\" and depth == 0:
            rows.append(tex[start:i].strip())
            i += 2
            start = i
            continue
        if c == "\\":
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(c, 0)
        i += 1
    rows.append(tex[start:].strip())
    return rows


class _Writer:
    """Turns xdot operations into TikZ paths; collects the lines of the picture.

    `filled_bezier` is the letter of a filled Bézier spline: `b` in xdot, but Graphviz 2.43's JSON
    writer swaps `b` and `B` (see `_filled_bezier`)."""

    def __init__(self, filled_bezier: str = "b"):
        self.lines: list = []
        self.filled = {"E", "P", filled_bezier}

    # ---- shapes

    def shapes(self, ops: list) -> list:
        """Draw the operations that are not text; return the text fragments, in order:
        dicts with pt, align, width, text, size, flags and color."""
        pen, fill, dash, width = "black", None, None, 1.0
        size, flags, text_color = 14.0, 0, "black"
        fragments = []
        for op in ops or ():
            kind = op["op"]
            if kind == "c":
                pen = _color(op.get("color", "black"))
                text_color = pen
            elif kind == "C":
                fill = _color(op.get("color", "black"))
            elif kind == "S":
                style = op.get("style", "")
                m = re.fullmatch(r"setlinewidth\(([\d.]+)\)", style)
                # Graphviz 2.43 writes an HTML table's dashed border as `dashed(dotted,invis,...)`,
                # a run of its own strings after the name: the name is what counts
                style = style.split("(", 1)[0]
                if m:
                    width = float(m.group(1))
                elif style in _DASHES:
                    dash = style
                elif style == "solid":
                    dash = None
                elif style == "bold":
                    width = 2.0
            elif kind == "F":
                size, flags = float(op.get("size", 14.0)), 0
            elif kind == "t":
                flags = int(op.get("fontchar", 0))
            elif kind == "T":
                fragments.append(dict(pt=op["pt"], align=op.get("align", "c"),
                                      width=float(op.get("width", 0)), text=op.get("text", ""), size=size,
                                      flags=flags, color=text_color))
            elif kind in ("E", "e", "P", "p", "L", "B", "b"):
                filled = kind in self.filled and fill is not None
                self._path(kind, op, pen, fill if filled else None, dash, width)
        return fragments

    def _path(self, kind, op, pen, fill, dash, width) -> None:
        if pen is None and fill is None:
            return
        opts = []
        if pen is not None and pen != "black":
            opts.append(f"draw={pen}")
        if fill is not None:
            opts.append(f"fill={fill}")
        if abs(width - 1.0) > 1e-9:
            opts.append(f"line width={_n(width)}bp")
        if dash:
            opts.append(_DASHES[dash])
        command = ("\\draw" if fill is None else "\\filldraw" if pen is not None else "\\fill")
        options = f"[{', '.join(opts)}]" if opts else ""
        if kind in ("E", "e"):
            cx, cy, rx, ry = op["rect"]
            path = f"{_pt((cx, cy))} ellipse [x radius={_n(rx)}bp, y radius={_n(ry)}bp]"
        elif kind in ("P", "p"):
            path = " -- ".join(_pt(p) for p in op["points"]) + " -- cycle"
        elif kind == "L":
            path = " -- ".join(_pt(p) for p in op["points"])
        else:  # a Bézier spline: a start point, then three points per segment
            pts = op["points"]
            path = _pt(pts[0]) + "".join(
                f" .. controls {_pt(pts[i])} and {_pt(pts[i + 1])} .. {_pt(pts[i + 2])}"
                for i in range(1, len(pts) - 2, 3))
            if fill is not None:
                path += " -- cycle"
        self.lines.append(f"  {command}{options} {path};")

    # ---- text

    def text(self, fragments: list) -> None:
        """Text without a LaTeX label: each fragment where Graphviz set it."""
        for f in fragments:
            if not f["text"].strip():
                continue
            anchor = {"l": "base west", "r": "base east"}.get(f["align"], "base")
            font = _size(f["size"]) + ("\\bfseries" if f["flags"] & _BOLD else "") \
                + ("\\itshape" if f["flags"] & _ITALIC else "")
            color = f", text={f['color']}" if f["color"] not in (None, "black") else ""
            self.lines.append(f"  \\node[anchor={anchor}, inner sep=0pt, font={font}{color}] "
                              f"at {_pt(f['pt'])} {{{tex_escape(f['text'])}}};")

    def label(self, tex: str, fragments: list, center, left: bool = False, size: float = 14.0) -> None:
        """A LaTeX label set where Graphviz set its text (see the module's docstring)."""
        rows = _rows(tex)
        lines = _baselines(fragments)
        if lines and len(lines) == len(rows):
            for row, (y, x0, x1, row_size) in zip(rows, lines):
                at = (x0, y) if left else ((x0 + x1) / 2, y)
                anchor = "base west" if left else "base"
                self.lines.append(f"  \\node[anchor={anchor}, inner sep=0pt, font={_size(row_size)}] "
                                  f"at {_pt(at)} {{{row}}};")
            return
        if center is None:
            return
        if fragments:
            size = fragments[0]["size"]
        align = ", align=center" if len(rows) > 1 else ""
        self.lines.append(f"  \\node[inner sep=0pt, font={_size(size)}{align}] at {_pt(center)} {{{tex}}};")


def _baselines(fragments: list) -> list:
    """The lines of a label's text, top to bottom: (baseline, left, right, point size). A subscript or
    superscript is on the line of the text before it."""
    lines: list = []
    for f in fragments:
        x, y = f["pt"]
        left = x - (f["width"] / 2 if f["align"] == "c" else f["width"] if f["align"] == "r" else 0)
        right = left + f["width"]
        if f["flags"] & (_SUB | _SUPER) and lines:
            line = lines[-1]
            line[1], line[2] = min(line[1], left), max(line[2], right)
            continue
        for line in lines:
            if abs(line[0] - y) < 0.5:
                line[1], line[2] = min(line[1], left), max(line[2], right)
                break
        else:
            lines.append([y, left, right, f["size"]])
    return [tuple(line) for line in sorted(lines, key=lambda line: -line[0])]


def _filled_bezier(layout: dict) -> str:
    """The letter of a filled Bézier spline in this layout. An edge's spline is never filled: where
    edges are drawn with `b` (Graphviz 2.43's JSON), `B` is the filled one."""
    for edge in layout.get("edges", []):
        for op in edge.get("_draw_", ()):
            if op["op"] in ("b", "B"):
                return "B" if op["op"] == "b" else "b"
    return "b"


def _tex_labels(layout: dict):
    """Every LaTeX label of a layout."""
    for obj in [layout] + layout.get("objects", []) + layout.get("edges", []):
        for key, value in obj.items():
            if key.endswith("texlbl") and isinstance(value, str):
                yield value


# LaTeX packages beyond TikZ, and the commands of labels that need them.
_PACKAGES = (("amsmath", "\\operatorname, \\text",
              re.compile(r"\\(?:operatorname|text|boldsymbol|tfrac|dfrac)\b")),
             ("bm", "bold Greek letters", re.compile(r"\\bm\b")))


def _needs(labels: list) -> str:
    """What the picture needs: `\\usepackage{tikz}` and the packages its labels use, with why."""
    needs = ["\\usepackage{tikz}"] + [f"\\usepackage{{{package}}} ({why})" for package, why, command
                                       in _PACKAGES if any(command.search(tex) for tex in labels)]
    return (", ".join(needs[:-1]) + " and " + needs[-1] if len(needs) > 1 else needs[0]) + "."


def _point(text: Optional[str]):
    if not text:
        return None
    x, y = text.split(",")[:2]
    return float(x), float(y)


def from_layout(layout: dict, comment: Optional[str] = None) -> str:
    """The TikZ picture of a Graphviz layout (the parsed output of `dot -Tjson`)."""
    w = _Writer(_filled_bezier(layout))
    objects = layout.get("objects", [])
    subgraphs = objects[:layout.get("_subgraph_cnt", 0)]
    nodes = objects[layout.get("_subgraph_cnt", 0):]
    labels = list(_tex_labels(layout))

    def labelled(obj, key, pos_key, ops_key, left=False):
        fragments = w.shapes(obj.get(ops_key))
        tex = obj.get(key)
        if tex:
            w.label(tex, fragments, _point(obj.get(pos_key)), left=left,
                    size=float(obj.get("fontsize", layout.get("fontsize", 14.0)) or 14.0))
        else:
            w.text(fragments)

    def outlined(obj, pos_key):
        """A cluster or a node: its outline, then its label."""
        if not obj.get("_draw_") and not obj.get("_ldraw_"):
            return
        w.lines.append(f"  % {obj.get('name', '')}")
        w.shapes(obj.get("_draw_"))
        labelled(obj, "texlbl", pos_key, "_ldraw_")

    for sub in subgraphs:
        outlined(sub, "lp")
    for edge in layout.get("edges", []):
        tail, head = objects[edge["tail"]].get("name", ""), objects[edge["head"]].get("name", "")
        if not any(k in edge for k in ("_draw_", "_ldraw_")):
            continue
        w.lines.append(f"  % {tail} -> {head}")
        w.shapes(edge.get("_draw_"))
        w.shapes(edge.get("_hdraw_"))
        w.shapes(edge.get("_tdraw_"))
        if edge.get("label") or not edge.get("xlabel"):
            labelled(edge, "texlbl", "lp", "_ldraw_")
        else:  # an xlabel alone is drawn by _ldraw_, at xlp
            labelled(edge, "xtexlbl", "xlp", "_ldraw_")
        labelled(edge, "headtexlbl", "head_lp", "_hldraw_")
        labelled(edge, "tailtexlbl", "tail_lp", "_tldraw_")
    for node in nodes:
        outlined(node, "pos")
    if layout.get("_ldraw_"):
        w.lines.append("  % the drawing's label")
        labelled(layout, "texlbl", "lp", "_ldraw_", left=True)

    head = [f"% {comment or layout.get('name', 'drawing')}: laid out by Graphviz, written by rnndsl.draw.tikz.",
            "% Needs " + _needs(labels)]
    return "\n".join(head + ["\\begin{tikzpicture}[x=1bp, y=1bp]"] + w.lines + ["\\end{tikzpicture}", ""])
