"""Tiny random-weight stand-ins for pyannote.audio (3.1.x) hub models and pipelines.

Two kinds of hub repos are produced:

* ``segmentation-model`` / ``embedding-model``: a ``pytorch_model.bin`` that is a
  Lightning-style checkpoint exactly as ``pyannote.audio.core.model.Model``
  saves it (``state_dict``, ``hyper_parameters``, ``pytorch-lightning_version``
  and the ``pyannote.audio`` block with versions / architecture /
  specifications filled in by pyannote's own ``on_save_checkpoint``), built on
  the real architecture class (PyanNet, XVectorSincNet, WeSpeakerResNet34) with
  tiny sizes where the class allows it.
* ``pipeline``: a ``config.yaml`` naming the pipeline class, its constructor
  params (every model it references is another hub id of the world, see
  ``extra_ids()``) and instantiated hyper-parameters.

WHERE THE FILES MUST GO (important): pyannote.audio 3.x calls
``hf_hub_download(..., cache_dir=CACHE_DIR)`` with
``CACHE_DIR = $PYANNOTE_CACHE or ~/.cache/torch/pyannote`` -- NOT ``$HF_HOME/hub``.
So either run the sandbox with ``PYANNOTE_CACHE=$HF_HOME/hub`` (recommended,
then every repo lives in the usual HF hub cache) or install the pyannote repos
under ``~/.cache/torch/pyannote/models--<org>--<name>/...``. SpeechBrain
embeddings referenced by pipelines (``speechbrain/...``) are fetched by
SpeechBrain into the default HF cache (``$HF_HOME/hub``); pyannote_recipe()
returns None for them (build them with standins_speechbrain.build_for_id).
Every pyannote recipe has ``cache='pyannote'`` (root = $PYANNOTE_CACHE).

Only the standard library is imported at module level; torch / pyannote.audio
are imported inside ``build_pyannote``.

Usage::

    rec = pyannote_recipe("pyannote/segmentation@2022.07")
    build_pyannote(rec, snapshot_dir)     # writes pytorch_model.bin
    # then write refs/<r> for r in rec["revisions"] (40 zeros snapshot)
"""

import copy
import os

__all__ = ["SNAPSHOT", "build_pyannote", "extra_ids", "pyannote_recipe", "repo_folder_name"]

SNAPSHOT = "0" * 40

# ---------------------------------------------------------------------------
# specifications (plain data, turned into pyannote Specifications at build)
# ---------------------------------------------------------------------------

_SPK3 = ["speaker#1", "speaker#2", "speaker#3"]

_SPEC_SEG_2022 = {  # pyannote/segmentation (2.x): multilabel, 3 speakers, 5 s
    "problem": "MULTI_LABEL_CLASSIFICATION",
    "resolution": "FRAME",
    "duration": 5.0,
    "min_duration": None,
    "warm_up": (0.0, 0.0),
    "classes": _SPK3,
    "powerset_max_classes": None,
    "permutation_invariant": True,
}
_SPEC_SEG_30 = {  # pyannote/segmentation-3.0: powerset (7 classes), 10 s
    "problem": "MONO_LABEL_CLASSIFICATION",
    "resolution": "FRAME",
    "duration": 10.0,
    "min_duration": None,
    "warm_up": (0.0, 0.0),
    "classes": _SPK3,
    "powerset_max_classes": 2,
    "permutation_invariant": True,
}
_SPEC_EMB = {
    "problem": "REPRESENTATION",
    "resolution": "CHUNK",
    "duration": 5.0,
    "min_duration": None,
    "warm_up": (0.0, 0.0),
    "classes": None,
    "powerset_max_classes": None,
    "permutation_invariant": False,
}

_TINY_PYANNET = {
    "sincnet": {"stride": 10},
    "lstm": {"hidden_size": 16, "num_layers": 1, "bidirectional": True, "monolithic": True, "dropout": 0.0},
    "linear": {"hidden_size": 16, "num_layers": 1},
}

# ---------------------------------------------------------------------------
# pipeline configs (structure of the real config.yaml files)
# ---------------------------------------------------------------------------

_SEG_2022 = "pyannote/segmentation@2022.07"
_SEG_IS21 = "pyannote/segmentation@Interspeech2021"
_SEG_30 = "pyannote/segmentation-3.0"
_EMB_SB = "speechbrain/spkrec-ecapa-voxceleb"
_EMB_WESPEAKER = "pyannote/wespeaker-voxceleb-resnet34-LM"

