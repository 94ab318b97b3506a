"""The hf judge with the tiny model: P(yes) from next-token logits, batched with left padding."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gorilla_rlaif.errors import ConfigError
from gorilla_rlaif.io import read_jsonl
from gorilla_rlaif.judge import JudgeConfig, JudgeItem, LabelConfig, label, load_rubric, make_judge
from tests.helpers.candidates import write_candidates
from tests.helpers.torch_threads import one_torch_thread  # noqa: F401 (autouse fixture)

RUBRIC = load_rubric()


@pytest.fixture(scope="module")
def judge(tiny_model_path):
    return make_judge(JudgeConfig(judge=f"hf:{tiny_model_path}", hf={"batch_size": 5}), RUBRIC)


def test_label_with_the_hf_judge(tmp_path, tiny_model_path):
    candidates = write_candidates(tmp_path / "c.jsonl", n_prompts=2, per_prompt=2)
    config = LabelConfig(
        candidates=str(tmp_path / "c.jsonl"),
        output=str(tmp_path / "f.jsonl"),
        judge=JudgeConfig(judge=f"hf:{tiny_model_path}", hf={"batch_size": 3}),
    )
    summary = label(config, progress=False)
    rows = [row for _, row in read_jsonl(tmp_path / "f.jsonl")]
    assert summary["ok"] == len(candidates) == len(rows)
    for row in rows:
        assert set(row["answers"]) == set(RUBRIC.ids)
        for q in RUBRIC.questions:
            p = row["p_yes"][q.id]
            assert 0 < p < 1 and row["answers"][q.id] == ("yes" if p >= 0.5 else "no")
        assert row["score"] == RUBRIC.score(row["answers"])
        expected = sum(
            row["p_yes"][q.id] if q.desirable == "yes" else 1 - row["p_yes"][q.id] for q in RUBRIC.questions
        )
        assert row["weighted_score"] == pytest.approx(expected, abs=1e-5)
        assert row["judge"]["backend"] == "hf" and row["cost_usd"] is None


def test_probabilities_do_not_depend_on_batching(judge):
    items = [
        JudgeItem(id="a", instruction="Load a depth model.", completion=" <<<code>>>: import torch"),
        JudgeItem(
            id="b",
            instruction="Classify images of cats and dogs with a pretrained network from the hub.",
            completion=" x" * 40,
        ),
    ]
    prompts = [judge.prompt(item, q) for item in items for q in range(3)]
    batched, _ = judge.p_yes(prompts)
    single = [judge.p_yes([p])[0][0] for p in prompts]
    assert batched == pytest.approx(single, abs=1e-5)
    assert len({round(p, 6) for p in batched}) > 1  # different prompts, different answers


def test_probability_matches_the_next_token_distribution(judge):
    import torch

    prompt = judge.prompt(JudgeItem(id="a", instruction="Find a model.", completion=" nothing"), 0)
    ids = torch.tensor([judge.tokenizer.encode(prompt, add_special_tokens=False)])
    with torch.inference_mode():
        probs = judge.model(input_ids=ids).logits[0, -1].softmax(-1)
    yes = sum(probs[i].item() for i in judge.yes_ids)
    no = sum(probs[i].item() for i in judge.no_ids)
    assert judge.p_yes([prompt])[0][0] == pytest.approx(yes / (yes + no), abs=1e-5)


def test_too_long_prompts_keep_their_end_and_are_flagged(judge):
    long_item = JudgeItem(id="x", instruction="Do it.", completion=" word" * 2000)
    [judgment] = judge.judge([long_item])
    assert judgment.ok and judgment.extra["truncated"] is True


def test_hf_judge_config_errors(tiny_model_path):
    with pytest.raises(ValidationError, match="one question at a time"):
        JudgeConfig(judge=f"hf:{tiny_model_path}", mode="rubric")
    with pytest.raises(ConfigError, match="needs a model"):
        JudgeConfig(judge="hf")
    with pytest.raises(ConfigError, match="did you mean 'openai'"):
        JudgeConfig(judge="opena:gpt-4o")
    with pytest.raises(ValidationError, match="the rules judge answers one question at a time"):
        JudgeConfig(judge="rules", mode="rubric")


def test_the_judge_model_is_named_in_one_place():
    """`judge` names the model; a different `openai.llm.model` was silently overwritten before."""
    config = JudgeConfig(judge="openai:gpt-4o")
    assert config.openai.llm.model == "gpt-4o"
    assert JudgeConfig.model_validate(config.model_dump()).openai.llm.model == "gpt-4o"  # round trip
    saved = config.model_dump()  # a saved config names the model once, so another judge= can follow
    assert "model" not in saved["openai"]["llm"]
    assert (
        JudgeConfig.model_validate({**saved, "judge": "openai:gpt-4o-mini"}).openai.llm.model == "gpt-4o-mini"
    )
    with pytest.raises(ValidationError, match=r"disagrees with judge='openai'.*judge=openai:gpt-4o"):
        JudgeConfig(judge="openai", openai={"llm": {"model": "gpt-4o"}})
    assert JudgeConfig(judge="openai").openai.llm.model == "gpt-3.5-turbo"
