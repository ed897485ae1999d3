"""Write docs/gallery.md and docs/gallery/NAME.svg: every architecture of the standard library,
with its spec, its diagram and its paper.

    python docs/gallery.py        # what `make gallery` runs

The page is generated, never edited by hand. Each spec shown is the cell's (or network's)
own source text, cut out of its file by the span the parser gives its definition, so the
page cannot drift from the specs; each diagram is the folded drawing that
`rnndsl render FILE --cell NAME` makes, through the Python API. What this file owns is the
words: the sections, a sentence or two on each architecture, and the papers.

`markdown()` builds the page's text without drawing anything (tests/test_docs.py checks
the committed page against it); `write_diagrams()` draws the SVG files. Both are
deterministic: two runs write the same bytes.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "gallery.md"
IMAGES = ROOT / "docs" / "gallery"  # the page links them as gallery/NAME.svg

# Cells of specs/std left out of the gallery, each with the reason. tests/test_docs.py
# checks that every other cell of the standard library has a section here.
EXCLUDED: dict = {}


# ---------------------------------------------------------------- papers

def _doi(doi: str) -> str:
    return f"[doi:{doi}](https://doi.org/{doi})"


def _arxiv(number: str) -> str:
    return f"[arXiv:{number}](https://arxiv.org/abs/{number})"


PAPERS = {
    "williams1989": "Williams, R. J., & Zipser, D. (1989). A learning algorithm for continually running "
                    "fully recurrent neural networks. *Neural Computation*, 1(2), 270–280. "
                    + _doi("10.1162/neco.1989.1.2.270"),
    "elman1990": "Elman, J. L. (1990). Finding structure in time. *Cognitive Science*, 14(2), 179–211. "
                 + _doi("10.1207/s15516709cog1402_1"),
    "jordan1986": "Jordan, M. I. (1986). *Serial order: A parallel distributed processing approach* "
                  "(ICS Report 8604). Institute for Cognitive Science, University of California, San Diego.",
    "hochreiter1997": "Hochreiter, S., & Schmidhuber, J. (1997). Long short-term memory. "
                      "*Neural Computation*, 9(8), 1735–1780. " + _doi("10.1162/neco.1997.9.8.1735"),
    "gers2000forget": "Gers, F. A., Schmidhuber, J., & Cummins, F. (2000). Learning to forget: Continual "
                      "prediction with LSTM. *Neural Computation*, 12(10), 2451–2471. "
                      + _doi("10.1162/089976600300015015"),
    "jozefowicz2015": "Jozefowicz, R., Zaremba, W., & Sutskever, I. (2015). An empirical exploration of "
                      "recurrent network architectures. In *Proceedings of the 32nd International Conference "
                      "on Machine Learning (ICML)*, PMLR 37, 2342–2350. (The forget-gate bias of 1.)",
    "gers2000peephole": "Gers, F. A., & Schmidhuber, J. (2000). Recurrent nets that time and count. In "
                        "*Proceedings of the IEEE-INNS-ENNS International Joint Conference on Neural "
                        "Networks (IJCNN 2000)*, vol. 3, 189–194.",
    "greff2017": "Greff, K., Srivastava, R. K., Koutník, J., Steunebrink, B. R., & Schmidhuber, J. (2017). "
                 "LSTM: A search space odyssey. *IEEE Transactions on Neural Networks and Learning Systems*, "
                 "28(10), 2222–2232. " + _doi("10.1109/TNNLS.2016.2582924"),
    "cho2014": "Cho, K., van Merriënboer, B., Gulcehre, C., Bahdanau, D., Bougares, F., Schwenk, H., & "
               "Bengio, Y. (2014). Learning phrase representations using RNN encoder–decoder for statistical "
               "machine translation. In *Proceedings of the 2014 Conference on Empirical Methods in Natural "
               "Language Processing (EMNLP)*, 1724–1734. " + _doi("10.3115/v1/D14-1179"),
    "zhou2016": "Zhou, G.-B., Wu, J., Zhang, C.-L., & Zhou, Z.-H. (2016). Minimal gated unit for recurrent "
                "neural networks. *International Journal of Automation and Computing*, 13(3), 226–234. "
                + _doi("10.1007/s11633-016-1006-2"),
    "dey2017": "Dey, R., & Salem, F. M. (2017). Gate-variants of gated recurrent unit (GRU) neural networks. "
               "In *IEEE 60th International Midwest Symposium on Circuits and Systems (MWSCAS 2017)*, "
               "1597–1600. " + _arxiv("1701.05923"),
    "li2018": "Li, S., Li, W., Cook, C., Zhu, C., & Gao, Y. (2018). Independently recurrent neural network "
              "(IndRNN): Building a longer and deeper RNN. In *Proceedings of the IEEE Conference on "
              "Computer Vision and Pattern Recognition (CVPR)*, 5457–5466. " + _arxiv("1803.04831"),
    "koutnik2014": "Koutník, J., Greff, K., Gomez, F., & Schmidhuber, J. (2014). A clockwork RNN. In "
                   "*Proceedings of the 31st International Conference on Machine Learning (ICML)*. "
                   + _arxiv("1402.3511"),
    "chung2017": "Chung, J., Ahn, S., & Bengio, Y. (2017). Hierarchical multiscale recurrent neural networks. In "
                 "*International Conference on Learning Representations (ICLR)*. " + _arxiv("1609.01704"),
    "giles1992": "Giles, C. L., Miller, C. B., Chen, D., Chen, H. H., Sun, G. Z., & Lee, Y. C. (1992). "
                 "Learning and extracting finite state automata with second-order recurrent neural networks. "
                 "*Neural Computation*, 4(3), 393–405. " + _doi("10.1162/neco.1992.4.3.393"),
    "beer1995": "Beer, R. D. (1995). On the dynamics of small continuous-time recurrent neural networks. "
                "*Adaptive Behavior*, 3(4), 469–509. " + _doi("10.1177/105971239500300405"),
    "yamashita2008": "Yamashita, Y., & Tani, J. (2008). Emergence of functional hierarchy in a multiple "
                     "timescale neural network model: A humanoid robot experiment. *PLoS Computational "
                     "Biology*, 4(11), e1000220. " + _doi("10.1371/journal.pcbi.1000220"),
    "jaeger2001": "Jaeger, H. (2001). *The \"echo state\" approach to analysing and training recurrent "
                  "neural networks* (GMD Report 148). German National Research Center for Information "
                  "Technology, Sankt Augustin.",
    "jaeger2007": "Jaeger, H., Lukoševičius, M., Popovici, D., & Siewert, U. (2007). Optimization and "
                  "applications of echo state networks with leaky-integrator neurons. *Neural Networks*, "
                  "20(3), 335–352. " + _doi("10.1016/j.neunet.2007.04.016"),
    "lukosevicius2012": "Lukoševičius, M. (2012). A practical guide to applying echo state networks. In "
                        "G. Montavon, G. B. Orr, & K.-R. Müller (Eds.), *Neural Networks: Tricks of the "
                        "Trade* (2nd ed., LNCS 7700, 659–686). Springer. "
                        + _doi("10.1007/978-3-642-35289-8_36"),
    "puskorius1994": "Puskorius, G. V., & Feldkamp, L. A. (1994). Neurocontrol of nonlinear dynamical "
                     "systems with Kalman filter trained recurrent networks. *IEEE Transactions on Neural "
                     "Networks*, 5(2), 279–297.",
    "hopfield1982": "Hopfield, J. J. (1982). Neural networks and physical systems with emergent collective "
                    "computational abilities. *Proceedings of the National Academy of Sciences*, 79(8), "
                    "2554–2558. " + _doi("10.1073/pnas.79.8.2554"),
    "little1974": "Little, W. A. (1974). The existence of persistent states in the brain. *Mathematical "
                  "Biosciences*, 19(1–2), 101–120. (The synchronous update.) "
                  + _doi("10.1016/0025-5564(74)90031-5"),
    "hopfield1984": "Hopfield, J. J. (1984). Neurons with graded response have collective computational "
                    "properties like those of two-state neurons. *Proceedings of the National Academy of "
                    "Sciences*, 81(10), 3088–3092. " + _doi("10.1073/pnas.81.10.3088"),
    "kosko1988": "Kosko, B. (1988). Bidirectional associative memories. *IEEE Transactions on Systems, Man, "
                 "and Cybernetics*, 18(1), 49–60. " + _doi("10.1109/21.87054"),
    "caravelli2017": "Caravelli, F., Traversa, F. L., & Di Ventra, M. (2017). The complex dynamics of "
                     "memristive circuits: Analytical results and universal slow relaxation. *Physical "
                     "Review E*, 95(2), 022140. " + _doi("10.1103/PhysRevE.95.022140"),
    "tai2015": "Tai, K. S., Socher, R., & Manning, C. D. (2015). Improved semantic representations from "
               "tree-structured long short-term memory networks. In *Proceedings of the 53rd Annual Meeting "
               "of the Association for Computational Linguistics (ACL)*, 1556–1566. "
               + _doi("10.3115/v1/P15-1150"),
    "graves2007": "Graves, A., Fernández, S., & Schmidhuber, J. (2007). Multi-dimensional recurrent neural "
                  "networks. In *Artificial Neural Networks – ICANN 2007*, LNCS 4668, 549–558. "
                  + _arxiv("0705.2011"),
    "vandenoord2016": "van den Oord, A., Kalchbrenner, N., & Kavukcuoglu, K. (2016). Pixel recurrent neural "
                      "networks. In *Proceedings of the 33rd International Conference on Machine Learning "
                      "(ICML)*, PMLR 48, 1747–1756. " + _arxiv("1601.06759"),
    "socher2011": "Socher, R., Lin, C. C.-Y., Ng, A. Y., & Manning, C. D. (2011). Parsing natural scenes and "
                  "natural language with recursive neural networks. In *Proceedings of the 28th International "
                  "Conference on Machine Learning (ICML)*, 129–136.",
    "socher2013": "Socher, R., Perelygin, A., Wu, J., Chuang, J., Manning, C. D., Ng, A. Y., & Potts, C. (2013). "
                  "Recursive deep models for semantic compositionality over a sentiment treebank. In "
                  "*Proceedings of the 2013 Conference on Empirical Methods in Natural Language Processing "
                  "(EMNLP)*, 1631–1642.",
    "graves2016": "Graves, A., Wayne, G., Reynolds, M., Harley, T., Danihelka, I., Grabska-Barwińska, A., "
                  "Colmenarejo, S. G., Grefenstette, E., Ramalho, T., Agapiou, J., Badia, A. P., Hermann, K. M., "
                  "Zwols, Y., Ostrovski, G., Cain, A., King, H., Summerfield, C., Blunsom, P., Kavukcuoglu, K., & "
                  "Hassabis, D. (2016). Hybrid computing using a neural network with dynamic external memory. "
                  "*Nature*, 538(7626), 471–476.",
    "grefenstette2015": "Grefenstette, E., Hermann, K. M., Suleyman, M., & Blunsom, P. (2015). Learning to "
                        "transduce with unbounded memory. In *Advances in Neural Information Processing Systems "
                        "28 (NIPS)*, 1828–1836.",
    "graves2014": "Graves, A., Wayne, G., & Danihelka, I. (2014). Neural Turing machines. "
                  + _arxiv("1410.5401"),
    "collier2018": "Collier, M., & Beel, J. (2018). Implementing neural Turing machines. In *Artificial "
                   "Neural Networks and Machine Learning – ICANN 2018* (LNCS 11141, 94–104). Springer. "
                   "(The memory's initial value.) " + _arxiv("1807.08518"),
}


# ---------------------------------------------------------------- the architectures

@dataclass(frozen=True)
class Entry:
    """One cell (or network) of a spec file: what it is, its papers."""

    name: str
    file: str  # relative to the repository root
    about: str
    papers: tuple


@dataclass(frozen=True)
class Section:
    title: str
    entries: tuple
    intro: str = ""  # for a section of several entries: what they share
    other: bool = False  # one of the further cells, at the end of the page


def _e(name: str, file: str, about: str, *papers: str) -> Entry:
    return Entry(name, file, about, papers)


SECTIONS = (
    Section("Fully recurrent network", (
        _e("FullyRecurrent", "specs/std/fully_recurrent.rnn",
           "Williams and Zipser's network of logistic units, each of which sees the input and the previous "
           "activity of every unit, itself included. The recurrent weights are multiplied by a fixed 0/1 "
           "mask `M` (not trained): all ones is the fully recurrent network, and a mask with zeros is any "
           "sparser topology, such as the identity (each unit sees only itself) or a lower-triangular "
           "mask (no feedback from later units to earlier ones).",
           "williams1989"),
    )),
    Section("Elman network", (
        _e("Elman", "specs/std/elman.rnn",
           "The simple recurrent network: the hidden layer sees the input and a copy of its own previous "
           "value (Elman's context units). It is what Keras `SimpleRNN` computes; Elman's output layer is "
           "left to the network, e.g. a `Dense` layer.",
           "elman1990"),
    )),
    Section("Jordan network", (
        _e("Jordan", "specs/std/jordan.rnn",
           "The common simple form: the hidden layer sees the input and the network's previous output "
           "`y[t-1]`, and the output units are logistic.",
           "jordan1986"),
        _e("JordanSelf", "specs/std/jordan.rnn",
           "Jordan's network as he draws it: state units take the previous output and a fixed fraction "
           "`mu` of their own previous value, so the state is an exponentially decaying trace of past "
           "outputs. `mu = 0` is `Jordan`.",
           "jordan1986"),
    ), intro="The context fed back to the hidden layer is the network's previous output, not its hidden "
             "state."),
    Section("Long short-term memory (LSTM)", (
        _e("LSTM", "specs/std/lstm.rnn",
           "The LSTM with input, forget and output gates, the forget gate being that of Gers et al. (2000), "
           "in the form Keras `LSTM` computes (it lowers to Keras's fused layer). The forget bias starts "
           "at 1.",
           "hochreiter1997", "gers2000forget", "jozefowicz2015"),
        _e("PeepholeLSTM", "specs/std/lstm_variants.rnn",
           "The gates also see the memory cell through element-wise peephole weights: the input and forget "
           "gates the previous cell state, the output gate the new one. This is the \"vanilla\" LSTM of "
           "Greff et al.",
           "gers2000peephole", "greff2017"),
        _e("CoupledLSTM", "specs/std/lstm_variants.rnn",
           "Coupled input and forget gate (CIFG): there is no forget gate of its own, `f = 1 - i`, so the "
           "cell forgets exactly as much as it writes. The input and output gates keep their peepholes.",
           "greff2017"),
    ), intro="A memory cell `c` carried from step to step by additive updates, and multiplicative gates that "
             "decide what is written to it, what it keeps and what is read out of it."),
    Section("Gated recurrent unit (GRU)", (
        _e("GRU", "specs/std/gru.rnn",
           "The reset-after form that Keras `GRU` (its default, the cuDNN form) and PyTorch compute: the "
           "reset gate multiplies the recurrent product `U_h h[t-1] + bh_h`, and the input and recurrent "
           "terms have separate biases. It lowers to Keras's fused layer.",
           "cho2014"),
        _e("GRUResetBefore", "specs/std/gru_variants.rnn",
           "Cho et al.'s own form: the reset gate multiplies `h[t-1]` before the recurrent product, with one "
           "bias per gate, as Keras `GRU` with `reset_after=False` computes it.",
           "cho2014"),
        _e("MGU", "specs/std/gru_variants.rnn",
           "The minimal gated unit: a single forget gate `f` both resets the previous state in the "
           "candidate and weighs the candidate against the old state in the update.",
           "zhou2016"),
        _e("GRU1", "specs/std/gru_variants.rnn",
           "Dey and Salem's first variant: the update and reset gates are computed from the previous state "
           "and a bias only, not from the input.",
           "dey2017"),
        _e("GRU2", "specs/std/gru_variants.rnn",
           "The second variant: the gates see the previous state only, with no bias.",
           "dey2017"),
        _e("GRU3", "specs/std/gru_variants.rnn",
           "The third variant: each gate is the sigmoid of its bias alone, a trained constant per unit that "
           "sees neither the input nor the state.",
           "dey2017"),
    ), intro="Two gates, update `z` and reset `r`, and no separate memory cell: the new state interpolates "
             "between the old state and a candidate computed from the input and the reset old state. "
             "`GRU` and `GRUResetBefore` keep the old state where `z` is near 1; `MGU`'s gate `f` and the "
             "`z` of Dey and Salem's variants take the candidate where they are near 1, as their papers "
             "write it."),
    Section("Independently recurrent network (IndRNN)", (
        _e("IndRNN", "specs/std/indrnn.rnn",
           "Each unit sees the whole input but only its own previous value: the recurrent weight is a vector "
           "applied element-wise, the activation is ReLU, and the recurrent weights are kept within a bound "
           "so that gradients do not explode over long sequences.",
           "li2018"),
        _e("DeepIndRNN", "examples/deep_indrnn.rnn",
           "The residual IndRNN that Li et al. use for character-level language modelling, the network of "
           "`examples/deep_indrnn.rnn`: an IndRNN layer, two residual blocks of two normalized IndRNN layers "
           "with identity shortcuts, and a softmax over the next character. Layer normalization stands in "
           "for the paper's batch normalization. The diagram is wide: open it on its own to read it.",
           "li2018"),
    ), intro="Independent units, so that networks can be deep and sequences long."),
    Section("Clockwork RNN", (
        _e("Clockwork", "specs/std/clockwork.rnn",
           "The hidden units are split into modules with periods 1, 2, 4, …; a module is computed only at the "
           "steps its period divides (`when mod(t, period[t]) == 0`) and holds its value at the others. A "
           "unit hears its own module and the slower ones: the recurrent matrix is masked to blocks above "
           "the diagonal. The periods and the mask are computed from `arange` and the step's number `t`.",
           "koutnik2014"),
    ), intro="Modules that run at different rates, so that slow ones keep what happened long ago."),
    Section("Hierarchical multiscale LSTM", (
        _e("HMLSTM", "specs/std/hmlstm.rnn",
           "Two LSTM layers, each with a boundary detector that decides, 0 or 1, whether its segment ended. "
           "A layer flushes its memory to the one above after its own boundary, updates when the layer below "
           "ends a segment, and otherwise copies its state unchanged, so the top layer runs at the rate of "
           "the segments it learns. The detector's step is trained by the straight-through estimator "
           "(`binarize`).",
           "chung2017"),
    ), intro="Time scales that the network learns from the data rather than fixed periods."),
    Section("Second-order recurrent network", (
        _e("SecondOrder", "specs/std/second_order.rnn",
           "The weights are a tensor over unit × previous state unit × input unit, and each unit's net input "
           "is a sum of products `h_j[t-1] x_k[t]`: the input selects the state-transition matrix, as a "
           "symbol selects the transitions of a finite-state automaton. Written with `einsum`.",
           "giles1992"),
    )),
    Section("Continuous-time recurrent network (CTRNN)", (
        _e("CTRNN", "specs/std/ctrnn.rnn",
           "Each unit's activation relaxes, with its own time constant `tau`, towards the weighted, squashed "
           "activity of all units plus its input: `tau dy/dt = -y + W sigmoid(y - theta) + W_in I`. One "
           "sequence step advances time by `dt` with a fourth-order Runge-Kutta step (`solver rk4`).",
           "beer1995"),
        _e("CTRNNEuler", "specs/std/ctrnn.rnn",
           "The same equation and parameters, integrated by forward Euler steps (`solver euler(step=dt)`), "
           "as Beer's own simulations were: first-order accurate, so `dt` stays well below the smallest `tau`.",
           "beer1995"),
    )),
    Section("Multiple timescale recurrent network (MTRNN)", (
        _e("MTRNN", "specs/std/mtrnn.rnn",
           "Two groups of leaky-integrator units, fast (time constant 5) and slow (70). The input reaches "
           "the fast units only and the slow units talk only to the fast ones and to themselves, so that "
           "slow context units come to drive sequences of fast primitives.",
           "yamashita2008"),
    )),
    Section("Echo state network (ESN)", (
        _e("ESN", "specs/std/esn.rnn",
           "The reservoir alone, with leaky-integrator units: a fixed dense input matrix and a fixed sparse "
           "recurrent matrix scaled to a given spectral radius. Nothing in the cell is trained; a readout "
           "is trained on its states.",
           "jaeger2001", "jaeger2007"),
        _e("ESNReadout", "specs/std/esn.rnn",
           "The reservoir with its linear readout from the input and the state, `y = W_out [x; h] + b_out`, "
           "fitted in closed form by ridge regression (`fit ridge`).",
           "jaeger2001", "lukosevicius2012"),
    ), intro="Reservoir computing: a fixed random recurrent network, and a trained linear readout."),
    Section("Recurrent multilayer perceptron (RMLP)", (
        _e("RMLP", "specs/std/rmlp.rnn",
           "A multilayer perceptron whose hidden layers each feed back into themselves one step later: two "
           "such tanh layers, each seeing the layer below at this step and its own previous value, and a "
           "linear output layer.",
           "puskorius1994"),
    )),
    Section("Hopfield network", (
        _e("Hopfield", "specs/std/hopfield.rnn",
           "An associative memory of binary ±1 units with symmetric weights stored by Hebb's rule "
           "(`fit hebbian`). A unit takes the sign of its field at the steps its schedule `update` marks, "
           "all at once (synchronous) or one at a time (asynchronous), and recall runs from a probe to a "
           "fixed point of the energy: a stored pattern, or a spurious one.",
           "hopfield1982", "little1974"),
    )),
    Section("Continuous Hopfield network", (
        _e("ContinuousHopfield", "specs/std/hopfield.rnn",
           "Hopfield's graded-response units, `du/dt = -u + W V + I` with `V = tanh(gain u)`: with symmetric "
           "weights an energy decreases along the flow to a fixed point. Stepped with Euler's method "
           "(`solver euler(dt)`).",
           "hopfield1984"),
    )),
    Section("Bidirectional associative memory (BAM)", (
        _e("BAM", "specs/std/hopfield.rnn",
           "Two layers of bipolar units linked by one matrix `W` one way and its transpose the other. Pairs "
           "are stored by Hebb's rule, and recall passes a probe back and forth between the layers until "
           "it settles on a stored pair. The cell has no input: it runs from its initial state.",
           "kosko1988"),
    )),
    Section("Memristive network", (
        _e("Memristive", "specs/std/memristive.rnn",
           "A circuit of memristors as a continuous-time cell: the devices' memories evolve under the "
           "Caravelli-Traversa-Di Ventra equation, driven by voltage sources that the input sets. The "
           "language has no matrix inverse, so the cell is that equation to first order in the "
           "nonlinearity `xi`.",
           "caravelli2017"),
    )),
    Section("Tree-LSTM", (
        _e("ChildSumTreeLSTM", "specs/std/treelstm.rnn",
           "An LSTM over the nodes of a tree instead of time steps (`over tree`): a node's gates see its "
           "input and the sum of its children's hidden states, and each child's memory cell has a forget "
           "gate of its own.",
           "tai2015"),
        _e("BinaryTreeLSTM", "specs/std/treelstm.rnn",
           "The N-ary Tree-LSTM for binary trees (`over tree(2)`): the left and right child each reach the "
           "gates through weights of their own, `concat(h[k] for k in children(n))`, and each has its own "
           "forget gate, read by position as `c[child(n, 0)]`.",
           "tai2015"),
    ), intro="Two ways for a node to read its children: summed, for any number; by position, for two.",
        other=True),
    Section("Grid LSTMs", (
        _e("MDLSTM", "specs/std/grid.rnn",
           "An LSTM over the positions of an image (`over grid`): a position's gates see its input and the "
           "hidden states above and to the left, `h[i-1, j]` and `h[i, j-1]`, and each of those two "
           "neighbours' memory cells has a forget gate of its own.",
           "graves2007"),
        _e("RowLSTM", "specs/std/grid.rnn",
           "A row at a time from the row above: the state-to-state part a convolution of width 3 over the "
           "previous row (`h[i-1, j-1]`, `h[i-1, j]`, `h[i-1, j+1]`), the input-to-state part one along the "
           "row masked to the pixel and its left neighbour.",
           "vandenoord2016"),
        _e("DiagonalLSTM", "specs/std/grid.rnn",
           "One direction of the Diagonal BiLSTM, unskewed: the neighbours above and to the left reach the "
           "gates, the left one's memory cell is carried; computed a diagonal at a time.",
           "vandenoord2016"),
    ), intro="Cells over the positions of a grid, scanned row by row; reads at earlier positions are labelled "
             "with the position.", other=True),
    Section("Recursive neural networks", (
        _e("RecursiveNN", "specs/std/recursive.rnn",
           "A leaf is its word's vector; an inner node applies one layer to its two children's vectors side "
           "by side (`where(leaf(n), x[n], ...)`).",
           "socher2011"),
        _e("RNTN", "specs/std/recursive.rnn",
           "The recursive neural tensor network: the composition adds a bilinear form of the children's pair, "
           "one slice of a tensor per unit, written with `einsum`.",
           "socher2013"),
    ), intro="Compositions over binary trees, as in sentiment treebanks.", other=True),
    Section("Neural Turing machine (NTM)", (
        _e("NTM", "specs/std/ntm.rnn",
           "A tanh controller with one read-write head on a matrix-valued memory `M`: the head addresses "
           "the memory by content (cosine similarity), interpolates with its previous weighting, shifts "
           "it circularly and sharpens it, then erases, adds and reads.",
           "graves2014", "collier2018"),
        _e("NTMLSTM", "specs/std/ntm.rnn",
           "An LSTM controller with a write head and a read head, each addressing the memory with its own "
           "weighting: content, interpolation, circular shift and sharpening; the write head erases and adds, "
           "then the read head reads.",
           "graves2014", "collier2018"),
    ), other=True),
    Section("Differentiable neural computer (DNC)", (
        _e("DNC", "specs/std/dnc.rnn",
           "An LSTM controller with a memory it writes where usage is lowest (the allocation, by sorting the "
           "usage) or by content, and reads by content or by following the order in which it wrote (the "
           "temporal link matrix, forward and backward).",
           "graves2016"),
    ), other=True),
    Section("Neural stack and queue", (
        _e("NeuralStack", "specs/std/stack.rnn",
           "An LSTM controller that pushes a value with a strength and pops with another: the strengths of "
           "the rows above a slot, `cumsum(s, exclusive=true, reverse=true)`, decide what a pop removes and "
           "what a read sees; the memory is a matrix state of fixed size, written at the step's slot.",
           "grefenstette2015"),
        _e("NeuralQueue", "specs/std/stack.rnn",
           "The same with the rows read and removed from the front: the running sums go the other way.",
           "grefenstette2015"),
    ), other=True),
)


# ---------------------------------------------------------------- the page

def _program(programs: dict, file: str):
    """The checked Program of `file` (relative to the root), loaded once into `programs`."""
    if file not in programs:
        import rnndsl

        programs[file] = rnndsl.load(ROOT / file)
    return programs[file]


def source_text(program, file: str, name: str) -> str:
    """The definition of cell or network `name` in `file`, as written: its lines, docstring included."""
    for item in program.module.items:
        if getattr(getattr(item, "name", None), "id", None) == name:
            span = item.span
            break
    else:
        raise LookupError(f"{file} defines no cell or network `{name}`")
    lines = (ROOT / file).read_text(encoding="utf-8").splitlines()
    if span.column != 1 or span.end_column != len(lines[span.end_line - 1]) + 1:
        raise ValueError(f"{file}:{span.line}: `{name}` does not start and end on lines of its own")
    return "\n".join(lines[span.line - 1:span.end_line])


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return text.replace(" ", "-")


def image(name: str) -> str:
    return f"gallery/{name}.svg"


def entries() -> list:
    return [e for s in SECTIONS for e in s.entries]


def _toc(sections) -> list:
    out = []
    for s in sections:
        line = f"- [{s.title}](#{slug(s.title)})"
        if len(s.entries) > 1:
            line += ": " + ", ".join(f"[{e.name}](#{slug(e.name)})" for e in s.entries)
        out.append(line)
    return out


def _entry(e: Entry, program, heading: Optional[str]) -> list:
    out = []
    if heading:
        out += [f"{heading} {e.name}", ""]
    out += [e.about, ""]
    out += [("Paper:" if len(e.papers) == 1 else "Papers:"), ""]
    out += [f"- {PAPERS[p]}" for p in e.papers] + [""]
    kind = "cell" if e.name in program.cells else "network"
    out += [f"From [`{e.file}`](../{e.file}):", ""]
    out += ["```rnn", source_text(program, e.file, e.name), "```", ""]
    out += [f"![The {kind} {e.name}{', folded' if kind == 'cell' else ''}]({image(e.name)})", ""]
    return out


def markdown(programs: Optional[dict] = None) -> str:
    """The text of docs/gallery.md (loads the specs; draws nothing)."""
    programs = {} if programs is None else programs
    main = [s for s in SECTIONS if not s.other]
    other = [s for s in SECTIONS if s.other]
    out = [
        "# Gallery",
        "",
        "*This page is generated by `make gallery` (`docs/gallery.py`) from the spec files: do not edit "
        "it by hand.*",
        "",
        "Every architecture of the standard library (`specs/std/`), each with its spec, its diagram and "
        "its paper. The spec is the cell's own text, docstring included, cut out of its file; the diagram "
        "is the cell folded, one step of its equations, as `rnndsl render FILE --cell NAME -o NAME.svg` "
        "draws it (the one network, from `examples/`, as `--network NAME` draws it).",
        "",
        "Reading a diagram: inputs are blue ellipses; named values, the equations' results, are bold "
        "ellipses with their shape; states have a double border; outputs are red, with an `output` "
        "marker. Operations are small circles (`+ − ⊙ ÷ · σ`) or boxes (`tanh`, `softmax`, ...); "
        "parameters, hyperparameters and constants are small grey text beside the operation that reads "
        "them, with their shape. A read one step back, `h[t-1]`, is a dashed blue edge labelled `z⁻¹`; "
        "the definition of a continuous state (`d/dt y = ...`) is labelled `∫`; a tree cell's read of a "
        "child is a dashed purple edge labelled `children`.",
        "",
        "## Contents",
        "",
        *_toc(main),
        f"- [Other cells of the standard library](#{slug('Other cells of the standard library')})",
        *["  " + line for line in _toc(other)],
        "",
    ]
    anchors = [slug(s.title) for s in SECTIONS] + [slug(e.name) for s in SECTIONS if len(s.entries) > 1
                                                   for e in s.entries]
    anchors.append(slug("Other cells of the standard library"))
    if len(anchors) != len(set(anchors)):
        raise ValueError("two headings of the page would share an anchor")
    for s in main + [None] + other:
        if s is None:
            out += ["## Other cells of the standard library", "",
                    "Two more cells of `specs/std/`: a recursive cell over the nodes of a tree, and a "
                    "controller with a matrix-valued memory.", ""]
            continue
        level = "###" if s.other else "##"
        out += [f"{level} {s.title}", ""]
        if len(s.entries) == 1:
            e = s.entries[0]
            out += _entry(e, _program(programs, e.file), None)
            continue
        if s.intro:
            out += [s.intro, ""]
        for e in s.entries:
            out += _entry(e, _program(programs, e.file), level + "#")
    return "\n".join(out).rstrip("\n") + "\n"


# ---------------------------------------------------------------- the diagrams

# Graphviz writes its version into every SVG; left out, so that the files do not change
# with the Graphviz that drew them.
_GENERATOR = re.compile(r"<!-- Generated by graphviz version .*?-->\n", flags=re.S)


def diagram(program, name: str) -> str:
    """The SVG text of `name` folded, as `rnndsl render FILE --cell NAME` (or `--network NAME`) draws it."""
    return _GENERATOR.sub("", program.render(name, format="svg"))


def write_diagrams(programs: Optional[dict] = None) -> list:
    """Draw every entry to docs/gallery/NAME.svg and remove SVG files no entry draws. Returns the paths."""
    programs = {} if programs is None else programs
    IMAGES.mkdir(parents=True, exist_ok=True)
    written = []
    for e in entries():
        path = IMAGES / f"{e.name}.svg"
        path.write_text(diagram(_program(programs, e.file), e.name), encoding="utf-8", newline="\n")
        written.append(path)
    for stale in sorted(set(IMAGES.glob("*.svg")) - set(written)):
        stale.unlink()
    return written


def main() -> int:
    programs: dict = {}
    PAGE.write_text(markdown(programs), encoding="utf-8", newline="\n")
    written = write_diagrams(programs)
    print(f"wrote {PAGE.relative_to(ROOT)} and {len(written)} diagrams in {IMAGES.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
