"""The rules judge: static checks of the code (compile, pyflakes) and the API database match."""

from __future__ import annotations

import pytest

from gorilla_rlaif.errors import ConfigError
from gorilla_rlaif.judge import JudgeConfig, JudgeItem, load_rubric, make_judge
from gorilla_rlaif.judge.rubric import Rubric
from gorilla_rlaif.judge.rules import analyze, callee, calls_api, known_import_names

RUBRIC = load_rubric()


def completion(
    code: str, api_call: str = "pipeline('image-classification', model='google/vit-base-patch16-224')"
) -> str:
    return (
        " <<<domain>>>: Computer Vision Image Classification\n"
        f"<<<api_call>>>: {api_call}\n"
        "<<<api_provider>>>: Hugging Face Transformers\n"
        "<<<explanation>>>: Load the model and classify.\n"
        f"<<<code>>>: {code}"
    )


GOOD = "from transformers import pipeline\nclf = pipeline('image-classification', model='google/vit-base-patch16-224')\nprint(clf('cat.jpg'))"


@pytest.mark.parametrize(
    ("code", "syntax", "import_like", "other_undefined", "bugs"),
    [
        (GOOD, True, [], [], False),
        ("clf = pipeline('image-classification')\nresult = clf(image)", True, ["pipeline"], ["image"], True),
        ("model = torch.hub.load('pytorch/vision', 'resnet18')", True, ["torch"], [], True),
        (
            "from PIL import Image\nimg = Image.open(path)\nx = AutoModel.from_pretrained('m')",
            True,
            ["AutoModel"],
            ["path"],
            True,
        ),
        ("import torch\nmodel = torch.hub.load('a', 'b'\n", False, [], [], True),
        ("model = torch.hub.load('a', 'b'\nprint(result", False, ["torch"], [], True),
        ("import torch\ndef f():\n    return 1\nreturn 2", False, [], [], True),
        ("import os\nimport torch\nx = torch.zeros(1)", True, [], [], False),  # unused import: style only
    ],
)
def test_code_analysis(code, syntax, import_like, other_undefined, bugs):
    facts = analyze(completion(code), {"torch", "pipeline"})
    assert facts.parses is syntax
    assert facts.import_like == import_like
    assert sorted(set(facts.undefined) - set(facts.import_like)) == other_undefined
    assert bool(facts.bugs) is bugs or not syntax


def test_missing_code_section_and_fences():
    facts = analyze(" <<<domain>>>: x\n<<<api_call>>>: f()", set())
    assert not facts.parses and facts.syntax_error == "no code section"
    fenced = analyze(completion("```python\nimport torch\nprint(torch.ones(1))\n```"), set())
    assert fenced.parses and fenced.calls == ["print", "torch.ones"]


def test_callee_and_calls_api():
    assert callee("model = torch.hub.load('a', 'b', pretrained=True)") == "torch.hub.load"
    assert callee("AutoModel.from_pretrained('bert-base')") == "AutoModel.from_pretrained"
    assert callee("hub.KerasLayer('https://tfhub.dev/x')") == "hub.KerasLayer"
    assert calls_api(analyze(completion(GOOD), set()))
    other = analyze(completion("import torch\nx = torch.zeros(2)"), set())
    assert not calls_api(other)


def test_import_names_come_from_the_api_examples():
    class Entry:
        def __init__(self, code):
            self.example_code = code

    names = known_import_names(
        [
            Entry("import tensorflow_hub as hub\nfrom PIL import Image, ImageOps"),
            Entry(["import torch"]),
            Entry(None),
        ]
    )
    assert names == {"hub", "Image", "ImageOps", "torch"}


def test_rules_judge_refuses_questions_it_cannot_answer():
    data = RUBRIC.model_dump()
    data["questions"] = [
        *data["questions"],
        {"id": "is_fast", "text": "Is the code fast enough?", "desirable": "yes"},
    ]
    with pytest.raises(ConfigError, match="no check for question\\(s\\) is_fast"):
        make_judge(JudgeConfig(judge="rules"), Rubric.model_validate(data))


