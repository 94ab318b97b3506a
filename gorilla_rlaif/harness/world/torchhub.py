"""Plan the TorchHub stand-ins: every entry point of the hub's API database, and every
`torch.hub.load` of APIBench's answers (eval and train), with how the code uses what comes back.

The world is the API database: each API's `api_call` names a repository and an entry point, and its
example code may load companion entries of the same repository (NVIDIA's processing utils, MiDaS'
`transforms`, the tokenizer of `huggingface/pytorch-transformers`, `roberta.large.mnli`). Answers'
own loads that name an entry point or repository outside that world (a typo such as
`harDnet68ds`, a model name used as an entry point, a repository that is not an API of the
database) are planned as `rejected` with the records that use them: the stand-in world does not
hold them, so code that loads them meets a `hub_error`, as it does against the real hub.

What answers do with the result is read from the syntax tree (`a, b, c = torch.hub.load(...)`,
then `a.method(...)`, `a.attr`): the plan records the tuple sizes and the attributes used per
entry, which the builder's stand-ins provide, and the tests check.

The builder (`standins_torchhub.py`, run by the execution environment's interpreter) turns the plan
into repositories under TORCH_HOME/hub (`gorilla_rlaif.harness.world.ensure_part`).
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gorilla_rlaif.harness.world.literals import string_names

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
BUILDER = HERE / "standins_torchhub.py"
TORCH_REPO = re.compile(r"^[\w.\-]+/[\w.\-]+(:[\w.\-/]+)?$")

# The default branch of each real repository in 2023 (what torch.hub picks for `owner/name`
# without a ref: `main` if it exists, else `master`). Unlisted repositories default to `main`.
DEFAULT_BRANCH = {
    "intel-isl/MiDaS": "master",
    "sigsep/open-unmix-pytorch": "master",
    "nicolalandro/ntsnet-cub200": "master",
    "snakers4/silero-models": "master",
    "snakers4/silero-vad": "master",
    "ultralytics/yolov5": "master",
    "mateuszbuda/brain-segmentation-pytorch": "master",
    "XingangPan/IBN-Net": "master",
    "PingoLH/Pytorch-HarDNet": "master",
    "huawei-noah/ghostnet": "master",
    "huawei-noah/Efficient-AI-Backbones": "master",
    "zhanghang1989/ResNeSt": "master",
    "mit-han-lab/ProxylessNAS": "master",
    "mit-han-lab/once-for-all": "master",
    "szq0214/MEAL-V2": "master",
    "szq0214/MEAL-V1": "master",
}


def _const(node: ast.AST | None, names: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    return None


def _is_hub_load(call: ast.Call) -> bool:
    func = call.func
    return isinstance(func, ast.Attribute) and func.attr == "load" and ast.unparse(func.value).endswith("hub")


def hub_loads(code: str) -> list[dict[str, Any]]:
    """Every `torch.hub.load(repo, entry, ...)` of `code` whose repo and entry are string literals
    (or names bound to one), with what the code does with the result: `unpack` (the tuple size
    when the result is unpacked), `attrs` (attributes read or called on the result or on the names
    it was unpacked into). Unparseable code yields nothing."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    names = string_names(tree)  # model_id = 'org/name'
    bound: dict[int, list[str]] = {}  # id(call) -> names the result is bound to
    unpack: dict[int, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            call = node.value
            # torch.hub.load(...).eval() and friends: the load is the innermost call
            while (
                isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Call)
                and not _is_hub_load(call)
            ):
                call = call.func.value
            if not _is_hub_load(call):
                continue
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bound.setdefault(id(call), []).append(target.id)
                elif isinstance(target, ast.Tuple):
                    unpack[id(call)] = len(target.elts)
                    bound.setdefault(id(call), []).extend(
                        e.id for e in target.elts if isinstance(e, ast.Name)
                    )
    attrs_of: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            attrs_of.setdefault(node.value.id, set()).add(node.attr)
    loads = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _is_hub_load(node)):
            continue
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        repo = _const(node.args[0] if node.args else kw.get("repo_or_dir"), names)
        entry = _const(node.args[1] if len(node.args) > 1 else kw.get("model"), names)
        if not repo or not entry or not TORCH_REPO.match(repo) or kw.get("source") is not None:
            continue
        attrs = sorted({a for name in bound.get(id(node), []) for a in attrs_of.get(name, ())})
        loads.append({"repo": repo, "entry": entry, "unpack": unpack.get(id(node)), "attrs": attrs})
    return loads


