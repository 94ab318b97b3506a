"""`gorilla-bench eval` end to end: real generation (tiny model), real sandboxes (local and Docker),
the openai backend over real HTTP, resume after an interruption, `report`, `leaderboard`.

The tiny model is random, so its answers are garbage: its tests check the plumbing and that every
number in results.json is re-derivable from samples.jsonl. The `reference` backend answers with
APIBench's own answers, so its tests can assert what the metrics must say about a right answer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gorilla_rlaif.cli import bench_main
from gorilla_rlaif.errors import ConfigError, DataError, GorillaRlaifError
from gorilla_rlaif.eval import EvalConfig, rescore, run_eval
from gorilla_rlaif.eval.backends import make_backend
from gorilla_rlaif.eval.prompts import load_eval_prompts
from gorilla_rlaif.eval.run import response_sha256
from gorilla_rlaif.eval.score import sample_values
from gorilla_rlaif.harness.schema import Status
from gorilla_rlaif.io import read_jsonl, sha256_file

# What an eval row can say: the harness's statuses plus the eval's own "no code in the answer".
STATUSES = {s.value for s in Status} | {"no_code"}


def load(run_dir: Path) -> tuple[dict, list[dict]]:
    results = json.loads((run_dir / "results.json").read_text())
    samples = [row for _, row in read_jsonl(run_dir / "samples.jsonl")]
    return results, samples


def metric_values(results: dict) -> dict:
    return {
        hub: {k: m["value"] for k, m in block["metrics"].items()} for hub, block in results["hubs"].items()
    }


def check_numbers_follow_samples(results: dict, samples: list[dict]) -> None:
    """Every metric of results.json is the mean of the per-sample values in samples.jsonl."""
    for hub, block in results["hubs"].items():
        rows = [s for s in samples if s["hub"] == hub]
        assert block["n"] == len({r["question_id"] for r in rows})
        for key, metric in block["metrics"].items():
            values = [v for v in (sample_values(r)[key] for r in rows) if v is not None]
            if not values:  # e.g. CodeBLEU when no answer had a code section
                assert metric["value"] is None and metric["n"] == 0, (hub, key)
                continue
            assert metric["value"] == pytest.approx(sum(values) / len(values), abs=1e-6), (hub, key)
            if metric["ci95"] is not None:
                low, high = metric["ci95"]
                assert low <= metric["value"] + 1e-9 and metric["value"] <= high + 1e-9
        if block["execution"] is not None:
            counts = block["execution"]["counts"]
            assert set(counts) <= STATUSES
            assert sum(counts.values()) == len(rows)
            assert block["metrics"]["executability"]["value"] == pytest.approx(
                counts.get("ok", 0) / len(rows)
            )


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, tiny_model_path) -> Path:
    """The CLI, as users run it: tiny model, two hubs, local sandbox."""
    out = tmp_path_factory.mktemp("eval")
    code = bench_main(
        [
            "eval",
            str(tiny_model_path),
            "--hub",
            "torchhub",
            "hf",
            "--limit",
            "3",
            "--max-new-tokens",
            "24",
            "--batch-size",
            "2",
            "--sandbox",
            "local",
            "--exec-timeout",
            "30",
            "--output-path",
            str(out),
            "--run-name",
            "smoke",
            "--no-progress",
        ]
    )
    assert code == 0
    return out / EvalConfig(model=str(tiny_model_path)).model_slug / "smoke"


def test_eval_writes_results_and_samples(local_run, tiny_model_path):
    """(The tiny model's random answers rarely have a code section: `no_code` is their status.)"""
    results, samples = load(local_run)
    assert results["model"] == str(tiny_model_path)
    assert results["status"] == "complete"
    assert results["config"]["sandbox"]["backend"] == "local" and results["config"]["hubs"] == [
        "torchhub",
        "huggingface",
    ]
    assert results["versions"]["transformers"] and results["versions"]["torch"]
    assert results["backend"]["backend"] == "hf" and results["backend"]["weights_sha256"]
    # data hashes: the exact APIBench bytes the prompts came from
    from gorilla_rlaif.data.sources import resolve_file

    eval_file = resolve_file("torchhub", "eval")
    assert results["inputs"]["torchhub"]["eval"]["sha256"] == sha256_file(eval_file.path)
    assert set(results["hubs"]) == {"torchhub", "huggingface"}
    for block in results["hubs"].values():
        assert block["n"] == 3 and block["complete"]
        assert set(block["metrics"]) == {
            "ast_accuracy",
            "hallucination_rate",
            "error_rate",
            "ast_accuracy_strict",
            "rouge_l",
            "codebleu",
            "executability",
        }
    assert len(samples) == 6
    for row in samples:
        assert row["response_sha256"] == response_sha256(row["response"])
        assert row["prompt"].startswith("###Instruction: ") and row["prompt"].endswith("###Output:")
        assert row["score"]["ast_verdict"] in {"correct", "hallucination", "error"}
        assert row["exec"]["status"] in STATUSES
    check_numbers_follow_samples(results, samples)
    # torchhub's test split is its eval file: question ids 1..3 in order
    assert [s["question_id"] for s in samples if s["hub"] == "torchhub"] == [1, 2, 3]
    assert results["timing"]["generation"]["generated_tokens"] > 0


def test_report_reproduces_the_saved_numbers(local_run, tmp_path):
    import shutil

    copy = tmp_path / "out" / "model" / "smoke"
    shutil.copytree(local_run, copy)
    before, samples_before = load(copy)
    (copy / "results.json").unlink()  # rebuilt from the samples alone
    assert bench_main(["report", str(copy), "--no-progress"]) == 0
    after, samples_after = load(copy)
    assert metric_values(after) == metric_values(before)
    assert [s["score"] for s in samples_after] == [s["score"] for s in samples_before]
    assert [s["exec"] for s in samples_after] == [s["exec"] for s in samples_before]
    assert after["rescored"]["changed_ast_verdicts"] == 0
    # a response edited by hand no longer matches its hash: refused, naming the line
    lines = (copy / "samples.jsonl").read_text().splitlines()
    row = json.loads(lines[1])
    row["response"] += " <<<api_call>>>: torch.hub.load('x', 'y')"
    lines[1] = json.dumps(row)
    (copy / "samples.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"samples\.jsonl:2: .*response_sha256"):
        rescore(copy, progress=False)


class Interrupting:
    """Wraps a backend; raises KeyboardInterrupt (a user's Ctrl-C) at the given batch."""

    def __init__(self, inner, stop_at: int | None):
        self.inner, self.stop_at, self.calls, self.prompts = inner, stop_at, 0, 0

    def complete(self, prompts, seed):
        if self.stop_at is not None and self.calls == self.stop_at:
            raise KeyboardInterrupt
        self.calls += 1
        self.prompts += len(prompts)
        return self.inner.complete(prompts, seed)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_an_interrupted_eval_resumes(tmp_path, tiny_model_path):
    config = EvalConfig(
        model=str(tiny_model_path),
        hubs=["torchhub"],
        limit=5,
        generation={"max_new_tokens": 16, "batch_size": 2},
        sandbox="none",
        output_path=str(tmp_path / "a"),
        progress=False,
    )
    backend = make_backend(config)
    first = Interrupting(backend, stop_at=2)
    with pytest.raises(KeyboardInterrupt):
        run_eval(config, backend=first)
    run_dir = config.run_dir
    assert len(list(read_jsonl(run_dir / "samples.jsonl"))) == 4  # two batches were saved
    with (run_dir / "samples.jsonl").open("a") as f:  # killed in the middle of writing a row
        f.write('{"id": "torchhub/eval/5#r0", "respo')
    second = Interrupting(backend, stop_at=None)
    run_eval(config, backend=second)
    assert second.prompts == 1  # only the prompt not saved was generated again
    resumed, samples = load(run_dir)
    assert [s["question_id"] for s in samples] == [1, 2, 3, 4, 5]
    # the same numbers as an eval that was never interrupted
    fresh = config.model_copy(update={"output_path": str(tmp_path / "b")})
    clean, clean_samples = load(run_eval(fresh, backend=backend))
    assert metric_values(resumed) == metric_values(clean)
    assert [s["response"] for s in samples] == [s["response"] for s in clean_samples]
    # a different configuration never writes into this run
    other = EvalConfig.model_validate(
        {**config.model_dump(), "generation": {"max_new_tokens": 8}, "run_name": run_dir.name}
    )
    with pytest.raises(ConfigError, match="another configuration"):
        run_eval(other, backend=backend)


def test_reference_answers_score_as_correct(tmp_path):
    config = EvalConfig(
        model="apibench-reference",
        backend="reference",
        hubs=["torchhub", "huggingface", "tensorflowhub"],
        limit=4,
        sandbox="none",
        output_path=str(tmp_path),
        progress=False,
    )
    results, samples = load(run_eval(config))
    for hub, block in results["hubs"].items():
        assert block["metrics"]["ast_accuracy"]["value"] == 1.0, hub
        assert block["metrics"]["hallucination_rate"]["value"] == 0.0, hub
        assert block["metrics"]["rouge_l"]["value"] == pytest.approx(1.0), hub
        assert "executability" not in block["metrics"]  # --sandbox none: not measured, not 0
        assert block["execution"] is None
    check_numbers_follow_samples(results, samples)


def test_openai_backend_against_a_loopback_server(tmp_path):
    """The openai backend through the real SDK and the judge's client (cache, retries) over HTTP."""
    from tests.helpers.eval_servers import AnsweringOpenAIServer

    config = EvalConfig(
        model="gpt-3.5-turbo",
        backend="openai",
        hubs=["torchhub"],
        limit=6,
        sandbox="none",
        output_path=str(tmp_path / "out"),
        progress=False,
    )
    prompts = load_eval_prompts(config)["torchhub"].prompts
    from gorilla_rlaif.data import format_target

    right = {p.instruction: format_target(p.record.output) for p in prompts[::2]}  # questions 1, 3, 5

    def answer(question: str) -> str:
        if question in right:
            return "Sure.\n" + right[question]  # chatter before the first marker is ignored
        return (
            "<<<domain>>>: Classification\n<<<api_call>>>: model = torch.hub.load('made-up/repo', "
            "'no_such_model', pretrained=True)\n<<<api_provider>>>: PyTorch\n<<<explanation>>>: x\n"
            "<<<code>>>: import torch\nmodel = torch.hub.load('made-up/repo', 'no_such_model')"
        )

    with AnsweringOpenAIServer(answer) as server:
        config = config.model_copy(
            update={"llm": config.llm.model_copy(update={"base_url": server.base_url})}
        )
        results, samples = load(run_eval(config))
        assert server.requests_total == 6
        assert server.answered_total == 6
        ast = results["hubs"]["torchhub"]["metrics"]["ast_accuracy"]["value"]
        assert ast == pytest.approx(0.5)
        assert results["hubs"]["torchhub"]["metrics"]["hallucination_rate"]["value"] == pytest.approx(0.5)
        assert [s["score"]["ast_verdict"] for s in samples] == ["correct", "hallucination"] * 3
        assert (
            samples[0]["prompt"][0]["role"] == "system"
            and "<<<api_call>>>" in samples[0]["prompt"][0]["content"]
        )
        assert samples[0]["prompt"][1]["content"] == prompts[0].instruction
        assert results["backend_stats"]["requests_sent"] == 6
        assert results["backend_stats"]["cost_usd"] > 0  # gpt-3.5-turbo has a list price
        # another run directory, same requests: every answer comes from the cache, nothing is paid twice
        again = config.model_copy(update={"run_name": "again"})
        results2, _ = load(run_eval(again))
        assert server.requests_total == 6
        assert results2["backend_stats"]["cached"] == 6 and results2["backend_stats"]["requests_sent"] == 0
        assert metric_values(results2) == metric_values(results)


def test_leaderboard_compares_runs(tmp_path, local_run):
    import shutil

    out = tmp_path / "board"
    shutil.copytree(local_run.parent, out / local_run.parent.name)
    ref = EvalConfig(
        model="apibench-reference",
        backend="reference",
        hubs=["torchhub"],
        limit=3,
        sandbox="none",
        output_path=str(out),
        progress=False,
    )
    run_eval(ref)
    assert bench_main(["leaderboard", str(out)]) == 0
    md = (out / "leaderboard.md").read_text()
    torch_table = md.split("## torchhub (test split)")[1].split("##")[0]
    rows = [line for line in torch_table.splitlines() if line.startswith("| `")]
    assert len(rows) == 2
    assert rows[0].startswith("| `apibench-reference` | 3 | 1 | 100.0")  # best AST accuracy first
    assert "## huggingface (test split)" in md
    import matplotlib.image

    image = matplotlib.image.imread(out / "leaderboard.png")
    assert image.shape[0] > 200 and image.shape[1] > 400


def test_config_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="greedy decoding"):
        EvalConfig(model="m", num_runs=3)
    with pytest.raises(GorillaRlaifError, match="unknown hub 'nohub'"):
        EvalConfig(model="m", hubs=["nohub"])
    config = EvalConfig(model="m", backend="vllm", output_path=str(tmp_path))
    with pytest.raises(ConfigError, match=r"pip install 'gorilla-rlaif\[vllm\]'"):
        make_backend(config)
    with pytest.raises(GorillaRlaifError, match="missing: no such directory"):
        make_backend(EvalConfig(model=str(tmp_path / "missing"), output_path=str(tmp_path)))


def answer(code: str) -> str:
    return (
        "<<<domain>>>: Classification\n<<<api_call>>>: torch.hub.load('x/y', 'z')\n<<<api_provider>>>: PyTorch\n"
        f"<<<explanation>>>: test\n<<<code>>>: {code}"
    )


# What the sandbox must say about each answer's code (question id -> code, status).
SCRIPTED = {
    1: ("values = [i * i for i in range(10)]\nprint(sum(values))", "ok"),
    2: ("def broken(:\n    pass", "syntax_error"),
    3: (
        "import torch\nmodel = torch.hub.load('made-up-owner/made-up-repo', 'resnet50', pretrained=True)",
        "hub_error",
    ),
    4: ("import numpy as np\nprint(np.zeros(3).sum())", "ok"),
}


class ScriptedBackend:
    """Fixed answers per question (the interface of an EvalBackend: complete, describe, ...)."""

    batch_size = 2

    def complete(self, prompts, seed):
        from gorilla_rlaif.eval.backends import Completion

        return [Completion(text=answer(SCRIPTED[p.question_id][0])) for p in prompts]

    def describe(self):
        return {"backend": "scripted"}

    def shown_prompt(self, prompt):
        return prompt.text

    def stats(self):
        return {}

    def close(self):
        pass


def run_scripted(tmp_path: Path, sandbox: str) -> tuple[dict, list[dict]]:
    config = EvalConfig(
        model="scripted",
        hubs=["torchhub"],
        limit=4,
        sandbox={"backend": sandbox, "timeout_s": 60},  # against the default stand-in world
        output_path=str(tmp_path / "out"),
        progress=False,
    )
    return load(run_eval(config, backend=ScriptedBackend()))


@pytest.mark.parametrize("sandbox", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_executability_is_measured_in_the_sandbox(tmp_path, sandbox):
    results, samples = run_scripted(tmp_path, sandbox)
    assert [s["exec"]["status"] for s in samples] == [SCRIPTED[q][1] for q in (1, 2, 3, 4)]
    block = results["hubs"]["torchhub"]
    assert block["metrics"]["executability"]["value"] == 0.5
    assert block["execution"]["counts"] == {"hub_error": 1, "ok": 2, "syntax_error": 1}
    assert block["execution"]["executability_excluding_hub_error"] == pytest.approx(2 / 3)
    check_numbers_follow_samples(results, samples)
    # full sandbox output stays in executions.jsonl, keyed by the code's hash
    run_dir = tmp_path / "out" / "scripted"
    rows = {row["id"]: row for path in run_dir.glob("*/executions.jsonl") for _, row in read_jsonl(path)}
    assert rows[samples[0]["exec"]["code_sha256"]]["stdout"].strip() == "285"
    assert rows[samples[3]["exec"]["code_sha256"]]["stdout"].strip() == "0.0"


@pytest.mark.docker
def test_eval_with_the_tiny_model_in_docker(tmp_path, tiny_model_path):
    out = tmp_path / "eval"
    code = bench_main(
        [
            "eval",
            str(tiny_model_path),
            "--hub",
            "torchhub",
            "--limit",
            "2",
            "--max-new-tokens",
            "16",
            "--sandbox",
            "docker",
            "--output-path",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    (results_path,) = out.glob("*/*/results.json")
    results, samples = load(results_path.parent)
    assert results["config"]["sandbox"]["backend"] == "docker" and results["status"] == "complete"
    assert len(samples) == 2 and all(s["exec"]["status"] in STATUSES for s in samples)
    check_numbers_follow_samples(results, samples)


def test_failed_requests_are_retried_by_the_next_run(tmp_path):
    """A request that gets no answer is not a wrong answer: it is left out, named, and asked again."""
    from tests.helpers.eval_servers import AnsweringOpenAIServer

    config = EvalConfig(
        model="gpt-4o-mini",
        backend="openai",
        hubs=["torchhub"],
        limit=3,
        sandbox="none",
        llm={"max_retries": 0},
        output_path=str(tmp_path),
        progress=False,
    )
    second = load_eval_prompts(config)["torchhub"].prompts[1]
    with AnsweringOpenAIServer(lambda question: "<<<api_call>>>: nothing") as server:
        config = config.model_copy(
            update={"llm": config.llm.model_copy(update={"base_url": server.base_url})}
        )
        server.inject("500", count=1, match=second.instruction[:40])
        with pytest.raises(GorillaRlaifError, match=r"1 request\(s\) got no answer .*re-run"):
            run_eval(config)
        results, samples = load(config.run_dir)
        assert results["status"] == "incomplete" and not results["hubs"]["torchhub"]["complete"]
        assert results["missing_samples"][0].startswith("torchhub/eval/2#r0: ")
        assert [s["question_id"] for s in samples] == [1, 3]
        assert server.requests_total == 3
        run_eval(config)  # the server answers now: only the missing request is sent
        assert server.requests_total == 4
        results, samples = load(config.run_dir)
        assert results["status"] == "complete" and [s["question_id"] for s in samples] == [1, 2, 3]


def test_several_runs_report_mean_and_spread(tmp_path, tiny_model_path):
    config = EvalConfig(
        model=str(tiny_model_path),
        hubs=["torchhub"],
        limit=2,
        generation={"max_new_tokens": 12, "temperature": 1.0},
        num_runs=2,
        sandbox="none",
        output_path=str(tmp_path),
        progress=False,
    )
    results, samples = load(run_eval(config))
    assert [(s["run"], s["question_id"]) for s in samples] == [(0, 1), (0, 2), (1, 1), (1, 2)]
    assert samples[0]["seed"] != samples[2]["seed"]
    assert samples[0]["response"] != samples[2]["response"]  # sampled with another seed
    block = results["hubs"]["torchhub"]
    assert block["num_runs"] == 2 and block["samples"] == 4 and block["n"] == 2
    for metric in block["metrics"].values():
        if metric["value"] is None:
            continue
        assert len(metric["runs"]) == 2
        assert metric["value"] == pytest.approx(sum(metric["runs"]) / 2, abs=1e-6)
        assert metric["std"] == pytest.approx(abs(metric["runs"][0] - metric["runs"][1]) / 2**0.5, abs=1e-6)


def test_compare_pairs_runs_by_index_and_leaderboard_lists_every_run(tmp_path, tiny_model_path, capsys):
    """`gorilla-bench compare`: per-question paired differences, run r against run r."""
    common = {
        "hubs": ["torchhub"],
        "limit": 3,
        "num_runs": 2,
        "sandbox": "none",
        "output_path": str(tmp_path),
    }
    tiny = run_eval(
        EvalConfig(
            model=str(tiny_model_path),
            generation={"max_new_tokens": 12, "temperature": 1.0},
            progress=False,
            **common,
        )
    )
    reference = run_eval(
        EvalConfig(model="apibench-reference", backend="reference", progress=False, **common)
    )
    assert bench_main(["compare", str(tiny), str(reference), "-o", str(tmp_path / "c.json")]) == 0
    out = capsys.readouterr().out
    assert "| apibench-reference" in out and "| AST accuracy |" in out and "per run" in out
    result = json.loads((tmp_path / "c.json").read_text())
    ast = next(iter(result["paired"].values()))["ast_accuracy"]
    runs_tiny = load(tiny)[0]["hubs"]["torchhub"]["metrics"]["ast_accuracy"]["runs"]
    runs_ref = load(reference)[0]["hubs"]["torchhub"]["metrics"]["ast_accuracy"]["runs"]
    assert ast["n_seeds"] == 2 and ast["n_questions"] == 3
    assert ast["per_seed"] == pytest.approx([r - t for r, t in zip(runs_ref, runs_tiny, strict=True)])
    assert ast["diff"] == pytest.approx(sum(ast["per_seed"]) / 2)
    # different questions cannot be paired
    other = run_eval(
        EvalConfig(
            model="apibench-reference",
            backend="reference",
            split="eval",
            progress=False,
            **{**common, "num_runs": 1},
        )
    )
    assert bench_main(["compare", str(tiny), str(other)]) == 2
    # the leaderboard shows every run's value, not only the spread
    assert bench_main(["leaderboard", str(tmp_path)]) == 0
    board = (tmp_path / "leaderboard.md").read_text()
    assert "Every run (seed = --seed + run):" in board
    assert (
        sum(line.startswith(f"| `{Path(str(tiny_model_path)).name}` | ") for line in board.splitlines()) == 3
    )
