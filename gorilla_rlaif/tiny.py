"""Build the tiny GPT-2 + byte-level BPE tokenizer used by the tests and the offline default.

Library code, not a test fixture: `make demo` and `gorilla-rlaif pipeline --preset tiny` start
from this model, and users can build one to try the toolkit without downloading anything.

The tokenizer is trained on APIBench text with the `tokenizers` library (seconds), wrapped in
`PreTrainedTokenizerFast` with eos/bos/unk/pad set, and saved with `save_pretrained` next to a
randomly initialised `GPT2LMHeadModel`, so both reload through `AutoTokenizer` /
`AutoModelForCausalLM.from_pretrained(path)` like any Hub model. Builds are cached on disk under
a hash of the config (and of the corpus files), and are deterministic for a given config.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field

from gorilla_rlaif.data.schema import HUBS, Hub
from gorilla_rlaif.io import write_json
from gorilla_rlaif.provenance import provenance, stable_hash
from gorilla_rlaif.sidecar import DIRECTORY_SIDECAR

log = logging.getLogger(__name__)

EOS = "<|endoftext|>"
PAD = "<|pad|>"
PROVENANCE_FILE = DIRECTORY_SIDECAR  # the model directory's record (gorilla_rlaif.sidecar)


class TinyModelConfig(BaseModel):
    """Size of the tiny model and what its tokenizer is trained on."""

    vocab_size: int = Field(2048, ge=300, le=65536)
    n_layer: int = Field(2, ge=1)
    n_embd: int = Field(64, ge=8)
    n_head: int = Field(2, ge=1)
    n_positions: int = Field(512, ge=64)
    dropout: float = Field(0.1, ge=0, lt=1)
    seed: int = 0
    corpus_hubs: tuple[Hub, ...] = Field(HUBS, description="hubs whose bundled files train the tokenizer")


def default_cache_dir() -> Path:
    root = os.environ.get("GORILLA_RLAIF_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "gorilla-rlaif"
    )
    return Path(root) / "tiny-models"


def _corpus(config: TinyModelConfig) -> tuple[list[str], dict[str, str]]:
    """Texts for the tokenizer: every bundled train/eval `code` text and API entry of the hubs."""
    import json

    from gorilla_rlaif.data.sources import FILE_NAMES, available, resolve_file
    from gorilla_rlaif.io import read_jsonl

    texts: list[str] = []
    hashes: dict[str, str] = {}
    for hub in config.corpus_hubs:
        for kind in ("train", "eval", "api"):
            if not available(hub, kind):
                continue
            resolved = resolve_file(hub, kind, source="bundled")
            hashes[FILE_NAMES[hub][kind]] = resolved.describe()["sha256"]
            for _, obj in read_jsonl(resolved.path):
                texts.append(obj["code"] if kind != "api" else json.dumps(obj, ensure_ascii=False))
    return texts, hashes


def _train_tokenizer(texts: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, bos_token=EOS, unk_token=EOS, pad_token=PAD
    )


def build_tiny_model(
    config: TinyModelConfig | None = None,
    output_dir: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    force: bool = False,
) -> Path:
    """Build (or reuse from cache) the tiny model; return the directory to `from_pretrained`.

    With `output_dir`, the model is written there (and not cached); otherwise it lives in
    `cache_dir / <config hash>` (default `~/.cache/gorilla-rlaif/tiny-models`).
    """
    config = config or TinyModelConfig()
    texts, hashes = _corpus(config)
    key = stable_hash({"config": config.model_dump(mode="json"), "corpus": hashes})
    target = Path(output_dir) if output_dir else Path(cache_dir or default_cache_dir()) / key
    if (target / PROVENANCE_FILE).exists() and not force:
        log.info("tiny model %s already built at %s", key, target)
        return target

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    log.info("building tiny model %s (%d tokenizer texts)", key, len(texts))
    tokenizer = _train_tokenizer(texts, config.vocab_size)
    torch.manual_seed(config.seed)
    model_config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=config.n_positions,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        resid_pdrop=config.dropout,
        embd_pdrop=config.dropout,
        attn_pdrop=config.dropout,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = GPT2LMHeadModel(model_config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tiny-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_json(
            tmp / PROVENANCE_FILE,
            provenance(config, inputs=hashes, key=key, parameters=sum(p.numel() for p in model.parameters())),
        )
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
