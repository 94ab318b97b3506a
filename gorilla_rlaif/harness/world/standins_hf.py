"""Build the Hugging Face stand-ins: a tiny random model of the architecture the code asks for,
with a working tokenizer / processor, saved in the Hugging Face cache layout under each model id.

Runs with the execution environment's interpreter (transformers 4.36, diffusers 0.25,
sentence-transformers 2.2): `python standins_hf.py --plan PLAN.json --out DIR`. Imports no
gorilla_rlaif (it is not installed there). PLAN.json comes from `huggingface.py`: one item per id
with the classes the code loads it with, the pipeline tasks, the files it downloads.

How an id becomes a stand-in:
1. its *recipe*: diffusers (a diffusers class loads it), sentence-transformers, timm, files only
   (`hf_hub_download` of a joblib/csv/...), a library's own format (ultralyticsplus' and yolov5's YOLO
   checkpoints, a flair tagger, a SpeechBrain model: `standins_speechbrain.py`, a pyannote model or
   pipeline: `standins_pyannote.py`, an asteroid model or a Stable-Baselines3 agent:
   `standins_libs.py`), or transformers (with its ONNX export when `ORTModelFor*` loads it);
2. for transformers, its *model type*: the type of a concrete class the code names
   (`DetrForObjectDetection` -> detr; tokenizer and processor classes count too), else a model type
   named by the id (`facebook/wav2vec2-base-960h` -> wav2vec2) that every Auto class and pipeline
   task used with it supports, else the task's usual architecture;
3. a *template* per (recipe, type, class, labels): `AutoConfig.for_model(type)` shrunk to a few
   thousand parameters per layer, the model class instantiated with a fixed seed, a tokenizer
   trained on a fixed text in the format the slow tokenizer class reads (WordPiece vocab.txt,
   byte-level BPE vocab.json + merges.txt, SentencePiece .model, char vocab.json), image
   processors and feature extractors from their defaults, the processor from those parts;
4. every id's snapshot hard-links its template's files (an id costs a directory, not a copy).

Every template is loaded back with the classes the plan names, and failures are reported per id
(report.json): a stand-in that cannot be built is absent, so the code meets a `hub_error`.

Beside the snapshots: links for the legacy `cached_download(url)` lookup, each id's Hub
`pipeline_tag` (`pipeline_tags.json`) and the Hub datasets answers load (`standins_datasets.py`).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

REVISION = "0" * 40  # the commit hash the cache claims; offline, any 40-hex string works
SEED = 0
TEXT = (
    "the quick brown fox jumps over the lazy dog . hello world ! how are you today ? "
    "translate english to french : summarize : question answer context table image photo "
    "classify this sentence positive negative neutral entailment contradiction . "
    "le renard brun saute par dessus le chien . der schnelle braune fuchs . el zorro marron . "
    "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ , ; : ' \" ( ) [ ] { } - _ / "
)
CORPUS = [TEXT] * 8 + [" ".join(TEXT.split()[i::3]) for i in range(3)]

# ----------------------------------------------------------------------------- small configs

SMALL = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "intermediate_size": 64,
    "d_model": 32,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 37,
    "decoder_ffn_dim": 37,
    "num_layers": 2,
    "num_decoder_layers": 1,
    "d_ff": 37,
    "d_kv": 16,
    "num_heads": 2,
    "n_embd": 32,
    "n_layer": 2,
    "n_head": 2,
    "n_inner": 37,
    "ffn_dim": 37,
    "embedding_size": 32,
    "word_embed_proj_dim": 32,
    "projection_dim": 32,
    "hidden_dim": 32,
    "dim": 32,
    "n_heads": 2,
    "n_layers": 2,
    "encoder_hidden_size": 32,
    "decoder_hidden_size": 32,
    "num_encoder_layers": 1,
    "encoder_ffn_dim_mult": 1,
    "text_hidden_size": 32,
    "fusion_hidden_size": 32,
    "neck_hidden_sizes": None,
    "reassemble_hidden_size": 32,
    "num_query_tokens": 4,
    "num_queries": 10,
    "num_channels_hidden": 8,
    "pooler_hidden_size": 32,
}
# Lists sized per stage: keep the number of stages, make each stage tiny.
STAGE_LISTS = {
    "depths": lambda n: [1] * n,
    "hidden_sizes": lambda n: [8 * 2**i for i in range(n)],
    "num_heads": lambda n: [1] * n,
    "num_attention_heads": lambda n: [1] * n,
    "block_sizes": lambda n: [1] * n,
    "neck_hidden_sizes": lambda n: [8 * 2**i for i in range(n)],
    "embed_dims": lambda n: [8 * 2**i for i in range(n)],
    "decoder_layer_hidden_sizes": lambda n: [8] * n,
    "conv_dim": lambda n: [16] * n,
    "tdnn_dim": lambda n: [16] * (n - 1) + [48],
}
SUB_CONFIGS = (
    "decoder_config",
    "text_config",
    "vision_config",
    "audio_config",
    "qformer_config",
    "backbone_config",
    "encoder",
    "decoder",
    "speech_config",
    "prior_config",
)
PER_TYPE: dict[str, dict] = {
    "swin": {"embed_dim": 16},
    "donut-swin": {"embed_dim": 16},
    "swinv2": {"embed_dim": 16},
    "swin2sr": {"embed_dim": 16, "depths": [1, 1], "num_heads": [1, 1]},
    "maskformer-swin": {"embed_dim": 16},
    "nat": {"embed_dim": 16},
    "dinat": {"embed_dim": 16},
    "whisper": {"d_model": 32, "encoder_layers": 1, "decoder_layers": 1, "max_source_positions": 1500},
    "wav2vec2": {"num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2, "vocab_size": 32},
    "hubert": {"num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2},
    "wavlm": {"num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2},
    "unispeech-sat": {"num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2},
    "data2vec-audio": {
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 2,
        "conv_pos_kernel_size": 5,
    },
    "sew": {"num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2},
    "segformer": {"decoder_hidden_size": 16, "sr_ratios": [8, 4, 2, 1]},
    "t5": {"num_heads": 2, "d_kv": 16},
    "mt5": {"num_heads": 2, "d_kv": 16},
    "longt5": {"num_heads": 2, "d_kv": 16},
    "speecht5": {"speaker_embedding_dim": 512},
    # DetrForSegmentation's mask head: GroupNorm(8) over d_model + heads channels
    "detr": {
        "use_timm_backbone": False,
        "use_pretrained_backbone": False,
        "num_queries": 10,
        "encoder_attention_heads": 8,
        "decoder_attention_heads": 8,
    },
    "conditional_detr": {"use_timm_backbone": False, "use_pretrained_backbone": False},
    "deformable_detr": {"use_timm_backbone": False, "use_pretrained_backbone": False},
    "table-transformer": {"use_timm_backbone": False, "use_pretrained_backbone": False},
    "tapas": {"type_vocab_sizes": [3, 256, 256, 2, 256, 256, 10]},
    "videomae": {"decoder_num_hidden_layers": 1, "decoder_hidden_size": 32, "decoder_num_attention_heads": 2},
    "vit_mae": {"decoder_num_hidden_layers": 1, "decoder_hidden_size": 32, "decoder_num_attention_heads": 2},
    "dpt": {
        "num_hidden_layers": 4,
        "backbone_out_indices": [0, 1, 2, 3],
        "neck_hidden_sizes": [8, 16, 32, 64],
    },
    "pix2struct": {},
    "git": {},
    "blip-2": {},
    "vits": {
        "flow_size": 16,
        "spectrogram_bins": 33,
        "upsample_initial_channel": 32,
        "duration_predictor_filter_channels": 32,
        "posterior_encoder_num_wavenet_layers": 2,
        "prior_encoder_num_wavenet_layers": 2,
    },
    "hifigan": {"upsample_initial_channel": 32},
    # OpenAI's GPT-2 configs (and the fine-tunes that copy them) sample in the text-generation
    # pipeline: `num_return_sequences=5` works there, and fails with greedy decoding
    "gpt2": {"task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}}},
    # rotary embeddings cover at most a head: the 64-dim default exceeds a tiny head's 16
    "gptj": {"rotary_dim": 4},
    # CodeGen splits heads across mp_num=4 model-parallel shards: heads must be a multiple of 4
    "codegen": {"n_head": 4, "rotary_dim": 4},
    # 128 learned positions: the tiny character-level BPE spends ~4x the real one's tokens on a
    # prompt, so a one-sentence prompt would overflow them
    "blenderbot": {"max_position_embeddings": 512},
    "align_vision_model": {"width_coefficient": 0.25, "depth_coefficient": 0.5, "hidden_dim": 64},
    "efficientnet": {"width_coefficient": 0.25, "depth_coefficient": 0.5, "hidden_dim": 64},
    "maskformer": {"fpn_feature_size": 32, "mask_feature_size": 32},
    "mask2former": {"feature_size": 32, "mask_feature_size": 32, "hidden_dim": 32, "dim_feedforward": 64},
    "oneformer": {
        "hidden_dim": 32,
        "mask_dim": 32,
        "conv_dim": 32,
        "dim_feedforward": 64,
        "text_encoder_width": 32,
        "text_encoder_proj_layers": 1,
    },
    "bark": {},
    "musicgen": {},
}


def shrink(config, model_type: str) -> None:
    """Make `config` tiny in place, keeping every structural choice (stage counts, head kinds)."""
    for attr, value in SMALL.items():
        current = getattr(config, attr, None)
        if current is None or value is None or isinstance(current, bool):
            continue
        if isinstance(current, int) and not isinstance(current, bool):
            with contextlib.suppress(AttributeError):  # read-only aliases (MT5Config.hidden_size)
                setattr(config, attr, value)
    for attr, make in STAGE_LISTS.items():
        current = getattr(config, attr, None)
        if isinstance(current, (list, tuple)) and current and all(isinstance(x, int) for x in current):
            setattr(
                config,
                attr,
                type(current)(make(len(current))) if isinstance(current, list) else tuple(make(len(current))),
            )
    for attr, value in PER_TYPE.get(model_type, {}).items():
        setattr(config, attr, value)
    embed, depths = getattr(config, "embed_dim", None), getattr(config, "depths", None)
    if isinstance(embed, int) and isinstance(depths, (list, tuple)) and hasattr(config, "hidden_size"):
        config.hidden_size = int(embed * 2 ** (len(depths) - 1))  # Swin-like: the last stage's width
    if hasattr(config, "d_head") and getattr(config, "n_head", None):  # XLNet checks d_head * n_head
        config.d_head = config.d_model // config.n_head
    if (
        getattr(config, "backbone_config", None) is None
        and getattr(config, "use_timm_backbone", None) is False
    ):
        import transformers as tf

        config.backbone_config = tf.ResNetConfig(
            embedding_size=8,
            hidden_sizes=[8, 16, 32, 64],
            depths=[1, 1, 1, 1],
            out_features=["stage1", "stage2", "stage3", "stage4"],  # DETR's mask head reads all four
        )
    if hasattr(config, "stage_names") and hasattr(
        config, "_out_features"
    ):  # backbones: stage lists follow depth
        depth = getattr(config, "num_hidden_layers", None)
        if isinstance(depth, int) and not isinstance(getattr(config, "depths", None), (list, tuple)):
            config.stage_names = ["stem"] + [f"stage{i}" for i in range(1, depth + 1)]
        if not set(config._out_features or []) <= set(config.stage_names):
            config._out_features, config._out_indices = None, None
            config.out_features = None
    # a backbone's stage sizes feed the neck
    for sub in SUB_CONFIGS:
        child = getattr(config, sub, None)
        if child is not None and hasattr(child, "to_dict"):
            shrink(child, getattr(child, "model_type", ""))
    if getattr(config, "vision_config", None) is not None and hasattr(config, "qformer_config"):
        config.qformer_config.encoder_hidden_size = config.vision_config.hidden_size
    text, vision = getattr(config, "text_config", None), getattr(config, "vision_config", None)
    if text is not None and vision is not None and hasattr(text, "encoder_hidden_size"):
        text.encoder_hidden_size = vision.hidden_size
    if model_type == "align":  # image embeddings are the last block's 320 x width channels, unprojected
        config.projection_dim = int(320 * config.vision_config.width_coefficient)


# ----------------------------------------------------------------------------- tokenizers


def _bpe_files(
    directory: str, vocab_size: int = 600, specials=("<s>", "<pad>", "</s>", "<unk>", "<mask>")
) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=list(specials),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tok.model.save(directory)  # vocab.json + merges.txt


def _wordpiece_vocab(path: str, lowercase: bool = True) -> None:
    words = sorted(set((TEXT.lower() if lowercase else TEXT).split()))
    chars = sorted(set("".join(words)))
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<s>", "</s>", "<pad>", "<unk>", "<mask>"]
    tokens += chars + ["##" + c for c in chars] + words
    with open(path, "w") as f:
        f.write("\n".join(dict.fromkeys(tokens)) + "\n")


def _spm_file(path: str, vocab_size: int = 300, model_type: str = "unigram", t5: bool = False) -> None:
    import io

    import sentencepiece as spm

    stream = io.BytesIO()
    kwargs = dict(
        sentence_iterator=iter(CORPUS * 4),
        model_writer=stream,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
        user_defined_symbols=["<mask>", "[MASK]", "<sep>", "<cls>", "▁<extra_id_0>"],
    )
    if t5:
        kwargs.update(pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
    else:
        kwargs.update(pad_id=1, bos_id=0, eos_id=2, unk_id=3)
    spm.SentencePieceTrainer.train(**kwargs)
    with open(path, "wb") as f:
        f.write(stream.getvalue())


def _char_vocab(path: str) -> None:
    tokens = [
        "<pad>",
        "<s>",
        "</s>",
        "<unk>",
        "|",
        *list("ABCDEFGHIJKLMNOPQRSTUVWXYZ'"),
        *list("abcdefghijklmnopqrstuvwxyz"),
    ]
    with open(path, "w") as f:
        json.dump({t: i for i, t in enumerate(dict.fromkeys(tokens))}, f)


def _spm_pieces(path: str) -> list[str]:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=path)
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]


def write_tokenizer_files(slow_cls, directory: str) -> None:
    """Write the vocabulary files `slow_cls` reads, in its own format."""
    files = dict(getattr(slow_cls, "vocab_files_names", {}) or {})
    name = slow_cls.__name__
    if name == "MarianTokenizer":
        _spm_file(os.path.join(directory, "source.spm"))
        shutil.copy(os.path.join(directory, "source.spm"), os.path.join(directory, "target.spm"))
        pieces = ["</s>", "<unk>", "<pad>", *_spm_pieces(os.path.join(directory, "source.spm"))]
        with open(os.path.join(directory, "vocab.json"), "w") as f:
            json.dump({p: i for i, p in enumerate(dict.fromkeys(pieces))}, f)
        return
    if name in ("M2M100Tokenizer", "Speech2TextTokenizer"):
        spm_name = files.get("spm_file", "sentencepiece.bpe.model")
        _spm_file(os.path.join(directory, spm_name))
        pieces = ["<s>", "<pad>", "</s>", "<unk>", *_spm_pieces(os.path.join(directory, spm_name))]
        with open(os.path.join(directory, files.get("vocab_file", "vocab.json")), "w") as f:
            json.dump({p: i for i, p in enumerate(dict.fromkeys(pieces))}, f)
        return
    if set(files) >= {"vocab_file", "merges_file"} and files["vocab_file"].endswith(".json"):
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", "<|endoftext|>", "<|startoftext|>"]
        _bpe_files(directory, specials=specials)
        for key, default in (("vocab_file", "vocab.json"), ("merges_file", "merges.txt")):
            if files[key] != default:
                os.rename(os.path.join(directory, default), os.path.join(directory, files[key]))
        return
    vocab = files.get("vocab_file") or files.get("spm_file") or ""
    if vocab.endswith(".txt"):
        _wordpiece_vocab(os.path.join(directory, vocab), lowercase="Cased" not in name)
        if "spm_file" in files or "sentencepiece_model_ckpt" in files:
            key = "spm_file" if "spm_file" in files else "sentencepiece_model_ckpt"
            _spm_file(os.path.join(directory, files[key]))
        return
    if vocab.endswith((".model", ".spm")):
        _spm_file(os.path.join(directory, vocab), t5=name in ("T5Tokenizer", "MT5Tokenizer", "UMT5Tokenizer"))
        if "monolingual_vocab_file" in files:
            with open(os.path.join(directory, files["monolingual_vocab_file"]), "w") as f:
                f.write("\n".join(f"{p} 1" for p in _spm_pieces(os.path.join(directory, vocab))[4:]))
        return
    if vocab.endswith(".json"):  # character vocabularies (CTC, VITS, MGP-STR)
        _char_vocab(os.path.join(directory, vocab))
        return
    if not files:
        return  # byte/char tokenizers (ByT5, CANINE, Perceiver) need no file
    raise ValueError(f"no recipe for the vocabulary files of {name}: {files}")


WHISPER_SPECIALS = (
    ["<|endoftext|>", "<|startoftranscript|>"]
    + [
        f"<|{lang}|>"
        for lang in ("en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "it", "nl")
    ]
    + [
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nocaptions|>",
        "<|notimestamps|>",
    ]
)


def build_tokenizer(model_type: str, work: str):
    """A tokenizer of the classes `model_type` uses."""
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES

    slow_name, fast_name = TOKENIZER_MAPPING_NAMES.get(model_type, (None, None))
    return build_named_tokenizer(slow_name or fast_name, work, whisper=model_type == "whisper")


def build_named_tokenizer(name: str | None, work: str, *, whisper: bool = False):
    """The tokenizer class `name` (slow or fast), built from files in its own format: the slow
    class from the vocabulary files it reads, the fast one converted from it (both saved)."""

    if not name:
        return None
    # Built in a directory of its own, then copied over `work`: files of another tokenizer already
    # there (a tokenizer.json of another family) would be picked up by this one's loader.
    clean = tempfile.mkdtemp(prefix="tok-")
    try:
        tok = _build_named_tokenizer(name, clean, whisper=whisper)
        if tok is not None:
            for stale in (
                "tokenizer.json",
                "tokenizer_config.json",
                "special_tokens_map.json",
                "added_tokens.json",
            ):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(work, stale))
            for entry in os.listdir(clean):
                shutil.copy(os.path.join(clean, entry), os.path.join(work, entry))
        return tok
    finally:
        shutil.rmtree(clean, ignore_errors=True)


def _build_named_tokenizer(name: str, work: str, *, whisper: bool = False):
    import transformers

    slow_name = name.removesuffix("Fast")
    if name == "PreTrainedTokenizerFast":  # the generic fast class: a tokenizer.json and nothing else
        slow_name = "PreTrainedTokenizer_"
    slow_cls = getattr(transformers, slow_name, None)
    fast_cls = getattr(transformers, name if name.endswith("Fast") else slow_name + "Fast", None)
    if slow_cls is not None and getattr(slow_cls, "__name__", "").startswith("Dummy"):
        slow_cls = None  # a placeholder class: its backend (e.g. sentencepiece) is missing
    kwargs = (
        {"additional_special_tokens": WHISPER_SPECIALS} if whisper or slow_name == "WhisperTokenizer" else {}
    )
    if slow_name == "VitsTokenizer":  # MMS-TTS checkpoints of Latin-script languages need no phonemizer
        kwargs["phonemize"] = False
    tok = None
    if slow_cls is not None:
        write_tokenizer_files(slow_cls, work)
        tok = slow_cls.from_pretrained(work, **kwargs)
        tok.save_pretrained(work)
        if fast_cls is not None:
            with contextlib.suppress(Exception):
                fast = fast_cls.from_pretrained(work)
                fast.save_pretrained(work)  # both forms on disk, as on the Hub
                if name.endswith("Fast"):
                    tok = fast  # the object of the class asked for
    elif fast_cls is not None:
        _bpe_files(work)
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers

        bpe = Tokenizer(
            models.BPE.from_file(os.path.join(work, "vocab.json"), os.path.join(work, "merges.txt"))
        )
        bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        bpe.decoder = decoders.ByteLevel()
        tok = fast_cls(
            tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
        )
        tok.save_pretrained(work)
    if tok is not None and tok.pad_token is None:
        with contextlib.suppress(Exception):
            tok.pad_token = tok.eos_token or tok.unk_token
            tok.save_pretrained(work)
    return tok


def component_kind(name: str) -> str | None:
    """'tokenizer', 'processor', 'image' (image processor / feature extractor) or None."""
    import transformers
    from transformers import PreTrainedTokenizerBase
    from transformers.feature_extraction_utils import FeatureExtractionMixin
    from transformers.image_processing_utils import ImageProcessingMixin
    from transformers.processing_utils import ProcessorMixin

    obj = getattr(transformers, name, None)
    if not isinstance(obj, type):
        return None
    if issubclass(obj, PreTrainedTokenizerBase):
        return "tokenizer"
    if issubclass(obj, ProcessorMixin):
        return "processor"
    if issubclass(obj, (ImageProcessingMixin, FeatureExtractionMixin)):
        return "image"
    return None


ONEFORMER_CLASSES = "ade20k_panoptic.json"


def build_image_component(name: str, out: str, config=None):
    import transformers

    kwargs = {}
    if name == "OneFormerImageProcessor":  # reads its class list from a dataset repo of the Hub
        kwargs = {"class_info_file": ONEFORMER_CLASSES, "num_text": 4}
        _oneformer_metadata()
    component = getattr(transformers, name)(**kwargs)
    _fit_image_size(component, config)
    alias = name.replace("ImageProcessor", "FeatureExtractor")
    if alias != name and hasattr(
        transformers, alias
    ):  # 2023 repos name both (AutoFeatureExtractor reads this)
        component.feature_extractor_type = alias
    component.save_pretrained(out)
    return component


def _fit_image_size(component, config) -> None:
    """A processor's output size is the model's input size (a default processor of 384 px
    beside a 224 px default config would not be a checkpoint anyone publishes)."""
    image_size = None
    for target in (getattr(config, "vision_config", None), getattr(config, "encoder", None), config):
        value = getattr(target, "image_size", None) if target is not None else None
        if isinstance(value, (list, tuple)) and value:
            value = value[0]
        if isinstance(value, int):
            image_size = value
            break
    if image_size is None:
        return
    if type(component).__name__ == "ChineseCLIPImageProcessor":
        # its resize reads height and width, which its published configs give (the default's
        # shortest_edge only works through a default nobody ships)
        component.size = {"height": image_size, "width": image_size}
        return
    for attr in ("size", "crop_size"):
        current = getattr(component, attr, None)
        if isinstance(current, dict):
            if "height" in current and "width" in current:
                setattr(component, attr, {"height": image_size, "width": image_size})
            elif (
                "shortest_edge" in current
                and attr == "size"
                and getattr(component, "crop_size", None) is None
            ):
                size = {**current, "shortest_edge": image_size}
                if current.get("longest_edge"):  # YOLOS / DETR: keep the aspect bound
                    size["longest_edge"] = max(
                        image_size, round(image_size * current["longest_edge"] / current["shortest_edge"])
                    )
                setattr(component, attr, size)


def _oneformer_metadata() -> None:
    """The class list OneFormer's image processor loads from the dataset `shi-labs/oneformer_demo`,
    put in the world's cache (so the processor loads in the sandbox as it does online)."""
    root = os.environ["HF_HOME"]
    snap = os.path.join(root, "hub", "datasets--shi-labs--oneformer_demo", "snapshots", REVISION)
    os.makedirs(snap, exist_ok=True)
    classes = {
        str(i): {"isthing": int(i >= 2), "name": name}
        for i, name in enumerate(("wall", "sky", "person", "car"))
    }
    with open(os.path.join(snap, ONEFORMER_CLASSES), "w") as f:
        json.dump(classes, f)
    refs = os.path.join(os.path.dirname(os.path.dirname(snap)), "refs")
    os.makedirs(refs, exist_ok=True)
    with open(os.path.join(refs, "main"), "w") as f:
        f.write(REVISION)