_DIAR_21 = {  # pyannote/speaker-diarization (2.1 config, runs on 3.x)
    "pipeline": {
        "name": "pyannote.audio.pipelines.SpeakerDiarization",
        "params": {
            "clustering": "AgglomerativeClustering",
            "embedding": _EMB_SB,
            "embedding_batch_size": 32,
            "embedding_exclude_overlap": True,
            "segmentation": _SEG_2022,
            "segmentation_batch_size": 32,
        },
    },
    "params": {
        "clustering": {"method": "centroid", "min_cluster_size": 15, "threshold": 0.7153814381597874},
        "segmentation": {"min_duration_off": 0.5817029604921046, "threshold": 0.4442333667381752},
    },
}
_DIAR_31 = {  # pyannote/speaker-diarization-3.1
    "version": "3.1.0",
    "pipeline": {
        "name": "pyannote.audio.pipelines.SpeakerDiarization",
        "params": {
            "clustering": "AgglomerativeClustering",
            "embedding": _EMB_WESPEAKER,
            "embedding_batch_size": 32,
            "embedding_exclude_overlap": True,
            "segmentation": _SEG_30,
            "segmentation_batch_size": 32,
        },
    },
    "params": {
        "clustering": {"method": "centroid", "min_cluster_size": 12, "threshold": 0.7045654963945799},
        "segmentation": {"min_duration_off": 0.0},
    },
}
_DETECTION_21 = {  # the 2.1 detection pipelines' instantiated hyper-parameters (VAD and OSD alike)
    "min_duration_off": 0.09791355693027545,
    "min_duration_on": 0.05537587440407595,
    "offset": 0.4806866463041527,
    "onset": 0.8104268538848918,
}
_VAD_21 = {  # pyannote/voice-activity-detection
    "pipeline": {
        "name": "pyannote.audio.pipelines.VoiceActivityDetection",
        "params": {"segmentation": _SEG_IS21},
    },
    "params": _DETECTION_21,
}
_OSD_21 = {  # pyannote/overlapped-speech-detection
    "pipeline": {
        "name": "pyannote.audio.pipelines.OverlappedSpeechDetection",
        "params": {"segmentation": _SEG_IS21},
    },
    "params": _DETECTION_21,
}

# ---------------------------------------------------------------------------
# id table
# ---------------------------------------------------------------------------


def _model(arch, spec, hparams, revisions=(), approximate=False, note=None):
    kind = "embedding-model" if spec["problem"] == "REPRESENTATION" else "segmentation-model"
    return {
        "kind": kind,
        "architecture": arch,
        "specifications": spec,
        "hparams": hparams,
        "revisions": list(revisions),
        "files": ["pytorch_model.bin"],
        "approximate": approximate,
        "note": note,
    }


def _pipe(config, revisions=(), note=None):
    return {
        "kind": "pipeline",
        "pipeline_class": config["pipeline"]["name"],
        "config": config,
        "revisions": list(revisions),
        "files": ["config.yaml"],
        "approximate": False,
        "note": note,
    }


_MODULES = {
    "PyanNet": "pyannote.audio.models.segmentation",
    "XVectorSincNet": "pyannote.audio.models.embedding",
    "WeSpeakerResNet34": "pyannote.audio.models.embedding",
}

_TABLE = {
    "pyannote/segmentation": lambda: _model(
        "PyanNet", _SPEC_SEG_2022, _TINY_PYANNET, ["2022.07", "Interspeech2021", "v1.0"]
    ),
    "pyannote/segmentation-3.0": lambda: _model("PyanNet", _SPEC_SEG_30, _TINY_PYANNET),
    # pyannote/brouhaha is not here: its checkpoint names brouhaha.models.CustomPyanNet, from a
    # package that is not on PyPI (a user without it gets an error, and so does the world)
    "pyannote/embedding": lambda: _model(
        "XVectorSincNet", _SPEC_EMB, {"sincnet": {"stride": 10}, "dimension": 32}
    ),
    "pyannote/wespeaker-voxceleb-resnet34-LM": lambda: _model(
        "WeSpeakerResNet34",
        dict(_SPEC_EMB, duration=10.0),
        {},
        note="ResNet34 has fixed sizes (~6.6M params, ~27 MB)",
    ),
    "pyannote/speaker-diarization": lambda: _pipe(_DIAR_21, ["2.1", "2.1.1"]),
    "pyannote/speaker-diarization-3.0": lambda: _pipe(
        dict(_DIAR_31, version="3.0.0"), note="real 3.0 used an ONNX wespeaker; here pyannote one"
    ),
    "pyannote/speaker-diarization-3.1": lambda: _pipe(_DIAR_31),
    "philschmid/pyannote-speaker-diarization-endpoint": lambda: _pipe(_DIAR_21),
    "pyannote/voice-activity-detection": lambda: _pipe(_VAD_21),
    "pyannote/overlapped-speech-detection": lambda: _pipe(_OSD_21),
}


