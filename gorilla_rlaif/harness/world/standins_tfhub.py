"""Build the TF Hub stand-ins: a tiny SavedModel per handle, in tensorflow_hub's cache layout.

Run by the execution environment's interpreter (TensorFlow 2.15, tensorflow_hub 0.15), never
imported by gorilla_rlaif (it imports only the standard library, numpy and TensorFlow):

    python standins_tfhub.py --plan PLAN.json --out DIR      # writes DIR/tfhub/, DIR/report.json

`hub.load(handle)` and `hub.KerasLayer(handle)` resolve a https handle through the compressed
resolver, which caches the model in `$TFHUB_CACHE_DIR/<sha1(handle)>/` and reuses that directory
when it is there and not empty (tensorflow_hub/compressed_module_resolver.py, resolver.py:
`atomic_download`). So the world is that directory, one per handle: mounted read-only at
/cache/tfhub with TFHUB_CACHE_DIR pointing there, a handle in the world loads without network, and
one that is not tries to take the cache's lock file and fails (read-only file system): hub_error.

Each plan item names a *kind* (see tfhub.py) and its parameters. One SavedModel is built per
distinct (kind, parameters), checked by loading and calling it the way answers do, and hard-linked
under every handle of that kind. The stand-ins are callable as the published models are:

- image_classifier / image_feature_vector: `__call__(images, training)` on float32 [B, H, W, 3]
  -> [B, classes] logits / [B, width] features; variables and `trainable_variables` so
  `hub.KerasLayer(h, trainable=True)` fine-tunes; signatures `serving_default`, and the TF1 Hub
  names `default` and `image_classification` / `image_feature_vector`.
- text_embedding: `__call__(strings [N])` -> [N, dim] (USE: 512, unit length); trainable table.
- detector: TF2 detection zoo exports: uint8 [1, H, W, 3] -> dict `detection_boxes` [1, 100, 4],
  `detection_scores`, `detection_classes` (float, 1..90), `num_detections`, `raw_*`,
  `detection_multiclass_scores`, ...; EfficientDet-Lite returns the tuple (boxes, scores, classes,
  num_detections).
- detector_openimages (TF1 Hub format): `signatures['default'](images)` on float32 [1, H, W, 3]
  in [0, 1] -> dict with `detection_class_entities` (strings), `detection_class_names`,
  `detection_class_labels`, `detection_boxes` [N, 4], `detection_scores` [N]; not callable itself.
- pose_movenet: `signatures['serving_default'](input=int32 [1, 192, 192, 3])` -> {'output_0':
  [1, 1, 17, 3]} (thunder: 256; multipose: any size -> [1, 6, 56]).
- audio_yamnet: `__call__(waveform float32 [N])` -> (scores [F, 521], embeddings [F, 1024],
  log_mel_spectrogram [M, 64]); `class_map_path()` -> the CSV asset (index, mid, display_name).
- speech_wav2vec2: float32 [B, T] -> hidden states [B, T // 320, 768].
- image_segmentation: uint8 or float32 images -> {'SemanticPredictions': int64 [B, H, W], ...}.
- video_classifier: float32 [B, T, H, W, 3] -> [B, 400] logits (`default` signature too).
- frame_interpolation: FILM-style dict {'x0', 'x1', 'time'} -> {'image'}, or a list of two frames.
- style_transfer: (content, style) float32 images -> [stylized image].
- image_generator: ProGAN latent [N, 512] -> [N, 128, 128, 3]; BigGAN signature (y, z, truncation).
- bert_preprocess / bert_encoder: strings -> {input_word_ids, input_mask, input_type_ids} int32
  [B, 128] (with `tokenize` and `bert_pack_inputs`); that dict -> {pooled_output, sequence_output,
  default, encoder_outputs}.

Where the real model is strict, the stand-in is strict in the same way (the dtype and rank of the
input: a float64 NumPy array given to `hub.load(classifier)` fails as it does with the real model,
"Could not find matching concrete function"), so an answer that would not run against the real
model does not run here either. Where the model cards say nothing precise (spatial size of image
inputs, which signatures exist), the stand-in accepts what answers use. Weights are seeded (the
same plan gives the same files).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import traceback
import zlib

SEED = 0
AUDIOSET_NAMES = (
    "Speech",
    "Child speech, kid speaking",
    "Conversation",
    "Narration, monologue",
    "Babbling",
    "Speech synthesizer",
    "Shout",
    "Bellow",
    "Whoop",
    "Yell",
    "Children shouting",
    "Screaming",
    "Whispering",
    "Laughter",
    "Baby laughter",
    "Giggle",
    "Snicker",
    "Belly laugh",
    "Chuckle, chortle",
    "Crying, sobbing",
)  # the first AudioSet classes of YAMNet's class map; the rest are numbered
OPENIMAGES = (
    ("/m/01g317", "Person"),
    ("/m/0k4j", "Car"),
    ("/m/0cgh4", "Building"),
    ("/m/07j7r", "Tree"),
    ("/m/09j2d", "Clothing"),
    ("/m/0dzct", "Human face"),
    ("/m/0c9ph5", "Flower"),
    ("/m/04yx4", "Man"),
    ("/m/03bt1vf", "Woman"),
    ("/m/0199g", "Bicycle"),
    ("/m/01yrx", "Cat"),
    ("/m/0bt9lr", "Dog"),
    ("/m/015p6", "Bird"),
    ("/m/07yv9", "Vehicle"),
    ("/m/083wq", "Wheel"),
    ("/m/0jbk", "Animal"),
    ("/m/02wbm", "Food"),
    ("/m/01bqk0", "Bicycle wheel"),
    ("/m/0h9mv", "Tire"),
    ("/m/014sv8", "Human eye"),
)
DETECTIONS = 100


def module_dir(tfhub_root: str, handle: str) -> str:
    """Where tensorflow_hub's compressed resolver caches `handle` (sha1 of the handle as written)."""
    return os.path.join(tfhub_root, hashlib.sha1(handle.encode("utf8")).hexdigest())


