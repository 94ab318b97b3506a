"""Plan the TensorFlow Hub stand-ins: every handle of the hub's API database and of APIBench's own
answers, with what the code does with it.

A handle is a string literal that is a TF Hub URL (`https://tfhub.dev/...`) wherever it is passed:
`hub.load(h)`, `hub.KerasLayer(h, ...)`, or a name bound to it (`model_id = h; hub.load(model_id)`).
For each handle the plan records how the code calls it (KerasLayer or load, the keyword arguments
it passes: `output_shape=[1280]`, `output_key=`, `signature=`, `trainable=`), the signatures and
output keys the code reads (`.signatures['serving_default']`, `result['detection_boxes']`), and the
API database's domains. From that, and from the handle itself (the model family it names:
`mobilenet_v2_140_224/feature_vector` is 1792 wide, ImageNet classifiers of `google/imagenet` have
1001 classes, the Universal Sentence Encoder embeds in 512 dimensions), it decides the *kind* of
stand-in and its parameters. The builder (`standins_tfhub.py`, run by the execution environment)
turns each kind into one tiny SavedModel and links it under every handle of that kind.

What is known from the published model cards wins over what a single answer writes (one gold
answer gives the 1792-wide `mobilenet_v2_140` an `output_shape=[140]`; with the real model that
answer fails, and so it does here). Every decision is kept in the item (`why`), so the plan can be
read and checked.
"""

from __future__ import annotations

import ast
import logging
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gorilla_rlaif.harness.world.literals import string_names

log = logging.getLogger(__name__)

BUILDER = Path(__file__).resolve().parent / "standins_tfhub.py"

# A TF Hub handle as answers write it. tfhub.dev is the only host APIBench uses; its mirror for
# mainland China resolves the same models (tensorflow_hub's resolver knows it).
HANDLE = re.compile(r"^https?://(?:tfhub\.dev|hub\.tensorflow\.google\.cn)/[\w\-.]+(?:/[\w\-.]+)+/?$")
_QUOTED = re.compile(r"""['"](https?://(?:tfhub\.dev|hub\.tensorflow\.google\.cn)/[^'"\s`]+)['"]""")
MIRROR = ("https://tfhub.dev/", "https://hub.tensorflow.google.cn/")
HUB_FUNCS = {"load": "load", "KerasLayer": "KerasLayer", "Module": "Module", "resolve": "resolve"}
KERAS_KWARGS = (
    "output_shape",
    "output_key",
    "signature",
    "signature_outputs_as_dict",
    "trainable",
    "arguments",
)

