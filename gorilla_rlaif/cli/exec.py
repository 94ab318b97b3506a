"""Run code snippets in a sandbox and classify each outcome (the executability metric).

Input: JSON Lines rows {"id": ..., "code": ...}. Output: one row per snippet with a status in
{ok, syntax_error, import_error, attribute_error, name_error, type_error, hub_error, timeout,
oom, runtime_error, sandbox_error}, exit code, duration, error type/message and truncated
stdout/stderr, appended as each snippet finishes. Re-running the same command resumes: only
snippets without a row run. A summary (executability = ok / total, the rate without hub errors,
a count per status) is printed and written next to the output as OUTPUT.meta.json (the sidecar).

Snippets run against the APIBench world (gorilla-bench world --help): the libraries APIBench code
imports, at the versions of its era, and offline stand-ins for every API of the three hubs, so a
real API loads and a made-up one fails as a hub_error. By default each worker is a fork server that
imports the snippet's framework once (torch + transformers, or TensorFlow + tensorflow_hub) and
forks a fresh, equally isolated child per snippet; --no-preload starts a new interpreter per
snippet instead.

Examples:
  gorilla-bench exec snippets.jsonl --backend docker --output results.jsonl
  gorilla-bench exec snippets.jsonl --backend local --timeout 10 --memory-mb 1024 -o results.jsonl
  gorilla-bench exec snippets.jsonl -o results.jsonl --network --model-cache runs/downloads   # real hubs
  gorilla-bench exec snippets.jsonl -o results.jsonl --no-preload
  gorilla-bench exec snippets.jsonl -o results.jsonl --backend remote --url http://sandbox:8080 --token-file T
  gorilla-bench exec snippets.jsonl -o results.jsonl --backend ray --ray-address HEAD:6379   # every node
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from gorilla_rlaif.cli.command import Command, flag, positional
from gorilla_rlaif.config import operational
from gorilla_rlaif.harness.config import SandboxConfig

HELP = "run code snippets in a sandbox (docker or local) and classify every outcome"


class ExecConfig(BaseModel):
    """`gorilla-bench exec`: which snippets, the sandbox (`SandboxConfig`, whole), where results go."""

    model_config = ConfigDict(extra="forbid")

    snippets: Path = Field(description='JSONL with {"id": ..., "code": ...} rows')
    output: Path = Field(description="results JSONL (resumed if present: rows of the same code and limits)")
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    progress: bool = operational(True, description="progress bar")


def _modules(text: str) -> list[str]:
    return [m.strip() for m in str(text).split(",") if m.strip()]


def run(config: ExecConfig, args: argparse.Namespace) -> int:
    import logging

    from gorilla_rlaif.harness import Snippet, run_snippets, summarize
    from gorilla_rlaif.io import read_jsonl, sha256_file
    from gorilla_rlaif.provenance import provenance
    from gorilla_rlaif.sidecar import write_sidecar

    snippets = []
    for line, row in read_jsonl(config.snippets):
        if not isinstance(row.get("code"), str) or "id" not in row:
            from gorilla_rlaif.errors import DataError

            raise DataError(
                'expected {"id": ..., "code": "<python source>"}', path=config.snippets, line=line
            )
        # a row may also carry a snippet's input and tighter limits (stdin, files, fetch_files, ...)
        extra = {k: row[k] for k in Snippet.model_fields if k in row and k not in ("id", "code")}
        snippets.append({"id": str(row["id"]), "code": row["code"], **extra})
    sandbox = config.sandbox
    stats: dict = {}
    results = run_snippets(snippets, sandbox, output=config.output, progress=config.progress, stats=stats)
    summary = summarize(results)
    summary_path = write_sidecar(
        config.output,
        {
            **summary,
            **({"run": stats} if stats else {}),
            "provenance": provenance(sandbox, inputs={str(config.snippets): sha256_file(config.snippets)}),
        },
    )
    log = logging.getLogger(__name__)
    log.info("summary written to %s", summary_path)
    print(
        f"executability {summary['executability']:.1%} ({summary['counts']['ok']}/{summary['total']}); "
        f"without hub errors {summary['executability_excluding_hub_errors']:.1%}"
    )
    for status, count in summary["counts"].items():
        if count:
            print(f"  {status:16s} {count}")
    for node, count in sorted(stats.get("nodes", {}).items()):
        print(f"  ran on {node}: {count}")
    for node in stats.get("lost_nodes", []):
        print(f"  LOST node {node}: its {stats.get('requeued', 0)} in-flight snippets re-ran elsewhere")
    return 0


COMMAND = Command(
    HELP,
    ExecConfig,
    run,
    flags=[
        positional("snippets", "SNIPPETS"),
        flag("output", "--output", "-o"),
        flag("sandbox.backend", "--backend"),
        flag("sandbox.url", "--url"),
        flag("sandbox.token_file", "--token-file"),
        flag("sandbox.ray_address", "--ray-address"),
        flag("sandbox.node_backend", "--node-backend"),
        flag("sandbox.workers_per_node", "--workers-per-node"),
        flag("sandbox.workers", "--workers", help="parallel sandboxes (default: number of cores)"),
        flag("sandbox.timeout_s", "--timeout"),
        flag("sandbox.memory_mb", "--memory-mb"),
        flag("sandbox.max_procs", "--max-procs"),
        flag("sandbox.max_file_mb", "--max-file-mb"),
        flag("sandbox.max_output_kb", "--max-output-kb"),
        flag("sandbox.network", "--network", value=True),
        flag("sandbox.libraries", "--libraries"),
        flag("sandbox.world", "--world"),
        flag("sandbox.model_cache", "--model-cache"),
        flag(
            "sandbox.image", "--image", help="docker image (default: the tag scripts/setup-sandbox.sh builds)"
        ),
        flag(
            "sandbox.container_reuse",
            "--fresh-containers",
            value=False,
            help="docker: one container per snippet",
        ),
        flag(
            "sandbox.preload",
            "--no-preload",
            value=False,
            help="one-shot mode: a fresh interpreter per snippet (default: each worker imports the preload "
            "modules once and forks a child per snippet)",
        ),
        flag("sandbox.preload_modules", "--preload", metavar="MODULES", parse=_modules),
        flag(
            "sandbox.mount_site_packages",
            "--no-mount-venv",
            value=False,
            help="use the image's own libraries",
        ),
        flag("sandbox.local_isolation", "--local-isolation"),
        flag("progress", "--no-progress", value=False, help="no progress bar"),
    ],
    outputs={"output": "file"},
)
