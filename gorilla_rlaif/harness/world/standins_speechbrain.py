"""Tiny random-weight stand-ins for SpeechBrain 0.5.16 pretrained interfaces.

Each builder writes, into a flat directory ``out`` (meant to be a Hugging Face
hub snapshot directory), a hand-written ``hyperparams.yaml`` that mirrors the
structure of the real SpeechBrain model of that kind (same module / hparam
keys the interface class uses, tiny dimensions) plus the files its
``pretrainer`` fetches: ``<loadable>.ckpt`` for every loadable (written with
the same save hook SpeechBrain's Checkpointer would use) and, for classifiers,
``label_encoder.txt`` (same content as ``label_encoder.ckpt``).

No ``paths:`` are given to the pretrainers, so every file is fetched from the
default source, i.e. the very repo ``from_hparams(source=...)`` was called
with -- nothing points at another hub repo.

Only the standard library is imported at module level.

Usage::

    rec = speechbrain_recipe("speechbrain/sepformer-wsj02mix")
    build_speechbrain(rec["interface"], out_dir, seed=0,
                      sample_rate=rec["sample_rate"], num_spks=rec["num_spks"])
    # or simply
    build_for_id("speechbrain/sepformer-wsj02mix", out_dir)
"""

import os
import shutil
import tempfile

__all__ = [
    "SUPPORTED_INTERFACES",
    "build_for_id",
    "build_speechbrain",
    "speechbrain_recipe",
]

SUPPORTED_INTERFACES = (
    "SepformerSeparation",
    "EncoderClassifier",
    "SpectralMaskEnhancement",
    "WaveformEnhancement",
    "Tacotron2",
    "HIFIGAN",
)

# --------------------------------------------------------------------------
# id -> recipe
# --------------------------------------------------------------------------


def speechbrain_recipe(model_id):
    """Map a hub id to {interface, sample_rate, num_spks, variant}.

    Returns None if the id is not recognised as one of the supported kinds.
    """
    mid = model_id.strip().lower()
    name = mid.rsplit("/", 1)[-1]
    if "sepformer" in name:
        sr = 16000 if "16k" in name else 8000
        spks = 1 if "enhancement" in name else 2
        return {"interface": "SepformerSeparation", "sample_rate": sr, "num_spks": spks, "variant": None}
    if "tacotron2" in name:
        german = "german" in name or name.endswith("-de")
        return {
            "interface": "Tacotron2",
            "sample_rate": 22050,
            "num_spks": None,
            "variant": "german" if german else "english",
        }
    if "hifigan" in name or "hifi-gan" in name:
        return {"interface": "HIFIGAN", "sample_rate": 22050, "num_spks": None, "variant": None}
    if "metricgan" in name:
        return {
            "interface": "SpectralMaskEnhancement",
            "sample_rate": 16000,
            "num_spks": None,
            "variant": None,
        }
    if "mtl-mimic" in name or "mimic" in name:
        return {"interface": "WaveformEnhancement", "sample_rate": 16000, "num_spks": None, "variant": None}
    if "lang-id" in name or "langid" in name or "voxlingua" in name:
        return {
            "interface": "EncoderClassifier",
            "sample_rate": 16000,
            "num_spks": None,
            "variant": "ecapa-langid",
        }
    if "xvect" in name:
        return {
            "interface": "EncoderClassifier",
            "sample_rate": 16000,
            "num_spks": None,
            "variant": "xvector-spkrec",
        }
    if "spkrec" in name or "ecapa" in name:
        return {
            "interface": "EncoderClassifier",
            "sample_rate": 16000,
            "num_spks": None,
            "variant": "ecapa-spkrec",
        }
    return None


def build_for_id(model_id, out, seed=0):
    """Convenience: build the stand-in for a hub id (uses speechbrain_recipe)."""
    rec = speechbrain_recipe(model_id)
    if rec is None:
        raise ValueError(f"no SpeechBrain stand-in recipe for {model_id!r}")
    build_recipe(rec, out, seed)
    return rec


