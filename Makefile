# Sourcing classifier: `make help` lists the targets.
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
SOURCING := $(VENV)/bin/sourcing
EXAMPLE := data/examples/example_article.txt

.PHONY: help venv browser data train run test test-fast check stats promote bench serve clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed ## create .venv and install the project

data: venv ## build the train/dev/test splits from data/labels (needs ../shared/corpus)
	$(SOURCING) data build

models/default/config.json:
	$(MAKE) data
	$(SOURCING) train

train: venv data ## train the default model and log it to MLflow
	$(SOURCING) train

run: venv ## set up, train the default model if missing, score the example article
	@test -f models/default/config.json || $(MAKE) models/default/config.json
	$(SOURCING) score $(EXAMPLE) --format jsonl | $(PY) -m inference.show

browser: ## install Debian's headless Chromium for the review-page tests, if missing (apt-get; no browser download)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; else \
	    echo "the review-page tests need Debian's chromium: run 'apt-get install -y chromium' as root" >&2; exit 1; fi; \
	  echo "installing Debian's chromium for the review-page tests"; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: venv browser ## run every test, slow ones included (what CI runs)
	$(PY) -m pytest -q

test-fast: venv ## run the fast tests only
	$(PY) -m pytest -q -m "not slow"

check: venv ## validate data/labels
	$(SOURCING) data check

stats: venv ## print the data counts table
	$(SOURCING) data stats

promote: venv ## move alias champion to the candidate if it beats it
	$(SOURCING) promote

bench: venv ## benchmark scoring paths (writes bench/results.md)
	$(PY) bench/run.py

serve: venv ## serve the API and review page on 127.0.0.1:8000
	$(SOURCING) serve

clean: ## remove build outputs (keeps .venv, mlflow.db and models)
	rm -rf data/build .pytest_cache
