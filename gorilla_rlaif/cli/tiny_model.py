"""Build the tiny GPT-2 and BPE tokenizer (trained on APIBench text) used offline and in tests.

The model is random (untrained): `gorilla-rlaif train sft` or the pipeline trains it. Builds are
cached by a hash of the config; the printed path loads with `AutoModelForCausalLM.from_pretrained`.
"""

from __future__ import annotations

import argparse

from pydantic import BaseModel, ConfigDict, Field

from gorilla_rlaif.cli.command import Command, flag
from gorilla_rlaif.tiny import TinyModelConfig

HELP = "build the tiny GPT-2 + tokenizer for offline runs and tests (cached)"


class BuildTinyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tiny: TinyModelConfig = Field(default_factory=TinyModelConfig)
    output_dir: str | None = Field(None, description="write here instead of the cache")
    force: bool = Field(False, description="rebuild even if cached")


def run(config: BuildTinyConfig, args: argparse.Namespace) -> int:
    from gorilla_rlaif.tiny import build_tiny_model

    print(build_tiny_model(config.tiny, config.output_dir, force=config.force))
    return 0


COMMAND = Command(
    HELP,
    BuildTinyConfig,
    run,
    flags=[
        flag("output_dir", "--output-dir", "-o"),
        *(
            flag(f"tiny.{key}")
            for key in ("vocab_size", "n_layer", "n_embd", "n_head", "n_positions", "seed")
        ),
        flag("force", value=True),
    ],
    outputs={"output_dir": "dir"},
)
