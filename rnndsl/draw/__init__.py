"""Drawing and typesetting: diagrams (render, paper, tikz) and LaTeX (latex, notation).

Imports the language only; never TensorFlow.
"""
