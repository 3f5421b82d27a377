# make run   - install, load the bundled sample, build the index, serve API + demo on 127.0.0.1:$(PORT)
# make test  - the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8080
DATA_DIR ?= ./data
SAMPLE := sample/ant_2017_feb_mar.jsonl.gz
WORKERS ?= 2

export DATA_DIR PORT

.PHONY: install run serve serve-prod test bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU build of torch first: a plain `torch` would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

$(DATA_DIR)/.sample-loaded: $(VENV)/.installed $(SAMPLE)
	$(PY) -m service ingest $(SAMPLE)
	$(PY) -m service rebuild
	touch $@

run: $(DATA_DIR)/.sample-loaded
	$(PY) -m service serve --port $(PORT)

serve: install
	$(PY) -m service serve --port $(PORT)

serve-prod: install
	rm -rf $(DATA_DIR)/.metrics && mkdir -p $(DATA_DIR)/.metrics
	PROMETHEUS_MULTIPROC_DIR=$(DATA_DIR)/.metrics $(VENV)/bin/gunicorn --bind 127.0.0.1:$(PORT) --workers $(WORKERS) --threads 4 --timeout 600 'service.wsgi:app'

test: install
	$(PY) -m pytest

bench: $(DATA_DIR)/.sample-loaded
	$(PY) bench/embed_throughput.py
	$(PY) bench/http_latency.py

clean:
	rm -rf $(VENV) .cache .pytest_cache
