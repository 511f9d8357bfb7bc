# The two commands of the README: `make demo` and `make test`. Each sets up .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The one place torch is pinned: a CPU build of 2.13.0 is kept on this machine's disk;
# an unpinned `torch` would pull a multi-GB CUDA build.
TORCH_PIN := torch==2.13.0
# `make demo` installs only what the lab needs (.[torch,lab]); `make test` adds the dev extra.
LAB_STAMP := $(VENV)/.installed-lab
STAMP     := $(VENV)/.installed

.PHONY: setup setup-lab demo test bench lint clean

setup: $(STAMP)
setup-lab: $(LAB_STAMP)

$(LAB_STAMP): pyproject.toml Makefile
	@echo "relukit: setting up .venv for the lab (torch CPU, matplotlib, scikit-learn, rich, plotly);"
	@echo "         the first time this takes about 1-2 minutes, then it is skipped"
	@start=$$(date +%s); \
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	$(BIN)/python -m pip install --quiet --upgrade pip && \
	$(BIN)/python -m pip install --quiet "$(TORCH_PIN)" && \
	$(BIN)/python -m pip install --quiet -e ".[torch,lab]" "$(TORCH_PIN)" && \
	echo "relukit: lab set up in $$(( $$(date +%s) - start )) s" && touch $(LAB_STAMP)

$(STAMP): $(LAB_STAMP)
	@echo "relukit: adding the dev extra (pytest, transformers, triton, onnx...) for the tests"
	$(BIN)/python -m pip install --quiet -e ".[torch,lab,dev]" "$(TORCH_PIN)"
	touch $(STAMP)

demo: $(LAB_STAMP)
	$(BIN)/relukit lab --quick --out lab-report

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src/relukit --ignore-missing-imports

clean:
	rm -rf $(VENV) lab-report bench-results