# Output width of an image feature vector, by the architecture the handle names (model cards).
FEATURE_WIDTH = (
    (r"mobilenet_v3_large", 1280),
    (r"mobilenet_v3_small", 1024),
    (r"inception_resnet_v2", 1536),
    (r"inception_v[12]\b", 1024),
    (r"inception_v[34]", 2048),
    (r"resnet_v[12]_\d+", 2048),
    (r"efficientnet/b0|efficientnet_b0|efficientnet/b1|efficientnet_b1", 1280),
    (r"efficientnet/b2|efficientnet_b2", 1408),
    (r"efficientnet/b3|efficientnet_b3", 1536),
    (r"nasnet_large", 4032),
    (r"nasnet_mobile", 1056),
    (r"pnasnet_large", 4320),
    (r"bit/[sm]-r50x1", 2048),
    (r"mobilenet_v2|tf2-preview/mobilenet", 1280),
    (r"imagenet/feature_vector", 2048),
)
# Text embedding dimensions by model family (model cards); `dim128`, `20dim` are read off the name.
TEXT_DIMS = (
    (r"universal-sentence-encoder", 512),
    (r"wiki-words-(\d+)", None),
    (r"dim(\d+)", None),
    (r"(\d+)dim", None),
    (r"elmo", 1024),
)
# Handle keywords that decide the kind before the domain does (the API database files some handles
# under a wrong domain: the Universal Sentence Encoder as "Video classification", a MobileNet as
# "Audio embedding"; the handle is what the code loads).
KIND_BY_HANDLE = (
    ("yamnet", "audio_yamnet"),
    ("wav2vec2", "speech_wav2vec2"),
    ("movenet", "pose_movenet"),
    ("deeplab", "image_segmentation"),
    ("openimages", "detector_openimages"),
    ("oid_v4", "detector_openimages"),
    ("i3d", "video_classifier"),
    ("kinetics", "video_classifier"),
    ("video", "video_classifier"),
    ("two-frame", "frame_interpolation"),
    ("/film/", "frame_interpolation"),
    ("stylization", "style_transfer"),
    ("progan", "image_generator"),
    ("biggan", "image_generator"),
    ("_preprocess", "bert_preprocess"),
    ("bert", "bert_encoder"),
    ("electra", "bert_encoder"),
    ("experts/", "bert_encoder"),
    ("universal-sentence-encoder", "text_embedding"),
    ("nnlm", "text_embedding"),
    ("swivel", "text_embedding"),
    ("wiki-words", "text_embedding"),
    ("elmo", "text_embedding"),
    ("ssd", "detector"),
    ("efficientdet", "detector"),
    ("centernet", "detector"),
    ("faster_rcnn", "detector"),
    ("retinanet", "detector"),
    ("mask_rcnn", "detector"),
    ("feature_vector", "image_feature_vector"),
    ("classification", "image_classifier"),
)
KIND_BY_DOMAIN = {
    "image feature vector": "image_feature_vector",
    "image classification": "image_classifier",
    "image object detection": "detector",
    "image segmentation": "image_segmentation",
    "image pose detection": "pose_movenet",
    "image frame interpolation": "frame_interpolation",
    "video classification": "video_classifier",
    "audio embedding": "audio_yamnet",
    "audio event classification": "audio_yamnet",
    "audio speech-to-text": "speech_wav2vec2",
    "text embedding": "text_embedding",
    "text language model": "text_embedding",
    "text preprocessing": "text_embedding",
    "text classification": "text_embedding",
}
KINDS = tuple(dict.fromkeys([*(k for _, k in KIND_BY_HANDLE), *KIND_BY_DOMAIN.values()]))


# ----------------------------------------------------------------------------- reading the code