def template_key(item: dict) -> str:
    return item["kind"] + json.dumps(item.get("params") or {}, sort_keys=True)


# ----------------------------------------------------------------------------- SavedModel helpers


class Builder:
    """Shared helpers for one template: seeded weights, the root object, saving."""

    def __init__(self, tf, key: str):
        import numpy as np

        self.tf = tf
        self.np = np
        self.rng = np.random.default_rng([SEED, zlib.crc32(key.encode())])
        # tf.train.Checkpoint as the root, as tensorflow_hub's own tests build reusable SavedModels:
        # attributes set on it (functions, variable lists) are saved and restored by name.
        self.root = tf.train.Checkpoint()
        self.trainable: list = []
        self.frozen: list = []

    def weight(self, shape, scale: float = 0.1, trainable: bool = True, name: str = "w"):
        value = (self.rng.standard_normal(shape) * scale).astype("float32")
        var = self.tf.Variable(value, trainable=trainable, name=name)
        (self.trainable if trainable else self.frozen).append(var)
        return var

    def save(self, out: str, signatures: dict | None = None) -> None:
        root = self.root
        # The Reusable SavedModel attributes hub.KerasLayer reads (variables, trainable_variables,
        # regularization_losses): https://www.tensorflow.org/hub/reusable_saved_models
        root.variables = list(self.trainable) + list(self.frozen)
        root.trainable_variables = list(self.trainable)
        root.regularization_losses = []
        self.tf.saved_model.save(root, out, signatures=signatures or None)


def image_spec(tf, dtype=None, batch=None):
    return tf.TensorSpec([batch, None, None, 3], dtype or tf.float32)


def build_image(tf, b: Builder, params: dict, kind: str) -> dict:
    """A tiny CNN: strided 3x3 conv (8 channels), global average pool, dense to the output width."""
    outputs = int(params.get("outputs") or (1001 if kind == "image_classifier" else 1280))
    kernel = b.weight([3, 3, 3, 8], 0.3, name="conv")
    dense = b.weight([8, outputs], 0.1, name="dense")
    bias = b.weight([outputs], 0.0, name="bias")
    features = kind == "image_feature_vector"

    def forward(images):
        x = tf.nn.relu6(tf.nn.conv2d(images, kernel, strides=4, padding="SAME"))
        x = tf.matmul(tf.reduce_mean(x, axis=[1, 2]), dense) + bias
        return tf.nn.relu(x) if features else x

    @tf.function
    def call(inputs, training=False):
        return forward(inputs)

    for training in (False, True):
        call.get_concrete_function(image_spec(tf), training=training)
    b.root.__call__ = call
    spec = image_spec(tf)
    signatures = {
        "serving_default": tf.function(lambda inputs: {"output_0": forward(inputs)}, input_signature=[spec])
    }
    if params.get("tf1"):  # TF1 Hub image modules: `default` and the image_* signature
        default = tf.function(lambda images: {"default": forward(images)}, input_signature=[spec])
        signatures.update(
            {"default": default, "image_feature_vector" if features else "image_classification": default}
        )
    return signatures