def build_processor(name: str, out: str, built: dict, model_type: str, config=None):
    """A processor from its declared parts (`attributes` + `<attr>_class`), reusing the parts
    already built for this stand-in when they fit."""
    import transformers
    from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING_NAMES
    from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES

    cls = getattr(transformers, name)
    parts = {}
    for attribute in cls.attributes:
        spec = getattr(cls, f"{attribute}_class")
        names = [n for n in (spec if isinstance(spec, (list, tuple)) else [spec]) if n]
        if attribute == "tokenizer":
            current = built.get("tokenizer")
            if current is not None and ("AutoTokenizer" in names or type(current).__name__ in names):
                parts[attribute] = current
            else:
                parts[attribute] = build_named_tokenizer(names[0], out)
        else:
            current = built.get("image")
            wanted = names[0]
            if wanted.startswith("Auto"):
                mapping = (
                    IMAGE_PROCESSOR_MAPPING_NAMES if "Image" in wanted else FEATURE_EXTRACTOR_MAPPING_NAMES
                )
                known = mapping.get(model_type)
                wanted = _first(known) if known else (type(current).__name__ if current else None)
            if current is not None and (type(current).__name__ == wanted or wanted is None):
                parts[attribute] = current
            else:
                parts[attribute] = build_image_component(wanted, out, config)
    processor = cls(**parts)
    processor.save_pretrained(out)
    return processor


