# Two commands: `make test` and `make demo`. Both create .venv and install the package.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# The CPU wheel of torch 2.13.0 lies on this disk; a bare `torch` would pull a CUDA build.
	$(BIN)/pip install "torch==2.13.0"
	$(BIN)/pip install -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	bash tests/run_pytest.sh $(BIN)/python

# `make demo DEMO_ARGS="--screenshot docs/screenshot.png --screenshot-after 90 --duration 95"`
# (with QT_QPA_PLATFORM=offscreen on a machine without a display) retakes the README picture.
DEMO_ARGS ?=

demo: $(STAMP)
	$(BIN)/cmt-live --demo $(DEMO_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