def _split(model_id):
    model_id = model_id.strip()
    if "@" in model_id:
        base, rev = model_id.split("@", 1)
        return base, rev
    return model_id, None


def pyannote_recipe(model_id):
    """Map a hub id (optionally ``id@revision``) to a build recipe, or None.

    Recipe keys: model_id, kind ('segmentation-model' | 'embedding-model' |
    'pipeline'), architecture/specifications/hparams (models) or
    pipeline_class/config (pipelines), files, revisions (refs to write in
    addition to 'main'; a 40-hex revision means a snapshot alias instead),
    requires (ids a pipeline references), cache ('pyannote': goes under
    $PYANNOTE_CACHE, see module doc), approximate (+ note).
    """
    base, rev = _split(model_id)
    key = base.lower()
    make = None
    for k, v in _TABLE.items():
        if k.lower() == key:
            make, base = v, k
            break
    if make is None:
        name = key.rsplit("/", 1)[-1]
        # heuristics for other (user-copied) repos of the same kinds
        if "speaker-diarization" in name or name.endswith("diarization"):
            make = _TABLE["pyannote/speaker-diarization"]
        elif "voice-activity" in name or name.endswith("-vad"):
            make = _TABLE["pyannote/voice-activity-detection"]
        elif "overlapped-speech" in name:
            make = _TABLE["pyannote/overlapped-speech-detection"]
        elif "pyannote" in key and "segmentation" in name:
            make = _TABLE["pyannote/segmentation"]
        else:
            return None
    rec = copy.deepcopy(make())
    rec["model_id"] = base
    revs = ["main"] + [r for r in rec["revisions"] if r != "main"]
    if rev and rev not in revs:
        revs.append(rev)
    rec["revisions"] = revs
    rec["cache"] = "pyannote"
    rec["requires"] = []
    if rec["kind"] == "pipeline":
        p = rec["config"]["pipeline"]["params"]
        rec["requires"] = [p[k] for k in ("segmentation", "embedding") if isinstance(p.get(k), str)]
    return rec


def extra_ids():
    """Ids referenced by the pipelines above that must also be built.

    'speechbrain/...' ids are SpeechBrain repos (build them with
    standins_speechbrain.build_for_id; they live in the HF cache $HF_HOME/hub,
    SpeechBrain fetches them itself).
    """
    out = []
    for k in _TABLE:
        rec = pyannote_recipe(k)
        for r in rec["requires"]:
            if r not in out:
                out.append(r)
    return out


def repo_folder_name(model_id):
    """'org/name[@rev]' -> 'models--org--name' (huggingface_hub cache layout)."""
    return "models--" + _split(model_id)[0].replace("/", "--")


# ---------------------------------------------------------------------------
# builders
# ---------------------------------------------------------------------------


def _build_model(recipe, out, seed):
    import importlib

    import pyannote.audio.core.model as pa_model
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications

    torch.manual_seed(seed)
    arch = recipe["architecture"]
    Klass = getattr(importlib.import_module(_MODULES[arch]), arch)
    model = Klass(**copy.deepcopy(recipe["hparams"]))

    s = recipe["specifications"]
    spec = Specifications(
        problem=Problem[s["problem"]],
        resolution=Resolution[s["resolution"]],
        duration=s["duration"],
        min_duration=s["min_duration"],
        warm_up=tuple(s["warm_up"]),
        classes=list(s["classes"]) if s["classes"] else None,
        powerset_max_classes=s["powerset_max_classes"],
        permutation_invariant=s["permutation_invariant"],
    )
    model.specifications = spec
    model.build()  # task-dependent layers (classifier / activation)
    model.eval()

    checkpoint = {
        "epoch": 0,
        "global_step": 0,
        "pytorch-lightning_version": pa_model.pl.__version__,
        "state_dict": model.state_dict(),
        "loops": {},
        "callbacks": {},
        "optimizer_states": [],
        "lr_schedulers": [],
        "hparams_name": "kwargs",
        "hyper_parameters": dict(model.hparams),
    }
    model.on_save_checkpoint(checkpoint)  # pyannote.audio versions/architecture/specifications
    torch.save(checkpoint, os.path.join(out, "pytorch_model.bin"))


def build_pyannote(recipe, out, seed=0):
    """Write the snapshot files of ``recipe`` into directory ``out`` (flat)."""
    os.makedirs(out, exist_ok=True)
    if recipe["kind"] == "pipeline":
        import yaml

        with open(os.path.join(out, "config.yaml"), "w") as fp:
            yaml.safe_dump(recipe["config"], fp, sort_keys=False)
    elif recipe["kind"] in ("segmentation-model", "embedding-model"):
        _build_model(recipe, out, seed)
    else:
        raise ValueError(f"unknown kind {recipe['kind']!r}")
