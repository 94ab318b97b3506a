"""`EvalConfig`: everything `gorilla-bench eval` does, in one validated object passed whole.

Two groups of fields matter differently. The *identity* fields (model, backend, hubs, split, data,
decoding, seeds, runs, sandbox) decide what the numbers mean: they are hashed into the run's
`config_hash`, name the default run directory, and a run directory made with another identity is
never resumed into. The *operational* fields (batch size, output path, concurrency, cache path,
progress) change how fast or where, not what: re-running with another batch size resumes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gorilla_rlaif.data.schema import HUBS, Hub
from gorilla_rlaif.data.sources import normalize_hub
from gorilla_rlaif.provenance import stable_hash

Backend = Literal["hf", "openai", "vllm", "reference"]
Split = Literal["eval", "test"]
SandboxBackend = Literal["local", "docker", "none"]

# Fields that do not change what is measured (excluded from the config hash / run name).
OPERATIONAL_FIELDS = frozenset(
    {
        "batch_size",
        "output_path",
        "run_name",
        "progress",
        "concurrency",
        "cache",
        "exec_workers",
        "base_url",
        "max_retries",
    }
)


class EvalConfig(BaseModel):
    """What to evaluate, on which prompts, how to decode, how to execute, where to write."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    # Parameters that control the model
    model: str = Field(description="local directory or Hub id (hf, vllm); chat model name (openai)")
    backend: Backend = "hf"
    device: str = Field("auto", description="hf: 'auto' (cuda if visible, else cpu), 'cpu', 'cuda', 'cuda:1'")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="'auto' = bfloat16 on a GPU that supports it, float32 on CPU"
    )
    # Parameters that control the prompts
    hubs: tuple[Hub, ...] = Field(HUBS, min_length=1)
    split: Split = Field(
        "test",
        description="'test': the held-out split our trainers never see (make_splits; for TorchHub the "
        "whole eval file); 'eval': each hub's whole eval file, as Gorilla reports",
    )
    split_seed: int = Field(0, description="SplitConfig.seed used to make the 'test' split")
    data_dir: str | None = Field(None, description="local APIBench directory (else Hub, else bundled copy)")
    limit: int | None = Field(None, ge=1, description="first N prompts of each hub (for quick checks)")
    # Parameters that control decoding
    max_new_tokens: int = Field(256, ge=1)
    temperature: float = Field(0.0, ge=0, description="0 = greedy")
    top_p: float = Field(1.0, gt=0, le=1)
    seed: int = 0
    num_runs: int = Field(
        1, ge=1, description="repeat generation with seeds seed, seed+1, ...; the paper reports the mean of 3"
    )
    batch_size: int = Field(8, ge=1, description="prompts per generate call (hf, vllm)")
    # Parameters that control the openai backend
    base_url: str | None = Field(None, description="any OpenAI-compatible server; default: the OpenAI API")
    concurrency: int = Field(8, ge=1, description="openai: requests in flight at once")
    max_retries: int = Field(
        6, ge=0, description="openai: transport retries per request (429, 5xx, timeouts)"
    )
    cache: str | None = Field(
        None, description="openai: SQLite answer cache (default OUTPUT_PATH/.cache/openai.sqlite)"
    )
    # Parameters that control scoring and execution
    sandbox: SandboxBackend = Field(
        "docker", description="where generated code runs: 'docker' (isolated), 'local', 'none' (skip)"
    )
    exec_timeout_s: float | None = Field(None, gt=0, description="per snippet (default: the harness's)")
    exec_memory_mb: int | None = Field(None, ge=64, description="per snippet (default: the harness's)")
    exec_workers: int | None = Field(None, ge=1, description="snippets at once (default: the harness's)")
    model_cache: str | None = Field(
        None,
        description="a model cache to mount at /cache instead of the stand-in world's models "
        "(default: the world of gorilla_rlaif.harness.world, built once per machine)",
    )
    bootstrap: int = Field(1000, ge=0, description="bootstrap resamples for the 95% intervals (0 = none)")
    # Parameters that control the output
    output_path: str = Field("eval-results", description="results go to OUTPUT_PATH/MODEL/RUN/")
    run_name: str | None = Field(None, description="default: SPLIT-<hash of the identity fields>")
    progress: bool = True

    @field_validator("hubs", mode="before")
    @classmethod
    def _normalize_hubs(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        out: list[str] = []
        for hub in value:
            name = normalize_hub(hub)
            if name not in out:
                out.append(name)
        return tuple(out)

    @model_validator(mode="after")
    def _check(self) -> EvalConfig:
        if self.backend == "hf" and self.temperature == 0 and self.num_runs > 1:
            raise ValueError(
                "greedy decoding (temperature 0) with the hf backend is deterministic: every run would be "
                "identical; use --num-runs 1, or --temperature > 0 to measure run-to-run spread"
            )
        if self.run_name is not None and not re.fullmatch(r"[A-Za-z0-9._-]+", self.run_name):
            raise ValueError(f"run_name {self.run_name!r}: use letters, digits, '.', '_' and '-' only")
        return self

    # -- derived -----------------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        """The fields that define what the numbers mean (see the module docstring)."""
        data = self.model_dump(mode="json")
        identity = {k: v for k, v in data.items() if k not in OPERATIONAL_FIELDS}
        if self.sandbox != "none":
            # what the code ran against: another execution environment or stand-in world is
            # another measurement (a user's model_cache replaces the stand-ins, so it counts too)
            from gorilla_rlaif.harness.world import fingerprint

            identity["sandbox_world"] = self.model_cache or fingerprint()[:16]
        return identity

    @property
    def config_hash(self) -> str:
        return stable_hash(self.identity(), length=16)

    @property
    def model_slug(self) -> str:
        return model_slug(self.model)

    @property
    def run_dir(self) -> Path:
        name = self.run_name or f"{self.split}-{self.config_hash[:10]}"
        return Path(self.output_path).expanduser() / self.model_slug / name

    @property
    def cache_path(self) -> Path:
        return (
            Path(self.cache)
            if self.cache
            else Path(self.output_path).expanduser() / ".cache" / "openai.sqlite"
        )


def model_slug(model: str) -> str:
    """A directory name for a model: `org/name` -> `org__name`, a path -> its parts joined by `__`.

    The same scheme as lm-evaluation-harness, so two models never share a directory and the
    name still reads as the model's."""
    text = model.strip().rstrip("/")
    while text.startswith(("./", "/")):
        text = text[1:] if text.startswith("/") else text[2:]
    text = text.replace("~", "home")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "__", text.replace("/", "__"))
    return slug.strip("_") or "model"
