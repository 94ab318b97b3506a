"""A local judge on this machine: labels/s of SmolLM2-135M-Instruct behind llama-cpp-python's
server, in both modes, and how often it agrees with answers that can be verified from the code.

    python benchmarks/bench_local_judge.py [--prompts 10] [--modes per-question rubric] [--json OUT]

Needs the server of scripts/setup-llama-server.sh (`make test` sets it up). Candidates: for each
of the first N parsed TorchHub eval records, the gold answer and three variants with a known
defect (imports commented out; a syntax error; a name that is never defined), so the verifiable
questions have both answers. The server is started here on 127.0.0.1 with 2 threads; each mode
labels into a fresh output with the defaults a user gets (`--concurrency 8`; negotiation then
finds that the server answers one request at a time). labels/s = rows / wall time of `label`,
negotiation included.

Agreement: the `rules` judge's answers to `syntax`, `imports` and `undefined_names` come from
`compile` and pyflakes on the code section, i.e. they are verifiable facts about the code (not a
model's opinion); the SmolLM2 judge's answer to the same question is compared with them. Shown
next to it: the accuracy of always giving the more common answer (majority baseline) and Cohen's
kappa (0 = chance agreement). This is not `judge-report` (a full judge-quality report with
calibration); it is the number for the three questions whose truth we can compute.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

VERIFIABLE = ("syntax", "imports", "undefined_names")


def make_candidates(path: Path, n_prompts: int) -> list[dict]:
    from gorilla_rlaif.data import build_prompt, format_target, load_records
    from gorilla_rlaif.io import write_jsonl

    rows = []
    records = [r for r in load_records("torchhub", "eval", source="bundled").records if r.ok][:n_prompts]
    for record in records:
        gold = format_target(record.output)
        head, sep, code = gold.partition("<<<code>>>:")
        variants = {
            "gold": gold,
            "no_imports": head + sep + re.sub(r"(?m)^(\s*)(import |from )", r"\1# \2", code),
            "syntax_error": head + sep + code.replace(")", "", 1),
            "undefined_name": gold + "\nprint(result_of_model)",
        }
        for kind, completion in variants.items():
            rows.append(
                {
                    "id": f"{record.id}#{kind}",
                    "prompt_id": record.id,
                    "prompt": build_prompt(record.instruction, record.input),
                    "completion": completion,
                    "hub": "torchhub",
                    "reference": {"api_call": record.api_data.api_call, "domain": record.api_data.domain},
                }
            )
    write_jsonl(path, rows)
    return rows


def run_label(
    candidates: Path, output: Path, judge: str, mode: str = "per-question", base_url: str | None = None
):
    from gorilla_rlaif.judge import JudgeConfig, LabelConfig, label
    from gorilla_rlaif.llm import LLMSettings

    config = LabelConfig(
        candidates=str(candidates),
        output=str(output),
        judge=JudgeConfig(judge=judge, mode=mode, openai={"llm": LLMSettings(base_url=base_url)}),
    )
    start = time.perf_counter()
    summary = label(config, progress=False)
    return summary, time.perf_counter() - start


def rows_by_id(path: Path) -> dict[str, dict]:
    return {
        r["id"]: r
        for r in (json.loads(line) for line in path.read_text().splitlines())
        if r["status"] == "ok"
    }


def agreement(judge_rows: dict[str, dict], truth_rows: dict[str, dict], question: str) -> dict:
    pairs = [
        (truth_rows[i]["answers"][question], r["answers"][question])
        for i, r in judge_rows.items()
        if i in truth_rows
    ]
    n = len(pairs)
    if not n:
        return {"n": 0}
    agree = sum(t == j for t, j in pairs) / n
    p_truth_yes = sum(t == "yes" for t, _ in pairs) / n
    p_judge_yes = sum(j == "yes" for _, j in pairs) / n
    chance = p_truth_yes * p_judge_yes + (1 - p_truth_yes) * (1 - p_judge_yes)
    kappa = (agree - chance) / (1 - chance) if chance < 1 else 0.0
    return {
        "n": n,
        "accuracy": round(agree, 4),
        "majority_baseline": round(max(p_truth_yes, 1 - p_truth_yes), 4),
        "kappa": round(kappa, 4),
        "judge_says_yes": round(p_judge_yes, 4),
        "truth_yes": round(p_truth_yes, 4),
    }


def main(argv: list[str] | None = None) -> int:
    from gorilla_rlaif.testing.llama_server import MODEL_ALIAS, LlamaServer, read_setup, setup_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=10, help="TorchHub eval records (4 candidates each)")
    parser.add_argument(
        "--modes", nargs="+", default=["per-question", "rubric"], choices=["per-question", "rubric"]
    )
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args(argv)
    setup = read_setup()
    if setup is None:
        print(f"no server set up ({setup_file()}): run scripts/setup-llama-server.sh", file=sys.stderr)
        return 2

    results: dict = {"load_average_before": os.getloadavg(), "prompts": args.prompts, "modes": {}}
    with tempfile.TemporaryDirectory(prefix="bench-local-judge-") as tmp:
        work = Path(tmp)
        candidates = work / "candidates.jsonl"
        rows = make_candidates(candidates, args.prompts)
        run_label(candidates, work / "rules.jsonl", "rules")
        truth = rows_by_id(work / "rules.jsonl")
        results["candidates"] = len(rows)
        with LlamaServer(setup, work / "server.log") as server:
            for mode in args.modes:
                out = work / f"smollm2-{mode}.jsonl"
                summary, seconds = run_label(candidates, out, f"openai:{MODEL_ALIAS}", mode, server.base_url)
                judged = rows_by_id(out)
                results["modes"][mode] = {
                    "rows": summary["rows"],
                    "ok": summary["ok"],
                    "failed": summary["failed"],
                    "seconds": round(seconds, 1),
                    "labels_per_s": round(summary["rows"] / seconds, 4),
                    "requests": summary["run"].get("requests_sent"),
                    "retries": summary["run"].get("retries"),
                    "probes": summary["run"].get("probes"),
                    "reasks": summary["run"].get("reasks"),
                    "answer_sources": summary["answer_sources"],
                    "mean_score": summary["mean_score"],
                    "agreement": {q: agreement(judged, truth, q) for q in VERIFIABLE},
                }
        results["load_average_after"] = os.getloadavg()

    print(f"{results['candidates']} candidates; load average {results['load_average_before'][0]:.1f} before")
    print("| mode | rows ok | wall s | labels/s | requests (probes, re-asks) |")
    print("|---|--:|--:|--:|--:|")
    for mode, r in results["modes"].items():
        print(
            f"| {mode} | {r['ok']}/{r['rows']} | {r['seconds']} | {r['labels_per_s']:.3f} | "
            f"{r['requests']} ({r['probes']}, {r['reasks']}) |"
        )
    print("\n| mode | question | n | agrees with the code | majority baseline | kappa | judge says yes |")
    print("|---|---|--:|--:|--:|--:|--:|")
    for mode, r in results["modes"].items():
        for q, a in r["agreement"].items():
            if a["n"]:
                print(
                    f"| {mode} | {q} | {a['n']} | {a['accuracy']:.1%} | {a['majority_baseline']:.1%} | "
                    f"{a['kappa']:+.2f} | {a['judge_says_yes']:.0%} |"
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