def build_text(tf, b: Builder, params: dict) -> dict:
    """Hashed words -> embedding table -> mean, unit length (like USE). A sparse lookup, not a
    ragged one: its graph loads in a third of the time, and every snippet pays the load."""
    dim = int(params.get("dim") or 512)
    buckets = 512
    table = b.weight([buckets, dim], 1.0, name="embeddings")

    def embed(text):
        words = tf.strings.split(tf.strings.lower(text)).to_sparse()
        ids = tf.SparseTensor(
            words.indices, tf.strings.to_hash_bucket_fast(words.values, buckets), words.dense_shape
        )
        return tf.math.l2_normalize(tf.nn.safe_embedding_lookup_sparse(table, ids, combiner="mean"), axis=-1)

    spec = tf.TensorSpec([None], tf.string)
    b.root.__call__ = tf.function(embed, input_signature=[spec])
    return {"serving_default": tf.function(lambda inputs: {"outputs": embed(inputs)}, input_signature=[spec])}


def _fixed(b: Builder, shape, low=0.0, high=1.0):
    return b.tf.constant(b.rng.uniform(low, high, shape).astype("float32"))


def _boxes(b: Builder, n: int):
    np = b.np
    corners = b.rng.uniform(0.0, 1.0, (n, 2, 2)).astype("float32")
    lo, hi = np.minimum(corners[:, 0], corners[:, 1]), np.maximum(corners[:, 0], corners[:, 1])
    return b.tf.constant(np.concatenate([lo, hi], axis=1)[:, [0, 1, 2, 3]])  # ymin, xmin, ymax, xmax


def build_detector(tf, b: Builder, params: dict) -> dict:
    n, classes = DETECTIONS, int(params.get("classes") or 90)
    boxes = _boxes(b, n)
    base_scores = tf.constant(b.np.sort(b.rng.uniform(0.05, 0.99, n).astype("float32"))[::-1].copy())
    labels = tf.constant(b.rng.integers(1, classes + 1, n).astype("float32"))
    multiclass = _fixed(b, [n, classes + 1], 0.0, 0.2)
    raw = 4 * n
    raw_boxes = _boxes(b, raw)
    raw_scores = _fixed(b, [raw, classes + 1], 0.0, 1.0)
    keypoints = bool(params.get("keypoints"))
    kp = _fixed(b, [n, 17, 2])

    def detect(images):
        brightness = tf.reduce_mean(tf.cast(images, tf.float32)) / 255.0
        scores = base_scores * (0.75 + 0.25 * brightness)
        out = {
            "detection_boxes": boxes[None],
            "detection_scores": scores[None],
            "detection_classes": labels[None],
            "num_detections": tf.constant([float(n)]),
            "detection_multiclass_scores": multiclass[None],
            "detection_anchor_indices": tf.range(n, dtype=tf.float32)[None],
            "raw_detection_boxes": raw_boxes[None],
            "raw_detection_scores": raw_scores[None],
        }
        if keypoints:
            out["detection_keypoints"] = kp[None]
            out["detection_keypoint_scores"] = scores[None, :, None] * tf.ones([1, 1, 17])
        return out

    spec = image_spec(tf, tf.uint8, batch=1)
    if params.get("outputs") == "tuple":  # EfficientDet-Lite: boxes, scores, classes, num_detections

        def as_tuple(images):
            out = detect(images)
            return (
                out["detection_boxes"],
                out["detection_scores"],
                out["detection_classes"],
                out["num_detections"],
            )

        b.root.__call__ = tf.function(as_tuple, input_signature=[spec])
        serving = tf.function(
            lambda images: dict(
                zip(("output_0", "output_1", "output_2", "output_3"), as_tuple(images), strict=True)
            ),
            input_signature=[spec],
        )
        return {"serving_default": serving}
    b.root.__call__ = tf.function(detect, input_signature=[spec])
    return {"serving_default": tf.function(lambda input_tensor: detect(input_tensor), input_signature=[spec])}


def build_openimages(tf, b: Builder, params: dict) -> dict:
    n = DETECTIONS
    boxes = _boxes(b, n)
    base_scores = tf.constant(b.np.sort(b.rng.uniform(0.05, 0.99, n).astype("float32"))[::-1].copy())
    picks = b.rng.integers(0, len(OPENIMAGES), n)
    entities = tf.constant([OPENIMAGES[i][1].encode() for i in picks])
    names = tf.constant([OPENIMAGES[i][0].encode() for i in picks])
    labels = tf.constant((picks + 1).astype("int64"))

    def detect(images):
        brightness = tf.reduce_mean(images)
        scores = base_scores * (0.75 + 0.25 * tf.clip_by_value(brightness, 0.0, 1.0))
        return {
            "detection_boxes": boxes,
            "detection_scores": scores,
            "detection_class_entities": entities,
            "detection_class_names": names,
            "detection_class_labels": labels,
        }

    # A TF1 Hub module: what hub.load returns has signatures, and is not callable (as with the
    # real model, `detector(image)` fails; the model card uses `.signatures['default']`).
    spec = image_spec(tf, tf.float32, batch=1)
    default = tf.function(lambda images: detect(images), input_signature=[spec])
    return {"default": default}


