"""Executability: run each sample's generated code in the sandbox and keep its status.

What runs is the response's parsed `code` section, unchanged. Identical code is run once (keyed by
the SHA-256 of the code) and the results go to `RUN/executions.jsonl` as they finish, through the
harness's own resumable output, so an interrupted eval does not execute a snippet twice.

Generated code loads models (`from_pretrained("org/name")`, `torch.hub.load(...)`,
`hub.KerasLayer(url)`), and the sandbox has no network: it runs against the harness's stand-in
world (`gorilla_rlaif.harness.world`): every API of the three hubs' databases has a stand-in of the
kind the code asks for, so code that calls a real API can run offline and fail only for its own
reasons, while a made-up id fails to load (`hub_error`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gorilla_rlaif.eval.config import EvalConfig
from gorilla_rlaif.eval.score import NO_CODE
from gorilla_rlaif.harness.schema import code_sha256

log = logging.getLogger(__name__)

EXECUTIONS_FILE = "executions.jsonl"


def sample_code(row: dict[str, Any]) -> str | None:
    code = (row.get("parsed") or {}).get("code")
    return code if isinstance(code, str) and code.strip() else None


def execute_samples(
    config: EvalConfig, rows: Sequence[dict[str, Any]], records: Sequence[Any], run_dir: Path
) -> dict[str, dict[str, Any]]:
    """`{code_sha256: result}` for every distinct code of `rows` (nothing when sandbox is 'none')."""
    codes = [code for row in rows if (code := sample_code(row)) is not None]
    return execute_codes(config, codes, run_dir / EXECUTIONS_FILE)


def execute_codes(config: Any, codes: Sequence[str], output: Path) -> dict[str, dict[str, Any]]:
    """Run each distinct code once in `config.sandbox` (a `SandboxConfig`, or None: nothing runs)
    against the stand-in world it names; results stream to `output` (resumable)."""
    if config.sandbox is None:
        return {}
    from gorilla_rlaif.harness import Snippet, run_snippets

    snippets: dict[str, Any] = {}
    for code in codes:
        sha = code_sha256(code)
        snippets.setdefault(sha, Snippet(id=sha, code=code))
    if not snippets:
        return {}
    log.info("executing %d distinct snippets in the %s sandbox", len(snippets), config.sandbox.backend)
    results = run_snippets(list(snippets.values()), config.sandbox, output=output, progress=config.progress)
    return {r.id: _result_dict(r) for r in results}


def _result_dict(result: Any) -> dict[str, Any]:
    status = getattr(result.status, "value", result.status)
    return {
        "status": str(status),
        "exit_code": result.exit_code,
        "duration_s": result.duration_s,
        "error_type": result.error_type,
        "error_message": result.error_message,
    }


def exec_field(
    row: dict[str, Any], executed: dict[str, dict[str, Any]], sandbox: str
) -> dict[str, Any] | None:
    """What a sample stores about its execution (stdout/stderr stay in executions.jsonl);
    `sandbox` is the backend name, "none" when execution is off."""
    if sandbox == "none":
        return None
    code = sample_code(row)
    if code is None:
        return {"status": NO_CODE, "code_sha256": None}
    sha = code_sha256(code)
    result = executed.get(sha)
    if result is None:
        raise RuntimeError(f"sample {row['id']}: its code {sha[:12]} was not executed")
    return {**result, "code_sha256": sha}
