"""`EvalConfig`: everything `gorilla-bench eval` does, in one validated object passed whole.

Shared settings are nested whole, never copied: `generation` is the toolkit's `DecodingConfig`
(with greedy eval defaults), `llm` the `LLMSettings` of the openai backend, `sandbox` the
harness's `SandboxConfig` (or None: `sandbox=none` skips executability).

Two groups of fields matter differently. The *identity* fields (model, backend, hubs, split, data,
decoding, seeds, runs, sandbox limits) decide what the numbers mean: they are hashed into the
run's `config_hash`, name the default run directory, and a run directory made with another
identity is never resumed into. The *operational* fields, marked with `operational(...)` on the
field itself (batch size, output path, the API client's pace and retries, cache paths, sandbox
workers), change how fast or where, not what: re-running with another batch size resumes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gorilla_rlaif.config import identity, operational
from gorilla_rlaif.data.schema import HUBS, Hub
from gorilla_rlaif.data.sources import normalize_hub
from gorilla_rlaif.generate.base import DecodingConfig
from gorilla_rlaif.harness.config import SandboxConfig, sandbox_by_name
from gorilla_rlaif.llm import LLMSettings
from gorilla_rlaif.provenance import stable_hash

Backend = Literal["hf", "openai", "vllm", "reference"]
Split = Literal["eval", "test"]


class EvalDecoding(DecodingConfig):
    """Decoding for the benchmark: greedy, on the GPU when one is visible (`DecodingConfig`'s
    fields with eval's defaults)."""

    device: str = Field("auto", description="auto (cuda if visible), cpu, cuda, cuda:N, mps")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto: bfloat16 on a GPU that supports it, float32 on CPU"
    )
    temperature: float = Field(0.0, ge=0, description="0 = greedy")
    top_p: float = Field(1.0, gt=0, le=1)
    seed: int = Field(0, description="base seed: run r samples with seed+r; also scoring and the bootstrap")
    batch_size: int = operational(8, ge=1, le=4096, description="prompts per generate call (hf, vllm)")


def _default_sandbox() -> SandboxConfig:
    return SandboxConfig()


class EvalConfig(BaseModel):
    """What to evaluate, on which prompts, how to decode, how to execute, where to write."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    # Parameters that control the model
    model: str = Field(description="local directory or Hub id (hf, vllm); chat model name (openai)")
    backend: Backend = Field(
        "hf",
        description="hf: transformers; openai: any OpenAI-compatible chat API; vllm: optional extra (GPU); "
        "reference: APIBench's own answers, the ceiling of every metric (model is then only a label)",
    )
    # Parameters that control the prompts
    hubs: tuple[Hub, ...] = Field(
        HUBS, min_length=1, description=f"APIBench hub(s): {', '.join(HUBS)} (aliases hf, tf, torch)"
    )
    split: Split = Field(
        "test",
        description="test: the held-out split our trainers never see (make_splits; for TorchHub the "
        "whole eval file); eval: each hub's whole eval file, as Gorilla reports",
    )
    split_seed: int = Field(0, description="SplitConfig.seed used to make the 'test' split")
    data_dir: str | None = Field(None, description="local APIBench directory (else Hub, else bundled copy)")
    limit: int | None = Field(None, ge=1, description="only the first N prompts of each hub (quick checks)")
    # Parameters that control decoding
    generation: EvalDecoding = Field(default_factory=EvalDecoding)
    num_runs: int = Field(
        1, ge=1, le=100, description="runs with seeds SEED, SEED+1, ...; the paper reports the mean of 3"
    )
    # Parameters that control the openai backend
    llm: LLMSettings = operational(
        default_factory=LLMSettings, description="openai: server, pace, retries; `llm.model` follows `model`"
    )
    cache: str | None = operational(
        None, description="openai: SQLite answer cache (default OUTPUT_PATH/.cache/openai.sqlite)"
    )
    # Parameters that control scoring and execution
    sandbox: SandboxConfig | None = Field(
        default_factory=_default_sandbox,
        description="where generated code runs: docker (isolated), local, or none (skip executability); "
        "a backend name or the harness's whole SandboxConfig",
    )
    bootstrap: int = Field(
        1000, ge=0, le=100_000, description="resamples for the 95% intervals (0 = no intervals)"
    )
    # Parameters that control the output
    output_path: str = operational("eval-results", description="results go to OUTPUT_PATH/MODEL/RUN/")
    run_name: str | None = operational(None, description="RUN directory name (default: SPLIT-<config hash>)")
    progress: bool = operational(True, description="progress bars")

    @field_validator("hubs", mode="before")
    @classmethod
    def _normalize_hubs(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        out: list[str] = []
        for hub in value:
            try:
                name = normalize_hub(hub)
            except (KeyError, ValueError) as exc:
                raise ValueError(str(exc).strip("'\"")) from None
            if name not in out:
                out.append(name)
        return tuple(out)

    @field_validator("sandbox", mode="before")
    @classmethod
    def _sandbox_by_name(cls, value: Any) -> Any:
        """`sandbox: local` is short for `sandbox: {backend: local}`; `none` skips execution."""
        return sandbox_by_name(value)

    @model_validator(mode="after")
    def _check(self) -> EvalConfig:
        if self.backend == "hf" and self.generation.temperature == 0 and self.num_runs > 1:
            raise ValueError(
                "greedy decoding (temperature 0) with the hf backend is deterministic: every run would be "
                "identical; use num_runs=1, or a temperature > 0 to measure run-to-run spread"
            )
        if self.run_name is not None and not re.fullmatch(r"[A-Za-z0-9._-]+", self.run_name):
            raise ValueError(f"run_name {self.run_name!r}: use letters, digits, '.', '_' and '-' only")
        if "model" in self.llm.model_fields_set and self.llm.model != self.model:
            raise ValueError(
                f"llm.model={self.llm.model!r} disagrees with model={self.model!r}: set model only"
            )
        if self.llm.model != self.model:
            self.llm = self.llm.model_copy(update={"model": self.model})
        return self

    # -- derived -----------------------------------------------------------------------------------
    @property
    def seed(self) -> int:
        """The base seed (`generation.seed`): run r samples with seed+r; scoring and the bootstrap use it."""
        return self.generation.seed

    @property
    def sandbox_backend(self) -> str:
        return self.sandbox.backend if self.sandbox is not None else "none"

    def identity(self) -> dict[str, Any]:
        """The fields that define what the numbers mean (see the module docstring)."""
        ident = identity(self)
        if self.sandbox is not None and self.sandbox.world != "none" and self.sandbox.model_cache is None:
            # what the code ran against: another execution environment or stand-in world is another
            # measurement (a model_cache of the user's is itself part of the identity)
            from gorilla_rlaif.harness.world import fingerprint

            ident["sandbox_world"] = fingerprint()[:16]
        return ident

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