def build_recipe(rec, out, seed=0):
    """Build what `speechbrain_recipe` returned (extra keys, such as a caller's `kind`, ignored)."""
    build_speechbrain(
        rec["interface"],
        out,
        seed=seed,
        sample_rate=rec["sample_rate"],
        num_spks=rec["num_spks"],
        variant=rec["variant"],
    )


# --------------------------------------------------------------------------
# hyperparams.yaml templates (tiny dimensions, real key structure)
# --------------------------------------------------------------------------

_SEPFORMER_YAML = """\
# ################################
# Model: SepFormer (tiny random-weight stand-in)
# Structure mirrors speechbrain/sepformer-* hyperparams.yaml
# ################################

sample_rate: {sample_rate}
num_spks: {num_spks}

# Encoder / Decoder: kernel 16, stride 8 as in the real model
N_encoder_out: 16
kernel_size: 16
kernel_stride: 8

Encoder: !new:speechbrain.lobes.models.dual_path.Encoder
    kernel_size: !ref <kernel_size>
    out_channels: !ref <N_encoder_out>

SBtfintra: !new:speechbrain.lobes.models.dual_path.SBTransformerBlock
    num_layers: 1
    d_model: !ref <N_encoder_out>
    nhead: 2
    d_ffn: 32
    dropout: 0
    use_positional_encoding: True
    norm_before: True

SBtfinter: !new:speechbrain.lobes.models.dual_path.SBTransformerBlock
    num_layers: 1
    d_model: !ref <N_encoder_out>
    nhead: 2
    d_ffn: 32
    dropout: 0
    use_positional_encoding: True
    norm_before: True

MaskNet: !new:speechbrain.lobes.models.dual_path.Dual_Path_Model
    num_spks: !ref <num_spks>
    in_channels: !ref <N_encoder_out>
    out_channels: !ref <N_encoder_out>
    num_layers: 1
    K: 250
    intra_model: !ref <SBtfintra>
    inter_model: !ref <SBtfinter>
    norm: ln
    linear_layer_after_inter_intra: False
    skip_around_intra: True

Decoder: !new:speechbrain.lobes.models.dual_path.Decoder
    in_channels: !ref <N_encoder_out>
    out_channels: 1
    kernel_size: !ref <kernel_size>
    stride: !ref <kernel_stride>
    bias: False

modules:
    encoder: !ref <Encoder>
    decoder: !ref <Decoder>
    masknet: !ref <MaskNet>

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        encoder: !ref <Encoder>
        masknet: !ref <MaskNet>
        decoder: !ref <Decoder>
"""

# The speaker / language classifier both embedding models feed, and what the interface loads.
_CLASSIFIER_TAIL = """\
classifier: !new:speechbrain.lobes.models.Xvector.Classifier
    input_shape: [null, null, !ref <emb_dim>]
    activation: !name:torch.nn.LeakyReLU
    lin_blocks: 1
    lin_neurons: !ref <emb_dim>
    out_neurons: !ref <out_n_neurons>

mean_var_norm_emb: !new:speechbrain.processing.features.InputNormalization
    norm_type: global
    std_norm: False

modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    mean_var_norm_emb: !ref <mean_var_norm_emb>
    classifier: !ref <classifier>

label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        mean_var_norm_emb: !ref <mean_var_norm_emb>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
"""

_XVECTOR_YAML = """\
# ############################################################################
# Model: xvector for speaker recognition (tiny random-weight stand-in)
# Structure mirrors speechbrain/spkrec-xvect-voxceleb hyperparams.yaml
# ############################################################################

# Feature parameters
sample_rate: 16000
n_mels: 24

# Output parameters
out_n_neurons: {n_labels}
emb_dim: 16

# Model params
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>

mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False

embedding_model: !new:speechbrain.lobes.models.Xvector.Xvector
    in_channels: !ref <n_mels>
    activation: !name:torch.nn.LeakyReLU
    tdnn_blocks: 5
    tdnn_channels: [16, 16, 16, 16, 48]
    tdnn_kernel_sizes: [5, 3, 3, 1, 1]
    tdnn_dilations: [1, 2, 3, 1, 1]
    lin_neurons: !ref <emb_dim>

"""


