"""How true is executability? APIBench's own answers against the sandbox's world, per hub.

    python benchmarks/bench_world.py --backend local --out benchmarks/results/world
    python benchmarks/bench_world.py --backend docker --hub torchhub --out /tmp/world-docker

For every eval question of each hub, three programs run in the sandbox (the default world: the
execution environment and the offline stand-ins, gorilla_rlaif.harness.world):
- **gold**: the answer's code as written (the ceiling of every model's executability);
- **made-up**: the same code with every model id / TF Hub handle / torch.hub entry it loads
  replaced by a made-up one: it must fail with `hub_error` (a stand-in world that ran made-up ids
  would reward hallucinations);
- **other-id**: for gold answers that run, the id replaced by the id another question's gold
  answer loads the same way (same classes / pipeline task, same TF Hub domain, same torch.hub
  repository): it must still run (the world holds every API, not only the question's own).

Writes OUT/SUMMARY.json (counts, rates, timings) and OUT/failures-<hub>.md: every gold answer that
does not run, with its status and a one-line reason (`failure_reason`), which the README links.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

from gorilla_rlaif.data import load_records
from gorilla_rlaif.harness import SandboxConfig, run_snippets
from gorilla_rlaif.harness.world import huggingface, torchhub

HUBS = ("huggingface", "tensorflowhub", "torchhub")
MADE_UP = "gorilla-made-up"
TF_HANDLE = re.compile(r"https?://tfhub\.dev/[^\s'\"`)]+")


def _replace_literal(code: str, old: str, new: str) -> str:
    return re.sub(rf"(['\"]){re.escape(old)}(['\":])", lambda m: m.group(1) + new + m.group(2), code)


def loaded_ids(hub: str, code: str) -> list[str]:
    """The model ids / handles / torch.hub entries `code` loads (what made-up replaces)."""
    if hub == "huggingface":
        return list(dict.fromkeys(m for m, _, _ in huggingface.usages_in_code(code)))
    if hub == "tensorflowhub":
        return list(dict.fromkeys(TF_HANDLE.findall(code)))
    return list(dict.fromkeys(load["entry"] for load in torchhub.hub_loads(code)))


def signature(hub: str, code: str, model_id: str) -> tuple:
    """How `code` loads `model_id` (answers with the same signature load ids interchangeably)."""
    if hub == "huggingface":
        return tuple(sorted((k, d) for m, k, d in huggingface.usages_in_code(code) if m == model_id))
    if hub == "tensorflowhub":
        return (re.sub(r"/\d+/?$", "", model_id).rsplit("/", 1)[0].split("tfhub.dev/")[-1].split("/")[-1],)
    return tuple(
        sorted({load["repo"].split(":")[0] for load in torchhub.hub_loads(code) if load["entry"] == model_id})
    )


def made_up(hub: str, code: str) -> str:
    for n, model_id in enumerate(loaded_ids(hub, code)):
        if hub == "huggingface":
            new = f"{MADE_UP}/model-{n}"
        elif hub == "tensorflowhub":
            new = f"https://tfhub.dev/{MADE_UP}/model-{n}/1"
        else:
            new = f"{model_id}_{MADE_UP.replace('-', '_')}"
        code = (
            _replace_literal(code, model_id, new) if hub != "tensorflowhub" else code.replace(model_id, new)
        )
    return code


# Modules answers import that no package provides (none on PyPI under that name or a close one,
# checked 2026-11-29 with `pip index versions`): the answer cannot run anywhere as written.
UNPUBLISHED = {
    "some_module": "a placeholder module name",
    "audio_models": "a module of the model author's own project (not a published package)",
    "TF_Decision_Trees": "a module no package provides (TensorFlow's decision forests are `tensorflow_decision_forests`)",
}


def _library_format(code: str) -> str | None:
    """The library whose format the stand-in of an id in `code` has, when not transformers'
    (asteroid, Stable-Baselines3): the world's own recipes say (`standins_libs.py`)."""
    from gorilla_rlaif.harness.world import huggingface, standins_libs

    for model_id, _, _ in huggingface.usages_in_code(code):
        if standins_libs.asteroid_recipe(model_id):
            return "asteroid"
        if standins_libs.sb3_recipe(model_id):
            return "Stable-Baselines3"
    return None


def _installed(top: str) -> bool:
    """Whether the execution environment has the top-level module `top` (so a missing submodule
    of it is the answer's mistake, not the environment's)."""
    from gorilla_rlaif.harness.world import env

    site = env.site_packages(env.env_dir())
    return (site / top).is_dir() or (site / f"{top}.py").is_file()


