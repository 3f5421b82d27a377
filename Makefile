# make run   - install, load the bundled sample with its shipped vectors, build the index, serve API + demo on 127.0.0.1:$(PORT)
# make test  - the whole test suite (the widget's browser tests need Debian's chromium: .ci/run installs it)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8080
DATA_DIR ?= ./data
SAMPLE := sample/ant_2017_feb_mar.jsonl.gz
SAMPLE_VECTORS := sample/ant_2017_feb_mar.vectors.npz
WORKERS ?= 2
TORCH := torch==2.13.0
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu

export DATA_DIR PORT

.PHONY: install install-dev run serve serve-prod lint test bench bench-archive screenshots clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch's CPU build first, from PyTorch's CPU wheel index as the Dockerfile does: a plain `torch` from
	# PyPI is a multi-GB CUDA build. Where that index cannot be reached, the plain pin (which takes a local
	# CPU wheel where the machine has one).
	$(PY) -m pip install -q --retries 0 --timeout 20 --index-url $(TORCH_CPU_INDEX) $(TORCH) \
		|| $(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt requirements-scale.txt
	$(PY) -m pip install -q -r requirements-dev.txt -r requirements-scale.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# The sample's vectors ship beside it: nothing is embedded here, only the index is built.
$(DATA_DIR)/.sample-loaded: $(VENV)/.installed $(SAMPLE) $(SAMPLE_VECTORS)
	$(PY) -m service ingest $(SAMPLE) --vectors $(SAMPLE_VECTORS)
	$(PY) -m service rebuild
	touch $@

# A development server on 127.0.0.1: writes from this machine need no key (ALLOW_LOCAL_WRITES).
run: $(DATA_DIR)/.sample-loaded
	ALLOW_LOCAL_WRITES=1 $(PY) -m service serve --port $(PORT)

serve: install
	ALLOW_LOCAL_WRITES=1 $(PY) -m service serve --port $(PORT)

# 16 threads a worker: a thread waits out a slow client's body (BODY_TIMEOUT), so a handful of slow
# clients cannot take them all; a buffering reverse proxy in front is the defence against many.
serve-prod: install
	rm -rf $(DATA_DIR)/.metrics && mkdir -p $(DATA_DIR)/.metrics
	PROMETHEUS_MULTIPROC_DIR=$(DATA_DIR)/.metrics $(VENV)/bin/gunicorn --bind 127.0.0.1:$(PORT) --workers $(WORKERS) --threads 16 --timeout 600 'service.wsgi:app'

lint: install-dev
	$(VENV)/bin/ruff check .

test: install-dev
	$(PY) -m pytest

bench: $(DATA_DIR)/.sample-loaded
	$(PY) -m bench.embed_throughput
	$(PY) -m bench.http_latency

# Issue #23's figures (import, rebuild, first-time answers, throughput under a writer, planted copies, memory)
# on a synthetic archive of SIZES articles beside the version before the issue at 20,000, with a 10M projection.
# The default 1M run takes about an hour: SIZES="20000 100000" for a shorter one.
SIZES ?= 1000000
bench-archive: install
	$(PY) -m bench.archive --sizes $(SIZES)

# The README's widget pictures (docs/*.png), from a real server and headless Chromium.
screenshots: install-dev
	$(PY) -m tests.screenshots

clean:
	rm -rf $(VENV) .cache .pytest_cache