_ECAPA_YAML = """\
# ############################################################################
# Model: ECAPA-TDNN + classifier (tiny random-weight stand-in)
# Structure mirrors speechbrain/lang-id-voxlingua107-ecapa hyperparams.yaml
# ############################################################################

sample_rate: 16000
n_mels: {n_mels}

# Output parameters
out_n_neurons: {n_labels}
emb_dim: 16

# Feature extraction
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>

# Mean and std normalization of the input features
mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False

# Embedding model
embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: [16, 16, 16, 16, 48]
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: 8
    se_channels: 8
    lin_neurons: !ref <emb_dim>

"""


_METRICGAN_YAML = """\
# #################################
# Model: MetricGAN+ (tiny random-weight stand-in)
# Structure mirrors speechbrain/metricgan-plus-voicebank hyperparams.yaml
# #################################

# STFT parameters (same as the real model: 512-point FFT -> 257 bins)
Sample_rate: 16000
N_fft: 512
Window_length: 32
Hop_length: 16
hidden_size: 8

compute_stft: !new:speechbrain.processing.features.STFT
    sample_rate: !ref <Sample_rate>
    n_fft: !ref <N_fft>
    win_length: !ref <Window_length>
    hop_length: !ref <Hop_length>

compute_istft: !new:speechbrain.processing.features.ISTFT
    sample_rate: !ref <Sample_rate>
    n_fft: !ref <N_fft>
    win_length: !ref <Window_length>
    hop_length: !ref <Hop_length>

spectral_magnitude: !name:speechbrain.processing.features.spectral_magnitude
    power: 0.5

resynth: !name:speechbrain.processing.signal_processing.resynthesize
    stft: !ref <compute_stft>
    istft: !ref <compute_istft>

enhance_model: !new:speechbrain.lobes.models.MetricGAN.EnhancementGenerator
    input_size: !ref <N_fft> // 2 + 1
    hidden_size: !ref <hidden_size>
    num_layers: 1
    dropout: 0

# EnhancementGenerator hard-codes linear1 as 400 -> 300 (2 x 200 BLSTM units);
# replace it so the tiny BLSTM (2 x hidden_size) plugs in. The state dict keys
# (linear1.weight / linear1.bias) are unchanged.
shrink_linear1: !apply:setattr
    - !ref <enhance_model>
    - linear1
    - !new:torch.nn.Linear
        - !ref <hidden_size> * 2
        - 300

modules:
    enhance_model: !ref <enhance_model>

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        enhance_model: !ref <enhance_model>
"""

_MIMIC_YAML = """\
# #################################
# Model: EnhanceResnet (MTL-mimic) (tiny random-weight stand-in)
# Structure mirrors speechbrain/mtl-mimic-voicebank hyperparams.yaml
# #################################

sample_rate: 16000
n_fft: 512
win_length: 32
hop_length: 16

enhance_model: !new:speechbrain.lobes.models.EnhanceResnet.EnhanceResnet
    n_fft: !ref <n_fft>
    win_length: !ref <win_length>
    hop_length: !ref <hop_length>
    sample_rate: !ref <sample_rate>
    channel_counts: [4, 4]
    dense_count: 1
    dense_nodes: 16
    activation: !new:torch.nn.GELU
    normalization: !name:speechbrain.nnet.normalization.BatchNorm2d
    dropout: 0.1
    mask_weight: 0.99

modules:
    enhance_model: !ref <enhance_model>

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        enhance_model: !ref <enhance_model>
"""

