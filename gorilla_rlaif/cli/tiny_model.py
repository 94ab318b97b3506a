"""Build the tiny GPT-2 and BPE tokenizer (trained on APIBench text) used offline and in tests.

The model is random (untrained): `gorilla-rlaif train sft` or the pipeline trains it. Builds are
cached by a hash of the config; the printed path loads with `AutoModelForCausalLM.from_pretrained`.
"""

from __future__ import annotations

import argparse

HELP = "build the tiny GPT-2 + tokenizer for offline runs and tests (cached)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output-dir", "-o", help="write here instead of the cache")
    parser.add_argument("--vocab-size", type=int, default=2048)
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-embd", type=int, default=64)
    parser.add_argument("--n-head", type=int, default=2)
    parser.add_argument("--n-positions", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")


def run(args: argparse.Namespace) -> int:
    from gorilla_rlaif.tiny import TinyModelConfig, build_tiny_model

    config = TinyModelConfig(
        vocab_size=args.vocab_size,
        n_layer=args.n_layer,
        n_embd=args.n_embd,
        n_head=args.n_head,
        n_positions=args.n_positions,
        seed=args.seed,
    )
    path = build_tiny_model(config, args.output_dir, force=args.force)
    print(path)
    return 0
