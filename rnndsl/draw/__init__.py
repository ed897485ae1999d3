"""Drawing and typesetting: diagrams and LaTeX.

Diagrams: render (the entry points and the Graphviz output) draws with folded, unrolled and
network, in the default or paper style; tikz writes a laid-out drawing as a TikZ picture; labels
holds the label pieces they share. LaTeX: latex writes a cell's equations or a network's data
flow; notation is how names, operations and functions are written in both.

Imports the language only; never TensorFlow.
"""
