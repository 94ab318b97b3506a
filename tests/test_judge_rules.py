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