def build_movenet(tf, b: Builder, params: dict) -> dict:
    size, multi = params.get("size"), bool(params.get("multipose"))
    head = b.weight([3, 56 if multi else 51], 0.1, name="head")

    def pose(image):
        x = tf.reduce_mean(tf.cast(image, tf.float32) / 255.0, axis=[1, 2])
        y = tf.sigmoid(tf.matmul(x, head))
        if multi:
            return {"output_0": tf.tile(y[:, None, :], [1, 6, 1])}
        return {"output_0": tf.reshape(y, [-1, 1, 17, 3])}

    spec = tf.TensorSpec([1, size, size, 3] if size else [1, None, None, 3], tf.int32)
    b.root.__call__ = tf.function(pose, input_signature=[spec])
    return {"serving_default": tf.function(lambda input: pose(input), input_signature=[spec])}


def build_yamnet(tf, b: Builder, params: dict, assets: str) -> dict:
    classes = 521
    proj = b.weight([64, 1024], 0.1, name="embedding")
    head = b.weight([1024, classes], 0.05, name="logits")
    path = os.path.join(assets, "yamnet_class_map.csv")
    with open(path, "w") as f:
        f.write("index,mid,display_name\n")
        for i in range(classes):
            name = AUDIOSET_NAMES[i] if i < len(AUDIOSET_NAMES) else f"AudioSet class {i}"
            f.write(f'{i},/m/{i:05x},"{name}"\n')
    b.root.class_map_asset = tf.saved_model.Asset(path)

    frame = b.weight([400, 64], 0.05, trainable=False, name="mel")

    def run(waveform):
        # 25 ms frames every 10 ms -> 64 log-mel-like bands; 0.96 s patches every 0.48 s -> one
        # score/embedding row each (YAMNet's framing); at least one patch, as YAMNet pads.
        waveform = tf.pad(waveform, [[0, tf.maximum(0, 15600 - tf.size(waveform))]])
        log_mel = tf.math.log(tf.abs(tf.matmul(tf.signal.frame(waveform, 400, 160), frame)) + 0.001)
        patches = tf.signal.frame(log_mel, 96, 48, axis=0)
        embeddings = tf.nn.relu(tf.matmul(tf.reduce_mean(patches, axis=1), proj))
        scores = tf.sigmoid(tf.matmul(embeddings, head))
        return scores, embeddings, log_mel

    spec = tf.TensorSpec([None], tf.float32)
    b.root.__call__ = tf.function(run, input_signature=[spec])
    b.root.class_map_path = tf.function(lambda: b.root.class_map_asset.asset_path, input_signature=[])
    serving = tf.function(
        lambda waveform: dict(zip(("output_0", "output_1", "output_2"), run(waveform), strict=True)),
        input_signature=[spec],
    )
    return {"serving_default": serving}


def build_wav2vec2(tf, b: Builder, params: dict) -> dict:
    proj = b.weight([400, 768], 0.05, name="feature_projection")

    def hidden(audio):
        frames = tf.signal.frame(audio, 400, 320, pad_end=True, axis=-1)
        return tf.matmul(frames, proj)

    @tf.function
    def call(inputs, training=False):
        return hidden(inputs)

    spec = tf.TensorSpec([None, None], tf.float32)
    for training in (False, True):
        call.get_concrete_function(spec, training=training)
    b.root.__call__ = call
    return {
        "serving_default": tf.function(lambda inputs: {"output_0": hidden(inputs)}, input_signature=[spec])
    }


def build_segmentation(tf, b: Builder, params: dict) -> dict:
    classes = int(params.get("classes") or 21)
    head = b.weight([3, classes], 0.5, name="classifier")

    def segment(images):
        x = tf.cast(images, tf.float32)
        if x.shape.rank == 3:
            x = x[None]
        logits = tf.einsum("bhwc,ck->bhwk", x / 255.0, head)
        return {
            "SemanticPredictions": tf.argmax(logits, axis=-1),
            "SemanticProbabilities": tf.nn.softmax(logits),
            "default": logits,
        }

    call = tf.function(segment)
    for dtype in (tf.uint8, tf.float32):
        call.get_concrete_function(image_spec(tf, dtype))
        call.get_concrete_function(tf.TensorSpec([None, None, 3], dtype))
    b.root.__call__ = call
    serving = tf.function(lambda images: segment(images), input_signature=[image_spec(tf, tf.uint8)])
    return {"serving_default": serving, "default": serving}


