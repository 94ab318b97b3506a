"""What raises the tiny preset's held-out reward-model accuracy within the demo's time budget?

    .venv/bin/python benchmarks/bench_rm_signal.py --run demo-output --output /tmp/rm-signal --rm-seeds 0 1 2

Takes a finished pipeline run (its seed's SFT model, rm-split prompts and settings), samples K=8
candidates per prompt once, labels them with the run's judge, and trains reward models on
datasets built from them in several ways:

- K: 4 candidates per prompt (the first 4 samples of the 8, what K=4 sampling gives) or 8;
- pairing: all pairs with a score gap >= 1, 2 or 3, or best-vs-worst;
- the reward model: pairwise (Bradley-Terry) or the paper's acceptability classifier (binary
  label = score >= threshold, its logit as the reward);
- pairs ranked by a judge's weighted score (sum of P(desirable)); the rules judge gives no
  probabilities, so this variant relabels the K=4 candidates with `--weighted-judge` (default:
  the `hf:` judge with the run's SFT model, the only offline judge with probabilities).

Every variant is scored on ONE held-out set, so the numbers compare: all pairs with a gap >= 1
among the K=8 candidates of the run's test prompts (the dataset's seeded prompt split), labelled
by the run's judge; also on its pairs with a gap >= 2. Each variant is trained with every
`--rm-seeds` seed (mean ± sd), and its cost is printed: sampling, labeling and RM training time.
Writes OUTPUT/results.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# name -> (candidates K, pairing, margin, reward mode, ranked by[, RM epochs when not the run's])
VARIANTS = {
    "K=4, all pairs, gap>=1 (current)": (4, "all-pairs", 1, "pairwise", "score"),
    "K=4, all pairs, gap>=2": (4, "all-pairs", 2, "pairwise", "score"),
    "K=4, all pairs, gap>=3": (4, "all-pairs", 3, "pairwise", "score"),
    "K=4, best-vs-worst": (4, "best-vs-worst", 1, "pairwise", "score"),
    "K=4, acceptability classifier": (4, "all-pairs", 1, "classifier", "score"),
    "K=4, weighted score (hf judge), gap>=0.5": (4, "all-pairs", 0.5, "pairwise", "weighted_score"),
    "K=8, all pairs, gap>=1": (8, "all-pairs", 1, "pairwise", "score"),
    "K=8, all pairs, gap>=1, 1 RM epoch": (8, "all-pairs", 1, "pairwise", "score", 1),
    "K=8, all pairs, gap>=2": (8, "all-pairs", 2, "pairwise", "score"),
    "K=8, all pairs, gap>=3": (8, "all-pairs", 3, "pairwise", "score"),
    "K=8, acceptability classifier": (8, "all-pairs", 1, "classifier", "score"),
}


def _timed(fn, *args, **kwargs):
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - started


def _subset(source: Path, target: Path, k: int) -> None:
    from gorilla_rlaif.io import read_jsonl, write_jsonl

    write_jsonl(target, [row for _, row in read_jsonl(source) if row["sample"] < k])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", required=True, help="a finished `gorilla-rlaif pipeline` directory")
    parser.add_argument("--seed", type=int, default=0, help="which seed of the run (its SFT model)")
    parser.add_argument("--output", required=True)
    parser.add_argument("--rm-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="*", help="names of VARIANTS to run (default: all)")
    parser.add_argument(
        "--weighted-judge", help="judge for the weighted-score variant (default: hf:<SFT model>)"
    )
    args = parser.parse_args()

    import torch

    from gorilla_rlaif.config import read_yaml
    from gorilla_rlaif.generate import generate_candidates
    from gorilla_rlaif.io import read_jsonl
    from gorilla_rlaif.judge import JudgeConfig, LabelConfig, label
    from gorilla_rlaif.pipeline import PipelineConfig, layout, resolve
    from gorilla_rlaif.publish import build_dataset
    from gorilla_rlaif.publish.build import preference_pairs, split_prompts

    run = Path(args.run).resolve()
    config = PipelineConfig.model_validate(read_yaml(layout(run)["config"]))
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    r = resolve(config, run, args.seed)
    out = Path(args.output).resolve()
    out.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()}, torch threads {torch.get_num_threads()}", flush=True)
    costs: dict[str, float] = {}

    # K=8 candidates once (the first 4 samples of each prompt are a K=4 sample), labelled once
    k8 = out / "candidates-k8.jsonl"
    candidates = r.candidates.model_copy(
        update={
            "output": str(k8),
            "generation": r.candidates.generation.model_copy(update={"num_candidates": 8}),
        }
    )
    _, costs["generate K=8"] = _timed(generate_candidates, candidates, progress=False)
    feedback = {8: out / "feedback-k8.jsonl", 4: out / "feedback-k4.jsonl"}
    label_config = r.label.model_copy(update={"candidates": str(k8), "output": str(feedback[8])})
    _, costs["label K=8"] = _timed(label, label_config, progress=False)
    _subset(feedback[8], feedback[4], 4)

    # the one held-out set: every pair with a gap >= 1 among the K=8 candidates of the test prompts
    rows = [row for _, row in read_jsonl(feedback[8]) if row["status"] == "ok"]
    split = split_prompts([row["prompt_id"] for row in rows], r.publish.test_fraction, r.publish.seed)
    by_prompt: dict[str, list[dict]] = {}
    for row in rows:
        if split[row["prompt_id"]] == "test":
            by_prompt.setdefault(row["prompt_id"], []).append(row)
    test_pairs = [p for group in by_prompt.values() for p in preference_pairs(group, "all-pairs", 1)]
    print(f"held-out: {len(by_prompt)} prompts, {len(test_pairs)} pairs (gap >= 1)", flush=True)

    wanted = args.variants or list(VARIANTS)
    results = {}
    for name in wanted:
        k, pairing, margin, mode, rank_by, *epochs = VARIANTS[name]
        source = feedback[k]
        if rank_by == "weighted_score":
            source = out / "feedback-k4-weighted.jsonl"
            if not source.exists():
                spec = args.weighted_judge or f"hf:{r.sft.output_dir}"
                weighted = LabelConfig(
                    candidates=str(out / "candidates-k4.jsonl"),
                    output=str(source),
                    judge=JudgeConfig(judge=spec),
                )
                _subset(k8, out / "candidates-k4.jsonl", 4)
                _, costs[f"label K=4 with {spec}"] = _timed(label, weighted, progress=False)
        dataset = (
            out / "datasets" / name.replace(" ", "_").replace(",", "").replace(">=", "ge").replace("=", "")
        )
        publish = r.publish.model_copy(
            update={
                "feedback": [str(source)],
                "output_dir": str(dataset),
                "pairing": pairing,
                "margin": margin,
                "rank_by": rank_by,
                "overwrite": True,
            }
        )
        record = build_dataset(publish)
        train_rows = record["counts"]["preferences" if mode == "pairwise" else "binary"]["train"]
        accuracies, strong, seconds = [], [], []
        for rm_seed in args.rm_seeds:
            rm_out = out / "rm" / f"{name_of(name)}-{rm_seed}"
            acc, acc2, took = train_and_score(r, dataset, mode, rm_seed, rm_out, test_pairs, *epochs)
            accuracies.append(acc)
            strong.append(acc2)
            seconds.append(took)
            print(
                f"{name} seed {rm_seed}: {100 * acc:.1f}% ({100 * acc2:.1f}% on gap>=2) in {took:.0f} s",
                flush=True,
            )
        results[name] = {
            "train_rows": train_rows,
            "mode": mode,
            "accuracy": accuracies,
            "accuracy_gap2": strong,
            "rm_seconds": seconds,
        }
        previous = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
        merged = {**previous.get("results", {}), **results}
        (out / "results.json").write_text(
            json.dumps(
                {
                    "costs": {**previous.get("costs", {}), **costs},
                    "test_pairs": len(test_pairs),
                    "results": merged,
                },
                indent=2,
            )
        )
    print_table(results, costs, len(test_pairs))
    print(f"load average after: {os.getloadavg()}")
    return 0


def name_of(variant: str) -> str:
    return variant.replace(" ", "_").replace(",", "").replace(">=", "ge").replace("=", "")


def train_and_score(
    r,
    dataset: Path,
    mode: str,
    seed: int,
    output_dir: Path,
    test_pairs: list[dict],
    epochs: float | None = None,
):
    """Train the run's reward model on `dataset` (mode, seed) and score the common held-out pairs."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from gorilla_rlaif import trainers
    from gorilla_rlaif.train.rewards import SequenceScorer

    cfg = r.reward.model_copy(
        update={
            "mode": mode,
            "seed": seed,
            "output_dir": str(output_dir),
            "overwrite": True,
            **({"num_train_epochs": epochs} if epochs else {}),
            "dataset": r.reward.dataset.model_copy(
                update={"path": str(dataset), "name": "preferences" if mode == "pairwise" else "binary"}
            ),
        }
    )
    started = time.perf_counter()
    trainers.train("reward", cfg)
    took = time.perf_counter() - started
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    model = AutoModelForSequenceClassification.from_pretrained(output_dir)
    scorer = SequenceScorer(model, tokenizer, max_length=cfg.max_length)
    prompts = [p["prompt"] for p in test_pairs]
    chosen = scorer.score_pairs(prompts, [p["chosen"] for p in test_pairs])
    rejected = scorer.score_pairs(prompts, [p["rejected"] for p in test_pairs])
    right = [c > x for c, x in zip(chosen, rejected, strict=True)]
    gap2 = [
        ok for ok, p in zip(right, test_pairs, strict=True) if p["score_chosen"] - p["score_rejected"] >= 2
    ]
    return sum(right) / len(right), (sum(gap2) / len(gap2) if gap2 else float("nan")), took


def print_table(results: dict, costs: dict, n_test: int) -> None:
    def ms(values: list[float]) -> str:
        values = [v for v in values if v == v]
        if not values:
            return "–"
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{100 * statistics.mean(values):.1f} ± {100 * sd:.1f}"

    print(f"\nHeld-out pairwise accuracy on the same {n_test} pairs (mean ± sd over RM seeds):\n")
    print("| variant | RM | train rows | accuracy (gap >= 1) | accuracy (gap >= 2) | RM training (s) |")
    print("|---|---|--:|--:|--:|--:|")
    for name, res in results.items():
        print(
            f"| {name} | {res['mode']} | {res['train_rows']} | {ms(res['accuracy'])} | {ms(res['accuracy_gap2'])} "
            f"| {statistics.mean(res['rm_seconds']):.0f} |"
        )
    print("\ncosts (s): " + ", ".join(f"{k} {v:.0f}" for k, v in costs.items()))


if __name__ == "__main__":
    sys.exit(main())
