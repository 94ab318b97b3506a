# Two commands do all set-up on a fresh machine (see README):
#   make demo   - create the virtualenv and run the main job on the embedded offline default
#   make test   - create the virtualenv, prepare the sandbox engine, run the test suite
# Other targets: venv, lint, bench, clean.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_DIR ?= demo-output

export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: venv demo test lint bench clean sandbox

$(STAMP): pyproject.toml setup.py constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (torch CPU wheel is cp311)"'
	$(PYTHON) -m venv $(VENV)
	# torch first: the CPU wheel (a plain `torch` requirement would pull the multi-GB CUDA build)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

# The whole method on the embedded offline default (resumable: re-running skips finished stages).
# DEMO_ARGS adds overrides, e.g. make demo DEMO_ARGS="torch_threads=1 eval.limit=50"
demo: venv
	@command -v bwrap >/dev/null || { echo "installing bubblewrap (the local sandbox generated code runs in)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; }
	$(BIN)/gorilla-rlaif pipeline --preset tiny --output-dir $(DEMO_DIR) $(DEMO_ARGS)

# Docker engine, bubblewrap and the sandbox image for the executability harness (idempotent)
sandbox:
	bash scripts/setup-sandbox.sh

test: venv sandbox
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache
