"""`gorilla-bench report RUN_DIR`: re-score saved samples without generating again.

For when a metric or the response parser changed, or results.json was lost: the saved responses
(each checked against its SHA-256, so a score is always of the response that was generated) are
parsed, scored and aggregated again with the current code. Execution results are reused by code
hash from executions.jsonl; only code not executed before (a parser fix can extract different code)
goes to the sandbox. The previous numbers are kept in results.json under `rescored.previous` with
the number of samples whose verdict changed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gorilla_rlaif.config import describe_errors
from gorilla_rlaif.errors import DataError
from gorilla_rlaif.eval.config import EvalConfig
from gorilla_rlaif.eval.run import RESULTS_FILE, RUN_FILE, SAMPLES_FILE, finalize_run, read_run_file
from gorilla_rlaif.io import read_jsonl
from gorilla_rlaif.provenance import utc_now

log = logging.getLogger(__name__)


def load_run_config(run_dir: str | Path) -> EvalConfig:
    run_dir = Path(run_dir)
    path = run_dir / RUN_FILE
    if not path.exists():
        raise DataError(
            f"not an eval run directory (no {RUN_FILE}; expected OUTPUT/MODEL/RUN/)", path=run_dir
        )
    saved = read_run_file(run_dir)
    try:
        config = EvalConfig.model_validate(saved["config"])
    except ValidationError as exc:
        raise DataError(f"config: {describe_errors(exc)}", path=path) from None
    # The directory may have moved since: write where it is now.
    return config.model_copy(
        update={
            "output_path": str(run_dir.parent.parent),
            "run_name": run_dir.name,
            "progress": config.progress,
        }
    )


def rescore(run_dir: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Re-parse, re-execute what is new, re-score and rewrite results.json; return the new record."""
    from gorilla_rlaif.data import parse_completion
    from gorilla_rlaif.eval.prompts import load_eval_prompts

    run_dir = Path(run_dir)
    config = load_run_config(run_dir).model_copy(update={"progress": progress})
    rows = [row for _, row in read_jsonl(run_dir / SAMPLES_FILE)]
    previous = _read(run_dir / RESULTS_FILE)
    hub_prompts = load_eval_prompts(config)
    if previous and previous.get("inputs"):
        now = {hub: hp.files for hub, hp in hub_prompts.items()}
        if _hashes(previous["inputs"]) != _hashes(now):
            raise DataError(
                "the APIBench files differ from those the run was made with (sha256 changed): pass the "
                "same data (--data-dir) or re-run the eval",
                path=run_dir / RESULTS_FILE,
            )
    before = {row["id"]: (row.get("score") or {}).get("ast_verdict") for row in rows}
    before_exec = {row["id"]: (row.get("exec") or {}).get("status") for row in rows}
    for row in rows:
        row["parsed"] = parse_completion(row["response"])
    record = finalize_run(
        config,
        run_dir,
        hub_prompts,
        rows,
        backend_info=(previous or {}).get("backend"),
        backend_stats=(previous or {}).get("backend_stats"),
        timing={"generation": (previous or {}).get("timing", {}).get("generation")},
        failed=(previous or {}).get("missing_samples"),
        extra={
            "rescored": {
                "at": utc_now(),
                "changed_ast_verdicts": sum(
                    1 for r in rows if r["score"].get("ast_verdict") != before.get(r["id"])
                ),
                "changed_exec_status": sum(
                    1 for r in rows if (r["exec"] or {}).get("status") != before_exec.get(r["id"])
                ),
                "previous": {
                    "created_at": previous.get("created_at"),
                    "git_commit": previous.get("git_commit"),
                    "hubs": {
                        hub: {k: v.get("value") for k, v in block.get("metrics", {}).items()}
                        for hub, block in previous.get("hubs", {}).items()
                    },
                }
                if previous
                else None,
            }
        },
    )
    return record


def _read(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _hashes(inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        hub: {name: (info or {}).get("sha256") for name, info in files.items() if isinstance(info, dict)}
        for hub, files in inputs.items()
    }