# ----------------------------------------------------------------------------- architecture choice


class Index:
    """What transformers 4.36 knows: model types, which classes belong to which type, which
    types each Auto class and pipeline task supports."""

    def __init__(self):
        import transformers
        from transformers.models.auto import configuration_auto as ca

        self.tf = transformers
        self.types = list(ca.CONFIG_MAPPING_NAMES)
        self.module_types: dict[str, list[str]] = {}
        for model_type in self.types:
            module = ca.model_type_to_module_name(model_type)
            self.module_types.setdefault(module, []).append(model_type)

    def class_type(self, name: str) -> str | None:
        """The model type a concrete transformers class belongs to (None for Auto classes)."""
        if name.startswith(("Auto", "TFAuto", "FlaxAuto")) or name in ("Pipeline", "PreTrainedModel"):
            return None
        obj = getattr(self.tf, name, None)
        module = getattr(obj, "__module__", "") or ""
        match = re.match(r"transformers\.models\.([\w]+)\.", module)
        if not match:
            return None
        types = self.module_types.get(match.group(1), [])
        if not types:
            return None
        # the type named after the class wins ('Blip2Processor' -> blip-2, not blip_2_qformer)
        squashed = name.lower()
        for t in sorted(types, key=len, reverse=True):
            if squashed.startswith(t.replace("-", "").replace("_", "")):
                return t
        return types[0]

    def auto_types(self, auto_name: str) -> set[str] | None:
        """Model types an Auto class can load (None: any)."""
        name = auto_name.removeprefix("TF").removeprefix("Flax")
        cls = getattr(self.tf, name, None)
        mapping = getattr(cls, "_model_mapping", None)
        if mapping is None:
            return None
        return set(mapping._model_mapping)

    def task_info(self, task: str):
        from transformers.pipelines import check_task

        try:
            normalized, targeted, options = check_task(task)
        except Exception:
            return None, None, None
        return normalized, targeted, options

    def task_types(self, task: str) -> set[str] | None:
        _, targeted, _ = self.task_info(task)
        if not targeted:
            return None
        types: set[str] = set()
        for auto in targeted.get("pt", ()):
            mapping = getattr(auto, "_model_mapping", None)
            if mapping is not None:
                types |= set(mapping._model_mapping)
        return types or None


# id keywords that do not spell their model type
ALIASES = {
    "opus-mt": "marian",
    "distilgpt2": "gpt2",
    "dialogpt": "gpt2",
    "gpt-neo": "gpt_neo",
    "gpt-j": "gptj",
    "flan-t5": "t5",
    "minilm": "bert",
    "paraphrase-minilm": "bert",
    "all-minilm": "bert",
    "e5": "bert",
    "bge": "bert",
    "simcse": "roberta",
    "tapex": "bart",
    "trocr": "vision-encoder-decoder",
    "codeberta": "roberta",
    "donut": "vision-encoder-decoder",
    "nougat": "vision-encoder-decoder",
    "blip-image-captioning": "blip",
    "vilt": "vilt",
    "dpt": "dpt",
    "glpn": "glpn",
    "xclip": "x-clip",
    "x-clip": "x-clip",
    "wav2vec2": "wav2vec2",
    "hubert": "hubert",
    "unispeech": "unispeech-sat",
    "blenderbot_small": "blenderbot-small",
    "blenderbot-small": "blenderbot-small",
    "ast": "audio-spectrogram-transformer",
    "xlm-roberta": "xlm-roberta",
    "xlmr": "xlm-roberta",
    "camembert": "camembert",
    "biobert": "bert",
    "scibert": "bert",
    "finbert": "bert",
    "pubmedbert": "bert",
    "bertweet": "roberta",
    "codebert": "roberta",
    "codet5": "t5",
    "byt5": "t5",
    "sbert": "bert",
    "mpnet": "mpnet",
    "stable-diffusion": None,
    "sentence-transformers": None,
}
# The architecture a task usually runs on, when neither the classes nor the id say.
TASK_DEFAULT_TYPE = {
    "text-classification": "distilbert",
    "token-classification": "bert",
    "question-answering": "distilbert",
    "fill-mask": "bert",
    "feature-extraction": "bert",
    "summarization": "bart",
    "translation": "marian",
    "text2text-generation": "t5",
    "text-generation": "gpt2",
    "conversational": "gpt2",  # DialoGPT, the usual conversational checkpoint of 2023
    "zero-shot-classification": "bart",
    "table-question-answering": "tapas",
    "visual-question-answering": "vilt",
    "document-question-answering": "layoutlm",
    "image-classification": "vit",
    "object-detection": "detr",
    "image-segmentation": "segformer",
    "depth-estimation": "dpt",
    "zero-shot-image-classification": "clip",
    "zero-shot-object-detection": "owlvit",
    "image-to-text": "vision-encoder-decoder",
    "automatic-speech-recognition": "wav2vec2",
    "audio-classification": "wav2vec2",
    "text-to-audio": "vits",
    "video-classification": "videomae",
    "mask-generation": "sam",
    "image-to-image": "swin2sr",
    "zero-shot-audio-classification": "clap",
}
# The API database's task names (`functionality`) -> pipeline tasks.
FUNCTIONALITY_TASK = {
    "text classification": "text-classification",
    "sentiment analysis": "text-classification",
    "token classification": "token-classification",
    "named entity recognition": "token-classification",
    "question answering": "question-answering",
    "fill-mask": "fill-mask",
    "fill mask": "fill-mask",
    "masked language modeling": "fill-mask",
    "feature extraction": "feature-extraction",
    "sentence similarity": "feature-extraction",
    "summarization": "summarization",
    "translation": "translation",
    "text2text generation": "text2text-generation",
    "text generation": "text-generation",
    "conversational": "text-generation",
    "zero-shot classification": "zero-shot-classification",
    "table question answering": "table-question-answering",
    "visual question answering": "visual-question-answering",
    "document question answer": "document-question-answering",
    "image classification": "image-classification",
    "object detection": "object-detection",
    "image segmentation": "image-segmentation",
    "depth estimation": "depth-estimation",
    "zero-shot image classification": "zero-shot-image-classification",
    "image-to-text": "image-to-text",
    "image captioning": "image-to-text",
    "automatic speech recognition": "automatic-speech-recognition",
    "audio classification": "audio-classification",
    "text-to-speech": "text-to-audio",
    "video classification": "video-classification",
    "image-to-image": "image-to-image",
}