def build_video(tf, b: Builder, params: dict) -> dict:
    classes = int(params.get("classes") or 400)
    head = b.weight([3, classes], 0.5, name="logits")

    def classify(video):
        return tf.matmul(tf.reduce_mean(video, axis=[1, 2, 3]), head)

    spec = tf.TensorSpec([None, None, None, None, 3], tf.float32)
    b.root.__call__ = tf.function(classify, input_signature=[spec])
    default = tf.function(lambda rgb_input: {"default": classify(rgb_input)}, input_signature=[spec])
    return {"default": default, "serving_default": default}


def build_interpolation(tf, b: Builder, params: dict) -> dict:
    spec = image_spec(tf)

    def film(inputs):
        t = tf.reshape(inputs["time"], [-1, 1, 1, 1])
        return {"image": inputs["x0"] * (1.0 - t) + inputs["x1"] * t}

    def pair(frames):
        return (frames[0] + frames[1]) / 2.0

    call = tf.function(lambda inputs: film(inputs) if isinstance(inputs, dict) else pair(inputs))
    call.get_concrete_function({"x0": spec, "x1": spec, "time": tf.TensorSpec([None, 1], tf.float32)})
    call.get_concrete_function([spec, spec])
    b.root.__call__ = call
    b.root.call = call
    serving = tf.function(
        lambda x0, x1, time: film({"x0": x0, "x1": x1, "time": time}),
        input_signature=[spec, spec, tf.TensorSpec([None, 1], tf.float32)],
    )
    return {"serving_default": serving}


def build_style(tf, b: Builder, params: dict) -> dict:
    spec = image_spec(tf)

    def stylize(content, style):
        tint = tf.reduce_mean(style, axis=[1, 2], keepdims=True)
        return [tf.clip_by_value(0.7 * content + 0.3 * tint, 0.0, 1.0)]

    b.root.__call__ = tf.function(stylize, input_signature=[spec, spec])
    serving = tf.function(
        lambda placeholder, placeholder_1: {"output_0": stylize(placeholder, placeholder_1)[0]},
        input_signature=[spec, spec],
    )
    return {"serving_default": serving}


def build_generator(tf, b: Builder, params: dict) -> dict:
    size = int(params.get("size") or 128)
    if params.get("style") == "biggan":
        wz = b.weight([128, 8 * 8 * 3], 0.1, name="z_proj")
        wy = b.weight([1000, 8 * 8 * 3], 0.1, name="y_proj")

        def generate(y, z, truncation):
            x = tf.reshape(tf.matmul(z * truncation, wz) + tf.matmul(y, wy), [-1, 8, 8, 3])
            return tf.tanh(tf.image.resize(x, [size, size]))

        spec = (
            tf.TensorSpec([None, 1000], tf.float32),
            tf.TensorSpec([None, 128], tf.float32),
            tf.TensorSpec([], tf.float32),
        )
        b.root.__call__ = tf.function(generate, input_signature=list(spec))
        default = tf.function(
            lambda y, z, truncation: {"default": generate(y, z, truncation)}, input_signature=list(spec)
        )
        return {"default": default, "serving_default": default}
    w = b.weight([512, 8 * 8 * 3], 0.1, name="latent_proj")

    def generate(latent):
        x = tf.reshape(tf.matmul(latent, w), [-1, 8, 8, 3])
        return tf.sigmoid(tf.image.resize(x, [size, size]))

    spec = tf.TensorSpec([None, 512], tf.float32)
    b.root.__call__ = tf.function(generate, input_signature=[spec])
    default = tf.function(lambda latent_vector: {"default": generate(latent_vector)}, input_signature=[spec])
    return {"default": default, "serving_default": default}


BERT_VOCAB = 4096
BERT_SEQ = 128


