"""`gorilla-bench serve` as a child process, for tests and benchmarks: started exactly as a user
starts it (the CLI), on a free port, stopped by SIGTERM (uvicorn's graceful shutdown)."""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import sys
import time

_ANNOUNCE = re.compile(r"on (http://\S+) ")


class SandboxServer:
    """`SandboxServer(["--backend", "local", ...])`: `url` once started; `stop()` ends it."""

    def __init__(self, args: list[str], *, timeout: float = 300.0):
        argv = [sys.executable, "-m", "gorilla_rlaif.cli", "bench", "-q", "serve", "--port", "0", *args]
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.url = self._wait_url(timeout)

    def _wait_url(self, timeout: float) -> str:
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if selector.select(timeout=1.0):
                line = self.proc.stdout.readline()
                match = _ANNOUNCE.search(line)
                if match:
                    return match.group(1)
                if not line and self.proc.poll() is not None:
                    break
        self.stop()
        raise RuntimeError(f"gorilla-bench serve did not start: {self.proc.stderr.read()[-3000:]}")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)  # the server closes its sandbox workers
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(ProcessLookupError):  # whatever it left in its session
            os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.returncode

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