def id_tokens(model_id: str) -> list[str]:
    return [t for t in re.split(r"[/_\-.\s]+", model_id.lower()) if t]


def keyword_types(model_id: str, types: list[str]) -> list[str]:
    """Model types the id spells, longest first (`xlm-roberta-base` -> xlm-roberta, then roberta)."""
    tokens = id_tokens(model_id)
    joined = "-" + "-".join(tokens) + "-"
    found = []
    for alias, target in ALIASES.items():
        if f"-{alias}-" in joined or any(t == alias for t in tokens):
            found.append((len(alias) + 100, target))
    for t in types:
        key = "-" + "-".join(id_tokens(t)) + "-"
        if key in joined:
            found.append((len(t), t))
        else:  # versions glued to the name: 'gpt2-medium' has 'gpt2'; 'wav2vec2' has 'wav2vec2'
            for token in tokens:
                if token == t.replace("-", "").replace("_", "") or re.fullmatch(
                    re.escape(t) + r"(v\d+)?", token
                ):
                    found.append((len(t), t))
                elif len(t) >= 4 and token.endswith(t) and "-" not in t:  # 'codeberta', 'distilroberta'
                    found.append((len(t) - 50, t))
    found.sort(key=lambda x: -x[0])
    return list(dict.fromkeys(t for _, t in found))


DIFFUSERS_CLASSES = {
    "DiffusionPipeline",
    "StableDiffusionPipeline",
    "StableDiffusionControlNetPipeline",
    "StableDiffusionInpaintPipeline",
    "StableDiffusionImg2ImgPipeline",
    "StableDiffusionUpscalePipeline",
    "StableDiffusionLatentUpscalePipeline",
    "StableDiffusionDepth2ImgPipeline",
    "StableDiffusionInstructPix2PixPipeline",
    "StableDiffusionImageVariationPipeline",
    "StableDiffusionXLPipeline",
    "DDPMPipeline",
    "DDIMPipeline",
    "PNDMPipeline",
    "LDMSuperResolutionPipeline",
    "LDMTextToImagePipeline",
    "TextToVideoSDPipeline",
    "ControlNetModel",
    "UNet2DModel",
    "UNet2DConditionModel",
    "AutoencoderKL",
    "DDPMScheduler",
    "DDIMScheduler",
    "PNDMScheduler",
    "UniPCMultistepScheduler",
    "EulerDiscreteScheduler",
    "EulerAncestralDiscreteScheduler",
    "DPMSolverMultistepScheduler",
    "LMSDiscreteScheduler",
}


def resolve(item: dict, index: Index) -> dict:
    """The recipe of one plan item: {'kind': ..., 'model_type': ..., 'cls': ..., ...}."""
    model_id = item["id"]
    classes = item["classes"]
    if item["loaders"] and "sentence_transformers" in item["loaders"]:
        return {"kind": "sentence_transformers"}
    if "yolov5" in item["loaders"]:
        return {"kind": "yolov5"}
    if "ultralytics" in item["loaders"]:
        return {"kind": "ultralytics", "task": "segment" if "segment" in model_id else "detect"}
    if "flair" in item["loaders"]:
        return {"kind": "flair", "tag_type": flair_tag_type(model_id)}
    if "pyannote" in item["loaders"] or {"Pipeline", "Model"} & set(classes):
        from standins_pyannote import pyannote_recipe

        recipe = pyannote_recipe(model_id)
        if recipe is not None:
            return {"kind": "pyannote", "recipe": recipe}
    from standins_libs import asteroid_recipe, sb3_recipe

    # asteroid and Stable-Baselines3 repositories hold their library's format whatever class an
    # answer loads them with (`AutoModelForAudioToAudio` on an asteroid id fails on the real model)
    library_recipe = asteroid_recipe(model_id) or sb3_recipe(model_id)
    if library_recipe is not None:
        return library_recipe
    interfaces = [x.split(":", 1)[1] for x in item["loaders"] if x.startswith("speechbrain:")]
    if interfaces:
        from standins_speechbrain import speechbrain_recipe

        recipe = speechbrain_recipe(model_id)
        if recipe is None:
            return {"kind": "none", "why": f"no SpeechBrain stand-in for {model_id} ({interfaces})"}
        return {"kind": "speechbrain", **recipe}
    diffusers_classes = [c for c in classes if c in DIFFUSERS_CLASSES]
    if diffusers_classes:
        return {"kind": "diffusers", "pipeline": diffusers_pipeline(model_id, diffusers_classes)}
    if "timm" in item["loaders"]:
        return {"kind": "timm"}
    if "keras" in item["loaders"]:
        return {"kind": "keras"}
    tasks = [t for t in item["tasks"] if ":" not in t]
    functionality = (item.get("hints") or {}).get("functionality", "").lower()
    if not classes and not tasks and functionality in FUNCTIONALITY_TASK:
        tasks = [FUNCTIONALITY_TASK[functionality]]
    if not classes and not tasks and item["files"]:
        return {"kind": "files"}
    candidates: set[str] = set(index.types)
    concrete: list[str] = []
    for name in classes:
        t = index.class_type(name)
        if t is not None:
            concrete.append(t)
            continue
        allowed = index.auto_types(name)
        if allowed is not None:
            candidates &= allowed
    normalized_tasks = []
    for task in tasks:
        normalized, _, _ = index.task_info(task)
        if normalized:
            normalized_tasks.append(normalized)
            allowed = index.task_types(task)
            if allowed is not None:
                candidates &= allowed
    model_cls = next((c for c in classes if index.class_type(c) and _is_model_class(index, c)), None)
    spelled = keyword_types(model_id, index.types)
    if concrete:
        model_type = (
            index.class_type(model_cls)
            if model_cls
            else next((t for t in concrete if t in candidates), concrete[0])
        )
    else:
        # The id's own name is the best evidence of the real architecture (an answer that loads
        # a BERT id with AutoModelForSeq2SeqLM fails on the real model too); among the types it
        # spells, one every class and task used supports is preferred.
        named = [t for t in spelled if t in candidates] or spelled
        if named:
            model_type = named[0]
        else:
            model_type = next(
                (TASK_DEFAULT_TYPE[t] for t in normalized_tasks if TASK_DEFAULT_TYPE.get(t) in candidates),
                None,
            )
            if model_type is None:
                model_type = next((t for t in ("bert", "gpt2", "t5", "vit") if t in candidates), None)
                if model_type is None and candidates:
                    model_type = sorted(candidates)[0]
    if model_type is None:
        return {"kind": "none", "why": f"no architecture supports all of {classes + tasks}"}
    labels = "nli" if "zero-shot-classification" in normalized_tasks else "default"
    extra = {"flavour": ved_flavour(model_id, classes)} if model_type == "vision-encoder-decoder" else {}
    onnx = next((ORT_TASKS[c] for c in classes if c in ORT_TASKS), None)
    if onnx:  # `ORTModelForSeq2SeqLM.from_pretrained(id)`: the repository also holds the ONNX export
        extra["onnx"] = onnx
    return {
        **extra,
        "kind": "transformers",
        "model_type": model_type,
        "cls": model_cls,
        "components": sorted(c for c in classes if component_kind(c)),
        "autos": sorted(c for c in classes if index.class_type(c) is None),
        "tasks": sorted(set(normalized_tasks)),
        "labels": labels,
    }


# Optimum's ONNX Runtime classes and the export task that writes the files each reads.
ORT_TASKS = {
    "ORTModelForSeq2SeqLM": "text2text-generation-with-past",
    "ORTModelForCausalLM": "text-generation-with-past",
    "ORTModelForSequenceClassification": "text-classification",
    "ORTModelForTokenClassification": "token-classification",
    "ORTModelForQuestionAnswering": "question-answering",
    "ORTModelForFeatureExtraction": "feature-extraction",
    "ORTModelForImageClassification": "image-classification",
    "ORTModelForSpeechSeq2Seq": "automatic-speech-recognition-with-past",
}


def _is_model_class(index: Index, name: str) -> bool:
    obj = getattr(index.tf, name, None)
    import torch

    return isinstance(obj, type) and issubclass(obj, torch.nn.Module)


def diffusers_pipeline(model_id: str, classes: list[str]) -> str:
    """Which diffusers object an id stands for: the pipeline class named, or for the generic
    `DiffusionPipeline` the one the id describes."""
    named = [c for c in classes if c not in ("DiffusionPipeline",) and not c.endswith("Scheduler")]
    if "ControlNetModel" in named:
        return "ControlNetModel"
    for c in named:
        if c.endswith("Pipeline") or c in ("UNet2DModel", "UNet2DConditionModel", "AutoencoderKL"):
            return c
    low = model_id.lower()
    for keyword, cls in (
        ("ddpm", "DDPMPipeline"),
        ("ddim", "DDIMPipeline"),
        ("ldm-super-resolution", "LDMSuperResolutionPipeline"),
        ("text-to-video", "TextToVideoSDPipeline"),
        ("x4-upscaler", "StableDiffusionUpscalePipeline"),
        ("inpaint", "StableDiffusionInpaintPipeline"),
        ("pix2pix", "StableDiffusionInstructPix2PixPipeline"),
        ("controlnet", "ControlNetModel"),
    ):
        if keyword in low:
            return cls
    return "StableDiffusionPipeline"


