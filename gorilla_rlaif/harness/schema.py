"""What goes into the harness (`Snippet`) and what comes out (`ExecResult` with a `Status`)."""

from __future__ import annotations

import hashlib
import posixpath
from collections import Counter
from collections.abc import Iterable
from enum import Enum

from pydantic import BaseModel, Field, field_validator


class Status(str, Enum):
    """The closed set of outcomes of running one snippet. `sandbox_error` means the harness
    itself failed (engine unreachable mid-run, runner crashed): it must be rare and is never the
    snippet's fault; every other status is about the snippet."""

    ok = "ok"
    syntax_error = "syntax_error"
    import_error = "import_error"
    attribute_error = "attribute_error"
    name_error = "name_error"
    type_error = "type_error"
    hub_error = "hub_error"
    timeout = "timeout"
    oom = "oom"
    runtime_error = "runtime_error"
    sandbox_error = "sandbox_error"


class Snippet(BaseModel):
    """One piece of code to run: an id unique within a run, and the Python source.

    The other fields are what a code-execution service passes per request (SandboxFusion's
    `stdin`, `files`, `fetch_files`, `run_timeout`, `memory_limit_MB`); a limit given here can only
    tighten the sandbox's own (`SandboxConfig`), never loosen it."""

    id: str = Field(min_length=1)
    code: str
    stdin: str = Field("", description="text the snippet reads on standard input")
    files: dict[str, str] = Field(
        default_factory=dict, description="files put in the working directory first: {relative path: base64}"
    )
    fetch_files: list[str] = Field(
        default_factory=list, description="files (relative paths) sent back with the result, base64"
    )
    timeout_s: float | None = Field(None, gt=0, description="a tighter wall-time limit for this snippet")
    memory_mb: int | None = Field(None, ge=16, description="a tighter memory limit for this snippet")

    @field_validator("files", "fetch_files")
    @classmethod
    def _relative_paths(cls, value):
        for path in value:
            norm = posixpath.normpath(path)
            if not path or path.startswith("/") or norm == ".." or norm.startswith("../") or "\0" in path:
                raise ValueError(f"{path!r} is not a relative path inside the working directory")
        return value

    def extras(self) -> dict:
        """What besides the code decides this snippet's result (empty for code alone)."""
        return self.model_dump(exclude={"id", "code"}, exclude_defaults=True)


class ExecResult(BaseModel):
    """One row of a results file. stdout/stderr are truncated to the configured cap."""

    id: str
    status: Status
    exit_code: int | None = None
    duration_s: float = 0.0
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = Field(None, description="the snippet's own traceback (last frames)")
    stdout: str = ""
    stderr: str = ""
    files: dict[str, str] | None = Field(None, description="the snippet's `fetch_files`, base64 (found ones)")
    # What determined the row: a results file is resumed only for the same code under the same
    # limits (`SandboxConfig`'s non-operational fields), never for an id alone.
    code_sha256: str | None = None
    sandbox_hash: str | None = None


def code_sha256(code: str) -> str:
    """What identifies a snippet's code (eval runs each distinct code once, keyed by it)."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def summarize(results: Iterable[ExecResult]) -> dict:
    """Executability rate = ok / total; also the rate over snippets that did not fail on a model
    hub (`hub_error` counted separately: a missing model says nothing about the code), and a
    count per status (every status present, zeros included)."""
    results = list(results)
    counts = Counter(r.status for r in results)
    total = len(results)
    hub = counts[Status.hub_error]
    ok = counts[Status.ok]
    return {
        "total": total,
        "executability": ok / total if total else 0.0,
        "executability_excluding_hub_errors": ok / (total - hub) if total - hub else 0.0,
        "hub_errors": hub,
        "counts": {status.value: counts[status] for status in Status},
    }
