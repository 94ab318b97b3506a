"""Plan the Hugging Face stand-ins: every model id of the hub's API database and of APIBench's own
answers, with what the code does with it (the classes it loads it with, the pipeline tasks, the
files it downloads, whether sentence-transformers or diffusers load it).

The builder (`standins_hf.py`, run by the execution environment) turns each id's usages into a
stand-in of the architecture the code asks for. What an answer does with an id is read from the
code's syntax tree, not guessed from names: `X.from_pretrained("id")` (with `id` a literal or a
name bound to one), `pipeline("task", model="id")`, `SentenceTransformer("id")`,
`hf_hub_download(repo_id="id", filename="f")` / `hf_hub_url(...)`, `timm.create_model("hf_hub:id")`,
and the libraries that read the Hub themselves: ultralyticsplus (`YOLO("org/name")`), yolov5
(`yolov5.load("org/name")`), flair (`SequenceTagger.load("org/name")`), huggingsound
(`SpeechRecognitionModel("org/name")`: a wav2vec2 CTC model), SpeechBrain
(`Interface.from_hparams(source="org/name")`) and huggingface_sb3 / rl_zoo3
(`load_from_hub(repo_id, filename)`). Also recorded: the `revision=` an answer asks for and the
delimiter it reads a repository's CSVs with.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Iterable
from typing import Any

from gorilla_rlaif.harness.world.literals import string_names

log = logging.getLogger(__name__)

HF_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
# Names under which answers call the file-download helpers of huggingface_hub.
# (huggingface_sb3's and rl_zoo3's `load_from_hub(repo_id, filename)` is hf_hub_download.)
DOWNLOAD_FUNCS = {"hf_hub_download", "hf_hub_url", "cached_download", "snapshot_download", "load_from_hub"}
LOADER_FUNCS = {"SentenceTransformer": "sentence_transformers", "from_pretrained_keras": "keras"}
# Libraries with loaders of their own that download from the Hub: `YOLO("org/name")`
# (ultralyticsplus: best.pt), `yolov5.load("org/name")` (the repository's .pt),
# `SequenceTagger.load("org/name")` (flair: pytorch_model.bin).
# Only ids with an owner: `YOLO("yolov8n.pt")` is a local file, `SequenceTagger.load("ner")` a
# flair alias.
OWN_LOADERS = {("YOLO", ""): "ultralytics", ("load", "SequenceTagger"): "flair", ("load", "yolov5"): "yolov5"}


def _const_str(node: ast.AST | None, names: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    return None


def _callee(node: ast.Call) -> tuple[str, str]:
    """(name, qualifier): `a.b.from_pretrained` -> ('from_pretrained', 'a.b'); `pipeline` -> ('pipeline', '')."""
    func = node.func
    if isinstance(func, ast.Attribute):
        try:
            return func.attr, ast.unparse(func.value)
        except Exception:
            return func.attr, ""
    if isinstance(func, ast.Name):
        return func.id, ""
    return "", ""


def usages_in_code(code: str) -> list[tuple[str, str, str]]:
    """`(model_id, kind, detail)` for every way `code` loads a Hugging Face model id. Kinds:
    'class' (detail: the class name), 'pipeline' (the task, '' if none), 'file' (the file name),
    'sentence_transformers', 'timm', 'keras', 'ultralytics', 'yolov5', 'flair', 'speechbrain'
    (detail: the interface class), 'csvsep' (the delimiter the code reads the repo's CSVs with),
    'revision' (a `revision=` the code asks for).
    Unparseable code yields nothing."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    names = string_names(tree)  # model_id = 'org/name'
    # `from speechbrain.pretrained import SepformerSeparation as separator`: the class's own name
    aliases = {
        alias.asname: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname
    }
    found: list[tuple[str, str, str]] = []
    csv_seps: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name, qualifier = _callee(node)
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        first = node.args[0] if node.args else None
        if name == "read_csv" and (sep := _const_str(kw.get("sep") or kw.get("delimiter"), names)):
            csv_seps.add(sep)
        if name == "from_pretrained" and qualifier:
            model_id = _const_str(first or kw.get("pretrained_model_name_or_path"), names)
            if model_id:
                # pyannote's `org/name@revision`: the repository is `org/name`
                found.append((model_id.split("@")[0], "class", qualifier.split(".")[-1]))
                if revision := _const_str(kw.get("revision"), names):  # `revision='v2.0'`: a ref too
                    found.append((model_id.split("@")[0], "revision", revision))
        elif name == "pipeline":
            task = _const_str(first or kw.get("task"), names) or ""
            for key in ("model", "tokenizer", "feature_extractor", "image_processor"):
                model_id = _const_str(kw.get(key), names)
                if model_id:
                    found.append((model_id, "pipeline", task if key == "model" else f"{key}:{task}"))
            if len(node.args) > 1 and (model_id := _const_str(node.args[1], names)):
                found.append((model_id, "pipeline", task))
        elif name in LOADER_FUNCS:
            model_id = _const_str(first or kw.get("model_name_or_path"), names)
            if model_id:
                found.append((model_id, LOADER_FUNCS[name], ""))
        elif (kind := OWN_LOADERS.get((name, qualifier.split(".")[-1]))) is not None:
            model_id = _const_str(first or kw.get("model") or kw.get("model_path"), names)
            if model_id and "/" in model_id:
                found.append((model_id, kind, ""))
        elif name == "SpeechRecognitionModel":  # huggingsound: a wav2vec2 CTC model + processor
            model_id = _const_str(first or kw.get("model_path"), names)
            if model_id:
                found += [(model_id, "class", "Wav2Vec2ForCTC"), (model_id, "class", "Wav2Vec2Processor")]
        elif name == "from_hparams" and qualifier:  # SpeechBrain: hyperparams.yaml + checkpoints
            model_id = _const_str(kw.get("source") or first, names)
            if model_id:
                interface = qualifier.split(".")[-1]
                found.append((model_id, "speechbrain", aliases.get(interface, interface)))
        elif name in DOWNLOAD_FUNCS:
            repo = _const_str(first or kw.get("repo_id"), names)
            filename = _const_str(node.args[1] if len(node.args) > 1 else kw.get("filename"), names)
            if repo and name != "cached_download":
                found.append((repo, "file", filename or ""))
        elif name == "create_model" and qualifier.endswith("timm"):
            model_id = _const_str(first or kw.get("model_name"), names)
            if model_id and model_id.startswith("hf_hub:"):
                found.append((model_id.removeprefix("hf_hub:"), "timm", ""))
            elif model_id:  # a timm name: pretrained weights come from the Hub repo its config names
                found.append((f"timm/{model_id}", "timm", ""))
    if len(csv_seps) == 1:  # the code reads its CSVs with another delimiter: so are the repo's CSVs
        found += [
            (m, "csvsep", next(iter(csv_seps))) for m, k, d in found if k == "file" and d.endswith(".csv")
        ]
    return [(m, k, d) for m, k, d in found if HF_ID.match(m) and len(m) < 120]


def _as_code(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return value if isinstance(value, str) else ""


def collect(sources: Iterable[tuple[str, str, dict]]) -> list[dict]:
    """Merge `(source, code, meta)` into one plan item per model id, in first-seen order."""
    items: dict[str, dict] = {}
    for source, code, meta in sources:
        for model_id, kind, detail in usages_in_code(code):
            item = items.setdefault(
                model_id,
                {
                    "id": model_id,
                    "classes": [],
                    "tasks": [],
                    "files": [],
                    "loaders": [],
                    "sources": [],
                    "hints": {},
                },
            )
            key = {"class": "classes", "pipeline": "tasks", "file": "files"}.get(kind, "loaders")
            value = (
                detail if kind in ("class", "pipeline", "file") else f"{kind}:{detail}" if detail else kind
            )
            if value not in item[key]:
                item[key].append(value)
            if source not in item["sources"] and len(item["sources"]) < 5:
                item["sources"].append(source)
            for hint, text in meta.items():
                if text and hint not in item["hints"]:
                    item["hints"][hint] = text
    for item in items.values():
        item["files"] = [f for f in item["files"] if f]
    return list(items.values())


def sources_from_data(data_dir: str | None = None) -> list[tuple[str, str, dict]]:
    """Every piece of Hugging Face code APIBench holds: the API database's calls and examples
    (with the entry's task as a hint) and the records' gold answers (eval, and train when a
    data directory provides it)."""
    from gorilla_rlaif.data import load_api_db, load_records
    from gorilla_rlaif.errors import DataError

    sources: list[tuple[str, str, dict]] = []
    source = "local" if data_dir else "bundled"  # the same world on every machine
    db = load_api_db("huggingface", data_dir=data_dir, source=source)
    for n, entry in enumerate(db.entries):
        meta = {
            "functionality": str(entry.functionality or ""),
            "domain": entry.domain,
            "api_name": entry.api_name,
        }
        code = f"{entry.api_call}\n{_as_code(entry.example_code)}"
        sources.append((f"api:{n}", entry.api_call, meta))
        sources.append((f"api:{n}", code, meta))
    from gorilla_rlaif.harness.world.torchhub import hf_model_ids

    for model_id in hf_model_ids():  # torch.hub's huggingface/pytorch-transformers entries load these
        code = f"AutoModel.from_pretrained({model_id!r})\nAutoTokenizer.from_pretrained({model_id!r})"
        sources.append(("torchhub:huggingface/pytorch-transformers", code, {}))
    for split in ("eval", "train"):
        try:
            result = load_records("huggingface", split, data_dir=data_dir, source=source)
        except (DataError, FileNotFoundError) as exc:
            log.info("huggingface %s records not available (%s): planning without them", split, exc)
            continue
        for record in result.records:
            meta = {
                "functionality": str(record.api_data.functionality or ""),
                "domain": record.api_data.domain,
            }
            sources.append((record.id, record.api_data.api_call, meta))
            if record.output is not None:
                sources.append((record.id, record.output.code, meta))
    return sources


def plan(data_dir: str | None = None) -> list[dict]:
    """The Hugging Face part of the world: one item per model id (see `collect`). An API whose
    call and example code name no loadable id is planned under its `api_name`, with the entry's
    task as the only hint."""
    sources = sources_from_data(data_dir)
    items = collect(sources)
    known = {item["id"] for item in items}
    for source, _, meta in sources:
        api_name = meta.get("api_name", "")
        if api_name and api_name not in known and HF_ID.match(api_name):
            known.add(api_name)
            items.append(
                {
                    "id": api_name,
                    "classes": [],
                    "tasks": [],
                    "files": [],
                    "loaders": [],
                    "sources": [source],
                    "hints": meta,
                }
            )
    return items
