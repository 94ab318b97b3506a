"""TorchHub stand-in world on APIBench's own answers: how many gold answers run, and how many fail
with `hub_error` once their entry point (or repository) is replaced by a made-up one.

    python benchmarks/bench_torchhub_world.py --backend local --out /tmp/torchhub-bench \
        --failures /work/notes/issue-14-torchhub-failures.md

Runs in the execution environment (gorilla_rlaif.harness.world.env) against the TorchHub world
(gorilla_rlaif.harness.world.torchhub, built once) plus tiny Hugging Face models for the ids that
`huggingface/pytorch-transformers` entries load. Prints a table; `--failures` writes every gold
answer that did not run (question id, status, one-line reason) as a markdown table.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path

from gorilla_rlaif.harness.model_cache import build_model_cache

from gorilla_rlaif.data import load_records
from gorilla_rlaif.harness import SandboxConfig, run_snippets
from gorilla_rlaif.harness.world import torchhub
from gorilla_rlaif.harness.world.env import ensure_env, site_packages

MADE_UP = "gorilla_made_up"


def replace_loads(code: str, what: str) -> str:
    """`code` with the entry point (what='entry') or the repository (what='repo') of every
    torch.hub.load replaced by a made-up name, as string literals wherever they occur."""
    for load in torchhub.hub_loads(code):
        old = load["entry"] if what == "entry" else load["repo"].split(":")[0]
        new = f"{old}_{MADE_UP}" if what == "entry" else f"{MADE_UP}/{old.split('/')[1]}"
        code = re.sub(rf"(['\"]){re.escape(old)}(['\":])", lambda m, n=new: m.group(1) + n + m.group(2), code)
    return code


def one_line(result) -> str:
    message = (result.error_message or "").strip().splitlines()
    return f"{result.error_type or ''}: {message[-1] if message else ''}"[:160]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="local", choices=["local", "docker"])
    parser.add_argument("--split", default="eval")
    parser.add_argument("--out", type=Path, default=Path("/tmp/torchhub-bench"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--failures", type=Path, help="write the failures table (markdown) here")
    args = parser.parse_args()

    start = time.monotonic()
    world = torchhub.ensure_world()
    report = json.loads((world / "report.json").read_text())
    cache = args.out / "models"
    build_model_cache(cache, torchhub.hf_model_ids(), [("pytorch/vision", "resnet18")])
    setup_s = time.monotonic() - start
    env = ensure_env()
    records = load_records("torchhub", args.split).records
    snippets, no_code = [], []
    for r in records:
        code = r.output.code if r.output else None
        if code is None:
            no_code.append(r.question_id)
            continue
        snippets.append({"id": f"gold/{r.question_id}", "code": code})
        snippets.append({"id": f"entry/{r.question_id}", "code": replace_loads(code, "entry")})
        snippets.append({"id": f"repo/{r.question_id}", "code": replace_loads(code, "repo")})
    config = SandboxConfig(
        backend=args.backend,
        site_packages=[site_packages(env)],
        model_cache=cache,
        workers=args.workers,
        timeout_s=args.timeout,
        preload_modules=["torch", "torchvision", "torchaudio", "timm", "transformers", "PIL.Image", "numpy"],
    )
    run_start = time.monotonic()
    results = run_snippets(snippets, config, output=args.out / f"results-{args.backend}.jsonl", progress=True)
    run_s = time.monotonic() - run_start
    by_kind: dict[str, list] = {"gold": [], "entry": [], "repo": []}
    for result in results:
        by_kind[result.id.split("/")[0]].append(result)
    n = len(records)
    gold_ok = sum(r.status.value == "ok" for r in by_kind["gold"])
    print(f"\nTorchHub world: {report['built']} entries built, {report['failed']} failed ({world})")
    print(
        f"setup {setup_s:.0f} s, {len(snippets)} snippets in {run_s:.0f} s ({args.backend}, {args.workers} workers)\n"
    )
    print("| answers | run (ok) | hub_error | other |")
    print("|---|--:|--:|--:|")
    for kind, label in (("gold", "gold"), ("entry", "entry made up"), ("repo", "repository made up")):
        counts = Counter(r.status.value for r in by_kind[kind])
        other = n - counts["ok"] - counts["hub_error"]
        print(
            f"| {label} ({n}) | {counts['ok']} ({100 * counts['ok'] / n:.1f}%) | {counts['hub_error']} ({100 * counts['hub_error'] / n:.1f}%) | {other} |"
        )
    print(f"\ngold answers that run: {gold_ok}/{n} = {100 * gold_ok / n:.1f}%")
    failures = sorted(
        [
            (int(r.id.split("/")[1]), r.status.value, one_line(r))
            for r in by_kind["gold"]
            if r.status.value != "ok"
        ]
        + [(q, "no_code", "the record's answer has no code section (did not parse)") for q in no_code]
    )
    for q, status, reason in failures:
        print(f"  {q:4d} {status:14s} {reason}")
    if args.failures:
        lines = ["| question | status | reason |", "|--:|---|---|"]
        lines += [f"| {q} | {status} | {reason.replace('|', '/')} |" for q, status, reason in failures]
        args.failures.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
