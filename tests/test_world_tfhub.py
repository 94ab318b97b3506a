"""The TF Hub stand-in world: the planner (host side) and the built SavedModels in real sandboxes.

The sandbox tests build a small world once per session (four handles, one SavedModel each, with
the execution environment's TensorFlow; the full world is built by the harness's setup) and run
APIBench gold answers and hand-written calls against it on both backends: `hub.KerasLayer` in a
Sequential model (also fine-tuned), `hub.load` of the Universal Sentence Encoder, a signature
(MoveNet's serving_default), a detector's output dict, and made-up handles (hub_error)."""

from __future__ import annotations

import hashlib
import json

import pytest

from gorilla_rlaif.data import load_records
from gorilla_rlaif.harness import SandboxConfig, Status, run_snippets
from gorilla_rlaif.harness.world import tfhub

MOBILENET = "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/4"
USE = "https://tfhub.dev/google/universal-sentence-encoder/4"
MOVENET = "https://tfhub.dev/google/movenet/singlepose/lightning/4"
SSD = "https://tfhub.dev/tensorflow/ssd_mobilenet_v2/2"
HANDLES = (MOBILENET, USE, MOVENET, SSD)


# ----------------------------------------------------------------------------- the planner


@pytest.fixture(scope="module")
def plan():
    return {item["id"]: item for item in tfhub.plan()}


def test_usages_follow_names_bound_to_handles_and_read_keras_arguments():
    code = (
        "import tensorflow_hub as hub\n"
        f"model_id = '{MOBILENET}'\n"
        "layer = hub.KerasLayer(model_id, input_shape=(224, 224, 3), output_shape=[1280], trainable=True)\n"
        f"detector = hub.load('{SSD}')\n"
        "out = detector(x)\n"
        "boxes = out['detection_boxes']\n"
        f"pose = hub.load('{MOVENET}').signatures['serving_default']\n"
    )
    usages = {u["handle"]: u for u in tfhub.usages_in_code(code)}
    assert set(usages) == {MOBILENET, SSD, MOVENET}
    assert usages[MOBILENET]["calls"] == ["KerasLayer"]
    assert usages[MOBILENET]["keras"] == {"output_shape": [1280], "trainable": True}
    assert usages[SSD]["calls"] == ["load"]
    assert "detection_boxes" in usages[SSD]["keys"]
    assert usages[MOVENET]["signatures"] == ["serving_default"]
    # code that does not parse still names its handles
    assert [u["handle"] for u in tfhub.usages_in_code(f"x = hub.load('{USE}'\n")] == [USE]


def test_the_plan_covers_every_handle_of_the_database_and_of_the_gold_answers(plan):
    from gorilla_rlaif.data import load_api_db

    wanted = set()
    for entry in load_api_db("tensorflowhub").entries:
        wanted |= {u["handle"] for u in tfhub.usages_in_code(entry.api_call)}
    for record in load_records("tensorflowhub", "eval").records:
        if record.output is not None:
            wanted |= {u["handle"] for u in tfhub.usages_in_code(record.output.code)}
    assert len(wanted) > 50
    assert wanted <= set(plan)
    assert list(plan) == sorted(plan)  # deterministic order: the world's hash depends on it
    assert all(item["kind"] in tfhub.KINDS for item in plan.values())


@pytest.mark.parametrize(
    ("handle", "kind", "params"),
    [
        (MOBILENET, "image_feature_vector", {"outputs": 1280}),
        (
            "https://tfhub.dev/google/imagenet/mobilenet_v2_140_224/feature_vector/4",
            "image_feature_vector",
            {"outputs": 1792},
        ),
        (
            "https://tfhub.dev/google/imagenet/mobilenet_v3_small_100_224/feature_vector/5",
            "image_feature_vector",
            {"outputs": 1024},
        ),
        (
            "https://tfhub.dev/google/imagenet/inception_v3/classification/5",
            "image_classifier",
            {"outputs": 1001},
        ),
        (
            "https://tfhub.dev/google/imagenet/inception_v3/feature_vector/1",
            "image_feature_vector",
            {"outputs": 2048, "tf1": True},
        ),
        (USE, "text_embedding", {"dim": 512}),
        ("https://tfhub.dev/google/tf2-preview/gnews-swivel-20dim/1", "text_embedding", {"dim": 20}),
        (SSD, "detector", {"outputs": "dict", "keypoints": False, "classes": 90}),
        (
            "https://tfhub.dev/tensorflow/efficientdet/lite0/detection/1",
            "detector",
            {"outputs": "tuple", "keypoints": False, "classes": 90},
        ),
        (
            "https://tfhub.dev/google/faster_rcnn/openimages_v4/inception_resnet_v2/1",
            "detector_openimages",
            {"classes": 600},
        ),
        (MOVENET, "pose_movenet", {"size": 192, "multipose": False}),
        ("https://tfhub.dev/google/yamnet/1", "audio_yamnet", {}),
        ("https://tfhub.dev/google/Video_Classification_Model/1", "video_classifier", {"classes": 400}),
    ],
)
def test_each_handle_gets_the_kind_and_shape_its_model_card_states(plan, handle, kind, params):
    item = plan[handle]
    assert (item["kind"], item["params"]) == (kind, params), item["why"]


def test_the_model_card_wins_over_a_wrong_output_shape_in_one_answer(plan):
    item = plan["https://tfhub.dev/google/imagenet/mobilenet_v2_140_224/feature_vector/4"]
    assert "[140]" in item["evidence"]["output_shape"]  # one gold answer writes output_shape=[140]
    assert item["params"]["outputs"] == 1792


