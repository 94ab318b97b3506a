# Two commands do all set-up on a fresh machine (see README):
#   make demo   - create the virtualenv and run the main job on the embedded offline default
#   make test   - create the virtualenv, prepare the sandbox engine, run the test suite
# Other targets: reproduce (the README's results: 3 seeds), venv, world, tools, lint, bench, clean, sandbox,
# llama-server.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_DIR ?= demo-output

export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: venv demo reproduce tools test lint bench clean sandbox world llama-server

$(STAMP): pyproject.toml setup.py constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (torch CPU wheel is cp311)"'
	$(PYTHON) -m venv $(VENV)
	# torch first: the CPU wheel (a plain `torch` requirement would pull the multi-GB CUDA build)
	$(BIN)/pip install -q torch==2.13.0
	# the ray extra too: its tests run in CI (a real two-node Ray cluster on loopback)
	$(BIN)/pip install -q -c constraints.txt -e ".[dev,ray]"
	touch $(STAMP)

venv: $(STAMP)

# The execution environment and offline stand-in world generated code runs against (built once
# per machine under ~/.cache/gorilla-rlaif, keyed by what makes them; a second run takes seconds).
world: venv
	$(BIN)/gorilla-bench world build

# The whole method on the embedded offline default (resumable: re-running skips finished stages).
# DEMO_ARGS adds overrides, e.g. make demo DEMO_ARGS="torch_threads=1 eval.limit=50"
demo: venv world tools
	$(BIN)/gorilla-rlaif pipeline --preset tiny --output-dir $(DEMO_DIR) $(DEMO_ARGS)

# The README's results: the same run over seeds 0 1 2 (mean +- sd, paired tests vs SFT). In the
# demo's directory, so the seed a finished `make demo` trained is re-used, not trained again.
reproduce: venv world tools
	$(BIN)/gorilla-rlaif pipeline --preset tiny --output-dir $(DEMO_DIR) $(DEMO_ARGS) --seeds 0 1 2

# bubblewrap and ffmpeg: the local sandbox generated code runs in
tools:
	@command -v bwrap >/dev/null && command -v ffmpeg >/dev/null || { echo "installing bubblewrap and ffmpeg (the local sandbox generated code runs in)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap ffmpeg >/dev/null; }

# Docker engine, bubblewrap and the sandbox image for the executability harness (idempotent)
sandbox:
	bash scripts/setup-sandbox.sh

# llama-cpp-python's server + SmolLM2-135M-Instruct for the judge's real-server test; built once,
# cached under ~/.cache/gorilla-rlaif/llama-server (idempotent, seconds when cached)
llama-server:
	bash scripts/setup-llama-server.sh

test: venv sandbox world llama-server
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache
