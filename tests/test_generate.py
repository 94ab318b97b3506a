"""Candidate sampling with the tiny model: batching, seeds, dedup, resume, recorded config."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from gorilla_rlaif.cli import rlaif_main
from gorilla_rlaif.errors import ConfigError, DataError
from gorilla_rlaif.generate import (
    CandidatesConfig,
    GenerationConfig,
    generate_candidates,
    make_generator,
    read_prompts,
)
from gorilla_rlaif.io import read_jsonl, write_jsonl
from tests.helpers.candidates import gold_records
from tests.helpers.torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)


@pytest.fixture
def prompts_file(tmp_path):
    path = tmp_path / "prompts.jsonl"
    write_jsonl(path, [r.model_dump(mode="json") for r in gold_records("torchhub", 5)])
    return path


def config(prompts_file, output, model, **gen):
    base = {"model": str(model), "num_candidates": 4, "max_new_tokens": 24, "batch_size": 2, "seed": 3}
    return CandidatesConfig(
        prompts=str(prompts_file), output=str(output), generation=GenerationConfig(**{**base, **gen})
    )


def rows_of(path):
    return [row for _, row in read_jsonl(path)]


class CountingGenerator:
    """The real hf generator, counting the batches it is asked for."""

    def __init__(self, inner):
        self.inner, self.batches = inner, []

    def generate(self, prompts, n, seed):
        self.batches.append(list(prompts))
        return self.inner.generate(prompts, n, seed)

    def describe(self):
        return self.inner.describe()


def test_samples_k_candidates_per_prompt_and_records_the_config(prompts_file, tmp_path, tiny_model_path):
    out = tmp_path / "candidates.jsonl"
    counts = generate_candidates(config(prompts_file, out, tiny_model_path), progress=False)
    rows = rows_of(out)
    records = gold_records("torchhub", 5)
    assert counts["prompts"] == 5 and counts["candidates"] == len(rows)
    by_prompt = {}
    for row in rows:
        by_prompt.setdefault(row["prompt_id"], []).append(row)
    assert list(by_prompt) == [r.id for r in records]
    for record in records:
        group = by_prompt[record.id]
        assert 1 <= len(group) <= 4 and all(r["kept"] == len(group) for r in group)
        assert len({r["completion"].strip() for r in group}) == len(group)  # no exact duplicates
        assert group[0]["prompt"] == f"###Instruction: {record.instruction}\n###Output:"
        assert group[0]["reference"]["api_call"] == record.api_data.api_call and group[0]["hub"] == "torchhub"
        assert all(r["id"] == f"{record.id}#{r['sample']}" for r in group)
        assert all("\n###" not in r["completion"] for r in group)  # cut at the next turn
    meta = json.loads((tmp_path / "candidates.meta.json").read_text())
    assert meta["status"] == "complete" and meta["config"]["generation"]["num_candidates"] == 4
    assert meta["generator"]["generate_kwargs"]["do_sample"] is True
    assert meta["generator"]["generate_kwargs"]["temperature"] == 0.8
    assert len(meta["inputs"]["prompts"]["sha256"]) == 64 and meta["generator"]["weights_sha256"]


def test_same_seed_same_candidates_and_resume_regenerates_only_missing_batches(
    prompts_file, tmp_path, tiny_model_path
):
    full = tmp_path / "full.jsonl"
    generate_candidates(config(prompts_file, full, tiny_model_path), progress=False)
    again = tmp_path / "again.jsonl"
    generate_candidates(config(prompts_file, again, tiny_model_path), progress=False)
    assert full.read_bytes() == again.read_bytes()
    other_seed = tmp_path / "seed.jsonl"
    generate_candidates(config(prompts_file, other_seed, tiny_model_path, seed=4), progress=False)
    assert full.read_bytes() != other_seed.read_bytes()

    # a crash while writing the 4th prompt's rows: its batch (prompts 3-4) is redone, nothing else
    rows = rows_of(full)
    prompt_ids = list(dict.fromkeys(r["prompt_id"] for r in rows))
    keep = [r for r in rows if r["prompt_id"] in prompt_ids[:3]]
    keep += [r for r in rows if r["prompt_id"] == prompt_ids[3]][:1]
    resumed = tmp_path / "resumed.jsonl"
    write_jsonl(resumed, keep)
    resumed.write_bytes(resumed.read_bytes() + b'{"id": "torn')
    # the record of the interrupted run: written before its first row
    (tmp_path / "resumed.meta.json").write_bytes((tmp_path / "full.meta.json").read_bytes())
    cfg = config(prompts_file, resumed, tiny_model_path)
    counting = CountingGenerator(make_generator(cfg.generation))
    generate_candidates(cfg, progress=False, generator=counting)
    assert [len(b) for b in counting.batches] == [2, 1]  # batch of prompts 3-4, then prompt 5
    assert sorted(map(json.dumps, rows_of(resumed))) == sorted(map(json.dumps, rows))


def test_exact_duplicates_are_dropped(prompts_file, tmp_path, tiny_model_path):
    # top_k=1 sampling always takes the most likely token: all 4 samples are the same text
    out = tmp_path / "dups.jsonl"
    counts = generate_candidates(config(prompts_file, out, tiny_model_path, top_k=1), progress=False)
    assert counts["candidates"] == 5 and counts["duplicates_dropped_this_run"] == 15
    out2 = tmp_path / "nodedup.jsonl"
    counts = generate_candidates(
        config(prompts_file, out2, tiny_model_path, top_k=1, dedup=False), progress=False
    )
    assert counts["candidates"] == 20


def test_greedy_generation_for_evaluation(prompts_file, tmp_path, tiny_model_path):
    cfg = config(prompts_file, tmp_path / "g.jsonl", tiny_model_path, temperature=0.0, num_candidates=1)
    generator = make_generator(cfg.generation)
    prompts = [p["prompt"] for p in read_prompts(prompts_file)]
    one_batch = generator.generate(prompts, 1, seed=0)
    singles = [generator.generate([p], 1, seed=9)[0] for p in prompts]
    assert one_batch == singles  # greedy + left padding: batching does not change the output
    assert "temperature" not in generator.generation_kwargs()
    with pytest.raises(ValidationError, match="greedy"):
        GenerationConfig(model="m", temperature=0, num_candidates=4)


def test_changed_config_does_not_append_to_an_old_output(prompts_file, tmp_path, tiny_model_path):
    out = tmp_path / "c.jsonl"
    generate_candidates(config(prompts_file, out, tiny_model_path, num_candidates=2), progress=False)
    with pytest.raises(ConfigError, match="another configuration"):
        generate_candidates(config(prompts_file, out, tiny_model_path, num_candidates=3), progress=False)


def test_bad_prompt_files_are_named(tmp_path):
    path = tmp_path / "p.jsonl"
    write_jsonl(path, [{"id": 1, "prompt": "###Instruction: x\n###Output:"}, {"id": 2, "text": "?"}])
    with pytest.raises(DataError, match=r"p\.jsonl:2: prompt row '2' has neither"):
        read_prompts(path)
    write_jsonl(path, [{"id": 1, "instruction": "a"}, {"id": 1, "instruction": "b"}])
    with pytest.raises(DataError, match=r"p\.jsonl:2: duplicate id '1'"):
        read_prompts(path)
    write_jsonl(path, [{"id": 1, "instruction": "do it", "input": "x"}])
    assert read_prompts(path)[0]["prompt"] == "###Instruction: do it\n###Input: x\n###Output:"


def test_cli(prompts_file, tmp_path, tiny_model_path, capsys):
    out = tmp_path / "cli.jsonl"
    code = rlaif_main(
        ["generate", str(tiny_model_path), "--prompts", str(prompts_file), "-k", "2", "--max-new-tokens", "8",
         "--limit", "3", "--output", str(out), "--no-progress"]
    )  # fmt: skip
    assert code == 0
    assert "candidates for 3 prompts" in capsys.readouterr().out
    assert len({r["prompt_id"] for r in rows_of(out)}) == 3
    assert (
        rlaif_main(
            [
                "generate",
                "nope/missing-model",
                "--prompts",
                str(prompts_file),
                "-o",
                str(tmp_path / "x.jsonl"),
            ]
        )
        == 2
    )