_TACOTRON2_YAML = """\
################################
# Model: Tacotron2 (tiny random-weight stand-in)
# Structure mirrors speechbrain/tts-tacotron2-ljspeech hyperparams.yaml
################################

# Audio
n_mel_channels: 80
sample_rate: 22050

# Text
text_cleaners: ['{cleaner}']
n_symbols: 148  # fixed by speechbrain.utils.text_to_sequence symbols

# Model (tiny)
mask_padding: True
symbols_embedding_dim: 16
encoder_kernel_size: 5
encoder_n_convolutions: 3
encoder_embedding_dim: 16
attention_rnn_dim: 16
attention_dim: 8
attention_location_n_filters: 4
attention_location_kernel_size: 31
n_frames_per_step: 1
decoder_rnn_dim: 16
prenet_dim: 16
# Random weights never learned to emit a stop token: keep inference bounded.
# gate_threshold 1.0 => never stops early, always max_decoder_steps frames.
max_decoder_steps: 40
gate_threshold: 1.0
p_attention_dropout: 0.1
p_decoder_dropout: 0.1
decoder_no_early_stopping: False
postnet_embedding_dim: 16
postnet_kernel_size: 5
postnet_n_convolutions: 5

model: !new:speechbrain.lobes.models.Tacotron2.Tacotron2
    mask_padding: !ref <mask_padding>
    n_mel_channels: !ref <n_mel_channels>
    n_symbols: !ref <n_symbols>
    symbols_embedding_dim: !ref <symbols_embedding_dim>
    encoder_kernel_size: !ref <encoder_kernel_size>
    encoder_n_convolutions: !ref <encoder_n_convolutions>
    encoder_embedding_dim: !ref <encoder_embedding_dim>
    attention_rnn_dim: !ref <attention_rnn_dim>
    attention_dim: !ref <attention_dim>
    attention_location_n_filters: !ref <attention_location_n_filters>
    attention_location_kernel_size: !ref <attention_location_kernel_size>
    n_frames_per_step: !ref <n_frames_per_step>
    decoder_rnn_dim: !ref <decoder_rnn_dim>
    prenet_dim: !ref <prenet_dim>
    max_decoder_steps: !ref <max_decoder_steps>
    gate_threshold: !ref <gate_threshold>
    p_attention_dropout: !ref <p_attention_dropout>
    p_decoder_dropout: !ref <p_decoder_dropout>
    postnet_embedding_dim: !ref <postnet_embedding_dim>
    postnet_kernel_size: !ref <postnet_kernel_size>
    postnet_n_convolutions: !ref <postnet_n_convolutions>
    decoder_no_early_stopping: !ref <decoder_no_early_stopping>

text_to_sequence: !name:speechbrain.utils.text_to_sequence.text_to_sequence

modules:
    model: !ref <model>

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        model: !ref <model>
"""

_HIFIGAN_YAML = """\
################################
# Model: HiFi-GAN generator (tiny random-weight stand-in)
# Structure mirrors speechbrain/tts-hifigan-ljspeech hyperparams.yaml
################################

sample_rate: 22050
hop_length: 256  # = prod(upsample_factors)

in_channels: 80
out_channels: 1
resblock_type: "1"
resblock_dilation_sizes: [[1, 3, 5], [1, 3, 5], [1, 3, 5]]
resblock_kernel_sizes: [3, 7, 11]
upsample_kernel_sizes: [16, 16, 4, 4]
upsample_initial_channel: 16
upsample_factors: [8, 8, 2, 2]
inference_padding: 5
cond_channels: 0
conv_post_bias: True

generator: !new:speechbrain.lobes.models.HifiGAN.HifiganGenerator
    in_channels: !ref <in_channels>
    out_channels: !ref <out_channels>
    resblock_type: !ref <resblock_type>
    resblock_dilation_sizes: !ref <resblock_dilation_sizes>
    resblock_kernel_sizes: !ref <resblock_kernel_sizes>
    upsample_kernel_sizes: !ref <upsample_kernel_sizes>
    upsample_initial_channel: !ref <upsample_initial_channel>
    upsample_factors: !ref <upsample_factors>
    inference_padding: !ref <inference_padding>
    cond_channels: !ref <cond_channels>
    conv_post_bias: !ref <conv_post_bias>

modules:
    generator: !ref <generator>

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        generator: !ref <generator>
"""

_SPKREC_LABELS = ["id10001", "id10002", "id10003", "id10004", "id10005", "id10006", "id10007", "id10008"]
_LANGID_LABELS = [
    "ar: Arabic",
    "de: German",
    "en: English",
    "es: Spanish",
    "fr: French",
    "hi: Hindi",
    "ru: Russian",
    "th: Thai",
    "zh: Chinese",
]