def build_bert_preprocess(tf, b: Builder, params: dict) -> dict:
    """Word-level hashing stands in for WordPiece: [CLS]=101, [SEP]=102, [PAD]=0 as in BERT."""

    def tokenize(text):
        words = tf.strings.split(tf.strings.lower(text))
        ids = tf.cast(tf.strings.to_hash_bucket_fast(words, BERT_VOCAB - 1000) + 1000, tf.int32)
        one_piece = tf.range(tf.size(ids.flat_values, out_type=tf.int64) + 1)
        # [batch, words, word pieces] (ragged_rank 2) like BERT's tokenizer; one piece per word
        return tf.RaggedTensor.from_nested_row_splits(ids.flat_values, (ids.row_splits, one_piece))

    def pack(segments, seq_length=BERT_SEQ):
        rows = [s.merge_dims(-2, -1) for s in segments]
        budget = max(seq_length - 1 - len(rows), 1) // len(rows)
        parts, types = [tf.fill([tf.shape(rows[0].row_lengths())[0], 1], 101)], []
        types.append(tf.zeros_like(parts[0]))
        for i, row in enumerate(rows):
            cut = row[:, :budget]
            sep = tf.fill([tf.shape(cut.row_lengths())[0], 1], 102)
            piece = tf.concat([cut, tf.RaggedTensor.from_tensor(sep)], axis=1)
            parts.append(piece)
            types.append(tf.ones_like(piece) * i)
        ids = tf.concat([tf.RaggedTensor.from_tensor(parts[0]), *parts[1:]], axis=1)
        type_ids = tf.concat([tf.RaggedTensor.from_tensor(types[0]), *types[1:]], axis=1)
        word_ids = ids.to_tensor(0, shape=[None, seq_length])
        return {
            "input_word_ids": word_ids,
            "input_mask": tf.cast(word_ids > 0, tf.int32),
            "input_type_ids": type_ids.to_tensor(0, shape=[None, seq_length]),
        }

    text = tf.TensorSpec([None], tf.string)
    tokens = tf.RaggedTensorSpec([None, None, None], tf.int32, ragged_rank=2)
    b.root.__call__ = tf.function(lambda inputs: pack([tokenize(inputs)]), input_signature=[text])
    tok = tf.train.Checkpoint()
    tok.__call__ = tf.function(tokenize, input_signature=[text])
    packer = tf.train.Checkpoint()
    packer.__call__ = tf.function(pack)
    for count in (1, 2):
        for seq in (BERT_SEQ, 64, 256, 512):
            packer.__call__.get_concrete_function([tokens] * count, seq_length=seq)
    b.root.tokenize = tok
    b.root.bert_pack_inputs = packer
    serving = tf.function(lambda inputs: pack([tokenize(inputs)]), input_signature=[text])
    return {"serving_default": serving}


def build_bert_encoder(tf, b: Builder, params: dict) -> dict:
    hidden = int(params.get("hidden") or 768)
    table = b.weight([BERT_VOCAB, hidden], 0.05, name="word_embeddings")
    pool = b.weight([hidden, hidden], 0.05, name="pooler")

    def encode(inputs):
        seq = tf.nn.embedding_lookup(table, inputs["input_word_ids"])
        seq = seq * tf.cast(inputs["input_mask"], tf.float32)[..., None]
        pooled = tf.tanh(tf.matmul(seq[:, 0], pool))
        return {
            "pooled_output": pooled,
            "sequence_output": seq,
            "default": pooled,
            "encoder_outputs": [seq, seq],
        }

    ids = tf.TensorSpec([None, None], tf.int32)
    spec = {"input_word_ids": ids, "input_mask": ids, "input_type_ids": ids}

    @tf.function
    def call(inputs, training=False):
        return encode(inputs)

    for training in (False, True):
        call.get_concrete_function(spec, training=training)
    b.root.__call__ = call

    def serve(input_word_ids, input_mask, input_type_ids):  # signatures return tensors only
        out = encode(
            {"input_word_ids": input_word_ids, "input_mask": input_mask, "input_type_ids": input_type_ids}
        )
        return {k: v for k, v in out.items() if k != "encoder_outputs"}

    serving = tf.function(serve, input_signature=[ids, ids, ids])
    return {"serving_default": serving}


BUILDERS = {
    "image_classifier": lambda tf, b, p, a: build_image(tf, b, p, "image_classifier"),
    "image_feature_vector": lambda tf, b, p, a: build_image(tf, b, p, "image_feature_vector"),
    "text_embedding": lambda tf, b, p, a: build_text(tf, b, p),
    "detector": lambda tf, b, p, a: build_detector(tf, b, p),
    "detector_openimages": lambda tf, b, p, a: build_openimages(tf, b, p),
    "pose_movenet": lambda tf, b, p, a: build_movenet(tf, b, p),
    "audio_yamnet": lambda tf, b, p, a: build_yamnet(tf, b, p, a),
    "speech_wav2vec2": lambda tf, b, p, a: build_wav2vec2(tf, b, p),
    "image_segmentation": lambda tf, b, p, a: build_segmentation(tf, b, p),
    "video_classifier": lambda tf, b, p, a: build_video(tf, b, p),
    "frame_interpolation": lambda tf, b, p, a: build_interpolation(tf, b, p),
    "style_transfer": lambda tf, b, p, a: build_style(tf, b, p),
    "image_generator": lambda tf, b, p, a: build_generator(tf, b, p),
    "bert_preprocess": lambda tf, b, p, a: build_bert_preprocess(tf, b, p),
    "bert_encoder": lambda tf, b, p, a: build_bert_encoder(tf, b, p),
}


