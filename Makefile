# Two entry points: `make demo` and `make test`. Both create .venv when needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The peer libraries of the benchmarks (panoptes-aggregation, crowd-kit) pin older
# numpy/pandas/scikit-learn, so they get an environment of their own.
BENCH_VENV := .venv-bench
BENCH_PY := $(BENCH_VENV)/bin/python
BENCH_STAMP := $(BENCH_VENV)/.installed

.PHONY: demo test lint docs gallery bench bench-quick clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(BENCH_STAMP): pyproject.toml
	test -x $(BENCH_PY) || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install --quiet --upgrade pip
	$(BENCH_PY) -m pip install --quiet -e '.[bench]' pytest
	touch $(BENCH_STAMP)

demo: $(STAMP)
	$(PY) -m cellconsensus demo
	$(PY) -m cellcnn demo demo-output --report demo-report

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# The whole suite but the tests marked `peers`, then those (and the exports, read back by
# napari's own reader) in the peers' environment.
test: lint docs $(BENCH_STAMP)
	$(PY) -m pytest -n 2 -m "not peers"
	$(BENCH_PY) -m pytest -p no:cacheprovider -m peers tests/test_peers.py tests/test_benchmarks.py \
		tests/test_examples.py
	$(BENCH_PY) -m pytest -p no:cacheprovider tests/test_exports.py

# The benchmark suite (about an hour on 2 cores): benchmarks/results/ and docs/benchmarks.md.
bench: $(STAMP) $(BENCH_STAMP)
	$(PY) benchmarks/run.py --peers-python $(BENCH_PY)

# Its smoke run (a few minutes; results in benchmarks/results/quick/).
bench-quick: $(STAMP) $(BENCH_STAMP)
	$(PY) benchmarks/run.py --quick --peers-python $(BENCH_PY)

# Real-versus-synthetic image gallery for docs/synthetic.md (reads ../shared/data when present).
gallery: $(STAMP)
	$(PY) docs/scripts/gallery.py

# The documentation site (MkDocs, Material, mkdocstrings) in site/; --strict: a broken
# reference or a docstring mkdocstrings cannot render fails the build.
docs: gallery
	$(PY) -m mkdocs build --strict --quiet

clean:
	rm -rf $(VENV) $(BENCH_VENV) site .pytest_cache .hypothesis build *.egg-info
