# Two doors: `make demo` runs the product on its embedded defaults, `make test` runs the suite.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo chat test lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# No torch: the bundled embedder runs on onnxruntime (the dev extra adds the test tools and
# the in-process llama.cpp the LLM tests use).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The bench compares against sentence-transformers, which needs torch: the CPU build of
# 2.13.0 first, pinned (an unpinned torch pulls a multi-GB CUDA build).
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

demo: install
	$(BIN)/rag ingest data/articles
	$(BIN)/rag ask "How many hostages remain held in Gaza?"
	$(BIN)/rag chat

test: install
	./scripts/test-deps
	$(BIN)/ruff check rag index ui evals tests bench
	$(BIN)/mypy
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/pytest -q

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .rag-store .pytest_cache .mypy_cache