def _render(interface, sample_rate=None, num_spks=None, variant=None):
    """Return (yaml_text, labels_or_None)."""
    if interface == "SepformerSeparation":
        return _SEPFORMER_YAML.format(sample_rate=int(sample_rate or 8000), num_spks=int(num_spks or 2)), None
    if interface in ("EncoderClassifier", "SpeakerRecognition"):
        if variant in (None, "xvector-spkrec"):
            labels = _SPKREC_LABELS
            return (_XVECTOR_YAML + _CLASSIFIER_TAIL).format(n_labels=len(labels)), labels
        if variant == "ecapa-spkrec":
            labels = _SPKREC_LABELS
            return (_ECAPA_YAML + _CLASSIFIER_TAIL).format(n_mels=80, n_labels=len(labels)), labels
        labels = _LANGID_LABELS  # "ecapa-langid"
        return (_ECAPA_YAML + _CLASSIFIER_TAIL).format(n_mels=60, n_labels=len(labels)), labels
    if interface == "SpectralMaskEnhancement":
        return _METRICGAN_YAML, None
    if interface == "WaveformEnhancement":
        return _MIMIC_YAML, None
    if interface == "Tacotron2":
        cleaner = "german_cleaners" if variant == "german" else "english_cleaners"
        return _TACOTRON2_YAML.format(cleaner=cleaner), None
    if interface == "HIFIGAN":
        return _HIFIGAN_YAML, None
    raise ValueError(f"unsupported SpeechBrain interface {interface!r}; supported: {SUPPORTED_INTERFACES}")


# --------------------------------------------------------------------------
# builder
# --------------------------------------------------------------------------


def _save_loadable(obj, path):
    """Save a loadable exactly as SpeechBrain's Checkpointer would."""
    import torch
    from speechbrain.utils.checkpoints import DEFAULT_SAVE_HOOKS, get_default_hook

    hook = get_default_hook(obj, DEFAULT_SAVE_HOOKS)
    if hook is not None:
        hook(obj, path)
    elif isinstance(obj, torch.nn.Module):
        torch.save(obj.state_dict(), path)
    else:
        raise TypeError(f"don't know how to save loadable {type(obj)}")


def build_speechbrain(interface, out, seed=0, sample_rate=None, num_spks=None, variant=None):
    """Write a tiny random-weight SpeechBrain 0.5.16 model into ``out``.

    interface   : "SepformerSeparation", "EncoderClassifier",
                  "SpectralMaskEnhancement", "WaveformEnhancement",
                  "Tacotron2" or "HIFIGAN".
    out         : flat snapshot directory (created if needed).
    seed        : torch seed used before instantiating the yaml.
    sample_rate, num_spks : SepformerSeparation only (default 8000 / 2);
                  see speechbrain_recipe().
    variant     : EncoderClassifier: "xvector-spkrec" (default),
                  "ecapa-langid", "ecapa-spkrec"; Tacotron2: "english"
                  (default) / "german" (text cleaners).
    """
    import torch
    from hyperpyyaml import load_hyperpyyaml

    yaml_text, labels = _render(interface, sample_rate, num_spks, variant)
    os.makedirs(out, exist_ok=True)

    # Instantiate in a scratch dir so nothing touches cwd.
    with tempfile.TemporaryDirectory(prefix="sb_standin_") as tmp:
        state = torch.random.get_rng_state()
        try:
            torch.manual_seed(seed)
            hparams = load_hyperpyyaml(yaml_text)
            if labels is not None:
                enc = hparams["label_encoder"]
                enc.update_from_iterable(labels)
                enc.expect_len(len(labels))
            loadables = hparams["pretrainer"].loadables
            for name, obj in loadables.items():
                tmp_path = os.path.join(tmp, name + ".ckpt")
                _save_loadable(obj, tmp_path)
                shutil.copyfile(tmp_path, os.path.join(out, name + ".ckpt"))
                if name == "label_encoder":
                    # the real repos ship it as label_encoder.txt
                    shutil.copyfile(tmp_path, os.path.join(out, "label_encoder.txt"))
        finally:
            torch.random.set_rng_state(state)

    with open(os.path.join(out, "hyperparams.yaml"), "w", encoding="utf-8") as f:
        f.write(yaml_text)
