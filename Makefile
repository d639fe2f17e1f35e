# Two doors: `make demo` runs the product on its embedded defaults, `make test` runs the suite.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo chat test lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned: the CPU build of 2.13.0 (an unpinned torch pulls a multi-GB CUDA build).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/rag ingest data/articles
	$(BIN)/rag ask "How many hostages remain held in Gaza?"
	$(BIN)/rag chat

test: install
	./scripts/test-deps
	$(BIN)/ruff check rag index ui evals tests bench
	$(BIN)/mypy
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/pytest -q

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .rag-store .pytest_cache .mypy_cache