def test_aliases_are_the_other_spellings_of_the_same_handle():
    assert tfhub.aliases(USE) == [
        USE + "/",
        "https://hub.tensorflow.google.cn/google/universal-sentence-encoder/4",
        "https://hub.tensorflow.google.cn/google/universal-sentence-encoder/4/",
    ]
    assert tfhub.made_up(USE) != USE and tfhub.made_up(USE) not in tfhub.aliases(USE)


# ----------------------------------------------------------------------------- the built world


@pytest.fixture(scope="session")
def world():
    """The TF Hub part of the world as `make test` builds it (≈40 s when not built yet)."""
    import json

    from gorilla_rlaif.harness.world import PARTS, ensure_part

    directory, _ = ensure_part(PARTS["tfhub"])
    return directory, json.loads((directory / "report.json").read_text())


def test_the_builder_installs_each_handle_and_its_aliases_in_the_resolver_layout(world):
    out, report = world
    assert report["failed"] == 0 and report["built"] >= len(HANDLES)
    for handle in HANDLES:
        for name in (handle, *tfhub.aliases(handle)):
            directory = out / "tfhub" / hashlib.sha1(name.encode()).hexdigest()
            assert (directory / "saved_model.pb").is_file(), name
    # aliases share the bytes of their handle (hard links), not copies
    first = out / "tfhub" / hashlib.sha1(USE.encode()).hexdigest() / "saved_model.pb"
    alias = out / "tfhub" / hashlib.sha1((USE + "/").encode()).hexdigest() / "saved_model.pb"
    assert first.stat().st_ino == alias.stat().st_ino
    assert report["linked_bytes"] > 3.9 * report["disk_bytes"]  # a template serves a handle + 3 aliases
    # the world records the plan it was built from: the planner's, item for item
    assert json.loads((out / "plan.json").read_text()) == json.loads(json.dumps(tfhub.plan()))


def gold(question_id: int) -> str:
    record = load_records("tensorflowhub", "eval").records[question_id - 1]
    assert record.output is not None
    return record.output.code


SNIPPETS = {
    # gold answer 14: hub.KerasLayer in a Sequential model, called on an image batch
    "keras_layer_gold": (lambda: gold(14) + "\nprint(tuple(features.shape))", Status.ok, "(1, 1280)"),
    # gold answer 7: hub.load of the Universal Sentence Encoder, called on a list of strings
    "hub_load_gold": (lambda: gold(7) + "\nprint(tuple(embeddings.shape))", Status.ok, "(2, 512)"),
    "keras_fine_tune": (
        lambda: (
            "import numpy as np, tensorflow as tf, tensorflow_hub as hub\n"
            "model = tf.keras.Sequential([\n"
            f"    hub.KerasLayer('{MOBILENET}', input_shape=(224, 224, 3), trainable=True),\n"
            "    tf.keras.layers.Dense(3, activation='softmax')])\n"
            "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])\n"
            "before = [w.numpy().copy() for w in model.layers[0].trainable_weights]\n"
            "model.fit(np.random.rand(4, 224, 224, 3), np.array([0, 1, 2, 0]), epochs=1, verbose=0)\n"
            "after = model.layers[0].trainable_weights\n"
            "print(len(after), any(not np.allclose(a, b.numpy()) for a, b in zip(before, after)))"
        ),
        Status.ok,
        "True",
    ),
    "signature": (
        lambda: (
            "import tensorflow as tf, tensorflow_hub as hub\n"
            f"model = hub.load('{MOVENET}')\n"
            "movenet = model.signatures['serving_default']\n"
            "out = movenet(tf.zeros([1, 192, 192, 3], dtype=tf.int32))\n"
            "print(tuple(out['output_0'].shape))"
        ),
        Status.ok,
        "(1, 1, 17, 3)",
    ),
    "detector_dict": (
        lambda: (
            "import tensorflow as tf, tensorflow_hub as hub\n"
            f"detector = hub.load('{SSD}')\n"
            "result = detector(tf.zeros([1, 320, 320, 3], dtype=tf.uint8))\n"
            "print(sorted(k for k in result if k.startswith('detection_')), int(result['num_detections'][0]))"
        ),
        Status.ok,
        "['detection_anchor_indices', 'detection_boxes', 'detection_classes', 'detection_multiclass_scores', "
        "'detection_scores'] 100",
    ),
    # like the real model, the detector takes uint8 only: a float image fails in the answer's own call
    "detector_float_input": (
        lambda: (
            f"import tensorflow as tf, tensorflow_hub as hub\nhub.load('{SSD}')(tf.zeros([1, 64, 64, 3]))"
        ),
        Status.type_error,
        "",
    ),
    "made_up_load": (lambda: gold(7).replace(USE, tfhub.made_up(USE)), Status.hub_error, ""),
    "made_up_keras_layer": (
        lambda: gold(14).replace(MOBILENET, tfhub.made_up(MOBILENET)),
        Status.hub_error,
        "",
    ),
}


@pytest.fixture(scope="module", params=["local", "docker"])
def runs(request, world):
    config = SandboxConfig(backend=request.param, workers=2, timeout_s=120)  # the default world
    snippets = [{"id": name, "code": make()} for name, (make, _, _) in SNIPPETS.items()]
    return {r.id: r for r in run_snippets(snippets, config, progress=False)}


@pytest.mark.docker
@pytest.mark.parametrize("name", list(SNIPPETS))
def test_answers_run_against_the_stand_ins_and_made_up_handles_are_hub_errors(runs, name):
    result = runs[name]
    _, status, printed = SNIPPETS[name]
    assert result.status is status, (
        f"{result.status}: {result.error_type}: {result.error_message}\n{result.stderr[-2000:]}"
    )
    assert printed in result.stdout
    if status is Status.hub_error:  # offline, through the read-only cache: tensorflow_hub's own failure
        assert "Read-only file system" in result.error_message