def failure_reason(status: str, result: dict | None, code: str | None) -> str:
    """One line saying why a gold answer does not run, most specific first."""
    if status == "no_code":
        return "APIBench's answer has no code section (free text)"
    message = ((result or {}).get("error_message") or "").strip().splitlines()
    text = message[-1] if message else ""
    error = (result or {}).get("error_type") or ""
    code = code or ""
    if status == "syntax_error":
        if re.search(r"^\s*!", code, re.M):
            return "the gold code is not Python: notebook shell lines (`!pip ...`)"
        return f"the gold code is not valid Python ({text})"
    if status == "name_error":
        name = re.search(r"name '([^']+)'", text)
        return f"the gold code uses `{name.group(1) if name else '?'}`, which it never defines"
    needs_gpu = re.search(
        r"\.cuda\(\)|\.to\(['\"]cuda|device=['\"]cuda|torch_dtype=torch\.float16|cpu_offload", code
    )
    if status == "import_error":
        module = re.search(r"No module named '([^']+)'", text)
        if module:
            top = module.group(1).split(".")[0]
            if top == "fairseq":
                return "needs fairseq, which does not install on Python 3.11"
            if top in UNPUBLISHED:
                return f"imports `{top}`, {UNPUBLISHED[top]}"
            if module.group(1) != top and _installed(top):
                return f"imports `{module.group(1)}`, which `{top}` does not have"
            if needs_gpu:
                return f"needs a GPU, and `{top}`, a library outside the execution environment"
            return f"needs `{top}`, a library outside the execution environment"
        name = re.search(r"cannot import name '([^']+)' from '([^']+)'", text)
        if name:
            return f"imports `{name.group(1)}`, which `{name.group(2)}` does not have"
    if (
        re.search(r"CUDA|cuda|NVIDIA driver|not implemented for 'Half'|Half|float16", text) or needs_gpu
    ) and status != "ok":
        return f"needs a GPU ({text[:80]})"
    if "Token is required" in text or "use_auth_token" in code:
        return "needs a Hugging Face access token (a gated model)"
    dataset = re.search(r"load_dataset\(\s*['\"]([^'\"]+)['\"]", code)
    if dataset and status == "hub_error" and re.search(r"your|path|dataset_name", dataset.group(1), re.I):
        return f"loads a placeholder dataset (`{dataset.group(1)}`)"
    if "load_dataset" in code and ("dataset" in text.lower() or "Offline" in text):
        return "loads a dataset from the Hub (not part of the stand-in world)"
    if error == "EOFError":
        return "waits for keyboard input (input())"
    if "Unknown task" in text:
        task = re.search(r"Unknown task ([\w-]+)", text)
        return f"asks for a pipeline task transformers does not have (`{task.group(1) if task else '?'}`)"
    if status == "hub_error" and re.search(r"['\"]\{[A-Z][A-Z _]*\}[^'\"]*['\"]", code):
        return "downloads a placeholder file name (`{MODEL FILENAME}.zip`), which no repository has"
    if status == "hub_error" and (library := _library_format(code)) and "transformers" in code:
        return f"loads a repository in {library}'s format with transformers (no config.json: not a transformers model)"
    if status == "hub_error" and (
        "is not cached locally" in text
        or "cannot find the requested files in the local cache" in text
        or "cached_download(" in code
    ):
        return "needs a file or revision of the repository that its stand-in does not have"
    if "from_hparams" in code and status == "hub_error":
        return "loads a SpeechBrain model (its files are not in the stand-in world)"
    if "pyannote/brouhaha" in code and status == "hub_error":
        return "pyannote/brouhaha needs the `brouhaha` package (not on PyPI): no stand-in"
    if "detectron2" in text or "layoutlmv2" in code.lower():
        return "LayoutLMv2 needs detectron2 (not installable here): no stand-in"
    if m := re.search(r"No mask_token \((\S+)\) found on the input", text):
        return f"writes a mask token the model does not use (its mask token is `{m.group(1)}`)"
    if re.search(r"KeyError: '(start_)?logits'", f"{error}: {text}") and re.search(
        r"model\s*=\s*AutoModel\.", code
    ):
        return "calls `pipeline()` with a headless `AutoModel` (no task head, so no logits)"
    return _code_fault(" ".join(message)) or f"{status}: {error}: {text}"[:200]


