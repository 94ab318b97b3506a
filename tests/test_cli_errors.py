"""Bad input, as a new user types it: every case is one line on stderr and exit code 2 (naming the
file, flag or config key), or the right result; never a traceback, and nothing is written (or
what is written resumes).

Output paths are tried for every command that writes: a directory where a file goes (or a file
where a directory goes), a parent that is a file, a read-only mount and a full disk (real tmpfs
mounts, made by the test: it runs as root, as CI does).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gorilla_rlaif.cli import bench_main, rlaif_main
from gorilla_rlaif.io import read_jsonl, write_jsonl
from tests.helpers.candidates import candidate_rows, gold_records

MAIN = {"rlaif": rlaif_main, "bench": bench_main}


# ---- inputs every case can use ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tiny_model_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from gorilla_rlaif.eval import EvalConfig, run_eval
    from gorilla_rlaif.judge import LabelConfig, label

    d = tmp_path_factory.mktemp("inputs")
    paths = {"tiny": tiny_model_path, "dir": d / "a-directory", "file": d / "a-file.txt"}
    paths["dir"].mkdir()
    paths["file"].write_text("not a directory\n")
    # a reward model (sequence classifier) built from the tiny causal LM
    rm = d / "reward-model"
    AutoModelForSequenceClassification.from_pretrained(tiny_model_path, num_labels=1).save_pretrained(rm)
    AutoTokenizer.from_pretrained(tiny_model_path).save_pretrained(rm)
    paths["rm"] = rm
    # a model directory without tokenizer files, and one with truncated weights
    notok = d / "no-tokenizer"
    notok.mkdir()
    for name in ("config.json", "model.safetensors", "generation_config.json"):
        if (tiny_model_path / name).exists():
            shutil.copy(tiny_model_path / name, notok / name)
    paths["notok"] = notok
    trunc = d / "truncated"
    shutil.copytree(tiny_model_path, trunc)
    weights = (trunc / "model.safetensors").read_bytes()
    (trunc / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    paths["trunc"] = trunc
    # prompts, candidates, feedback (rules judge), snippets, responses
    rows = candidate_rows(n_prompts=3, per_prompt=2)
    write_jsonl(d / "prompts.jsonl", [{"id": r["prompt_id"], "prompt": r["prompt"]} for r in rows[::2]])
    write_jsonl(d / "candidates.jsonl", rows)
    label(
        LabelConfig(candidates=str(d / "candidates.jsonl"), output=str(d / "feedback.jsonl")), progress=False
    )
    write_jsonl(d / "snippets.jsonl", [{"id": "a", "code": "print(1)"}, {"id": "b", "code": "1/0"}])
    for hub in ("torchhub", "huggingface", "tensorflowhub"):
        records = gold_records(hub, 5)
        write_jsonl(
            d / f"{hub}.responses.jsonl",
            [{"question_id": r.question_id, "text": r.raw_code} for r in records],
        )
    paths.update({k: d / f"{k}.jsonl" for k in ("prompts", "candidates", "feedback", "snippets")})
    dup = [row for _, row in read_jsonl(d / "torchhub.responses.jsonl")]
    write_jsonl(d / "dup.responses.jsonl", [*dup, dup[0]])
    paths["dup_responses"] = d / "dup.responses.jsonl"
    bad_ref = [dict(rows[0], reference="oops"), *rows[1:]]
    write_jsonl(d / "bad-reference.jsonl", bad_ref)
    paths["bad_reference"] = d / "bad-reference.jsonl"
    # an eval run (APIBench's own answers: no model, no sandbox) and its results.json
    evals = d / "eval-results"
    config = EvalConfig(
        model="apibench-reference", backend="reference", hubs=["torchhub"], limit=3, sandbox="none",
        output_path=str(evals), run_name="ref", progress=False,
    )  # fmt: skip
    paths["run"] = run_eval(config)
    paths["evals"] = evals
    paths["results"] = paths["run"] / "results.json"
    return paths


@pytest.fixture(scope="module")
def mounts(tmp_path_factory, inputs):
    """A read-only tmpfs and a full one, each holding a copy of the inputs that are written into
    (an eval run, its output directory, a model directory)."""
    base = tmp_path_factory.mktemp("mounts")
    made = []
    try:
        for name in ("ro", "full"):
            root = base / name
            root.mkdir()
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(root)], check=True)
            made.append(root)
            shutil.copytree(inputs["evals"], root / "eval-results")
            shutil.copytree(inputs["tiny"], root / "model")
        subprocess.run(["mount", "-o", "remount,ro", str(base / "ro")], check=True)
        with (base / "full" / "filler").open("wb") as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * (1 << 16))
                f.flush()
        yield {"ro": base / "ro", "full": base / "full"}
    finally:
        for root in made:
            subprocess.run(["umount", str(root)], check=False)


def run_cli(capsys, program: str, argv: list[str]) -> tuple[int, str, str]:
    code = MAIN[program]([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str, program: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert lines, "no error message"
    assert "Traceback" not in err, err
    last = lines[-1]
    assert last.startswith(f"gorilla-{program}: error: "), err
    return last


def listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


# ---- outputs that cannot be written, for every command that writes ------------------------------------
# command -> (program, argv with {OUT} for the output, what the output is)
WRITERS: dict[str, tuple[str, list[str], str]] = {
    "data-export": ("rlaif", ["data", "export", "--hub", "torchhub", "--output", "{OUT}"], "file"),
    "data-splits": ("rlaif", ["data", "splits", "--output-dir", "{OUT}"], "dir"),
    "generate": ("rlaif", ["generate", "{tiny}", "--prompts", "{prompts}", "-o", "{OUT}"], "file"),
    "label": ("rlaif", ["label", "{candidates}", "-o", "{OUT}"], "file"),
    "preferences": ("rlaif", ["preferences", "{feedback}", "-o", "{OUT}", "--version", "0.1.0"], "dir"),
    "train": ("rlaif", ["train", "sft", "-o", "{OUT}", "model={tiny}", "max_steps=1"], "dir"),
    "pipeline": ("rlaif", ["pipeline", "-o", "{OUT}"], "dir"),
    "exec": ("bench", ["exec", "{snippets}", "--backend", "local", "-o", "{OUT}"], "file"),
    "eval": ("bench", ["eval", "x", "--backend", "reference", "--limit", "1", "--sandbox", "none", "-o", "{OUT}"], "dir"),
    "score": ("bench", ["score", "{torchhub_responses}", "--hub", "torchhub", "--output", "{OUT}"], "file"),
    "score-per-sample": ("bench", ["score", "{torchhub_responses}", "--hub", "torchhub", "--per-sample", "{OUT}"], "file"),
}  # fmt: skip
# commands that write into a directory they read (on the mounts only)
IN_PLACE: dict[str, tuple[str, list[str]]] = {
    "report": ("bench", ["report", "{MOUNT}/eval-results/apibench-reference/ref"]),
    "leaderboard": ("bench", ["leaderboard", "{MOUNT}/eval-results"]),
    "card": ("bench", ["card", "{MOUNT}/model", "--results", "{results}", "--allow-other-model"]),
}
REASONS = {
    "isdir": r"is a (directory|file)",
    "notdir": r"is a file, not a directory",
    "ro": r"read-only file system",
    "full": r"no space left",
}


def _fill(argv: list[str], inputs: dict, **extra: object) -> list[str]:
    values = {**{k: str(v) for k, v in inputs.items()}, **{k: str(v) for k, v in extra.items()}}
    values["torchhub_responses"] = str(Path(values["prompts"]).parent / "torchhub.responses.jsonl")
    return [a.format(**values) for a in argv]


def output_cases() -> list:
    cases = [pytest.param(n, v, id=f"{n}-{v}") for n in WRITERS for v in REASONS]
    return cases + [pytest.param(n, v, id=f"{n}-{v}") for n in IN_PLACE for v in ("ro", "full")]


@pytest.mark.parametrize(("name", "variant"), output_cases())
def test_unwritable_output_is_one_line_and_writes_nothing(name, variant, inputs, mounts, tmp_path, capsys):
    if name in IN_PLACE:
        program, argv = IN_PLACE[name]
        root = mounts[variant]
        out = root
        argv = _fill(argv, inputs, MOUNT=root)
    else:
        program, argv, kind = WRITERS[name]
        suffix = ".jsonl" if kind == "file" else ""
        if variant == "isdir":
            out = inputs["dir"] if kind == "file" else inputs["file"]
            root = out.parent
        elif variant == "notdir":
            out = inputs["file"] / f"out{suffix}"
            root = inputs["file"].parent
        else:
            root = mounts[variant]
            out = root / f"{name}-out{suffix}"
        argv = _fill(argv, inputs, OUT=out)
    before = listing(root)
    code, _, err = run_cli(capsys, program, argv)
    line = one_error_line(err, program)
    assert code == 2
    assert re.search(REASONS[variant], line), line
    assert str(out) in line or str(root) in line, line  # names the path
    assert listing(root) == before  # nothing written


# ---- every other case of bad input -------------------------------------------------------------------
# (id, program, argv, what the one line must say)
CASES = [
    # files given where another kind of file is expected
    ("rubric-dir", "rlaif", ["label", "{candidates}", "-o", "{tmp}/f.jsonl", "--rubric", "{dir}"], r"a-directory.*(directory|not a file)"),
    ("config-dir-train", "rlaif", ["train", "sft", "--config", "{dir}"], r"config file .*a-directory is a directory"),
    ("config-dir-label", "rlaif", ["label", "{candidates}", "--config", "{dir}"], r"config file .*a-directory is a directory"),
    ("config-dir-eval", "bench", ["eval", "m", "--config", "{dir}"], r"config file .*a-directory is a directory"),
    # splits
    ("fractions-negative", "rlaif", ["data", "splits", "-o", "{tmp}/s", "--fractions", "sft=-1,rm=2,rl=0"], r"--fractions.*non-negative"),
    ("fractions-zero", "rlaif", ["data", "splits", "-o", "{tmp}/s", "--fractions", "sft=0,rm=0,rl=0"], r"--fractions.*not all zero"),
    ("holdout-1.5", "rlaif", ["data", "splits", "-o", "{tmp}/s", "--holdout-fraction", "1.5"], r"--holdout-fraction: .*less than 1"),
    ("holdout-0", "rlaif", ["data", "splits", "-o", "{tmp}/s", "--holdout-fraction", "0"], r"--holdout-fraction: .*greater than 0"),
    # sandbox limits
    ("exec-timeout-0", "bench", ["exec", "{snippets}", "-o", "{tmp}/r.jsonl", "--timeout", "0"], r"--timeout: .*greater than 0"),
    ("exec-timeout-neg", "bench", ["exec", "{snippets}", "-o", "{tmp}/r.jsonl", "--timeout", "-1"], r"--timeout: .*greater than 0"),
    ("exec-timeout-huge", "bench", ["exec", "{snippets}", "-o", "{tmp}/r.jsonl", "--timeout", "1e12"], r"--timeout: .*less than or equal to 86400"),
    ("eval-timeout-huge", "bench", ["eval", "x", "--backend", "reference", "-o", "{tmp}/e", "--exec-timeout", "1e12"], r"--exec-timeout: .*less than or equal to 86400"),
    ("exec-memory-0", "bench", ["exec", "{snippets}", "-o", "{tmp}/r.jsonl", "--memory-mb", "0"], r"--memory-mb: .*greater than or equal to 64"),
    ("exec-memory-neg", "bench", ["exec", "{snippets}", "-o", "{tmp}/r.jsonl", "--memory-mb", "-100"], r"--memory-mb: "),
    ("exec-workers", "bench", ["exec", "{snippets}", "-o", "{tmp}/r.jsonl", "--workers", "-2"], r"--workers: .*greater than or equal to 1"),
    ("exec-procs", "bench", ["exec", "{snippets}", "-o", "{tmp}/r.jsonl", "--max-procs", "0"], r"--max-procs: "),
    ("exec-output", "bench", ["exec", "{snippets}", "-o", "{tmp}/r.jsonl", "--max-output-kb", "0"], r"--max-output-kb: "),
    ("exec-file", "bench", ["exec", "{snippets}", "-o", "{tmp}/r.jsonl", "--max-file-mb", "-1"], r"--max-file-mb: "),
    # sizes that would exhaust memory
    ("generate-k-huge", "rlaif", ["generate", "{tiny}", "--prompts", "{prompts}", "-o", "{tmp}/c.jsonl", "-k", "1000000"], r"--num-candidates: .*less than or equal to"),
    ("generate-k-zero", "rlaif", ["generate", "{tiny}", "--prompts", "{prompts}", "-o", "{tmp}/c.jsonl", "-k", "0"], r"--num-candidates: .*greater than or equal to 1"),
    ("score-bootstrap-huge", "bench", ["score", "{torchhub_responses}", "--hub", "torchhub", "--bootstrap", "1000000000"], r"--bootstrap: "),
    ("score-bootstrap-neg", "bench", ["score", "{torchhub_responses}", "--hub", "torchhub", "--bootstrap", "-5"], r"--bootstrap: .*greater than or equal to 0"),
    # devices
    ("generate-cuda", "rlaif", ["generate", "{tiny}", "--prompts", "{prompts}", "-o", "{tmp}/c.jsonl", "--device", "cuda"], r"device=cuda but no CUDA"),
    ("generate-device-foo", "rlaif", ["generate", "{tiny}", "--prompts", "{prompts}", "-o", "{tmp}/c.jsonl", "--device", "foo"], r"--device: unknown device 'foo'"),
    ("eval-cuda", "bench", ["eval", "{tiny}", "--hub", "torchhub", "--limit", "1", "--sandbox", "none", "-o", "{tmp}/e", "--device", "cuda"], r"device=cuda but no CUDA"),
    ("eval-device-foo", "bench", ["eval", "{tiny}", "--device", "foo", "-o", "{tmp}/e"], r"--device: unknown device 'foo'"),
    # models that cannot be loaded, or do not fit their role
    ("generate-no-tokenizer", "rlaif", ["generate", "{notok}", "--prompts", "{prompts}", "-o", "{tmp}/c.jsonl"], r"no-tokenizer has no tokenizer files"),
    ("generate-truncated", "rlaif", ["generate", "{trunc}", "--prompts", "{prompts}", "-o", "{tmp}/c.jsonl"], r"cannot load the generator .*truncated"),
    ("dpo-reward-model-as-policy", "rlaif", ["train", "dpo", "-o", "{tmp}/t", "model={rm}", "dataset.path={dir}", "--dry-run"], r"reward-model is a sequence classifier .*policy must be a causal LM"),
    ("generate-reward-model", "rlaif", ["generate", "{rm}", "--prompts", "{prompts}", "-o", "{tmp}/c.jsonl"], r"reward-model is a sequence classifier .*generator must be a causal LM"),
    ("label-hf-reward-model", "rlaif", ["label", "{candidates}", "-o", "{tmp}/f.jsonl", "--judge", "hf:{rm}"], r"reward-model is a sequence classifier .*judge must be a causal LM"),
    ("sft-reward-model", "rlaif", ["train", "sft", "-o", "{tmp}/t", "model={rm}", "--dry-run"], r"reward-model is a sequence classifier .*policy must be a causal LM"),
    ("eval-reward-model", "bench", ["eval", "{rm}", "--hub", "torchhub", "--limit", "1", "--sandbox", "none", "-o", "{tmp}/e"], r"reward-model is a sequence classifier"),
    ("grpo-causal-reward", "rlaif", ["train", "grpo", "-o", "{tmp}/t", "model={tiny}", "rewards=[{{kind: reward_model, path: {tiny}}}]", "--dry-run"], r"is a causal LM .*reward model must be a sequence classifier"),
    ("ppo-causal-reward", "rlaif", ["train", "ppo", "-o", "{tmp}/t", "model={tiny}", "reward_model={tiny}", "--dry-run"], r"is a causal LM .*reward model must be a sequence classifier"),
    ("sft-no-tokenizer", "rlaif", ["train", "sft", "-o", "{tmp}/t", "model={notok}", "--dry-run"], r"no-tokenizer has no tokenizer files"),
    ("sft-max-steps-0", "rlaif", ["train", "sft", "-o", "{tmp}/t", "max_steps=0", "--dry-run"], r"max_steps: .*-1 .*or at least 1"),
    ("sft-max-steps-neg", "rlaif", ["train", "sft", "-o", "{tmp}/t", "max_steps=-7", "--dry-run"], r"max_steps: "),
    ("sft-trl-type", "rlaif", ["train", "sft", "-o", "{tmp}/t", "trl.adam_beta1=abc", "--dry-run"], r"trl\.adam_beta1: .*number"),
    ("sft-missing-model-path", "rlaif", ["train", "sft", "-o", "{tmp}/t", "model=models/nope", "--dry-run"], r"models/nope: not a local directory.*offline"),
    # damaged result files
    ("report-truncated-run-json", "bench", ["report", "{broken_run}"], r"run\.json: .*JSON"),
    ("leaderboard-non-numeric", "bench", ["leaderboard", "{bad_board}"], r"results\.json: .*ast_accuracy"),
    ("leaderboard-non-utf8", "bench", ["leaderboard", "{binary_board}"], r"results\.json: .*UTF-8"),
    ("card-missing-path", "bench", ["card", "runs/nope/model", "--results", "{results}"], r"runs/nope/model does not exist"),
    # accepted before, with a wrong result
    ("score-wrong-hub", "bench", ["score", "{torchhub_responses}", "--hub", "huggingface"], r"responses call torchhub APIs .*not huggingface ones"),
    ("score-tf-as-hf", "bench", ["score", "{tf_responses}", "--hub", "huggingface"], r"responses call tensorflowhub APIs .*not huggingface ones"),
    ("score-duplicate-question", "bench", ["score", "{dup_responses}", "--hub", "torchhub"], r"duplicate question_id"),
    ("label-output-is-input", "rlaif", ["label", "{candidates}", "-o", "{candidates}"], r"--output .*is the input"),
    ("generate-output-is-prompts", "rlaif", ["generate", "{tiny}", "--prompts", "{prompts}", "-o", "{prompts}"], r"--output .*is the input"),
    ("generate-output-is-feedback", "rlaif", ["generate", "{tiny}", "--prompts", "{prompts}", "-o", "{feedback}"], r"feedback\.jsonl .*not a candidates file"),
    ("preferences-threshold", "rlaif", ["preferences", "{feedback}", "-o", "{tmp}/d", "--version", "0.1.0", "--threshold", "100"], r"threshold 100: a score is at most 8"),
    ("candidate-bad-reference", "rlaif", ["label", "{bad_reference}", "-o", "{tmp}/f.jsonl"], r"bad-reference\.jsonl:1: .*reference"),
    ("pipeline-until-typo", "rlaif", ["pipeline", "-o", "{tmp}/p", "--dry-run", "--until", "publsh"], r"--until: unknown stage 'publsh'; did you mean 'publish'"),
    ("card-typo", "bench", ["card", "cm/nope", "--results", "{results}"], r"cm/nope is not a local model directory.*HF_HUB_OFFLINE"),
    ("card-jsonl", "bench", ["card", "{candidates}", "--results", "{results}"], r"candidates\.jsonl is a file, not a model directory"),
    ("card-empty-dir", "bench", ["card", "{dir}", "--results", "{results}"], r"a-directory is a directory without config\.json"),
    ("card-other-model", "bench", ["card", "{tiny}", "--results", "{results}"], r"results of model 'apibench-reference'"),
    ("report-duplicate-sample", "bench", ["report", "{dup_run}"], r"samples\.jsonl:\d+: duplicate sample"),
]  # fmt: skip


@pytest.fixture(scope="module")
def damaged(inputs, tmp_path_factory):
    d = tmp_path_factory.mktemp("damaged")
    broken = d / "broken" / "m" / "run"
    shutil.copytree(inputs["run"], broken)
    text = (broken / "run.json").read_text()
    (broken / "run.json").write_text(text[: len(text) // 2])
    bad = d / "bad-board"
    shutil.copytree(inputs["evals"], bad)
    results = bad / "apibench-reference" / "ref" / "results.json"
    record = json.loads(results.read_text())
    record["hubs"]["torchhub"]["metrics"]["ast_accuracy"]["value"] = "high"
    results.write_text(json.dumps(record))
    binary = d / "binary-board"
    shutil.copytree(inputs["evals"], binary)
    (binary / "apibench-reference" / "ref" / "results.json").write_bytes(b'{"model": "\xff\xfe"}')
    dup = d / "dup" / "m" / "run"
    shutil.copytree(inputs["run"], dup)
    lines = (dup / "samples.jsonl").read_text().splitlines()
    (dup / "samples.jsonl").write_text("\n".join([*lines, lines[0]]) + "\n")
    tf = d / "tf.responses.jsonl"
    shutil.copy(Path(inputs["prompts"]).parent / "tensorflowhub.responses.jsonl", tf)
    return {
        "broken_run": broken,
        "bad_board": bad,
        "binary_board": binary,
        "dup_run": dup,
        "tf_responses": tf,
    }


@pytest.mark.parametrize(("program", "argv", "expected"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_input_is_one_line_naming_it(program, argv, expected, inputs, damaged, tmp_path, capsys):
    watched = [inputs["candidates"], inputs["prompts"], inputs["feedback"]]
    before = {p: p.read_bytes() for p in watched}
    code, _, err = run_cli(capsys, program, _fill(argv, {**inputs, **damaged}, tmp=tmp_path))
    line = one_error_line(err, program)
    assert code == 2
    assert re.search(expected, line), line
    assert {p: p.read_bytes() for p in watched} == before  # inputs untouched
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], "an error case wrote a file"


# ---- cases whose right answer is a result, not an error --------------------------------------------------
def test_bootstrap_zero_reports_no_interval(inputs, capsys):
    code, out, err = run_cli(
        capsys,
        "bench",
        _fill(["score", "{torchhub_responses}", "--hub", "torchhub", "--bootstrap", "0"], inputs),
    )
    assert code == 0, err
    assert "ast_accuracy" in out and "[" not in out.split("ast_accuracy")[1].splitlines()[0]


def test_until_dry_run_plans_only_the_stages_it_would_run(tmp_path, capsys):
    code, out, err = run_cli(
        capsys, "rlaif", ["pipeline", "-o", tmp_path / "p", "--dry-run", "--until", "publish"]
    )
    assert code == 0, err
    plan = [line for line in out.splitlines() if re.match(r"\s+\[\s*\d+/\s*\d+\]", line)]
    assert [line.split()[3] for line in plan] == ["data", "base", "sft", "generate", "label", "publish"]
    assert all("/6]" in line for line in plan) and not (tmp_path / "p").exists()


def test_card_results_given_twice_are_listed_once(inputs, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(inputs["tiny"], model)
    argv = ["card", model, "--results", inputs["results"], inputs["results"], "--allow-other-model"]
    code, _, err = run_cli(capsys, "bench", argv)
    assert code == 0, err
    card = (model / "README.md").read_text()
    assert card.count("- type: ast_accuracy\n") == 1


def test_exec_resume_reruns_rows_whose_code_or_limits_changed(tmp_path, capsys):
    """Rows are reused only for the same code under the same limits (before, a changed
    --memory-mb or changed code of the same id reused the stale rows)."""
    snippets = tmp_path / "s.jsonl"
    out = tmp_path / "r.jsonl"
    big = "x = bytearray(200 * 1024 * 1024)\nprint(len(x))"
    write_jsonl(snippets, [{"id": "a", "code": big}, {"id": "b", "code": "print(1)"}])
    base = ["exec", snippets, "--backend", "local", "--no-preload", "--workers", "1", "-o", out]
    assert run_cli(capsys, "bench", [*base, "--memory-mb", "128"])[0] == 0
    rows = {r["id"]: r for _, r in read_jsonl(out)}
    assert rows["a"]["status"] == "oom" and rows["b"]["status"] == "ok"
    assert run_cli(capsys, "bench", [*base, "--memory-mb", "2048"])[0] == 0
    rows = {r["id"]: r for _, r in read_jsonl(out)}
    assert rows["a"]["status"] == "ok"  # re-run under the new limit, not the stale oom
    write_jsonl(snippets, [{"id": "a", "code": "import nope"}, {"id": "b", "code": "print(1)"}])
    assert run_cli(capsys, "bench", [*base, "--memory-mb", "2048"])[0] == 0
    rows = {r["id"]: r for _, r in read_jsonl(out)}
    assert rows["a"]["status"] == "import_error" and rows["b"]["status"] == "ok"
    assert len(rows) == 2 and sum(1 for _ in read_jsonl(out)) == 2  # one row per snippet


def test_exec_rows_of_an_overflowing_timeout_are_not_reused(tmp_path, capsys):
    """`--timeout 1e12` is refused, so no `sandbox_error` rows exist for a later run to reuse."""
    snippets = tmp_path / "s.jsonl"
    write_jsonl(snippets, [{"id": "a", "code": "print(1)"}])
    out = tmp_path / "r.jsonl"
    base = ["exec", snippets, "--backend", "local", "--no-preload", "-o", out]
    assert run_cli(capsys, "bench", [*base, "--timeout", "1e12"])[0] == 2 and not out.exists()
    assert run_cli(capsys, "bench", [*base, "--timeout", "20"])[0] == 0
    assert [r["status"] for _, r in read_jsonl(out)] == ["ok"]


def test_full_disk_during_label_leaves_no_tmp_and_resumes(inputs, tmp_path, capsys):
    """The disk fills while labeling: one line, no `.tmp` left to keep the disk full, and once
    there is room the same command finishes with every row."""
    root = tmp_path / "small"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(root)], check=True)
    try:
        rows = candidate_rows(n_prompts=12, per_prompt=3)
        write_jsonl(tmp_path / "c.jsonl", rows)
        with (root / "filler").open("wb") as f:
            f.write(b"\0" * (470 << 10))  # about 40 KiB left: a few rows fit, not all
        argv = ["label", tmp_path / "c.jsonl", "-o", root / "f.jsonl", "--no-progress"]
        code, _, err = run_cli(capsys, "rlaif", argv)
        assert code == 2 and re.search(
            r"f\.(jsonl|meta\.json).*No space left", one_error_line(err, "rlaif")
        ), err
        assert not list(root.glob("*.tmp"))
        (root / "filler").unlink()
        code, _, err = run_cli(capsys, "rlaif", argv)
        assert code == 0, err
        assert sorted(r["id"] for _, r in read_jsonl(root / "f.jsonl")) == sorted(r["id"] for r in rows)
    finally:
        subprocess.run(["umount", str(root)], check=False)


def test_validation_errors_name_the_flag_the_user_typed(capsys):
    code, _, err = run_cli(
        capsys, "rlaif", ["generate", "m", "--prompts", "p.jsonl", "-o", "o.jsonl", "--num-candidates", "0"]
    )
    assert code == 2 and one_error_line(err, "rlaif").startswith("gorilla-rlaif: error: --num-candidates: ")
    code, _, err = run_cli(
        capsys, "rlaif", ["generate", "m", "--prompts", "p.jsonl", "-o", "o.jsonl", "generation.top_p=2"]
    )
    assert code == 2 and "generation.top_p (--top-p): " in one_error_line(err, "rlaif")


def test_no_leftover_tmp_after_a_failed_atomic_write(tmp_path):
    from gorilla_rlaif.errors import OutputError
    from gorilla_rlaif.io import write_jsonl as write

    def rows():
        yield {"a": 1}
        raise OSError(28, "No space left on device")

    (tmp_path / "x.jsonl").write_text('{"old": 1}\n')
    with pytest.raises(OutputError, match=r"x\.jsonl: No space left on device"):
        write(tmp_path / "x.jsonl", rows())
    assert sorted(os.listdir(tmp_path)) == ["x.jsonl"]
    assert (tmp_path / "x.jsonl").read_text() == '{"old": 1}\n'  # the previous file is intact