# ----------------------------------------------------------------------------- checking a template


def check(tf, kind: str, params: dict, directory: str) -> str:
    """Load the saved template and call it the way answers do; returns what came out (for the
    report). An exception here fails every handle of the template."""
    import tensorflow_hub as hub

    obj = hub.load(directory)
    img = tf.random.uniform([1, 64, 64, 3])
    if kind in ("image_classifier", "image_feature_vector"):
        width = int(params.get("outputs") or 0)
        model = tf.keras.Sequential([hub.KerasLayer(directory, input_shape=(64, 64, 3), trainable=True)])
        out = model(img)
        assert out.shape == (1, width), out.shape
        assert model.layers[0].trainable_weights, "no trainable weights"
        assert obj.signatures["serving_default"](img)["output_0"].shape == (1, width)
        return f"{out.shape}"
    if kind == "text_embedding":
        out = obj(["hello world", "a second sentence"])
        model = tf.keras.Sequential(
            [hub.KerasLayer(directory, input_shape=[], dtype=tf.string, trainable=True)]
        )
        assert model(tf.constant(["x y"])).shape == (1, int(params["dim"]))
        return f"{out.shape}"
    if kind == "detector":
        out = obj(tf.zeros([1, 32, 48, 3], tf.uint8))
        boxes = out[0] if isinstance(out, tuple) else out["detection_boxes"]
        assert boxes.shape == (1, DETECTIONS, 4)
        return f"{type(out).__name__} {boxes.shape}"
    if kind == "detector_openimages":
        out = obj.signatures["default"](tf.zeros([1, 32, 48, 3]))
        assert out["detection_class_entities"].dtype == tf.string
        return f"{sorted(out)}"
    if kind == "pose_movenet":
        size = params.get("size") or 128
        out = obj.signatures["serving_default"](tf.zeros([1, size, size, 3], tf.int32))
        return f"{out['output_0'].shape}"
    if kind == "audio_yamnet":
        scores, embeddings, spectrogram = obj(tf.zeros([16000]))
        assert scores.shape[-1] == 521 and embeddings.shape[-1] == 1024 and spectrogram.shape[-1] == 64
        assert tf.io.gfile.exists(obj.class_map_path().numpy().decode())
        return f"{scores.shape} {embeddings.shape} {spectrogram.shape}"
    if kind == "speech_wav2vec2":
        return f"{obj(tf.zeros([1, 16000])).shape}"
    if kind == "image_segmentation":
        layer = hub.KerasLayer(directory, output_key="SemanticPredictions")
        return f"{layer(tf.zeros([1, 32, 32, 3], tf.uint8)).shape}"
    if kind == "video_classifier":
        return f"{obj(tf.zeros([1, 4, 32, 32, 3])).shape}"
    if kind == "frame_interpolation":
        out = obj({"x0": img, "x1": img, "time": tf.constant([[0.5]])})
        return f"{out['image'].shape}"
    if kind == "style_transfer":
        return f"{obj(img, img)[0].shape}"
    if kind == "image_generator":
        if params.get("style") == "biggan":
            out = obj.signatures["default"](
                y=tf.zeros([1, 1000]), z=tf.zeros([1, 128]), truncation=tf.constant(0.5)
            )
        else:
            out = obj.signatures["default"](tf.zeros([1, 512]))
        return f"{out['default'].shape}"
    if kind == "bert_preprocess":
        packed = obj(tf.constant(["hello world"]))
        pair = obj.bert_pack_inputs(
            [obj.tokenize(tf.constant(["a b"])), obj.tokenize(tf.constant(["c"]))], seq_length=64
        )
        assert packed["input_word_ids"].shape == (1, BERT_SEQ) and pair["input_word_ids"].shape == (1, 64)
        return f"{packed['input_word_ids'].shape}"
    if kind == "bert_encoder":
        ids = tf.ones([1, 16], tf.int32)
        out = obj({"input_word_ids": ids, "input_mask": ids, "input_type_ids": ids * 0})
        return f"{out['pooled_output'].shape}"
    raise ValueError(f"no check for kind {kind!r}")


# ----------------------------------------------------------------------------- installing


def link_tree(src: str, dst: str) -> None:
    """Hard-link every file of `src` under `dst` (copy across file systems): one template's bytes
    serve every handle of its kind."""
    for root, _, files in os.walk(src):
        rel = os.path.relpath(root, src)
        target = os.path.normpath(os.path.join(dst, rel))
        os.makedirs(target, exist_ok=True)
        for name in files:
            s, d = os.path.join(root, name), os.path.join(target, name)
            try:
                os.link(s, d)
            except OSError:
                shutil.copy2(s, d)


