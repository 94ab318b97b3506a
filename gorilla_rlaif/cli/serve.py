"""Serve the sandbox over HTTP, for trainers and evals on other machines (FastAPI + uvicorn).

Endpoints: POST /run_code (SandboxFusion's request and response: verl, the Tinker cookbook and
others point their sandbox URL here unchanged), POST /v1/batch (our own: a batch of snippets, one
result row per line with our status taxonomy, idempotent by snippet id), GET /health, GET /metrics
(Prometheus). Clients in this toolkit use it with --backend remote --url URL (exec), --sandbox
remote --sandbox-url URL (eval) or `sandbox: {backend: remote, url: ...}` (the GRPO execution reward).

It runs arbitrary code for whoever can reach it: it binds to 127.0.0.1 unless told otherwise, and
anywhere else it needs --token-file (clients send 'Authorization: Bearer TOKEN'). Requests are
capped in size, in snippets, and in snippets queued (429 with Retry-After when full).

Examples:
  gorilla-bench serve --backend local                                   # http://127.0.0.1:8080
  gorilla-bench serve --backend docker --host 0.0.0.0 --token-file /run/secrets/sandbox-token
  gorilla-bench serve --backend local --port 0 --workers 4 --preload json   # any free port, light workers
"""

from __future__ import annotations

import argparse

from gorilla_rlaif.cli.command import Command, flag
from gorilla_rlaif.cli.exec import _modules
from gorilla_rlaif.harness.server import ServeConfig

HELP = "serve the sandbox over HTTP (SandboxFusion's /run_code and a batch endpoint)"


def run(config: ServeConfig, args: argparse.Namespace) -> int:
    from gorilla_rlaif.harness.server import serve

    serve(config, announce=lambda line: print(line, flush=True))
    return 0


COMMAND = Command(
    HELP,
    ServeConfig,
    run,
    flags=[
        flag("host"),
        flag("port"),
        flag("token_file"),
        flag("max_request_mb"),
        flag("max_snippets"),
        flag("max_pending"),
        flag(
            "warm", "--no-warm", value=False, help="open sandbox workers on the first request, not at start"
        ),
        flag("sandbox.backend", "--backend", choices=("local", "docker")),
        flag("sandbox.workers", "--workers", help="parallel sandboxes (default: number of cores)"),
        flag("sandbox.timeout_s", "--timeout", help="the longest wall time a request may ask for, seconds"),
        flag("sandbox.memory_mb", "--memory-mb", help="the most memory a request may ask for, MB"),
        flag("sandbox.max_procs", "--max-procs"),
        flag("sandbox.max_output_kb", "--max-output-kb"),
        flag("sandbox.libraries", "--libraries"),
        flag("sandbox.world", "--world"),
        flag("sandbox.image", "--image"),
        flag("sandbox.preload_modules", "--preload", metavar="MODULES", parse=_modules),
        flag("sandbox.local_isolation", "--local-isolation"),
    ],
)