# Reasons that are the gold answer's own defect (the real model, with network and a GPU where
# asked for, fails the same way), and reasons that are the environment's: a library or model this
# world does not have. Everything else (a raw error message) is not attributed.
GOLD_FAULTS = (
    "APIBench's answer has no code",
    "the gold code",
    "imports `",
    "asks for a pipeline task",
    "needs a GPU",
    "needs a Hugging Face access token",
    "needs an OpenAI API key",
    "waits for keyboard input",
    "loads a ",
    "gives `pipeline()`",
    "calls `",
    "passes `",
    "feeds random float frames",
    "reads a placeholder",
    "fetches a placeholder URL",
    "gives the table-QA pipeline",
    "calls a tokenizer without text",
    "calls the TF Hub model",
    "calls a `hub.load` object",
    "passes `...`",
    "downloads a placeholder file name",
    "writes a mask token the model does not use",
    "calls a module as a function",
    "feeds float tensors",
    "tokenizes a batch",
    "passes a string where",
    "builds a pandas DataFrame",
    "passes a `",
    "passes an image",
)
ENVIRONMENT_FAULTS = (
    "needs `",
    "needs a file or revision",
    "needs fairseq",
    "LayoutLMv2 needs detectron2",
    "pyannote/brouhaha needs",
    "loads a dataset from the Hub",
    "loads a SpeechBrain model",
    "`pipeline(model=...)` without a task",
)


def fault_of(reason: str) -> str:
    """'gold' (the answer's own defect), 'environment' (what this world lacks) or 'unattributed'."""
    if reason.startswith(ENVIRONMENT_FAULTS) or "has no stand-in" in reason:
        return "environment"
    if reason.startswith(GOLD_FAULTS):
        return "gold"
    return "unattributed"


def _code_fault(text: str) -> str | None:
    """Errors the gold code causes itself (the real model raises them too), in one line."""
    if m := re.search(
        r"configuration class <class '[\w.]+\.(\w+)Config'> for this kind of AutoModel: (\w+)", text
    ):
        return f"loads a {m.group(1)} model with `{m.group(2)}`, which that architecture does not support"
    if m := re.search(r"Impossible to guess which (tokenizer|feature extractor)", text):
        return f"gives `pipeline()` a model object without its {m.group(1)} (transformers cannot guess it)"
    if m := re.search(r"'(\w+)' object has no attribute '(\w+)'", text):
        return f"calls `{m.group(2)}` on a `{m.group(1)}`, which has no such attribute"
    if m := re.search(r"(\w+(?:\.\w+)?)\(\) got multiple values for argument '(\w+)'", text):
        return f"passes `{m.group(2)}` to `{m.group(1)}()` twice (as a position and as `{m.group(2)}=`)"
    if m := re.search(r"(\w+(?:\.\w+)?)\(\) got an unexpected keyword argument '(\w+)'", text):
        return f"passes `{m.group(2)}=` to `{m.group(1)}()`, which does not take it"
    if m := re.search(
        r"(\w+(?:\.\w+)?)\(\) (takes \d+ positional arguments? but \d+ were given|missing \d+ required)", text
    ):
        return f"calls `{m.group(1)}()` with the wrong arguments ({m.group(2)})"
    if m := re.search(r"The current model class \((\w+)\) is not compatible with `.generate\(\)`", text):
        return f"calls `generate()` on `{m.group(1)}`, a class without a language-model head"
    if "contains values outside the range [0, 1]" in text:
        return "feeds random float frames (`np.random.randn`) the image processor refuses (outside [0, 1])"
    if m := re.search(r"Read-only file system: '/cache/huggingface/hub/models--([^']+)'", text):
        return f"`{m.group(1).replace('--', '/')}` has no stand-in (refused at build: see the world's report.json)"
    if "api.openai.com" in text:
        return "needs an OpenAI API key and the network (it calls the OpenAI API)"
    if m := re.search(r"HTTPS?ConnectionPool\(host='([^']+)'", text):
        return f"fetches a placeholder URL (`{m.group(1)}`)"
    placeholder = re.search(r"Incorrect image source.*? Got (.+?)\. Failed", text) or re.search(
        r"(?:unknown url type|Invalid URL):? '([^']+)'", text
    )
    missing = re.search(r"No such file or directory: '([^']+)'|/work/(\S+) does not exist", text)
    if missing and not placeholder:
        name = missing.group(1) or missing.group(2)
        if "<" in name or "." not in name.rsplit("/", 1)[-1] or re.search(r"path|url|your", name, re.I):
            return f"reads a placeholder (`{name}`), not a file or URL"
    if placeholder:
        return f"reads a placeholder (`{placeholder.group(1)}`), not a file or URL"
    if "`decode_predictions` expects a batch of predictions" in text:
        return "calls `decode_predictions` on the model's 1001 logits (ImageNet plus background), which it rejects"
    if "for signature:" in text or "Binding inputs to tf.function failed" in text:
        return "calls the TF Hub model with inputs its signature does not take (e.g. float images for uint8)"
    if "'_UserObject' object is not callable" in text:
        return "calls a `hub.load` object that has no `__call__` (its `signatures` are the entry points)"
    if "unsupported type (<class 'ellipsis'>)" in text or "'ellipsis' object" in text:
        return "passes `...` (a placeholder) as data"
    if m := re.search(r"invalid literal for int\(\) with base 10: '(your[^']*)'", text):
        return f"reads a placeholder (`{m.group(1)}`)"
    if "infer task automatically within `pipeline` when using offline mode" in text:
        return (
            "`pipeline(model=...)` without a task: transformers asks the Hub for the task (offline it cannot)"
        )
    if "Table must be of type pd.DataFrame" in text:
        return "gives the table-QA pipeline a table that is not a DataFrame"
    if "You need to specify either `text` or `text_target`" in text:
        return "calls a tokenizer without text"
    if text.endswith("table is empty"):
        return "gives the table-QA pipeline an empty table"
    if "'module' object is not callable" in text:
        return "calls a module as a function (`from X import name` imported a module, not a function)"
    if m := re.search(r"module '([\w.]+)' has no attribute '(\w+)'", text):
        return f"calls `{m.group(1)}.{m.group(2)}`, which the module `{m.group(1)}` does not have"
    if "Expected tensor for argument #1 'indices' to have one of the following scalar types" in text:
        return "feeds float tensors where the model takes token ids"
    if "Provide either `prompt` or `prompt_embeds`" in text:
        return "calls `pipe()` of a diffusers pipeline without a prompt"
    if "Unable to create tensor, you should probably activate truncation and/or padding" in text:
        return "tokenizes a batch of texts of different lengths without `padding=True`"
    if "Words must be of type `List[str]`" in text:
        return "passes a string where the tokenizer takes pre-split words"
    if (
        "All arrays must be of the same length" in text
        or "If using all scalar values, you must pass an index" in text
    ):
        return "builds a pandas DataFrame from columns it cannot align (different lengths, or scalars without an index)"
    if "text input must of type `str`" in text:
        return "passes an image (a pixel array) to a tokenizer as its text"
    if m := re.search(r"Could not infer dtype of (\w+)", text):
        return f"passes a `{m.group(1)}` where a tensor is expected"
    return None