def disk_usage(root: str) -> tuple[int, int]:
    """(bytes on disk, bytes as the handles see them): every hard link counted once, and once per
    handle directory that holds it."""
    seen: set[tuple[int, int]] = set()
    unique = linked = 0
    for directory, _, files in os.walk(root):
        for name in files:
            st = os.lstat(os.path.join(directory, name))
            linked += st.st_size
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                unique += st.st_size
    return unique, linked


def install(tfhub_root: str, handle: str, template: str) -> str:
    directory = module_dir(tfhub_root, handle)
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    link_tree(template, directory)
    # tensorflow_hub writes this beside each download (resolver._write_module_descriptor_file):
    # nothing reads it, it tells a human which handle a directory holds.
    with open(directory + ".descriptor.txt", "w") as f:
        f.write(f"Module: {handle}\nDownloaded by: gorilla-rlaif stand-in world (standins_tfhub.py)\n")
    return directory


def build_template(tf, item: dict, directory: str) -> None:
    kind, params = item["kind"], item.get("params") or {}
    if kind not in BUILDERS:
        raise ValueError(f"no stand-in builder for kind {kind!r} (known: {', '.join(BUILDERS)})")
    tf.random.set_seed(SEED)
    b = Builder(tf, template_key(item))
    assets = os.path.join(directory + ".assets")
    os.makedirs(assets, exist_ok=True)
    try:
        signatures = BUILDERS[kind](tf, b, params, assets)
        b.save(directory, signatures)
    finally:
        shutil.rmtree(assets, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--plan", required=True, help="PLAN.json written by gorilla_rlaif.harness.world.tfhub"
    )
    parser.add_argument("--out", required=True, help="output directory (the SavedModels go to OUT/tfhub)")
    parser.add_argument("--only", nargs="*", help="build only these handles")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.monotonic()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    with open(args.plan) as f:
        plan = json.load(f)
    if args.only:
        wanted = set(args.only)
        plan = [item for item in plan if item["id"] in wanted]
    tfhub_root = os.path.join(args.out, "tfhub")
    templates_root = os.path.join(args.out, "tfhub-templates")
    os.makedirs(tfhub_root, exist_ok=True)
    templates: dict[str, dict] = {}
    report: dict = {"built": 0, "failed": 0, "items": {}, "templates": {}}
    for item in plan:
        handle, key = item["id"], template_key(item)
        entry: dict = {"kind": item["kind"], "params": item.get("params") or {}}
        try:
            if key not in templates:
                directory = os.path.join(templates_root, hashlib.sha256(key.encode()).hexdigest()[:16])
                shutil.rmtree(directory, ignore_errors=True)
                t0 = time.monotonic()
                try:
                    build_template(tf, item, directory)
                    checked = check(tf, item["kind"], item.get("params") or {}, directory)
                    templates[key] = {
                        "dir": directory,
                        "check": checked,
                        "build_s": round(time.monotonic() - t0, 2),
                    }
                except Exception as exc:
                    templates[key] = {
                        "error": f"{type(exc).__name__}: {str(exc)[:400]}",
                        "trace": traceback.format_exc(limit=-4)[-1500:],
                    }
            template = templates[key]
            if "error" in template:
                raise RuntimeError(f"template {key} failed: {template['error']}")
            entry["dir"] = os.path.basename(install(tfhub_root, handle, template["dir"]))
            entry["aliases"] = [
                os.path.basename(install(tfhub_root, alias, template["dir"]))
                for alias in item.get("aliases", [])
            ]
            entry["ok"] = True
            report["built"] += 1
        except Exception as exc:
            entry["ok"] = False
            entry["error"] = f"{type(exc).__name__}: {str(exc)[:400]}"
            report["failed"] += 1
        report["items"][handle] = entry
    shutil.rmtree(templates_root, ignore_errors=True)  # the installed hard links keep the bytes
    report["templates"] = {k: {kk: vv for kk, vv in v.items() if kk != "dir"} for k, v in templates.items()}
    report["build_s"] = round(time.monotonic() - start, 1)
    report["disk_bytes"], report["linked_bytes"] = disk_usage(tfhub_root)
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(
        f"tfhub stand-ins: {report['built']} handles built, {report['failed']} failed, "
        f"{len(templates)} SavedModels, {report['build_s']} s, {report['disk_bytes'] / 1e6:.1f} MB on disk",
        file=sys.stderr,
    )
    for handle, entry in report["items"].items():
        if not entry["ok"]:
            print(f"  not built: {handle}: {entry['error']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
