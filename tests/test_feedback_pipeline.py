"""The whole feedback stage offline, through the CLI: generate -> label (hf judge) -> preferences."""

from __future__ import annotations

import json

from gorilla_rlaif.cli import rlaif_main
from gorilla_rlaif.io import read_jsonl
from tests.helpers.torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)


def test_generate_label_publish_and_load(tmp_path, tiny_model_path, capsys):
    from datasets import load_dataset

    assert rlaif_main(["data", "splits", "--hub", "torchhub", "--output-dir", str(tmp_path / "splits")]) == 0
    prompts = tmp_path / "splits" / "rm.jsonl"
    cands, feedback, ds = tmp_path / "candidates.jsonl", tmp_path / "feedback.jsonl", tmp_path / "dataset"
    model = str(tiny_model_path)
    assert (
        rlaif_main(
            [
                "generate",
                model,
                "--prompts",
                str(prompts),
                "-k",
                "3",
                "--max-new-tokens",
                "16",
                "--limit",
                "6",
                "-o",
                str(cands),
                "--no-progress",
            ]
        )
        == 0
    )
    assert (
        rlaif_main(
            [
                "label",
                str(cands),
                "--judge",
                f"hf:{model}",
                "--batch-size",
                "16",
                "-o",
                str(feedback),
                "--no-progress",
            ]
        )
        == 0
    )
    assert (
        rlaif_main(
            [
                "preferences",
                str(feedback),
                "--output-dir",
                str(ds),
                "--version",
                "0.1.0",
                "--test-fraction",
                "0.34",
                "--margin",
                "1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "wrote" in out and "v0.1.0" in out

    candidates = [r for _, r in read_jsonl(cands)]
    rows = [r for _, r in read_jsonl(feedback)]
    assert [r["id"] for r in rows] == [c["id"] for c in candidates]
    feedback_ds = load_dataset(str(ds), "feedback")
    assert sum(len(feedback_ds[s]) for s in feedback_ds) == len(rows)
    binary = load_dataset(str(ds), "binary")
    assert sum(len(binary[s]) for s in binary) == len(rows)
    assert set(binary["train"]["prompt_id"]).isdisjoint(binary["test"]["prompt_id"])
    card = (ds / "README.md").read_text()
    assert model in card and f"hf:{model}" in card  # generator and judge named in the card
    prov = json.loads((ds / "gorilla_rlaif.meta.json").read_text())
    generation = prov["feedback_meta"][0]["generation"]
    assert generation["config"]["generation"]["num_candidates"] == 3
    # the APIBench files behind the prompts, with their hashes, from the splits manifest
    assert {"train", "eval"} <= set(generation["source_data"])
    assert generation["source_data"]["train"]["sha256"][:16] in card