def _as_code(value: Any) -> str:
    """API database example code comes as a string, a list of lines, or a dict of named steps."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_as_code(v) for v in value)
    if isinstance(value, dict):
        return "\n".join(_as_code(v) for v in value.values())
    return ""


def _parse_repo(repo: str) -> tuple[str, str | None]:
    name, _, ref = repo.partition(":")
    return name, ref or None


def collect(db_sources: Iterable[tuple[str, str]], answer_sources: Iterable[tuple[str, str]]) -> list[dict]:
    """One plan item per (repository, entry point): the API database's loads are the world; the
    answers' loads outside it are `rejected`. Sources are `(label, code)` pairs."""
    items: dict[tuple[str, str], dict] = {}

    def add(label: str, load: dict, status: str) -> None:
        repo, ref = _parse_repo(load["repo"])
        item = items.setdefault(
            (repo, load["entry"]),
            {
                "repo": repo,
                "entry": load["entry"],
                "refs": [],
                "status": status,
                "sources": [],
                "unpack": [],
                "attrs": [],
            },
        )
        ref = ref or DEFAULT_BRANCH.get(repo, "main")
        if ref not in item["refs"]:
            item["refs"].append(ref)
        if label not in item["sources"] and len(item["sources"]) < 8:
            item["sources"].append(label)
        if load["unpack"] and load["unpack"] not in item["unpack"]:
            item["unpack"].append(load["unpack"])
        item["attrs"] = sorted({*item["attrs"], *load["attrs"]})

    for label, code in db_sources:
        for load in hub_loads(code):
            add(label, load, "build")
    world_repos = {repo for repo, _ in items}
    for label, code in answer_sources:
        for load in hub_loads(code):
            repo, _ = _parse_repo(load["repo"])
            if (repo, load["entry"]) in items and items[(repo, load["entry"])]["status"] == "build":
                add(label, load, "build")
            else:
                add(label, load, "rejected")
                reason = (
                    f"entry point {load['entry']!r} is not an API of {repo} in the API database"
                    if repo in world_repos
                    else f"repository {repo} is not in the API database"
                )
                items[(repo, load["entry"])]["reason"] = reason
    for item in items.values():
        item["refs"].sort()
        item["unpack"].sort()
    return sorted(items.values(), key=lambda i: (i["status"], i["repo"].lower(), i["entry"]))


def plan() -> list[dict]:
    """The TorchHub plan from the bundled (or local) APIBench files: API database and both splits."""
    from gorilla_rlaif.data import load_api_db, load_records

    db = load_api_db("torchhub", source="bundled")  # the same world on every machine
    db_sources: list[tuple[str, str]] = []
    for n, api in enumerate(db.entries):
        db_sources.append((f"api/{n}", api.api_call))
        db_sources.append((f"api/{n}/example", _as_code(api.example_code)))
    answers: list[tuple[str, str]] = []
    for split in ("eval", "train"):
        for record in load_records("torchhub", split, source="bundled").records:
            if record.output is not None:
                answers.append((record.id, record.output.code))
    return collect(db_sources, answers)


def hf_model_ids(items: list[dict] | None = None) -> list[str]:
    """Hugging Face ids that `huggingface/pytorch-transformers` entries load in the API database and
    answers: the HF stand-in world must hold them for those entries to run."""
    from gorilla_rlaif.data import load_api_db, load_records

    codes = [_as_code(api.example_code) for api in load_api_db("torchhub", source="bundled").entries]
    for split in ("eval", "train"):
        records = load_records("torchhub", split, source="bundled").records
        codes += [r.output.code for r in records if r.output is not None]
    ids: list[str] = []
    for code in codes:
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_hub_load(node) and len(node.args) > 2:
                repo = _const(node.args[0], {})
                model_id = _const(node.args[2], {})
                if repo == "huggingface/pytorch-transformers" and model_id and model_id not in ids:
                    ids.append(model_id)
    return ids