def run_hub(hub: str, config: SandboxConfig, out: Path) -> dict:
    records = load_records(hub, "eval").records
    gold, snippets = {}, []
    for r in records:
        if r.output is not None:
            gold[r.question_id] = r.output.code
            snippets.append({"id": f"gold/{r.question_id}", "code": r.output.code})
            changed = made_up(hub, r.output.code)
            if changed != r.output.code:
                snippets.append({"id": f"made-up/{r.question_id}", "code": changed})
    start = time.monotonic()
    results = {
        x.id: x.model_dump(mode="json") for x in run_snippets(snippets, config, output=out / f"{hub}.jsonl")
    }
    gold_s = time.monotonic() - start
    # other-id: an id another question's *running* gold answer loads the same way
    ok_ids: dict[tuple, list[tuple[int, str]]] = defaultdict(list)
    for q, code in gold.items():
        if results[f"gold/{q}"]["status"] == "ok":
            for model_id in loaded_ids(hub, code):
                ok_ids[signature(hub, code, model_id)].append((q, model_id))
    swaps = []
    for q, code in gold.items():
        if results[f"gold/{q}"]["status"] != "ok":
            continue
        for model_id in loaded_ids(hub, code)[:1]:
            others = [m for oq, m in ok_ids[signature(hub, code, model_id)] if oq != q and m != model_id]
            if others:
                other = others[q % len(others)]
                swapped = (
                    _replace_literal(code, model_id, other)
                    if hub != "tensorflowhub"
                    else code.replace(model_id, other)
                )
                swaps.append({"id": f"other-id/{q}", "code": swapped})
    results.update(
        {x.id: x.model_dump(mode="json") for x in run_snippets(swaps, config, output=out / f"{hub}.jsonl")}
    )
    n = len(records)
    count = lambda kind: Counter(v["status"] for k, v in results.items() if k.startswith(kind + "/"))  # noqa: E731
    gold_counts, made_counts, swap_counts = count("gold"), count("made-up"), count("other-id")
    made_total = sum(made_counts.values())
    # the answers whose gold code runs: with a made-up id each must fail to load it (the others
    # may fail earlier, exactly as their gold answer does: a missing import, an undefined name)
    made_of_ok = [
        v["status"]
        for k, v in results.items()
        if k.startswith("made-up/") and results[f"gold/{k[8:]}"]["status"] == "ok"
    ]
    failures = []
    for r in records:
        if r.output is None:
            failures.append((r.question_id, "no_code", failure_reason("no_code", None, None)))
        elif results[f"gold/{r.question_id}"]["status"] != "ok":
            row = results[f"gold/{r.question_id}"]
            failures.append((r.question_id, row["status"], failure_reason(row["status"], row, r.output.code)))
    lines = [
        f"# {hub}: gold answers that do not run ({len(failures)} of {n})",
        "",
        "Whose failure: **gold**, the answer's own defect (the real model fails the same way);",
        "**environment**, a library or model this world does not have; **unattributed**, a raw error.",
        "",
        "| question | status | whose | reason |",
        "|--:|---|---|---|",
    ]
    lines += [f"| {q} | {s} | {fault_of(why)} | {why.replace('|', '/')} |" for q, s, why in failures]
    (out / f"failures-{hub}.md").write_text("\n".join(lines) + "\n")
    reasons = Counter(re.sub(r"`[^`]*`", "`X`", why).split(" (")[0] for _, _, why in failures)
    return {
        "n": n,
        "gold_ok": gold_counts["ok"],
        "gold_executability": round(gold_counts["ok"] / n, 4),
        "gold_counts": dict(gold_counts),
        "made_up": {
            "answers": made_total,
            "hub_error": made_counts["hub_error"],
            "counts": dict(made_counts),
        },
        "made_up_of_running_gold": {"answers": len(made_of_ok), "hub_error": made_of_ok.count("hub_error")},
        "made_up_hub_error_of_all": round(made_counts["hub_error"] / n, 4),
        "made_up_hub_error_of_loading": round(made_counts["hub_error"] / made_total, 4)
        if made_total
        else None,
        "other_id": {"answers": len(swaps), "ok": swap_counts["ok"], "counts": dict(swap_counts)},
        "other_id_ok_rate": round(swap_counts["ok"] / len(swaps), 4) if swaps else None,
        "failure_reasons": dict(reasons.most_common()),
        "failures_by_fault": dict(Counter(fault_of(why) for _, _, why in failures).most_common()),
        "seconds": {"gold_and_made_up": round(gold_s, 1), "total": round(time.monotonic() - start, 1)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="local", choices=["local", "docker"])
    parser.add_argument("--hub", nargs="+", default=list(HUBS), choices=HUBS)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/world"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0, help="per snippet (the harness default)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    config = SandboxConfig(backend=args.backend, workers=args.workers, timeout_s=args.timeout)
    summary = {"backend": args.backend, "workers": args.workers, "hubs": {}}
    previous = {}
    if (args.out / "SUMMARY.json").exists():
        previous = json.loads((args.out / "SUMMARY.json").read_text()).get("hubs", {})
    for hub in args.hub:
        summary["hubs"][hub] = run_hub(hub, config, args.out)
        if (
            summary["hubs"][hub]["seconds"]["total"] < 1 and hub in previous
        ):  # all resumed: keep the run's times
            summary["hubs"][hub]["seconds"] = previous[hub]["seconds"]
        (args.out / "SUMMARY.json").write_text(json.dumps(summary, indent=1))
    print(
        "| hub | n | gold runs | made-up id → hub_error (answers whose gold runs; all that load one) "
        "| other question's id runs | time |"
    )
    print("|---|--:|--:|--:|--:|--:|")
    for hub, s in summary["hubs"].items():
        made = s["made_up"]
        print(
            f"| {hub} | {s['n']} | {s['gold_executability']:.1%} ({s['gold_ok']}) | "
            f"{s['made_up_of_running_gold']['hub_error']}/{s['made_up_of_running_gold']['answers']}; "
            f"{made['hub_error']}/{made['answers']} = {s['made_up_hub_error_of_loading'] or 0:.1%} | "
            f"{s['other_id']['ok']}/{s['other_id']['answers']} = {s['other_id_ok_rate'] or 0:.1%} | "
            f"{s['seconds']['total']:.0f} s |"
        )


if __name__ == "__main__":
    main()
