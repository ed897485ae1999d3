# rnndsl: `make demo` and `make test` work on a fresh machine.
# They create .venv, install the package with its dev extras, and install
# Graphviz's `dot` with apt-get when it is missing; `make test` also installs
# TeX Live's pdflatex with TikZ and minted, and poppler-utils, the same way (the
# tests compile `rnndsl latex --standalone`, TikZ figures and docs/papers.md's
# example paper, and read the PDFs).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RNNDSL := $(VENV)/bin/rnndsl
STAMP  := $(VENV)/.installed
OUT    := out
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup dot tex test repro demo bench fuzz gallery fmt-check clean

# compileall: the environment may set PYTHONDONTWRITEBYTECODE, and an editable
# install has no bytecode of its own; `check` should start fast all the same.
setup: $(STAMP) dot
	@$(PY) -m compileall -q rnndsl

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

dot:
	@command -v dot >/dev/null 2>&1 || { \
		echo "installing Graphviz (dot) with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq graphviz >/dev/null; }

tex:
	@{ command -v pdflatex && command -v pdftoppm && kpsewhich tikz.sty minted.sty; } >/dev/null 2>&1 || { \
		echo "installing TeX Live (pdflatex, TikZ, minted) and poppler-utils with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends texlive-latex-base texlive-pictures texlive-latex-extra \
			poppler-utils >/dev/null; }

# Two workers (pytest-xdist), one a core of the 2-core CI machine: 9 minutes instead of 14.
test: setup tex
	$(PY) -m pytest -q -n 2

# The training reproductions of papers' results (tests marked `slow`, left out of
# `make test`): each trains an example network and asserts the paper's threshold,
# within 15 minutes on 2 cores (about 50 minutes in all). Each appends its figures
# to out/repro.jsonl, printed at the end; docs/reproductions.md records them.
repro: setup
	mkdir -p $(OUT) && rm -f $(OUT)/repro.jsonl
	TF_CPP_MIN_LOG_LEVEL=3 RNNDSL_REPRO_RESULTS=$(OUT)/repro.jsonl $(PY) -m pytest -q -m slow tests/; \
		status=$$?; cat $(OUT)/repro.jsonl 2>/dev/null; exit $$status

# The main job on the bundled examples: check everything, draw the example
# networks and the standard library's cells (folded, and the Elman cell
# unrolled over 3 steps) as SVG files in out/, the LSTM as a figure for a
# paper (out/lstm-paper.pdf) and its equations as a LaTeX document
# (out/lstm-equations.tex), build the example networks to Keras models
# (out/*.keras), printing their summaries, and train the embedded Reber
# grammar's LSTM from its train block for 3 epochs.
demo: setup
	$(RNNDSL) check specs/std/*.rnn examples/*.rnn
	mkdir -p $(OUT)
	for f in examples/*.rnn; do $(RNNDSL) render $$f -o $(OUT)/$$(basename $$f .rnn).svg || exit 1; done
	for f in specs/std/*.rnn; do \
		case $$f in */cells.rnn) continue;; esac; \
		$(RNNDSL) render $$f -o $(OUT)/std-$$(basename $$f .rnn).svg || exit 1; done
	$(RNNDSL) render specs/std/elman.rnn --unroll 3 -o $(OUT)/std-elman-unrolled.svg
	$(RNNDSL) render specs/std/lstm.rnn --cell LSTM --style paper -o $(OUT)/lstm-paper.pdf
	$(RNNDSL) latex specs/std/lstm.rnn --cell LSTM --standalone -o $(OUT)/lstm-equations.tex
	for f in examples/*.rnn; do TF_CPP_MIN_LOG_LEVEL=3 $(RNNDSL) build $$f -o $(OUT)/$$(basename $$f .rnn).keras || exit 1; done
	rm -rf $(OUT)/runs/ReberLSTM
	TF_CPP_MIN_LOG_LEVEL=3 $(RNNDSL) train examples/reber.rnn --epochs 3 --out $(OUT)/runs/ReberLSTM
	@echo "SVG files, .keras models, lstm-paper.pdf and lstm-equations.tex are in $(OUT)/; the training run is in $(OUT)/runs/ReberLSTM/"

# Training-step times of lowered cells against hand-written Keras, as ratios;
# writes bench/RESULTS.md (a few minutes on 2 cores).
bench: setup
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) bench/bench.py --write

# The project's own fuzzer, for MINUTES minutes (default 10): mutated specs through
# rnndsl.load, and a sample of the accepted ones lowered and run forward on random
# input; any failure other than a diagnostic is written to out/fuzz/ with its input,
# and the run exits 1. docs/reliability.md records the figures of a run.
MINUTES ?= 10
fuzz: setup
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) tests/fuzz_campaign.py --minutes $(MINUTES) --out $(OUT)/fuzz

# docs/gallery.md and its diagrams docs/gallery/*.svg, from the specs: every
# architecture of the standard library with its spec, its diagram and its paper.
gallery: setup
	$(PY) docs/gallery.py

fmt-check: setup
	$(RNNDSL) fmt --check specs/std/*.rnn examples/*.rnn

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis build dist *.egg-info
