"""An offline model cache for the sandbox: tiny random models saved under the ids snippets load.

APIBench code calls `from_pretrained("bert-base-uncased")`, `pipeline(..., model=ID)` or
`torch.hub.load("pytorch/vision", "resnet50")`. Executing it offline needs *something* under those
ids, and downloading real weights is neither possible here nor needed to learn whether the code
runs. So we save small randomly initialised models of the right family (BERT, GPT-2, BART, T5,
ViT) in the Hugging Face cache layout (`HF_HOME/hub/models--ORG--NAME/snapshots/REV`, with
`refs/main`), and the TorchHub stand-in world (`TORCH_HOME/hub/OWNER_REPO_REF/hubconf.py`, every
entry of the hub's API database: gorilla_rlaif.harness.world.torchhub). Mounted read-only at /cache,
ids that are in it load; ids that are not raise the hub's own "not found offline" error, which the
harness classifies as `hub_error`.

The cache is written once: `huggingface_hub` has no public call that installs local files as a
cached revision, so the layout is written directly (it is documented and stable).
"""

from __future__ import annotations

import ast
import hashlib
import logging
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

REVISION = "0" * 40  # the commit hash the cache files claim; any 40-hex string works offline
HF_DIR = "huggingface"
TORCH_DIR = "torch"
HF_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
TORCH_REPO = re.compile(r"^[\w.\-]+/[\w.\-]+(:[\w.\-/]+)?$")

# First matching keyword (in the lower-cased id) picks the family; BERT otherwise (encoder models
# serve most APIBench tasks: classification, fill-mask, QA, token classification, embeddings).
FAMILIES = (
    ("distilbert", "bert"),
    ("roberta", "bert"),
    ("vit", "vit"),
    ("deit", "vit"),
    ("beit", "vit"),
    ("t5", "t5"),
    ("bart", "bart"),
    ("pegasus", "bart"),
    ("opus-mt", "bart"),
    ("gpt", "gpt2"),
    ("opt-", "gpt2"),
    ("codegen", "gpt2"),
    ("llama", "gpt2"),
    ("bloom", "gpt2"),
)


def family(model_id: str) -> str:
    low = model_id.lower()
    for keyword, fam in FAMILIES:
        if keyword in low:
            return fam
    return "bert"