def test_rubric_loading_and_hash(tmp_path):
    assert RUBRIC.ids == (
        "imports",
        "syntax",
        "undefined_names",
        "bug_free",
        "complete",
        "api_exists",
        "api_fits",
        "arguments",
    )
    assert RUBRIC.max_score == 8 and len(RUBRIC.hash) == 64
    assert [q.desirable for q in RUBRIC.questions].count("no") == 1
    path = tmp_path / "r.yaml"
    path.write_text(RUBRIC.to_yaml().replace("Does the code import", "Does it import"))
    changed = load_rubric(path)
    assert changed.hash != RUBRIC.hash and changed.version == RUBRIC.version
    path.write_text(RUBRIC.to_yaml().replace("desirable: 'no'", "desirable: maybe"))
    with pytest.raises(ConfigError, match=r"r\.yaml: invalid rubric: questions\.2\.desirable"):
        load_rubric(path)
    with pytest.raises(ConfigError, match="unknown rubric 'nope'; built-in: gorilla-apibench-v1"):
        load_rubric("nope")


def test_scores_follow_the_desirable_answers():
    answers = {q.id: q.desirable for q in RUBRIC.questions}
    assert RUBRIC.score(answers) == 8
    answers["undefined_names"] = "yes"
    assert RUBRIC.score(answers) == 7
    answers["syntax"] = None
    assert RUBRIC.score(answers) is None  # never a default score
    p = dict.fromkeys(RUBRIC.ids, 0.9)
    assert RUBRIC.weighted_score(p) == pytest.approx(7 * 0.9 + 0.1)
    assert RUBRIC.weighted_score({**p, "syntax": None}) is None


def test_judge_item_instruction_parsing():
    from gorilla_rlaif.judge import instruction_from_prompt

    assert instruction_from_prompt("###Instruction: Find a model.\n###Output:") == "Find a model."
    assert instruction_from_prompt("###Instruction: Do x\n###Input: y\n###Output:") == "Do x\nInput: y"
    assert instruction_from_prompt("free text") == "free text"
    assert JudgeItem(id="a", instruction="i", completion="c").hub is None


# ---- gold APIBench answers vs mutated ones ----------------------------------------------------
def _mutations(completion: str) -> dict[str, str]:
    import re as _re

    from gorilla_rlaif.data import parse_completion

    sections = parse_completion(completion)
    code, api_call = sections["code"], sections["api_call"]
    made_up = _re.sub(
        r"(['\"])[^'\"]+\1", lambda m: f"{m.group(1)}acme/made-up-model-7{m.group(1)}", api_call
    )
    return {
        "hallucinated_api": completion.replace(api_call, made_up),
        "no_imports": completion.replace(
            code, "\n".join(line for line in code.split("\n") if not _re.match(r"\s*(import|from)\s", line))
        ),
        "syntax_error": completion.replace(code, code + "\nresult = model(inputs\n"),
        "undefined_name": completion.replace(code, code + "\noutput = postprocess(undefined_tensor_xyz)"),
    }


@pytest.mark.parametrize("hub", ["torchhub", "huggingface", "tensorflowhub"])
def test_gold_answers_score_higher_than_mutated_ones(hub):
    from gorilla_rlaif.data import build_prompt, format_target, load_records

    records = [r for r in load_records(hub, "eval", source="bundled").records if r.ok][:40]
    judge = make_judge(JudgeConfig(judge="rules"), RUBRIC)
    gold_items, mutated = [], {}
    for r in records:
        reference = {"api_call": r.api_data.api_call, "domain": r.api_data.domain}
        gold = format_target(r.output)
        gold_items.append(
            JudgeItem(
                id=r.id,
                instruction=build_prompt(r.instruction),
                completion=gold,
                hub=hub,
                reference=reference,
            )
        )
        for kind, text in _mutations(gold).items():
            mutated.setdefault(kind, []).append(
                JudgeItem(id=r.id, instruction=r.instruction, completion=text, hub=hub, reference=reference)
            )

    def rates(items):
        judgments = judge.judge(items)
        assert all(j.ok for j in judgments)
        scores = [RUBRIC.score(j.answers) for j in judgments]
        yes = {q: sum(j.answers[q] == "yes" for j in judgments) / len(judgments) for q in RUBRIC.ids}
        return sum(scores) / len(scores), yes

    gold_score, gold_yes = rates(gold_items)
    assert gold_yes["api_exists"] >= 0.8 and gold_yes["syntax"] >= 0.8
    for kind, items in mutated.items():
        score, yes = rates(items)
        assert score < gold_score, (kind, score, gold_score)
    _, yes = rates(mutated["hallucinated_api"])
    assert yes["api_exists"] <= 0.1 and yes["arguments"] <= 0.1
    _, yes = rates(mutated["syntax_error"])
    assert yes["syntax"] == 0 and yes["bug_free"] == 0
    _, yes = rates(mutated["undefined_name"])
    assert yes["undefined_names"] == 1.0
    _, yes = rates(mutated["no_imports"])
    assert yes["imports"] < gold_yes["imports"]