# ----------------------------------------------------------------------------- transformers templates


def _seed(key: str) -> None:
    import random

    import numpy as np
    import torch

    value = (SEED + int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)) % (2**31)
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)


def _model_class(index: Index, model_type: str, recipe: dict):
    """The class to instantiate: the concrete one the code names, else the head its Auto
    classes / tasks load, else the base model."""
    tf = index.tf
    if recipe.get("cls"):
        return getattr(tf, recipe["cls"])
    for auto in recipe.get("autos", []):
        cls = getattr(tf, auto.removeprefix("TF").removeprefix("Flax"), None)  # PT weights load in TF too
        mapping = getattr(cls, "_model_mapping", None)
        if mapping is not None and model_type in mapping._model_mapping:
            return getattr(tf, _first(mapping._model_mapping[model_type]))
    for task in recipe.get("tasks", []):
        _, targeted, _ = index.task_info(task)
        for auto in (targeted or {}).get("pt", ()):
            mapping = getattr(auto, "_model_mapping", None)
            if mapping is not None and model_type in mapping._model_mapping:
                return getattr(tf, _first(mapping._model_mapping[model_type]))
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    composite = {
        "vision-encoder-decoder": "VisionEncoderDecoderModel",
        "encoder-decoder": "EncoderDecoderModel",
        "speech-encoder-decoder": "SpeechEncoderDecoderModel",
    }
    return getattr(tf, composite.get(model_type) or _first(MODEL_MAPPING_NAMES[model_type]))


def _first(names):
    """The first name of a mapping value (`"X"`, `("XSlow", "XFast")`, `(None, "XFast")`)."""
    if isinstance(names, (list, tuple)):
        return next((n for n in names if n), None)
    return names


def build_transformers(index: Index, recipe: dict, out: str) -> None:
    """A tiny random model of `recipe`'s type and class, with every tokenizer / image processor /
    feature extractor / processor the code names (or the type's own when it names none)."""
    from transformers import AutoConfig
    from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING_NAMES
    from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES

    model_type = recipe["model_type"]
    _seed(json.dumps(recipe, sort_keys=True))
    model_cls = _model_class(index, model_type, recipe)
    config_cls = getattr(model_cls, "config_class", None)
    flavour = recipe.get("flavour")
    config = special_config(model_type, flavour) or (
        config_cls() if config_cls is not None else AutoConfig.for_model(model_type)
    )
    shrink(config, model_type)
    named = {
        kind: [c for c in recipe.get("components", []) if component_kind(c) == kind]
        for kind in ("tokenizer", "image", "processor")
    }
    built: dict = {}
    # the tokenizer first: its size is the model's vocabulary. The code's own choice wins: a
    # tokenizer class it names, else the concrete one of a processor it names, else the type's.
    tokenizer_names = named["tokenizer"] + [
        t for p in named["processor"] if not (t := _processor_tokenizer(p) or "").startswith("Auto") and t
    ]
    if flavour in VED_FLAVOURS:
        tokenizer_names = tokenizer_names or [VED_FLAVOURS[flavour][0]]
    tokenizer_names = tokenizer_names or [
        _first(TOKENIZER_MAPPING_NAMES.get(_tokenizer_type(config, model_type)) or (None,))
    ]
    with contextlib.suppress(Exception):
        built["tokenizer"] = build_named_tokenizer(tokenizer_names[0], out, whisper=model_type == "whisper")
    tokenizer = built.get("tokenizer")
    if tokenizer is not None:
        _set_vocab(config, tokenizer_size(tokenizer), tokenizer)
        tokenizer.model_max_length = _max_length(config)
        tokenizer.save_pretrained(out)
        reloaded = _reloaded_size(out)
        if reloaded > tokenizer_size(tokenizer):
            _set_vocab(config, reloaded, tokenizer)
    if recipe.get("labels") == "nli":
        config.id2label = {0: "contradiction", 1: "neutral", 2: "entailment"}
        config.label2id = {v: k for k, v in config.id2label.items()}
    elif getattr(config, "num_labels", 2) == 2 and model_type not in NO_LABELS:
        config.id2label = {0: "NEGATIVE", 1: "POSITIVE"}
        config.label2id = {"NEGATIVE": 0, "POSITIVE": 1}
    config.architectures = [model_cls.__name__]
    model = model_cls(config)
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    _mark(out, recipe, params=sum(p.numel() for p in model.parameters()))
    with contextlib.suppress(Exception):
        generation = getattr(model, "generation_config", None)
        if generation is not None and model_type == "whisper":
            _whisper_generation(generation, tokenizer)
        if generation is not None:
            generation.save_pretrained(out)
    if flavour in VED_FLAVOURS:
        named["image"] = named["image"] or [VED_FLAVOURS[flavour][1]]
        named["processor"] = named["processor"] or [p for p in [VED_FLAVOURS[flavour][2]] if p]
    image_names = named["image"] or [
        _first(mapping.get(_part_type(config, model_type, mapping, ("encoder", "vision_config"))) or (None,))
        for mapping in (IMAGE_PROCESSOR_MAPPING_NAMES, FEATURE_EXTRACTOR_MAPPING_NAMES)
    ]
    for name in [n for n in image_names if n][:1]:
        built["image"] = build_image_component(name, out, config)
    processor_names = named["processor"] or [n for n in [PROCESSOR_MAPPING_NAMES.get(model_type)] if n]
    for name in processor_names:
        try:
            build_processor(name, out, built, model_type, config)
        except Exception:
            if name in named["processor"]:
                raise


STANDIN_MARKER = "GORILLA_STANDIN.json"


def _mark(out: str, recipe: dict, **facts) -> None:
    """Every stand-in says what it is (a user who opens the cache finds no real weights)."""
    with open(os.path.join(out, STANDIN_MARKER), "w") as f:
        json.dump(
            {"stand_in": "tiny random model built by gorilla_rlaif.harness.world", "recipe": recipe, **facts},
            f,
        )


def _processor_tokenizer(name: str) -> str | None:
    import transformers

    cls = getattr(transformers, name, None)
    spec = getattr(cls, "tokenizer_class", None) if "tokenizer" in getattr(cls, "attributes", []) else None
    return _first(spec) if spec else None


NO_LABELS = {"whisper", "wav2vec2", "speecht5", "vits", "bark", "musicgen"}


def _tokenizer_type(config, model_type: str) -> str:
    """Composite models take their text part's tokenizer."""
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES

    return _part_type(config, model_type, TOKENIZER_MAPPING_NAMES, ("decoder", "text_config"))


def _part_type(config, model_type: str, mapping: dict, parts: tuple[str, ...]) -> str:
    """`model_type` if `mapping` knows it, else the type of the first part of a composite model
    (`vision-encoder-decoder`: the encoder's image processor, the decoder's tokenizer) it knows."""
    if mapping.get(model_type):
        return model_type
    for sub in parts:
        child = getattr(config, sub, None)
        if child is not None and mapping.get(getattr(child, "model_type", None)):
            return child.model_type
    return model_type


def _set_vocab(config, size: int, tokenizer) -> None:
    """The model's vocabulary covers the tokenizer, and every special token id the model or its
    generation defaults carry is one of the tokenizer's (real checkpoints agree on this; a
    default config's ids, e.g. Marian's 58100, would index past a tiny embedding). A CTC head's
    vocabulary is exactly the tokenizer's: decoders such as huggingsound's index the tokenizer's
    tokens with the head's argmax."""
    if not hasattr(config, "ctc_loss_reduction"):
        size = max(size, 64)
    targets = [config] + [
        getattr(config, s) for s in ("text_config", "decoder") if getattr(config, s, None) is not None
    ]
    ids = {
        "pad_token_id": _token_id(tokenizer, "pad", "eos", "unk"),
        "bos_token_id": _token_id(tokenizer, "bos", "cls", "eos"),
        "eos_token_id": _token_id(tokenizer, "eos", "sep"),
        "sep_token_id": _token_id(tokenizer, "sep", "eos"),
        "decoder_start_token_id": _token_id(tokenizer, "pad", "bos", "eos")
        if getattr(config, "model_type", "") in ("t5", "mt5", "marian", "pegasus", "longt5", "umt5")
        else _token_id(tokenizer, "bos", "cls", "eos", "pad"),
    }
    for target in targets:
        if hasattr(target, "vocab_size") and isinstance(target.vocab_size, int):
            target.vocab_size = size
        for attr, token_id in ids.items():
            current = getattr(target, attr, None)
            if not hasattr(target, attr) and attr != "decoder_start_token_id":
                continue
            if attr == "decoder_start_token_id" and not getattr(target, "is_encoder_decoder", False):
                continue
            if current is None or not isinstance(current, int) or current >= size:
                setattr(target, attr, token_id)
        for attr in ("forced_bos_token_id", "forced_eos_token_id"):
            if isinstance(getattr(target, attr, None), int) and getattr(target, attr) >= size:
                setattr(target, attr, None)
        if getattr(target, "bad_words_ids", None):
            target.bad_words_ids = None


def tokenizer_size(tokenizer) -> int:
    """One past the largest id the tokenizer can produce: its vocabulary, special and added
    tokens, and the language codes some tokenizers number past `get_vocab()` (M2M100, NLLB).
    Exactly that: a larger embedding would let the random model generate ids nothing decodes."""
    ids = list(tokenizer.get_vocab().values()) + [i for i in tokenizer.all_special_ids if isinstance(i, int)]
    for attr in ("lang_code_to_id", "lang_token_to_id", "fairseq_tokens_to_ids", "added_tokens_encoder"):
        table = getattr(tokenizer, attr, None)
        if isinstance(table, dict):
            ids += [v for v in table.values() if isinstance(v, int)]
    return max(len(tokenizer), max(ids, default=0) + 1)


def _reloaded_size(directory: str) -> int:
    """`tokenizer_size` of the saved tokenizer as code loads it (`AutoTokenizer`, fast and slow):
    converting a tiny SentencePiece tokenizer can number special tokens past the built one's
    (CamemBERT's `<mask>`), and the model's vocabulary must hold every id either produces."""
    from transformers import AutoTokenizer

    sizes = [0]
    for use_fast in (True, False):
        with contextlib.suppress(Exception):
            sizes.append(tokenizer_size(AutoTokenizer.from_pretrained(directory, use_fast=use_fast)))
    return max(sizes)