def _literal(node: ast.AST | None, names: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    return None


def _shape(node: ast.AST) -> list | None:
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None
    if isinstance(value, int):
        value = [value]
    if isinstance(value, (list, tuple)) and all(v is None or isinstance(v, int) for v in value):
        return list(value)
    return None


def usages_in_code(code: str) -> list[dict]:
    """One record per TF Hub handle `code` mentions: `{"handle", "calls": [...], "keras": {kwarg:
    value}, "signatures": [...], "keys": [...]}`. `calls` names the hub functions the handle is
    passed to (`load`, `KerasLayer`, ...; empty when it is only a string in the code); `keys` are
    the string subscripts the code takes (output dict keys). Code that does not parse falls back
    to the quoted handles in its text (so its handles are still in the world)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return [
            {"handle": h, "calls": [], "keras": {}, "signatures": [], "keys": []}
            for h in _QUOTED.findall(code)
        ]
    names = string_names(tree)  # model_id = 'org/name'
    found: dict[str, dict] = {}

    def record(handle: str) -> dict:
        return found.setdefault(
            handle, {"handle": handle, "calls": [], "keras": {}, "signatures": [], "keys": []}
        )

    signatures: list[str] = []
    keys: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and HANDLE.match(node.value):
            record(node.value)
        elif isinstance(node, ast.Subscript):
            key = _literal(node.slice, {})
            if key is None:
                continue
            value = node.value
            if isinstance(value, ast.Attribute) and value.attr == "signatures":
                signatures.append(key)
            else:
                keys.append(key)
        elif isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if name not in HUB_FUNCS:
                continue
            kw = {k.arg: k.value for k in node.keywords if k.arg}
            handle = _literal(node.args[0] if node.args else kw.get("handle"), names)
            if not handle or not HANDLE.match(handle):
                continue
            item = record(handle)
            if HUB_FUNCS[name] not in item["calls"]:
                item["calls"].append(HUB_FUNCS[name])
            for key in KERAS_KWARGS:
                if key in kw:
                    value = _shape(kw[key]) if key == "output_shape" else _literal(kw[key], {})
                    if value is None and key != "output_shape":
                        try:
                            value = ast.literal_eval(kw[key])
                        except (ValueError, SyntaxError, TypeError):
                            value = ast.unparse(kw[key])
                    item["keras"].setdefault(key, value)
    for item in found.values():  # subscripts are code-wide: credit every handle of the snippet
        item["signatures"] = list(dict.fromkeys(signatures))
        item["keys"] = list(dict.fromkeys(keys))
    return list(found.values())


def _parses(text: str | None) -> bool:
    try:
        return bool(text) and ast.parse(text, mode="eval") is not None
    except SyntaxError:
        return False


def _as_code(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return value if isinstance(value, str) else ""


def sources_from_data(data_dir: str | None = None) -> list[tuple[str, str, dict]]:
    """`(source, code, meta)` for every piece of TF Hub code APIBench holds: the API database's
    calls and examples, and the records' gold answers (eval, plus train when a data directory
    provides `tensorflow_train.json`; the bundled copy has no TF train file)."""
    from gorilla_rlaif.data import load_api_db, load_records
    from gorilla_rlaif.errors import DataError

    sources: list[tuple[str, str, dict]] = []
    db = load_api_db("tensorflowhub", data_dir=data_dir)
    for n, entry in enumerate(db.entries):
        meta = {"domain": entry.domain}
        args = entry.api_arguments
        if isinstance(args, dict) and "output_shape" in args:  # documented, e.g. {"output_shape": "[1280]"}
            meta["output_shape"] = str(args["output_shape"])
        code = f"{entry.api_call}\n{_as_code(entry.example_code)}"
        sources.append((f"api:{n}", code, meta))
    for split in ("eval", "train"):
        try:
            result = load_records("tensorflowhub", split, data_dir=data_dir)
        except (DataError, FileNotFoundError) as exc:
            log.info("tensorflowhub %s records not available (%s): planning without them", split, exc)
            continue
        for record in result.records:
            meta = {"domain": record.api_data.domain}
            sources.append((record.id, record.api_data.api_call, meta))
            if record.output is not None:
                sources.append((record.id, record.output.code, meta))
    return sources


# ----------------------------------------------------------------------------- deciding the kind


def _kind(handle: str, domains: Counter) -> tuple[str, str]:
    low = handle.lower()
    for keyword, kind in KIND_BY_HANDLE:
        if keyword in low:
            return kind, f"handle names {keyword!r}"
    for domain, _ in domains.most_common():
        kind = KIND_BY_DOMAIN.get(domain.lower())
        if kind:
            return kind, f"API database domain {domain!r}"
    return "image_feature_vector", "no keyword or known domain: an image feature vector, the commonest kind"


def _most_common_shape(shapes: Counter) -> int | None:
    for shape, _ in shapes.most_common():
        if len(shape) == 1 and shape[0]:
            return shape[0]
    return None


def _feature_width(low: str, stated: int | None) -> tuple[int, str]:
    if m := re.search(r"mobilenet_v1_(\d{3})_", low):
        return 1024 * int(m.group(1)) // 100, f"MobileNet V1 at depth {int(m.group(1)) / 100}: 1024 x depth"
    if (m := re.search(r"mobilenet_v2_(\d{3})_", low)) and int(m.group(1)) > 100:
        return 1280 * int(m.group(1)) // 100, "MobileNet V2 widens its last layer for depth multipliers > 1"
    for pattern, width in FEATURE_WIDTH:
        if re.search(pattern, low):
            return width, f"the architecture ({pattern})"
    return (stated, "stated by the code") if stated else (1280, "default")


def _image_params(kind: str, low: str, stated: int | None) -> tuple[dict, list[str]]:
    if kind == "image_classifier":
        # TF-Slim ImageNet models (google/imagenet/*, tf2-preview) have a background class.
        slim = "google/imagenet/" in low or "tf2-preview" in low
        width, why = (1001, "ImageNet + background (TF-Slim)") if slim else (1000, "ImageNet (Keras)")
        why = [f"{width} classes: {why}"]
    else:
        width, reason = _feature_width(low, stated)
        why = [f"feature width {width}: {reason}"]
    params = {"outputs": width}
    if re.search(r"google/imagenet/.*/[123]$", low):  # TF1 Hub format releases: their signatures too
        params["tf1"] = True
        why.append("TF1 Hub format release: signatures default and image_*")
    # The training resolution is all the name says about inputs; the stand-in (like the TF2
    # models, [B, H, W, 3] with free H and W) accepts any size, so it only goes into `why`.
    size = re.search(r"_(\d{3})/", low)
    pixels = int(size.group(1)) if size else 299 if re.search(r"inception_(?:v[34]|resnet)", low) else 224
    why.append(f"trained at {pixels} px")
    if stated and stated != width:
        why.append(f"some code states output_shape [{stated}]; the model card's {width} wins")
    return params, why


def _params(kind: str, handle: str, evidence: dict) -> tuple[dict, list[str]]:
    low = handle.lower()
    stated = _most_common_shape(evidence["output_shape"])
    if kind in ("image_feature_vector", "image_classifier"):
        return _image_params(kind, low, stated)
    if kind == "text_embedding":
        for pattern, value in TEXT_DIMS:
            if match := re.search(pattern, low):
                dim = value or int(match.group(1))
                return {"dim": dim}, [f"{dim}-d embeddings ({pattern})"]
        dim = stated or 128
        return {"dim": dim}, [f"{dim}-d embeddings ({'stated by the code' if stated else 'default'})"]
    if kind == "detector":
        # TF2 Object Detection API exports: uint8 [1, H, W, 3] -> dict of detection_*; the
        # EfficientDet-Lite exports return the four tensors as a tuple.
        style = "tuple" if re.search(r"efficientdet/lite\d", low) else "dict"
        params = {"outputs": style, "keypoints": "kpts" in low, "classes": 90}
        return params, [f"TF2 detection zoo export ({style} outputs, uint8 input, 90 COCO classes)"]
    if kind == "detector_openimages":
        return {"classes": 600}, ["TF1 Hub Open Images detector: signatures['default'] on float32 images"]
    if kind == "pose_movenet":
        if "multipose" in low:
            return {"size": None, "multipose": True}, ["multi-pose MoveNet, int32 input of any size"]
        size = 256 if "thunder" in low else 192
        return {"size": size, "multipose": False}, [f"single-pose MoveNet, int32 input {size}x{size}"]
    if kind == "video_classifier":
        classes = 600 if "600" in low else 400
        return {"classes": classes}, [f"Kinetics-{classes} classes"]
    if kind == "image_segmentation":
        return {"classes": 21}, ["PASCAL VOC classes (DeepLab v3)"]
    if kind == "bert_encoder":
        hidden = re.search(r"_h-(\d+)", low)
        width = int(hidden.group(1)) if hidden else (1024 if "large" in low else 768)
        return {"hidden": width}, [f"hidden size {width}"]
    if kind == "image_generator":
        if "biggan" in low:
            size = re.search(r"biggan-(?:deep-)?(\d+)", low)
            return {"style": "biggan", "size": int(size.group(1)) if size else 128}, [
                "BigGAN: y, z, truncation"
            ]
        return {"style": "progan", "size": 128}, ["ProGAN: latent [N, 512] -> [N, 128, 128, 3]"]
    return {}, []


def collect(sources: Iterable[tuple[str, str, dict]]) -> list[dict]:
    """One plan item per handle, in first-seen order: how the code calls it (evidence), the kind
    of stand-in, its parameters and why."""
    seen: dict[str, dict] = {}
    for source, code, meta in sources:
        for usage in usages_in_code(code):
            handle = usage["handle"]
            ev = seen.setdefault(
                handle,
                {
                    "domains": Counter(),
                    "calls": Counter(),
                    "output_shape": Counter(),
                    "keras": Counter(),
                    "signatures": Counter(),
                    "keys": Counter(),
                    "sources": [],
                },
            )
            if meta.get("domain"):
                ev["domains"][meta["domain"]] += 1
            documented = (
                _shape(ast.parse(meta["output_shape"], mode="eval").body)
                if _parses(meta.get("output_shape"))
                else None
            )
            if documented and usage["calls"]:
                ev["output_shape"][tuple(documented)] += 1
            ev["calls"].update(usage["calls"])
            for key, value in usage["keras"].items():
                if key == "output_shape":
                    if value is not None:
                        ev["output_shape"][tuple(value)] += 1
                else:
                    ev["keras"][f"{key}={value!r}"] += 1
            if usage["calls"]:
                ev["signatures"].update(usage["signatures"])
                ev["keys"].update(usage["keys"])
            if source not in ev["sources"] and len(ev["sources"]) < 5:
                ev["sources"].append(source)
    items = []
    for handle, ev in seen.items():
        kind, why = _kind(handle, ev["domains"])
        params, reasons = _params(kind, handle, ev)
        items.append(
            {
                "id": handle,
                "kind": kind,
                "params": params,
                "aliases": aliases(handle),
                "why": [why, *reasons],
                "evidence": {
                    "domains": dict(ev["domains"].most_common()),
                    "calls": dict(ev["calls"].most_common()),
                    "output_shape": {str(list(k)): v for k, v in ev["output_shape"].most_common()},
                    "keras_kwargs": dict(ev["keras"].most_common(8)),
                    "signatures": dict(ev["signatures"].most_common()),
                    "output_keys": dict(ev["keys"].most_common(12)),
                    "sources": ev["sources"],
                },
            }
        )
    return items


def aliases(handle: str) -> list[str]:
    """Other spellings of the same handle that tensorflow_hub caches under another name (the cache
    directory is sha1 of the handle as written): with/without a trailing slash, and the same path
    on the other host (tfhub.dev / hub.tensorflow.google.cn). Real hubs serve all of them."""
    base = handle.rstrip("/")
    out = []
    for host in MIRROR:
        for other in MIRROR:
            if base.startswith(other):
                spelled = host + base[len(other) :]
                out += [spelled, spelled + "/"]
    return [h for h in dict.fromkeys(out) if h != handle]


def plan(data_dir: str | None = None) -> list[dict]:
    """The TF Hub part of the world: one item per handle of the API database and of APIBench's
    answers (see `collect`), sorted by handle so the plan (and the world's hash) does not depend
    on the order of the files."""
    return sorted(collect(sources_from_data(data_dir)), key=lambda item: item["id"])


def made_up(handle: str) -> str:
    """A handle of the same shape that no hub has (for the made-up-id measurement and tests)."""
    import hashlib

    return f"https://tfhub.dev/gorilla-rlaif-made-up/{hashlib.sha1(handle.encode()).hexdigest()[:10]}/1"


__all__ = [
    "BUILDER",
    "KINDS",
    "aliases",
    "collect",
    "made_up",
    "plan",
    "sources_from_data",
    "usages_in_code",
]
