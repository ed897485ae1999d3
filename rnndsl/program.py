"""The driver: a spec file or text to a checked `Program`, and the Python API's objects.

The passes themselves run in `rnndsl.lang.pipeline`; this module reads files, wraps the
result, and reaches the back ends (Keras, drawing) on request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

from .lang import specfiles
from .lang.errors import SpecErrors, UsageError
from .lang.pipeline import check_text
from .lang.bound import BoundProgram
from .lang.ir import CellIR, NetworkIR


def compile_text(text: str, file: str = "<string>", base_dir: Optional[Path] = None, *,
                 search_path: Sequence = (), finder=None):
    """Run every pass over `text` (`rnndsl.lang.pipeline.check_text`). Returns (Program or None, every diagnostic)."""
    checked, errors = check_text(text, file, base_dir, search_path=search_path, finder=finder)
    if checked is None:
        return None, errors
    return Program(checked.bound, checked.graphs, checked.module, checked.warnings), errors


def check_file(path: Union[str, os.PathLike], *, search_path: Sequence = ()):
    """Compile the spec file at `path`: (Program or None, diagnostics). Raises UsageError."""
    p = Path(path)
    text = specfiles.read_spec(p)
    return compile_text(text, specfiles.display_path(p), p.resolve().parent, search_path=search_path)


def load(source: Union[str, os.PathLike], *, path: Sequence = ()) -> "Program":
    """A checked Program from a `.rnn` file's path or from spec text.

    A string that contains a newline or a `{` is spec text (its imports are looked for
    from the current folder); anything else is a path. `path` lists folders to search
    for imports after the standard library (as `--path` does; RNNDSL_PATH's follow).
    Raises `SpecErrors` with every diagnostic when the spec has errors.
    """
    if isinstance(source, str) and ("\n" in source or "{" in source):
        program, errors = compile_text(source, base_dir=Path.cwd(), search_path=path)
    else:
        program, errors = check_file(source, search_path=path)
    if errors:
        raise SpecErrors(errors)
    return program


# ---------------------------------------------------------------- API objects


@dataclass
class _Checked:
    """What a checked cell and a checked network share: the name, the graph, the program, the doc
    comment, and the SVG drawing that Jupyter shows."""

    name: str
    graph: CellIR | NetworkIR
    program: "Program"

    @property
    def doc(self) -> Optional[str]:
        return self.graph.header.doc

    def _repr_svg_(self) -> str:
        return self.render(format="svg")


class Cell(_Checked):
    """A checked cell: its graph, and its signature (shapes of inputs, params, states, outputs)."""

    @property
    def signature(self) -> dict:
        """{"inputs": {name: shape}, "params": ..., "states": ..., "outputs": ...}."""
        return self.graph.signature.as_dict()

    @property
    def states(self) -> list:
        return list(self.graph.header.states)

    def render(self, path=None, *, unroll: Optional[int] = None, format: Optional[str] = None,
               style: str = "default"):
        from .draw.render import render_cell, output

        return output(render_cell(self.graph, unroll=unroll, style=style), path, format)

    def latex(self, standalone: bool = False) -> str:
        """The cell's equations as a LaTeX `align` block and its `where` sentence (`rnndsl latex`)."""
        from .draw import latex

        return _latex_text("cell", self.name, self.graph.header.file, latex.cell_latex(self.graph), standalone)

    def _repr_latex_(self) -> str:
        """The equations in an `aligned` block, as Jupyter's MathJax shows them."""
        from .draw import latex

        return "$$" + latex.cell_equations(self.graph, env="aligned") + "$$"


def _latex_text(kind: str, name: str, file: str, body: str, standalone: bool) -> str:
    from .draw import latex

    return latex.document(body, title=name) if standalone else latex.header(kind, name, file) + body


class Network(_Checked):
    """A checked network: its graph, every edge typed."""

    def render(self, path=None, *, expand=(), format: Optional[str] = None, style: str = "default"):
        from .draw.render import render_network, output

        return output(render_network(self.graph, self.program.graphs, expand=expand, style=style), path, format)

    def latex(self, standalone: bool = False) -> str:
        """The network's data flow as a LaTeX `align` block of its bindings (`rnndsl latex`)."""
        from .draw import latex

        return _latex_text("network", self.name, self.graph.header.file, latex.network_latex(self.graph), standalone)

    def _repr_latex_(self) -> Optional[str]:
        """The bindings in an `aligned` block; None (no LaTeX to show) for a network that binds nothing."""
        from .draw import latex

        block = latex.network_equations(self.graph, env="aligned")
        return f"$${block}$$" if block else None


class Program:
    """The checked cells and networks of a spec file and of the files it imports: their graphs
    (`graph`), drawn (`render`, `latex`), lowered to Keras (`build`), a network trained as its
    `train` block says (`train`), its trained run evaluated and asked for predictions (`evaluate`,
    `predict`), and what `rnndsl check --explain` prints (`explain`)."""

    def __init__(self, bound: BoundProgram, graphs: dict, module, warnings: Sequence = ()):
        self.bound = bound
        self.warnings = list(warnings)  # SpecWarnings about the text (rnndsl.lang.lint), in source order
        self.graphs = graphs
        self.module = module
        self.file = bound.file
        self.doc = bound.doc
        self.cells = {n: Cell(n, graphs[n], self) for n in bound.cells}
        self.networks = {n: Network(n, graphs[n], self) for n in bound.networks}

    def __repr__(self) -> str:
        return f"<Program {self.file}: cells {sorted(self.cells)}, networks {sorted(self.networks)}>"

    @property
    def main(self) -> list:
        """The names defined in the file itself (not its imports), in source order."""
        names = [n for n in self.bound.main_names if n in self.graphs]
        return names

    def __getitem__(self, name: str) -> Union[Cell, Network]:
        if name in self.cells:
            return self.cells[name]
        if name in self.networks:
            return self.networks[name]
        raise KeyError(name)

    def graph(self, name: str) -> CellIR | NetworkIR:
        """The NetworkX graph of the cell or network `name`."""
        try:
            return self.graphs[name]
        except KeyError:
            from .lang.errors import did_you_mean

            raise UsageError(f"no cell or network named `{name}`"
                             + "".join(f"; {n}" for n in did_you_mean(name, self.graphs))) from None

    def render(self, name: Optional[str] = None, path=None, *, unroll=None, expand=(), format=None,
               style: str = "default"):
        """Draw a cell (folded, or unrolled over `unroll` steps) or a network.

        With `path`, writes the file (its suffix picks the format: svg, pdf, png, dot, tex)
        and returns the path; else returns the SVG text (the DOT source for "dot", the TikZ
        picture for "tex"). `style="paper"` draws a figure for a publication (rnndsl.draw.paper).
        """
        name = name or self.default_name()
        self.graph(name)
        item = self[name]
        if isinstance(item, Cell):
            return item.render(path, unroll=unroll, format=format, style=style)
        return item.render(path, expand=expand, format=format, style=style)

    def default_name(self) -> str:
        main = self.main
        nets = [n for n in main if n in self.networks]
        if nets:
            return nets[0]
        if main:
            return main[0]
        if self.graphs:
            return next(iter(self.graphs))
        raise UsageError("the spec defines no cell or network")

    def _repr_svg_(self) -> str:
        return self.render(format="svg")

    def _repr_latex_(self) -> Optional[str]:
        return self[self.default_name()]._repr_latex_()

    def latex(self, name: Optional[str] = None, standalone: bool = False) -> str:
        """The LaTeX of cell or network `name` (the default one when None): see `Cell.latex`, `Network.latex`."""
        name = name or self.default_name()
        self.graph(name)
        return self[name].latex(standalone=standalone)

    def build(self, name: Optional[str] = None, *, input_size: Optional[int] = None, fused: bool = True,
              **hyperparameters):
        """The `keras.Model` of network or cell `name`, its hyperparameters set by keyword (imports TensorFlow).

        A cell alone is a model from its inputs, side by side, `(batch, T, input_size)` to its outputs at every
        step (`rnndsl.keras.network.lower_cell`). Cells on the fused path lower to Keras's LSTM / GRU / SimpleRNN unless
        `fused=False`.
        """
        from .keras.network import lower

        return lower(self, name or self.default_name(), input_size=input_size, fused=fused, **hyperparameters).model

    def layer(self, name: Optional[str] = None, *, input_size: Optional[int] = None, fused: bool = True,
              return_sequences: bool = True, **hyperparameters):
        """A Keras layer of cell or network `name` (the default one when None), its hyperparameters set by
        keyword, to call on one's own tensors or put in one's own model (imports TensorFlow).

        A cell's layer runs it over sequences, `(batch, T, input_size)` -> its first output at every step
        `(batch, T, size)`, or at the last alone without `return_sequences`: Keras's own LSTM / GRU /
        SimpleRNN where the cell is exactly one of them (unless `fused=False`), else a generated layer
        (rnndsl.keras.cell.GeneratedRNN) whose weights carry the spec's names. `input_size` may be left out
        where the hyperparameters fix it. A network's layer is its model (`build`): a `keras.Model` is a
        layer, with the network's inputs and outputs.
        """
        name = name or self.default_name()
        self.graph(name)
        if name in self.networks:
            if input_size is not None or not return_sequences:
                raise UsageError(f"`{name}` is a network: its inputs and outputs are declared; input_size and "
                                 "return_sequences are for a cell")
            return self.build(name, fused=fused, **hyperparameters)
        from .keras.network import cell_layer

        return cell_layer(self, name, input_size=input_size, fused=fused, return_sequences=return_sequences,
                          **hyperparameters)

    def cell(self, name: Optional[str] = None, *, input_size: Optional[int] = None, **hyperparameters):
        """A Keras RNN cell of cell `name` (the default one when None) to put in `keras.layers.RNN`, its
        hyperparameters set by keyword (imports TensorFlow): one step, inputs `(batch, input_size)`, the
        states flat `(batch, size)` each in the spec's order, the first output `(batch, size)`
        (rnndsl.keras.cell.GeneratedCell). Its step reads the inputs as they are: the work that `layer`
        moves before the loop stays in it."""
        name = name or self.default_name()
        self.graph(name)
        if name not in self.cells:
            raise UsageError(f"`{name}` is a network, not a cell: `layer` gives a network's layer")
        from .keras.network import rnn_cell

        return rnn_cell(self, name, input_size=input_size, **hyperparameters)

    def train(self, name: Optional[str] = None, *, values: Optional[dict] = None, out=None,
              epochs: Optional[int] = None, resume: bool = False, verbose: Optional[int] = None,
              mixed_precision: bool = False, jit_compile: Optional[bool] = None):
        """Train network `name` (the default one when None) as its `train` block says, as `rnndsl train`
        does (imports TensorFlow): `rnndsl.train.run.run`. Returns its `TrainResult`: the trained model,
        the final metrics by split, the epochs and seconds it took, and the run's folder.

        `values` sets hyperparameters by name (the block's defaults are the network's); `out` is the
        run's folder (default runs/NAME), which `rnndsl evaluate` and `rnndsl predict` read back
        (rnndsl.train.saved_run); `epochs` overrides the block's; `resume` continues the run in `out`
        from its last checkpoint; `verbose` is Keras's (default: a progress bar on a terminal);
        `mixed_precision` computes in float16 (Keras's `mixed_float16`), `jit_compile` compiles the training
        step with XLA or not (None: as rnndsl judges it pays).
        """
        name = self._network(name)
        from .train.run import run

        return run(self, name, values=values, out=self._run_folder(name, out), epochs=epochs, resume=resume,
                   verbose=verbose, mixed_precision=mixed_precision, jit_compile=jit_compile)

    def evaluate(self, name: Optional[str] = None, *, out=None, split: str = "test") -> dict:
        """The loss and metrics of network `name`'s trained run on a split ("train", "validation" or
        "test") of the run's own data, as `rnndsl evaluate` prints them: {metric: value}. The run is
        the folder `out` (default runs/NAME) that `train` wrote (imports TensorFlow)."""
        from .train.saved_run import evaluate

        return evaluate(self._saved_run(name, out), split)

    def predict(self, arrays: dict, name: Optional[str] = None, *, out=None, beam: int = 1) -> dict:
        """What network `name`'s trained run (in `out`, default runs/NAME) gives for `arrays` ({input
        name: array}; one array under any name for a single input), as `rnndsl predict` saves it:
        {"outputs": ...}, a CTC model's `labels` (by beam search keeping `beam` hypotheses where
        `beam` > 1), an encoder-decoder's decoded `tokens` and `scores` (imports TensorFlow)."""
        from .train.saved_run import predictions

        result, _ = predictions(self._saved_run(name, out), arrays, beam=beam)
        return result

    def _network(self, name: Optional[str]) -> str:
        name = name or self.default_name()
        if name not in self.networks:
            raise UsageError(f"`{name}` is not a network: only a network has a `train` block")
        return name

    @staticmethod
    def _run_folder(name: str, out) -> Path:
        return Path(out) if out is not None else Path("runs") / name

    def _saved_run(self, name: Optional[str], out):
        """The trained run of network `name` in `out`: a UsageError where it is another network's."""
        from .train.saved_run import open_run

        name = self._network(name)
        saved = open_run(self._run_folder(name, out))
        if saved.record.get("network") != name:
            raise UsageError(f"the run in {saved.out} trained network `{saved.record.get('network')}`, "
                             f"not `{name}`")
        return saved

    def explain(self) -> str:
        """What `rnndsl check --explain` prints: states, parameter shapes, network edge types."""
        from .explain import explain

        return explain(self)
