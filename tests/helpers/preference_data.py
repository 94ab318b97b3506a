"""A hand-made preference dataset in the published format, for the trainer tests.

Same layout `gorilla-rlaif preferences` writes (a Hub-layout directory: parquet per config and
split, README.md with the YAML `configs:` block), so `datasets.load_dataset(DIR, "preferences")`
reads it like a published one. Chosen = APIBench's gold answer; rejected = the same answer with
the model id replaced by a made-up one (a hallucinated API): a clearly separable set, on which a
reward model must rank chosen over rejected for held-out prompts.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

FAKE_MODEL_IDS = (
    "visionmega_xl",
    "hypernet_9000",
    "deepvision_ultra_v7",
    "omni_resnet_max",
    "megaclassifier_pro",
    "turbonet_gigantic",
)
SPLITS = ("train", "test")
CONFIGS = ("preferences", "binary", "feedback")


def model_id(api_call: str) -> str | None:
    """The model id of a TorchHub/HF call: `model='x'`, else the 2nd (TorchHub) or 1st quoted string."""
    keyword = re.search(r"model\s*=\s*['\"]([^'\"]+)['\"]", api_call)
    if keyword:
        return keyword.group(1)
    quoted = re.findall(r"['\"]([^'\"]+)['\"]", api_call)
    if "torch.hub.load" in api_call and len(quoted) >= 2:
        return quoted[1]
    return quoted[0] if quoted else None


def hallucinate(completion: str, api_call: str, rng: random.Random) -> str | None:
    """The completion with every occurrence of its model id replaced by a made-up id."""
    target = model_id(api_call)
    if not target or target not in completion:
        return None
    return completion.replace(target, rng.choice(FAKE_MODEL_IDS))


def _readme(configs: tuple[str, ...]) -> str:
    lines = ["---", "configs:"]
    for name in configs:
        lines += [f"- config_name: {name}", "  data_files:"]
        for split in SPLITS:
            lines += [f"  - split: {split}", f"    path: {name}/{split}-*.parquet"]
    lines += [
        "---",
        "",
        "# Synthetic preferences (tests): gold APIBench answers vs hallucinated model ids.",
        "",
    ]
    return "\n".join(lines)


def write_preference_dataset(
    output_dir: str | Path,
    *,
    hub: str = "torchhub",
    stage: str = "rm",
    test_fraction: float = 0.25,
    max_prompts: int | None = None,
    seed: int = 0,
    drop_columns: dict[str, list[str]] | None = None,
) -> Path:
    """Write the dataset; `drop_columns={"preferences": ["rejected"]}` makes a broken one for tests."""
    from datasets import Dataset

    from gorilla_rlaif.data import SplitConfig, make_splits, sft_example

    rng = random.Random(seed)
    records = [r for r in make_splits(SplitConfig(hub=hub, seed=seed))[stage] if r.output is not None]
    rows: dict[str, dict[str, list[dict]]] = {c: {s: [] for s in SPLITS} for c in CONFIGS}
    kept = 0
    for record in records:
        example = sft_example(record)
        rejected = hallucinate(example["completion"], record.output.api_call, rng)
        if rejected is None:
            continue
        if max_prompts is not None and kept >= max_prompts:
            break
        kept += 1
        split = "test" if rng.random() < test_fraction else "train"
        prompt, chosen, prompt_id = example["prompt"], example["completion"], record.id
        bad_answers = [True] * 5 + [False, False, False]  # "calls an API that exists" etc. answered no
        rows["preferences"][split].append(
            {
                "prompt": prompt,
                "chosen": chosen,
                "rejected": rejected,
                "score_chosen": 8.0,
                "score_rejected": 5.0,
                "prompt_id": prompt_id,
            }
        )
        for completion, score, answers in ((chosen, 8.0, [True] * 8), (rejected, 5.0, bad_answers)):
            row = {
                "prompt": prompt,
                "completion": completion,
                "label": score >= 6,
                "score": score,
                "answers": answers,
                "prompt_id": prompt_id,
            }
            rows["binary"][split].append(row)
            rows["feedback"][split].append({**row, "judge": "synthetic"})
    out = Path(output_dir)
    for config, splits in rows.items():
        for split, data in splits.items():
            ds = Dataset.from_list(data)
            for column in (drop_columns or {}).get(config, []):
                ds = ds.remove_columns(column)
            (out / config).mkdir(parents=True, exist_ok=True)
            ds.to_parquet(str(out / config / f"{split}-00000-of-00001.parquet"))
    (out / "README.md").write_text(_readme(CONFIGS), encoding="utf-8")
    return out
