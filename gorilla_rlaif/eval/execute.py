"""Executability: run each sample's generated code in the sandbox and keep its status.

What runs is the response's parsed `code` section, unchanged. Identical code is run once (keyed by
the SHA-256 of the code) and the results go to `RUN/executions.jsonl` as they finish, through the
harness's own resumable output, so an interrupted eval does not execute a snippet twice.

Generated code loads models (`from_pretrained("org/name")`, `torch.hub.load(...)`), and the
sandbox has no network: the harness's model cache provides tiny random models under the ids the
prompts' reference APIs use, built once and cached, so code that calls the right API can run
offline and fail only for its own reasons.
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


def sandbox_config(config: EvalConfig, model_cache: Any = None) -> Any:
    """The eval's sandbox, with the model cache it built (None when execution is off)."""
    if config.sandbox is None:
        return None
    return config.sandbox.model_copy(update={"model_cache": model_cache})


def execute_samples(
    config: EvalConfig, rows: Sequence[dict[str, Any]], records: Sequence[Any], run_dir: Path
) -> dict[str, dict[str, Any]]:
    """`{code_sha256: result}` for every distinct code of `rows` (nothing when sandbox is 'none')."""
    if config.sandbox is None:
        return {}
    from gorilla_rlaif.harness import Snippet, run_snippets

    snippets: dict[str, Any] = {}
    for row in rows:
        code = sample_code(row)
        if code is not None:
            sha = code_sha256(code)
            snippets.setdefault(sha, Snippet(id=sha, code=code))
    if not snippets:
        return {}
    cache = model_cache_for(records, config.model_cache)
    log.info("executing %d distinct snippets in the %s sandbox", len(snippets), config.sandbox_backend)
    results = run_snippets(
        list(snippets.values()),
        sandbox_config(config, cache),
        output=run_dir / EXECUTIONS_FILE,
        progress=config.progress,
    )
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


def default_model_cache_dir() -> Path:
    """Where the sandbox's stand-in models live between evals (built once, extended as needed)."""
    import os

    root = os.environ.get("GORILLA_RLAIF_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "gorilla-rlaif"
    )
    return Path(root) / "sandbox-models"


def model_cache_for(records: Sequence[Any], cache_dir: str | Path | None = None) -> Path:
    """The harness's offline model cache holding the models the *reference* answers of `records`
    load (their `api_call` and gold code). Only gold ids: a model id a response invents is not
    built, so a hallucinated model fails to load (`hub_error`) as it would for a user."""
    from gorilla_rlaif.harness.model_cache import build_model_cache_for

    codes: list[str] = []
    for record in records:
        codes.append(record.api_data.api_call)
        if record.output is not None:
            codes += [record.output.api_call, record.output.code]
    directory = Path(cache_dir) if cache_dir else default_model_cache_dir()
    return build_model_cache_for(codes, directory)