def _tokenizer(kind: str):
    """A small tokenizer per kind, trained in well under a second on a fixed text."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    text = [
        "the quick brown fox jumps over the lazy dog . hello world ! translate english to french : "
        "summarize : question answer context image classification sentiment positive negative "
        + " ".join(chr(c) for c in range(33, 127))
    ] * 4
    if kind == "wordpiece":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        tok.train_from_iterator(text, trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials))
        cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B [SEP]",
            special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
        )
        return PreTrainedTokenizerFast(
            tokenizer_object=tok,
            unk_token="[UNK]",
            pad_token="[PAD]",
            cls_token="[CLS]",
            sep_token="[SEP]",
            mask_token="[MASK]",
        )
    if kind == "unigram":  # T5's tokenizer class rebuilds a Unigram model from the saved vocab
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        tok.train_from_iterator(
            text,
            trainers.UnigramTrainer(
                vocab_size=200, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"
            ),
        )
        return PreTrainedTokenizerFast(
            tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
        )
    specials = ["<pad>", "</s>", "<s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        text,
        trainers.BpeTrainer(
            vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="</s>",
        bos_token="<s>",
        unk_token="<unk>",
        mask_token="<mask>",
    )


def _model_and_processor(fam: str, tokenizers: dict):
    import transformers as tf

    small = {"num_hidden_layers": 1, "num_attention_heads": 2, "hidden_size": 32, "intermediate_size": 64}
    if fam == "vit":
        config = tf.ViTConfig(image_size=32, patch_size=8, num_labels=2, **small)
        model = tf.ViTForImageClassification(config)
        processor = tf.ViTImageProcessor(size={"height": 32, "width": 32})
        return model, processor
    if fam == "bert":
        tok = tokenizers.setdefault("wordpiece", _tokenizer("wordpiece"))
        config = tf.BertConfig(
            vocab_size=len(tok), max_position_embeddings=512, pad_token_id=tok.pad_token_id, **small
        )
        return tf.BertForMaskedLM(config), tok
    if fam == "t5":
        tok = tokenizers.setdefault("unigram", _tokenizer("unigram"))
        config = tf.T5Config(
            vocab_size=len(tok),
            d_model=32,
            d_kv=16,
            d_ff=64,
            num_layers=1,
            num_heads=2,
            decoder_start_token_id=tok.pad_token_id,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
        )
        return tf.T5ForConditionalGeneration(config), tok
    tok = tokenizers.setdefault("bpe", _tokenizer("bpe"))
    ids = {
        "pad_token_id": tok.pad_token_id,
        "eos_token_id": tok.eos_token_id,
        "bos_token_id": tok.bos_token_id,
    }
    if fam == "gpt2":
        config = tf.GPT2Config(vocab_size=len(tok), n_positions=512, n_embd=32, n_layer=1, n_head=2, **ids)
        return tf.GPT2LMHeadModel(config), tok
    config = tf.BartConfig(
        vocab_size=len(tok),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=512,
        decoder_start_token_id=tok.eos_token_id,
        **ids,
    )
    return tf.BartForConditionalGeneration(config), tok


def _hf_snapshot(cache_dir: Path, model_id: str) -> Path:
    repo = cache_dir / HF_DIR / "hub" / ("models--" + model_id.replace("/", "--"))
    return repo / "snapshots" / REVISION


def build_model_cache(
    cache_dir: str | Path,
    hf_models: Iterable[str] = (),
    torch_hub_models: Iterable[tuple[str, str]] = (),
    *,
    seed: int = 0,
) -> Path:
    """Write tiny models for `hf_models` and, when `torch_hub_models` (`(repo, entry)` pairs such as
    `("pytorch/vision", "resnet50")`) is not empty, the TorchHub stand-in world.

    Layout: `cache_dir/huggingface` is an HF_HOME, `cache_dir/torch` a TORCH_HOME (the sandbox
    mounts `cache_dir` at /cache and points both variables there). Ids already present are
    skipped, so calling it again with more ids extends the cache. Returns `cache_dir`.
    """
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    cache_dir = Path(cache_dir)
    tokenizers: dict = {}
    for model_id in dict.fromkeys(hf_models):
        if not HF_ID.match(model_id):
            log.warning("skipping %r: not a Hugging Face model id", model_id)
            continue
        snapshot = _hf_snapshot(cache_dir, model_id)
        if (snapshot / "config.json").exists():
            continue
        fam = family(model_id)
        # seed per id: the same id gives the same weights whatever else is in the cache
        torch.manual_seed(seed + int(hashlib.sha256(model_id.encode()).hexdigest()[:8], 16))
        model, processor = _model_and_processor(fam, tokenizers)
        tmp = snapshot.with_name(snapshot.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        shutil.rmtree(snapshot, ignore_errors=True)
        tmp.rename(snapshot)
        refs = snapshot.parent.parent / "refs"
        refs.mkdir(parents=True, exist_ok=True)
        (refs / "main").write_text(REVISION)
        log.info("cached tiny %s model for %s", fam, model_id)

    torch_hub_models = list(torch_hub_models)
    if torch_hub_models:
        # TorchHub: the stand-in world holds every API of the hub's database (not only these ids),
        # built once by gorilla_rlaif.harness.world.torchhub; an entry outside it is a hub error.
        from gorilla_rlaif.harness.world.torchhub import install

        install(cache_dir)
    else:
        hub_dir = cache_dir / TORCH_DIR / "hub"
        hub_dir.mkdir(parents=True, exist_ok=True)
        (hub_dir / "trusted_list").touch()  # torch.hub writes it on first use: the mount is read-only
    (cache_dir / HF_DIR / "hub").mkdir(parents=True, exist_ok=True)
    _make_readable(cache_dir)
    return cache_dir


def _make_readable(root: Path) -> None:
    """The sandbox user (65534 or a random uid) must read the cache: dirs 0755, files 0644."""
    root.chmod(0o755)
    for path in root.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def model_ids_in_code(code: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The Hugging Face ids and torch.hub (repo, entry) pairs a snippet loads with string literals:
    `X.from_pretrained("id")`, `pipeline(task, model="id")` and `torch.hub.load("repo", ...)`.
    Unparseable code yields nothing (it will be a `syntax_error` anyway)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return [], []
    hf: list[str] = []
    torch_models: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        first = _literal(node.args[0]) if node.args else None
        keywords = {k.arg: _literal(k.value) for k in node.keywords if k.arg}
        if name == "from_pretrained":
            candidate = first or keywords.get("pretrained_model_name_or_path")
            if candidate:
                hf.append(candidate)
        elif name == "pipeline":
            for key in ("model", "tokenizer", "feature_extractor"):
                if keywords.get(key):
                    hf.append(keywords[key])
            if len(node.args) > 1 and _literal(node.args[1]):
                hf.append(_literal(node.args[1]))
        elif name == "load" and isinstance(func, ast.Attribute) and "hub" in ast.unparse(func.value):
            repo = first or keywords.get("repo_or_dir")
            entry = (_literal(node.args[1]) if len(node.args) > 1 else None) or keywords.get("model")
            if repo and entry and TORCH_REPO.match(repo):
                torch_models.append((repo, entry))
    return list(dict.fromkeys(hf)), list(dict.fromkeys(torch_models))


def build_model_cache_for(codes: Iterable[str], cache_dir: str | Path, *, seed: int = 0) -> Path:
    """`build_model_cache` for every id the given snippets load (what eval and the pipeline call)."""
    hf: list[str] = []
    repos: list[tuple[str, str]] = []
    for code in codes:
        a, b = model_ids_in_code(code)
        hf += a
        repos += b
    return build_model_cache(cache_dir, hf, repos, seed=seed)
