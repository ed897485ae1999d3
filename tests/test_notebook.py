"""docs/notebook.ipynb runs in a Jupyter kernel (nbclient), and its rich displays come out: a cell's diagram
as SVG and its equations as LaTeX, a model built and trained."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def test_the_example_notebook_runs_with_its_rich_displays(tmp_path):
    notebook = nbformat.read(ROOT / "docs" / "notebook.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")  # kept without outputs
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in notebook.cells if c.cell_type == "code"]
    shown = [{kind for out in c.outputs for kind in out.get("data", {})} for c in code]
    assert all(out.output_type != "error" for c in code for out in c.outputs)
    assert {"image/svg+xml", "text/latex"} <= shown[1], shown[1]  # prog["MGU"]: its diagram and its equations
    assert "<svg" in next(o for o in code[1].outputs if "data" in o).data["image/svg+xml"]
    assert "\\sigma" in next(o for o in code[2].outputs if "data" in o).data["text/latex"]
    printed = "".join(o.get("text", "") for o in code[4].outputs)
    assert printed.startswith("test MSE ") and "after 3 epochs" in printed, printed
    assert "(the sum is 0.75)" in "".join(o.get("text", "") for o in code[5].outputs)