def _token_id(tokenizer, *kinds: str) -> int:
    for kind in kinds:
        value = getattr(tokenizer, f"{kind}_token_id", None)
        if isinstance(value, int):
            return value
    return 0


def _max_length(config) -> int:
    """What the real checkpoint's tokenizer would allow: the text model's position count."""
    for target in (getattr(config, "text_config", None), config, getattr(config, "decoder", None)):
        value = getattr(target, "max_position_embeddings", None) if target is not None else None
        if isinstance(value, int) and 0 < value <= 4096:
            return value
    return 512


def _whisper_generation(generation, tokenizer) -> None:
    vocab = tokenizer.get_vocab()
    generation.decoder_start_token_id = vocab["<|startoftranscript|>"]
    generation.eos_token_id = vocab["<|endoftext|>"]
    generation.pad_token_id = vocab["<|endoftext|>"]
    generation.no_timestamps_token_id = vocab["<|notimestamps|>"]
    generation.lang_to_id = {t: vocab[t] for t in WHISPER_SPECIALS[2:15]}
    generation.task_to_id = {"translate": vocab["<|translate|>"], "transcribe": vocab["<|transcribe|>"]}
    generation.is_multilingual = True
    generation.forced_decoder_ids = [[1, None], [2, vocab["<|transcribe|>"]]]
    generation.begin_suppress_tokens = []
    generation.suppress_tokens = []
    generation.alignment_heads = [[0, 0]]


# Vision encoder-decoder checkpoints come in families with parts of their own (Donut: Swin encoder,
# MBart decoder, XLM-R tokenizer; TrOCR: ViT encoder, TrOCR decoder, RoBERTa tokenizer).
VED_FLAVOURS = {
    "donut": ("XLMRobertaTokenizer", "DonutImageProcessor", "DonutProcessor"),
    "trocr": ("RobertaTokenizer", "ViTImageProcessor", "TrOCRProcessor"),
    "vit-gpt2": ("GPT2Tokenizer", "ViTImageProcessor", None),
}


def ved_flavour(model_id: str, classes: list[str]) -> str:
    tokens = id_tokens(model_id)
    if "DonutProcessor" in classes or {"donut", "nougat"} & set(tokens):
        return "donut"
    if "TrOCRProcessor" in classes or "trocr" in tokens:
        return "trocr"
    return "vit-gpt2"


def special_config(model_type: str, flavour: str | None = None):
    """Composite architectures whose default configuration needs its parts spelled out."""
    import transformers as tf

    if model_type == "vision-encoder-decoder":
        if flavour == "donut":
            encoder = tf.DonutSwinConfig(image_size=[64, 64], window_size=2)
            decoder = tf.MBartConfig(add_cross_attention=True, is_decoder=True)
            shrink(encoder, "donut-swin")
            shrink(decoder, "mbart")
        elif flavour == "trocr":
            encoder, decoder = tf.ViTConfig(image_size=384), tf.TrOCRConfig()
            shrink(encoder, "vit")
            shrink(decoder, "trocr")
        else:
            encoder = tf.ViTConfig()
            decoder = tf.GPT2Config(add_cross_attention=True, is_decoder=True)
            shrink(encoder, "vit")
            shrink(decoder, "gpt2")
        config = tf.VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
        return config
    if model_type == "encoder-decoder":
        encoder, decoder = tf.BertConfig(), tf.BertConfig(is_decoder=True, add_cross_attention=True)
        shrink(encoder, "bert")
        shrink(decoder, "bert")
        return tf.EncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    return None


# ----------------------------------------------------------------------------- other recipes


def build_sentence_transformers(index: Index, model_id: str, out: str, hf_dir: str) -> None:
    """A sentence-transformers model dir (Transformer + mean Pooling) from the id's BERT stand-in."""
    from sentence_transformers import SentenceTransformer, models

    word = models.Transformer(hf_dir)
    pooling = models.Pooling(word.get_word_embedding_dimension())
    SentenceTransformer(modules=[word, pooling]).save(out)


def build_diffusers(pipeline: str, out: str) -> None:
    import diffusers as df
    import transformers as tf

    _seed(pipeline)
    if pipeline == "ControlNetModel":
        df.ControlNetModel(**_controlnet_kwargs()).save_pretrained(out)
        return
    if pipeline in ("DDPMPipeline", "DDIMPipeline", "PNDMPipeline", "UNet2DModel"):
        unet = df.UNet2DModel(
            sample_size=8,
            in_channels=3,
            out_channels=3,
            layers_per_block=1,
            block_out_channels=(8, 16),
            norm_num_groups=8,
            down_block_types=("DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        )
        if pipeline == "UNet2DModel":
            unet.save_pretrained(out)
            return
        scheduler = {
            "DDPMPipeline": df.DDPMScheduler,
            "DDIMPipeline": df.DDIMScheduler,
            "PNDMPipeline": df.PNDMScheduler,
        }
        getattr(df, pipeline)(
            unet=unet, scheduler=scheduler[pipeline](num_train_timesteps=1000)
        ).save_pretrained(out)
        return
    unet = df.UNet2DConditionModel(**_unet_kwargs())
    vae = df.AutoencoderKL(
        block_out_channels=[8, 16],
        norm_num_groups=8,
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
    )
    if pipeline == "AutoencoderKL":
        vae.save_pretrained(out)
        return
    if pipeline == "UNet2DConditionModel":
        unet.save_pretrained(out)
        return
    work = tempfile.mkdtemp()
    try:
        tokenizer = build_tokenizer("clip", work)
        tokenizer.model_max_length = 77
        text_config = tf.CLIPTextConfig(
            vocab_size=max(len(tokenizer), 64),
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=2,
            num_hidden_layers=2,
            projection_dim=32,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        text_encoder = tf.CLIPTextModel(text_config)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    scheduler = df.PNDMScheduler(skip_prk_steps=True)
    common = dict(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler)
    if pipeline in ("StableDiffusionControlNetPipeline",):
        controlnet = df.ControlNetModel(**_controlnet_kwargs())
        pipe = df.StableDiffusionControlNetPipeline(
            **common,
            controlnet=controlnet,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    elif pipeline == "TextToVideoSDPipeline":
        unet3d = df.UNet3DConditionModel(
            block_out_channels=(16, 32),
            layers_per_block=1,
            sample_size=8,
            in_channels=4,
            out_channels=4,
            down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
            up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
            cross_attention_dim=32,
            attention_head_dim=4,
            norm_num_groups=8,
        )
        pipe = df.TextToVideoSDPipeline(
            unet=unet3d, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=df.DDIMScheduler()
        )
    elif pipeline in ("StableDiffusionUpscalePipeline",):
        up_unet = df.UNet2DConditionModel(
            **{**_unet_kwargs(), "in_channels": 7}, num_class_embeds=1000, class_embed_type=None
        )
        pipe = df.StableDiffusionUpscalePipeline(
            unet=up_unet,
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            low_res_scheduler=df.DDPMScheduler(),
            scheduler=df.DDIMScheduler(),
            max_noise_level=350,
        )
    elif pipeline in ("StableDiffusionInpaintPipeline",):
        inpaint_unet = df.UNet2DConditionModel(**{**_unet_kwargs(), "in_channels": 9})
        pipe = df.StableDiffusionInpaintPipeline(
            **{**common, "unet": inpaint_unet},
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    elif pipeline == "StableDiffusionInstructPix2PixPipeline":
        p2p_unet = df.UNet2DConditionModel(**{**_unet_kwargs(), "in_channels": 8})
        pipe = df.StableDiffusionInstructPix2PixPipeline(
            **{**common, "unet": p2p_unet},
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    elif pipeline == "StableDiffusionImageVariationPipeline":  # conditioned on a CLIP image embedding
        vision_config = tf.CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=2,
            num_hidden_layers=2,
            projection_dim=32,
            image_size=224,
            patch_size=32,
        )
        pipe = df.StableDiffusionImageVariationPipeline(
            vae=vae,
            image_encoder=tf.CLIPVisionModelWithProjection(vision_config),
            unet=unet,
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=tf.CLIPImageProcessor(),
            requires_safety_checker=False,
        )
    else:
        cls = getattr(df, pipeline, df.StableDiffusionPipeline)
        try:
            pipe = cls(**common, safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        except TypeError:
            pipe = df.StableDiffusionPipeline(
                **common, safety_checker=None, feature_extractor=None, requires_safety_checker=False
            )
    pipe.save_pretrained(out)


def _unet_kwargs() -> dict:
    return dict(
        block_out_channels=(16, 32),
        layers_per_block=1,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=4,
        norm_num_groups=8,
    )


def _controlnet_kwargs() -> dict:
    kwargs = {
        k: v for k, v in _unet_kwargs().items() if k not in ("sample_size", "out_channels", "up_block_types")
    }
    return {**kwargs, "conditioning_embedding_out_channels": (16, 32)}


def build_files(files: list[str], out: str, inputs: str, csv_sep: str | None = None) -> None:
    """Files a repo is downloaded for (`hf_hub_download(repo, 'model.joblib')`): the sample of
    that type, under that name. CSVs are written with the delimiter the code reads them with
    (`pd.read_csv(path, sep=';')`: the UCI wine-quality file is semicolon-separated)."""
    import csv

    from sandbox_site import SAMPLE_FOR  # beside this file (main puts it on sys.path)

    for name in files:
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        sample = SAMPLE_FOR.get(ext)
        if sample:
            target = os.path.join(out, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if ext == "csv" and csv_sep and csv_sep != ",":
                with (
                    open(os.path.join(inputs, sample), newline="") as src,
                    open(target, "w", newline="") as dst,
                ):
                    csv.writer(dst, delimiter=csv_sep).writerows(csv.reader(src))
            else:
                shutil.copyfile(os.path.join(inputs, sample), target)


def csv_sep(item: dict) -> str | None:
    return next((x.split(":", 1)[1] for x in item["loaders"] if x.startswith("csvsep:")), None)


def link_legacy_downloads(hub: str, model_id: str, snapshot: str) -> None:
    """huggingface_hub's legacy `cached_download(hf_hub_url(repo, name))` (and asteroid, through it)
    looks a file up in the cache directory under `url_to_filename(url)`, not in the repository's
    snapshot: a relative link under that name for each of the snapshot's top-level files."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.file_download import url_to_filename

    for name in sorted(os.listdir(snapshot)):
        path = os.path.join(snapshot, name)
        if not os.path.isfile(path) or name == "GORILLA_STANDIN.json":
            continue
        link = os.path.join(hub, url_to_filename(hf_hub_url(model_id, name)))
        if not os.path.lexists(link):
            os.symlink(os.path.relpath(path, hub), link)


def hub_pipeline_tag(index: Index, domain: str) -> str | None:
    """The Hub's `pipeline_tag` of an id, from its API-database domain ("Natural Language
    Processing Text Classification" -> "text-classification"): the longest tail of the domain that
    is a pipeline task. `pipeline(model=id)` without a task asks the Hub for it."""
    words = domain.lower().replace("-", " ").split()
    for start in range(len(words)):
        task = "-".join(words[start:])
        if index.task_info(task)[0]:
            return task
    return None


TIMM_MAX_PARAMS = 30_000_000  # real timm architectures cannot be shrunk (weights must fit the name)


def timm_name(model_id: str) -> str:
    return model_id.split("/", 1)[1] if model_id.startswith("timm/") else model_id.split("/")[-1]


def build_timm(model_id: str, out: str) -> None:
    """A timm checkpoint with random weights of the architecture the name says, in the layout
    `timm.create_model(name, pretrained=True)` reads from the Hub (installed under the id and
    under the Hub id its pretrained config names: `Builder._extra_ids`)."""
    import timm
    from safetensors.torch import save_file

    _seed(model_id)
    name = timm_name(model_id)
    model = timm.create_model(name, pretrained=False)
    params = sum(p.numel() for p in model.parameters())
    if params > TIMM_MAX_PARAMS:
        raise ValueError(f"timm {name} has {params / 1e6:.0f}M parameters: too large for a stand-in")
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(out, "model.safetensors")
    )
    cfg = dict(model.pretrained_cfg or {})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(
            {"architecture": name.split(".")[0], "num_classes": model.num_classes, "pretrained_cfg": cfg},
            f,
            default=str,
        )
    _mark(out, {"kind": "timm", "name": name}, params=params)


# ----------------------------------------------------------------------------- cache layout + main


# ------------------------------------------------------------ libraries that read the Hub themselves


def _tiny_yolo_cfg(path: str, classes: int) -> dict:
    """A YOLO model yaml at 1/16 of its width, for `classes` classes."""
    import yaml

    with open(path) as f:
        cfg = yaml.safe_load(f)
    cfg.update(width_multiple=0.0625, nc=classes)
    return cfg


def _save_yolo(out: str, model, config: dict, **extra) -> None:
    """`best.pt` as the YOLO libraries' training checkpoint (the pickled half-precision model; no
    optimizer state), and the repository's config.json."""
    import torch

    checkpoint = {"epoch": -1, "best_fitness": None, "model": model.half(), "ema": None, "updates": None}
    torch.save(
        {**checkpoint, "optimizer": None, "date": "2023-05-01T00:00:00", **extra},
        os.path.join(out, "best.pt"),
    )
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({**config, "names": model.names}, f)


def build_yolo(task: str, out: str) -> None:
    """ultralyticsplus's `YOLO("org/name")` downloads `best.pt` (and lists the repository's files):
    a YOLOv8 of the task at 1/16 of yolov8n's width (0.4 M parameters), seeded, saved as the
    training checkpoint ultralytics 8.0 writes (the pickled model plus its train args)."""
    import ultralytics
    from ultralytics.nn.tasks import DetectionModel, SegmentationModel
    from ultralytics.yolo.utils import DEFAULT_CFG_DICT

    name = os.path.join("seg", "yolov8n-seg.yaml") if task == "segment" else "yolov8n.yaml"
    labels = ["object", "background"] if task == "detect" else ["region"]
    cfg = _tiny_yolo_cfg(os.path.join(ultralytics.__path__[0], "models", "v8", name), len(labels))
    _seed(f"yolo:{task}")
    model = (SegmentationModel if task == "segment" else DetectionModel)(
        cfg, ch=3, nc=len(labels), verbose=False
    )
    model.names = dict(enumerate(labels))
    model.args = {**DEFAULT_CFG_DICT, "task": task, "model": name, "imgsz": 640}
    _save_yolo(out, model, {"task": task}, train_args=model.args, version=ultralytics.__version__)


def build_yolov5(out: str) -> None:
    """yolov5's `yolov5.load("org/name")` lists the repository and downloads its .pt: a YOLOv5 at
    1/16 of yolov5n's width, seeded, saved as yolov5's training checkpoint (the pickled model)."""
    import yolov5
    from yolov5.models.yolo import DetectionModel

    cfg = _tiny_yolo_cfg(os.path.join(yolov5.__path__[0], "models", "yolov5n.yaml"), 2)
    _seed("yolov5:detect")
    model = DetectionModel(cfg, ch=3, nc=2)
    model.names = {0: "object", 1: "background"}
    _save_yolo(out, model, {"model": "yolov5n"})


FLAIR_TAGS = {
    "ner": ["PER", "LOC", "ORG", "MISC"],
    "ner-ontonotes": [
        "CARDINAL",
        "DATE",
        "EVENT",
        "FAC",
        "GPE",
        "LANGUAGE",
        "LAW",
        "LOC",
        "MONEY",
        "NORP",
        "ORDINAL",
        "ORG",
        "PERCENT",
        "PERSON",
        "PRODUCT",
        "QUANTITY",
        "TIME",
        "WORK_OF_ART",
    ],
    "upos": [
        "ADJ",
        "ADP",
        "ADV",
        "AUX",
        "CCONJ",
        "DET",
        "INTJ",
        "NOUN",
        "NUM",
        "PART",
        "PRON",
        "PROPN",
        "PUNCT",
        "SCONJ",
        "SYM",
        "VERB",
        "X",
    ],
    "pos": [
        "NN",
        "NNS",
        "NNP",
        "VB",
        "VBD",
        "VBZ",
        "JJ",
        "RB",
        "IN",
        "DT",
        "PRP",
        "PRP$",
        "CD",
        "CC",
        "TO",
        ",",
        ".",
        ":",
    ],
    "frame": ["go.01", "be.01", "have.01", "say.01", "make.01", "take.01"],
    "np": ["NP", "VP", "PP", "ADJP", "ADVP", "SBAR", "PRT"],
}
FLAIR_SPANS = {"ner", "ner-ontonotes", "np"}  # tagged in BIOES, read back as spans


def flair_tag_type(model_id: str) -> str:
    """The tag set a flair id's name says: `flair/upos-english` -> upos, `.../ner-english-ontonotes`
    -> OntoNotes' 18 entity types; NER otherwise."""
    name = model_id.split("/")[-1].lower()
    for key, tag_type in (("upos", "upos"), ("pos", "pos"), ("frame", "frame"), ("chunk", "np")):
        if key in name.split("-"):
            return tag_type
    return "ner-ontonotes" if "ontonotes" in name else "ner"


def build_flair(tag_type: str, out: str) -> None:
    """flair's `SequenceTagger.load("org/name")` downloads `pytorch_model.bin`: a tagger on
    character embeddings (nothing to download: the character dictionary is given, not
    `Dictionary.load("common-chars")`), 8 hidden units, CRF, seeded, saved by flair itself."""
    import string

    import torch
    from flair.data import Dictionary
    from flair.embeddings import CharacterEmbeddings
    from flair.models import SequenceTagger

    tags = Dictionary(add_unk=False)
    if tag_type in FLAIR_SPANS:
        tags.add_item("O")
    for label in FLAIR_TAGS[tag_type]:
        for prefix in ("S-", "B-", "E-", "I-") if tag_type in FLAIR_SPANS else ("",):
            tags.add_item(prefix + label)
    chars = Dictionary(add_unk=True)
    for char in string.printable + "äöüÄÖÜßéèàçñ€":
        chars.add_item(char)
    _seed(f"flair:{tag_type}")
    tagger = SequenceTagger(
        embeddings=CharacterEmbeddings(path_to_char_dict=chars, char_embedding_dim=8, hidden_size_char=8),
        tag_dictionary=tags,
        tag_type=tag_type.split("-")[0],
        hidden_size=8,
        use_crf=True,
        use_rnn=True,
    )
    tagger.eval()
    with torch.no_grad():
        tagger.save(os.path.join(out, "pytorch_model.bin"))


def install_flair(root: str, model_id: str, template: str) -> None:
    """flair downloads into a cache of its own: `$FLAIR_CACHE_ROOT/models/<name>/` in the
    huggingface_hub layout (`hf_hub_download(..., cache_dir=...)`)."""
    install(os.path.join(root, "models", model_id.split("/", 1)[1]), model_id, template, cache_dir=True)


def snapshot_dir(root: str, model_id: str, cache_dir: bool = False) -> str:
    """The id's snapshot under `root` as HF_HOME (`root/hub/...`), or as a `cache_dir=` argument."""
    hub = root if cache_dir else os.path.join(root, "hub")
    return os.path.join(hub, "models--" + model_id.replace("/", "--"), "snapshots", REVISION)


def link_tree(src: str, dst: str) -> None:
    """Hard-link every file of `src` into `dst` (copies across file systems)."""
    for base, _, files in os.walk(src):
        rel = os.path.relpath(base, src)
        target_dir = os.path.normpath(os.path.join(dst, rel))
        os.makedirs(target_dir, exist_ok=True)
        for name in files:
            target = os.path.join(target_dir, name)
            if os.path.exists(target):
                continue
            try:
                os.link(os.path.join(base, name), target)
            except OSError:
                shutil.copy2(os.path.join(base, name), target)


def install(
    root: str, model_id: str, template: str, cache_dir: bool = False, revisions: list[str] | None = None
) -> None:
    """Link the template in as the id's snapshot; `main` and every named revision point at it
    (pyannote answers ask for `pyannote/speaker-diarization@2.1`)."""
    snap = snapshot_dir(root, model_id, cache_dir)
    link_tree(template, snap)
    refs = os.path.join(os.path.dirname(os.path.dirname(snap)), "refs")
    os.makedirs(refs, exist_ok=True)
    for revision in dict.fromkeys(["main", *(revisions or [])]):
        with open(os.path.join(refs, revision), "w") as f:
            f.write(REVISION)


def verify(index: Index, item: dict, recipe: dict, directory: str) -> list[str]:
    """Load the stand-in with every transformers class the plan names; what fails is reported
    (and kept: some answers load an id with a class that fails on the real model too, such as
    a tokenizer for a vision model)."""
    errors = []
    if recipe["kind"] != "transformers":
        return errors
    for name in item["classes"]:
        cls = getattr(index.tf, name, None)
        if cls is not None and hasattr(cls, "from_pretrained") and not name.startswith(("TF", "Flax")):
            try:
                cls.from_pretrained(directory)
            except Exception as exc:
                errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
    return errors


def plan_item(plan: list[dict], by_id: dict[str, dict], model_id: str, source: str) -> dict:
    """The plan's item for `model_id`, added (in `huggingface.collect`'s shape) if the planner had
    none: ids the builder itself knows the world needs."""
    item = by_id.get(model_id)
    if item is None:
        item = {
            "id": model_id,
            "classes": [],
            "tasks": [],
            "files": [],
            "loaders": [],
            "sources": [source],
            "hints": {},
        }
        by_id[model_id] = item
        plan.append(item)
    return item


def add_pipeline_defaults(plan: list[dict]) -> list[dict]:
    """`pipeline("task")` without a model loads the task's default model (transformers 4.36's
    `SUPPORTED_TASKS`): those ids are part of the API world too."""
    from transformers.pipelines import SUPPORTED_TASKS

    by_id = {item["id"]: item for item in plan}
    for task, info in SUPPORTED_TASKS.items():
        defaults = info.get("default") or {}
        models = (
            [defaults["model"]]
            if "model" in defaults
            else [v["model"] for v in defaults.values() if isinstance(v, dict) and "model" in v]
        )
        for model in models:
            model_id = model.get("pt", (None,))[0] if isinstance(model, dict) else None
            if not model_id:
                continue
            item = plan_item(plan, by_id, model_id, "pipeline-default")
            if task not in item["tasks"]:
                item["tasks"].append(task)
    return plan


def add_pyannote_references(plan: list[dict]) -> list[dict]:
    """The models the pyannote pipelines' config.yaml name (segmentation, embedding) are part of
    the world too, loaded the way the pipeline loads them."""
    from standins_pyannote import extra_ids

    by_id = {item["id"]: item for item in plan}
    for reference in extra_ids():
        model_id = reference.split("@")[0]
        loader = "speechbrain:EncoderClassifier" if model_id.startswith("speechbrain/") else "pyannote"
        item = plan_item(plan, by_id, model_id, "pyannote")
        if loader not in item["loaders"]:
            item["loaders"].append(loader)
    return plan


def template_key(item: dict, recipe: dict) -> str:
    if recipe["kind"] == "files":
        return "files:" + ",".join(sorted(item["files"])) + (f":sep={csv_sep(item)}" if csv_sep(item) else "")
    if recipe["kind"] == "timm":
        return "timm:" + timm_name(item["id"])
    if recipe["kind"] == "sb3":  # the zips are named after the id and the files answers ask for
        return "sb3:" + item["id"] + ":" + ",".join(sorted(item["files"]))
    return json.dumps(recipe, sort_keys=True)


SENTENCE_BASE = {
    "kind": "transformers",
    "model_type": "bert",
    "cls": None,
    "autos": [],
    "tasks": ["feature-extraction"],
    "labels": "default",
}


class Builder:
    """Builds the world's stand-ins into `out`: one template per distinct recipe (a failed
    template fails every id that needs it), hard-linked into each id's snapshot."""

    def __init__(self, out: str, inputs: str):
        self.inputs = inputs
        self.hf_root = os.path.join(out, "huggingface")
        self.st_root = os.path.join(out, "sentence_transformers")
        self.flair_root = os.path.join(out, "flair")
        self.templates_root = os.path.join(out, "templates")
        for d in (self.hf_root, self.st_root, self.flair_root, self.templates_root):
            os.makedirs(d, exist_ok=True)
        self.index = Index()
        self.templates: dict[str, str | Exception] = {}
        self.pipeline_tags: dict[str, str] = {}  # what the offline Hub answers for an id's task

    def build_template(self, item: dict, recipe: dict) -> tuple[str, list[str]]:
        """The template directory for `recipe`, and the extra ids it answers to (timm's Hub ids)."""
        key = template_key(item, recipe)
        if key in self.templates:
            value = self.templates[key]
            if isinstance(value, Exception):
                raise value
            return value, self._extra_ids(item, recipe)
        directory = os.path.join(self.templates_root, hashlib.sha256(key.encode()).hexdigest()[:16])
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        try:
            kind = recipe["kind"]
            if kind == "transformers":
                build_transformers(self.index, recipe, directory)
                if recipe.get("onnx"):
                    from standins_libs import export_onnx

                    export_onnx(directory, recipe["onnx"])
            elif kind == "asteroid":
                from standins_libs import build_asteroid

                build_asteroid(recipe, directory, seed=SEED)
            elif kind == "sb3":
                from standins_libs import build_sb3

                build_sb3(recipe, directory, item["files"], seed=SEED)
            elif kind == "diffusers":
                build_diffusers(recipe["pipeline"], directory)
            elif kind == "files":
                build_files(item["files"], directory, self.inputs, csv_sep(item))
            elif kind == "timm":
                build_timm(item["id"], directory)
            elif kind == "ultralytics":
                build_yolo(recipe["task"], directory)
            elif kind == "yolov5":
                build_yolov5(directory)
            elif kind == "flair":
                build_flair(recipe["tag_type"], directory)
            elif kind == "pyannote":
                from standins_pyannote import build_pyannote

                build_pyannote(recipe["recipe"], directory, seed=SEED)
            elif kind == "speechbrain":
                from standins_speechbrain import build_recipe

                _seed(key)
                build_recipe(recipe, directory, seed=SEED)
            else:
                raise ValueError(f"no stand-in recipe for {kind} models")
        except Exception as exc:
            self.templates[key] = exc
            shutil.rmtree(directory, ignore_errors=True)
            raise
        self.templates[key] = directory
        return directory, self._extra_ids(item, recipe)

    @staticmethod
    def _extra_ids(item: dict, recipe: dict) -> list[str]:
        if recipe["kind"] != "timm":
            return []
        import timm

        cfg = timm.models.get_pretrained_cfg(timm_name(item["id"]))
        hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
        return [hub_id] if hub_id and hub_id != item["id"] else []

    def build(self, item: dict) -> dict:
        """Build one plan item; the report entry says what it became (or why it could not)."""
        model_id = item["id"]
        try:
            recipe = resolve(item, self.index)
        except Exception as exc:
            recipe = {"kind": "none", "why": f"resolve: {type(exc).__name__}: {exc}"}
        entry: dict = {"recipe": recipe}
        try:
            if recipe["kind"] == "none":
                raise ValueError(recipe["why"])
            if recipe["kind"] == "sentence_transformers":
                template, _ = self.build_template(item, SENTENCE_BASE)
                install(self.hf_root, model_id, template)
                st_name = model_id if "/" in model_id else f"sentence-transformers/{model_id}"
                st_dir = os.path.join(self.st_root, st_name.replace("/", "_"))
                if not os.path.exists(st_dir):
                    build_sentence_transformers(self.index, model_id, st_dir, template)
            else:
                template, extra_ids = self.build_template(item, recipe)
                if item["files"] and recipe["kind"] != "files":
                    build_files(item["files"], template, self.inputs)  # extra files the code downloads
                problems = verify(self.index, item, recipe, template)
                if problems:
                    entry["verify_errors"] = problems
                for target_id in dict.fromkeys([model_id, *extra_ids]):
                    if recipe["kind"] == "flair":
                        install_flair(self.flair_root, target_id, template)
                    else:
                        install(
                            self.hf_root,
                            target_id,
                            template,
                            revisions=[
                                *recipe.get("recipe", {}).get("revisions", []),
                                *(x.split(":", 1)[1] for x in item["loaders"] if x.startswith("revision:")),
                            ],
                        )
                        if item["files"] or recipe["kind"] in ("files", "asteroid"):
                            link_legacy_downloads(
                                os.path.join(self.hf_root, "hub"),
                                target_id,
                                snapshot_dir(self.hf_root, target_id),
                            )
                        tag = hub_pipeline_tag(self.index, (item.get("hints") or {}).get("domain") or "")
                        if tag and recipe["kind"] == "transformers":
                            self.pipeline_tags[target_id] = tag
            entry["ok"] = True
        except Exception as exc:
            entry["ok"] = False
            entry["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            entry["trace"] = traceback.format_exc(limit=-3)[-800:]
        return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plan", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--inputs", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "inputs")
    )
    parser.add_argument("--only", nargs="*", help="build only these ids (debugging)")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch
    from tqdm import tqdm

    torch.set_num_threads(1)
    with open(args.plan) as f:
        plan = add_pyannote_references(add_pipeline_defaults(json.load(f)))
    if args.only:
        plan = [item for item in plan if item["id"] in set(args.only)]
    builder = Builder(args.out, args.inputs)
    start = time.monotonic()
    items = {}
    for item in tqdm(plan, desc="huggingface stand-ins", unit="id", file=sys.stderr, mininterval=5):
        items[item["id"]] = builder.build(item)
    from standins_datasets import build_all

    built_datasets = build_all(os.path.join(builder.hf_root, "datasets"), args.inputs)
    report = {
        "built": sum(e["ok"] for e in items.values()),
        "failed": sum(not e["ok"] for e in items.values()),
        "items": items,
        "datasets": built_datasets,
        "templates": {k: (v if isinstance(v, str) else f"failed: {v}") for k, v in builder.templates.items()},
        "build_s": round(time.monotonic() - start, 1),
    }
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    from sandbox_site import PIPELINE_TAGS  # the name the sandbox reads (id -> the Hub's pipeline_tag)

    with open(os.path.join(builder.hf_root, PIPELINE_TAGS), "w") as f:
        json.dump(builder.pipeline_tags, f, indent=0, sort_keys=True)
    datasets_ok = sum(v == "ok" for v in report["datasets"].values())
    print(
        f"huggingface stand-ins: {report['built']} built, {report['failed']} failed, "
        f"{len(builder.templates)} templates, {datasets_ok}/{len(report['datasets'])} datasets, "
        f"{report['build_s']} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
