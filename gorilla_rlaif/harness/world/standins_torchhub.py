"""TorchHub stand-ins: offline torch.hub repositories whose entry points return what the real ones do.

This one file is two things.

1. The builder, run by the execution environment's Python (it imports only the standard library and
   the environment's libraries, never gorilla_rlaif):

       python standins_torchhub.py --plan PLAN.json --out DIR

   For every repository of the plan it writes DIR/torch/hub/<owner>_<repo>_<ref>/ (the layout
   torch.hub caches a GitHub repository in) holding a generated `hubconf.py` with exactly the
   planned entry points, and a copy of this file as `_gorilla_torchhub.py` (hard links: one inode
   for all repositories); it lists the repositories in DIR/torch/hub/trusted_list (torch.hub writes
   that file on first use otherwise, and the world is mounted read-only), then loads every entry
   once through `torch.hub.load` and writes DIR/report.json (per entry: built or why not, the type
   it returned, the seconds it took).

2. The stand-in library the generated hubconfs import inside the sandbox. Each entry builds, at
   call time and with weights seeded from its name (the snippet's own random state is left
   alone), an object of the shape the real repository returns: real architectures with random
   weights where the environment's libraries have them (torchvision, timm, transformers), compact
   models of the same family where they do not (their interface, inputs and output shapes are the
   real ones; the docstring of each says what differs), the tuples the real entries return
   (silero: model, decoder, utils), and the utility objects answers call (NVIDIA's processing
   utils, MiDaS transforms, YOLOv5 `Detections`, GAN zoo's `buildNoiseData`/`test`, ...).

Nothing is downloaded: `pretrained=True` is accepted and gives the same random stand-in. Where the
real code moves tensors to a GPU inside the library (MEAL-V2's `.cuda()`, NVIDIA's
`prepare_tensor`), the stand-in stays on the CPU: what is measured is the answer's code, and a GPU
call in the answer itself still fails in the CPU-only sandbox. An entry point or a repository the
plan does not hold does not exist, so torch.hub fails on it exactly as it does offline for a name
that is not on GitHub.

Weights are built when an entry is called (not stored): the world is a few hundred KB of code,
built in seconds; the largest entries take ~1.5 s to construct (VGG, 140M parameters).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import os
import sys
import time
import zlib

LIBRARY = "_gorilla_torchhub"  # the module name of this file inside each stand-in repository

COCO_NAMES = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic_light",
    "fire_hydrant",
    "stop_sign",
    "parking_meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports_ball",
    "kite",
    "baseball_bat",
    "baseball_glove",
    "skateboard",
    "surfboard",
    "tennis_racket",
    "bottle",
    "wine_glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot_dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted_plant",
    "bed",
    "dining_table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell_phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy_bear",
    "hair_drier",
    "toothbrush",
]
COCO_NAMES = [name.replace("_", " ") for name in COCO_NAMES]


# ----------------------------------------------------------------------------- shared helpers


@contextlib.contextmanager
def _seeded(key: str):
    """Seed the weights of one stand-in from its name, leaving the caller's random state as it was."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(zlib.crc32(key.encode()))
        yield


def _pop(kwargs: dict, *names: str) -> None:
    for name in names:
        kwargs.pop(name, None)


# Arguments every real entry of these repositories accepts and that change nothing offline.
LOAD_ARGS = ("pretrained", "progress", "map_location", "check_hash", "force_reload", "verbose")


def _model_entry(build, doc: str, *fixed):
    """An entry point that builds `build(*fixed, **kwargs)`, accepting (and ignoring) LOAD_ARGS."""

    def entry(pretrained=True, **kwargs):
        _pop(kwargs, *LOAD_ARGS)
        return build(*fixed, **kwargs)

    entry.__doc__ = doc
    return entry


def _imagenet_categories() -> list[str]:
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def _open_image(uri):
    """An RGB PIL image from a path, a URL (answered by the offline web in the sandbox) or an array."""
    import io

    import numpy as np
    from PIL import Image

    if isinstance(uri, Image.Image):
        return uri.convert("RGB")
    if isinstance(uri, np.ndarray):
        return Image.fromarray(uri.astype("uint8")).convert("RGB")
    uri = str(uri)
    if uri.startswith(("http://", "https://")):
        import urllib.request

        with urllib.request.urlopen(uri) as response:
            return Image.open(io.BytesIO(response.read())).convert("RGB")
    return Image.open(uri).convert("RGB")


# ----------------------------------------------------------------------------- image classifiers


def tv_model(name: str, pretrained: bool = True, progress: bool = True, weights=None, **kwargs):
    """torchvision's own architecture, random weights (`weights`/`pretrained` are accepted and
    validated as torchvision does, nothing is downloaded)."""
    import torchvision

    if weights is not None:
        torchvision.models.get_model_weights(name).verify(weights)
    if name.startswith(("fcn_", "deeplabv3_", "lraspp_")):
        kwargs.setdefault("weights_backbone", None)
        if pretrained or weights is not None:
            kwargs.setdefault("aux_loss", True)
    if name in ("googlenet", "inception_v3"):
        kwargs.setdefault("init_weights", False)
        if pretrained or weights is not None:  # as torchvision sets them for its trained weights
            kwargs.setdefault("transform_input", True)
            kwargs.setdefault("aux_logits", name == "inception_v3")
    return torchvision.models.get_model(name, weights=None, **kwargs)


def resnext_model(layers=(3, 4, 23, 3), groups: int = 32, width: int = 4, **kwargs):
    """A torchvision ResNeXt of the given depth, cardinality and group width."""
    from torchvision.models.resnet import Bottleneck, ResNet

    _pop(kwargs, *LOAD_ARGS, "weights")
    return ResNet(Bottleneck, list(layers), groups=groups, width_per_group=width, **kwargs)


def timm_model(name: str, **kwargs):
    import timm

    _pop(kwargs, *LOAD_ARGS, "weights")
    return timm.create_model(name, pretrained=False, **kwargs)


MEAL_MODELS = {  # MEAL-V2's hubconf: the timm architecture behind each model name
    "mealv1_resnest50": "resnet50",
    "mealv2_resnest50": "resnet50",
    "mealv2_resnest50_cutmix": "resnet50",
    "mealv2_resnest50_380x380": "resnet50",
    "mealv2_mobilenetv3_small_075": "tf_mobilenetv3_small_075",
    "mealv2_mobilenetv3_small_100": "tf_mobilenetv3_small_100",
    "mealv2_mobilenet_v3_large_100": "tf_mobilenetv3_large_100",
    "mealv2_efficientnet_b0": "tf_efficientnet_b0",
}


def meal_v2(model_name, pretrained=True, progress=True):
    """MEAL V2 models (arXiv 2009.08453): `model_name` is one of MEAL_MODELS. Like the real entry,
    a pretrained model comes wrapped in `torch.nn.DataParallel` (the real one also moves it to a GPU)."""
    import torch

    model = timm_model(MEAL_MODELS[model_name.lower()])
    if pretrained:
        model = torch.nn.DataParallel(model)
    return model


def mealv1_resnest50(pretrained=True, progress=True, **kwargs):
    """MEAL V1 ResNet-50 (timm's resnet50 architecture)."""
    return timm_model("resnet50", **kwargs)


# -- HarDNet (Chao et al. 2019): harmonic dense blocks; layouts of the four published models


def hardnet_model(depth: int, depthwise: bool = False, num_classes: int = 1000):
    import torch
    from torch import nn

    def conv(cin, cout, k=3, stride=1):
        return nn.Sequential(
            nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU6(inplace=True)
        )

    def dwconv(cin, stride=1):
        return nn.Sequential(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin))

    def comb(cin, cout):
        return nn.Sequential(conv(cin, cout, 1), dwconv(cout))

    def link(layer, base, growth, mult):
        if layer == 0:
            return base, 0, []
        out, links = growth, []
        for i in range(10):
            if layer % (2**i) == 0:
                links.append(layer - 2**i)
                if i > 0:
                    out *= mult
        out = int(int(out + 1) / 2) * 2
        return out, sum(link(i, base, growth, mult)[0] for i in links), links

    class HarDBlock(nn.Module):
        def __init__(self, cin, growth, mult, n_layers):
            super().__init__()
            self.links, layers, self.out_channels = [], [], 0
            for i in range(n_layers):
                out, inch, links = link(i + 1, cin, growth, mult)
                self.links.append(links)
                layers.append(comb(inch, out) if depthwise else conv(inch, out))
                if i % 2 == 0 or i == n_layers - 1:
                    self.out_channels += out
            self.layers = nn.ModuleList(layers)

        def forward(self, x):
            outs = [x]
            for layer, links in zip(self.layers, self.links, strict=False):
                inputs = [outs[i] for i in links]
                outs.append(layer(torch.cat(inputs, 1) if len(inputs) > 1 else inputs[0]))
            last = len(outs) - 1
            return torch.cat([o for i, o in enumerate(outs) if i == last or i % 2 == 1], 1)

    configs = {
        39: ([24, 48], [96, 320, 640, 1024], 1.6, [16, 20, 64, 160], [4, 16, 8, 4], [1, 1, 1, 0], 0.05),
        68: (
            [32, 64],
            [128, 256, 320, 640, 1024],
            1.7,
            [14, 16, 20, 40, 160],
            [8, 16, 16, 16, 4],
            [1, 0, 1, 1, 0],
            0.1,
        ),
        85: (
            [48, 96],
            [192, 256, 320, 480, 720, 1280],
            1.7,
            [24, 24, 28, 36, 48, 256],
            [8, 16, 16, 16, 16, 4],
            [1, 0, 1, 0, 1, 0],
            0.2,
        ),
    }
    first, channels, mult, growth, n_layers, down, drop = configs[depth]
    base = [conv(3, first[0], 3, 2)]
    base.append(conv(first[0], first[1], 1 if depthwise else 3))
    base.append(dwconv(first[1], 2) if depthwise else nn.MaxPool2d(3, 2, 1))
    cin = first[1]
    for i, n in enumerate(n_layers):
        block = HarDBlock(cin, growth[i], mult, n)
        base += [block, conv(block.out_channels, channels[i], 1)]
        cin = channels[i]
        if down[i] == 1:
            base.append(nn.MaxPool2d(2, 2) if not depthwise else dwconv(cin, 2))
    base.append(
        nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(drop), nn.Linear(cin, num_classes))
    )

    class HarDNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.base = nn.ModuleList(base)

        def forward(self, x):
            for layer in self.base:
                x = layer(x)
            return x

    return HarDNet()


def hardnet(variant: str):
    depth, depthwise = {
        "hardnet39ds": (39, True),
        "hardnet68ds": (68, True),
        "hardnet68": (68, False),
        "hardnet85": (85, False),
    }[variant]

    doc = f"HarDNet-{depth}{' DS (depthwise)' if depthwise else ''}: the published layout, random weights."
    return _model_entry(hardnet_model, doc, depth, depthwise)


# -- IBN-Net (Pan et al. 2018): ResNets whose first bottleneck norm is half InstanceNorm, half BatchNorm


def ibn_model(layers, groups=1, width=64, se=False, num_classes=1000):
    from torch import nn
    from torchvision.models.resnet import Bottleneck, ResNet

    class IBN(nn.Module):
        def __init__(self, planes):
            super().__init__()
            self.half = planes // 2
            self.IN = nn.InstanceNorm2d(self.half, affine=True)
            self.BN = nn.BatchNorm2d(planes - self.half)

        def forward(self, x):
            import torch

            a, b = torch.split(x, [self.half, x.shape[1] - self.half], 1)
            return torch.cat((self.IN(a.contiguous()), self.BN(b.contiguous())), 1)

    class SEBottleneck(Bottleneck):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            width = self.conv3.out_channels
            self.se = nn.Sequential(
                nn.AdaptiveAvgPool2d(1),
                nn.Conv2d(width, width // 16, 1),
                nn.ReLU(inplace=True),
                nn.Conv2d(width // 16, width, 1),
                nn.Sigmoid(),
            )

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            return self.relu(out * self.se(out) + identity)

    model = ResNet(
        SEBottleneck if se else Bottleneck,
        list(layers),
        groups=groups,
        width_per_group=width,
        num_classes=num_classes,
    )
    for stage in (model.layer1, model.layer2, model.layer3):  # IBN-a: not in the last stage
        for block in stage:
            block.bn1 = IBN(block.conv1.out_channels)
    return model


def ibn(variant: str):
    layers, groups, width, se = {
        "resnet50_ibn_a": ((3, 4, 6, 3), 1, 64, False),
        "resnet101_ibn_a": ((3, 4, 23, 3), 1, 64, False),
        "resnext101_ibn_a": ((3, 4, 23, 3), 32, 4, False),
        "se_resnet101_ibn_a": ((3, 4, 23, 3), 1, 64, True),
    }[variant]

    doc = f"{variant}: IBN-a blocks in stages 1-3 (the published layout), random weights."
    return _model_entry(ibn_model, doc, layers, groups, width, se)


# -- SNN-MLP (Li et al. 2022): the published stage layout; token mixing simplified to axial MLPs


def snnmlp_model(dim: int, depths, num_classes: int = 1000):
    import torch
    from torch import nn

    class AxialMix(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.norm = nn.GroupNorm(1, d)
            self.h = nn.Conv2d(d, d, (3, 1), padding=(1, 0), groups=d)
            self.w = nn.Conv2d(d, d, (1, 3), padding=(0, 1), groups=d)
            self.proj = nn.Conv2d(d, d, 1)
            self.norm2 = nn.GroupNorm(1, d)
            self.mlp = nn.Sequential(nn.Conv2d(d, 4 * d, 1), nn.GELU(), nn.Conv2d(4 * d, d, 1))

        def forward(self, x):
            y = self.norm(x)
            x = x + self.proj(torch.relu(self.h(y)) + torch.relu(self.w(y)))
            return x + self.mlp(self.norm2(x))

    class SNNMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch_embed = nn.Conv2d(3, dim, 4, 4)
            stages, d = [], dim
            for i, n in enumerate(depths):
                blocks = [AxialMix(d) for _ in range(n)]
                if i < len(depths) - 1:
                    blocks.append(nn.Conv2d(d, 2 * d, 2, 2))
                    d *= 2
                stages.append(nn.Sequential(*blocks))
            self.layers = nn.ModuleList(stages)
            self.norm = nn.GroupNorm(1, d)
            self.head = nn.Linear(d, num_classes)

        def forward(self, x):
            x = self.patch_embed(x)
            for stage in self.layers:
                x = stage(x)
            return self.head(self.norm(x).mean((2, 3)))

    return SNNMLP()


def snnmlp(variant: str):
    dim, depths = {
        "snnmlp_t": (96, (2, 2, 6, 2)),
        "snnmlp_s": (96, (2, 2, 18, 2)),
        "snnmlp_b": (128, (2, 2, 18, 2)),
    }[variant]

    doc = f"{variant}: SNN-MLP stage layout (dim {dim}, depths {depths}); spiking token mixing simplified."
    return _model_entry(snnmlp_model, doc, dim, depths)


# -- MBConv networks built by timm's EfficientNet builder (ProxylessNAS, GPUNet layouts)

PROXYLESS = {
    "mobile": (
        [
            ["ds_r1_k3_s1_c16"],
            ["ir_r1_k5_s2_e3_c32", "ir_r1_k3_s1_e3_c32"],
            ["ir_r1_k7_s2_e3_c40", "ir_r3_k3_s1_e3_c40"],
            ["ir_r1_k7_s2_e6_c80", "ir_r3_k5_s1_e3_c80"],
            ["ir_r1_k5_s1_e6_c96", "ir_r3_k5_s1_e3_c96"],
            ["ir_r1_k7_s2_e6_c192", "ir_r3_k7_s1_e6_c192"],
            ["ir_r1_k7_s1_e6_c320"],
        ],
        1280,
    ),
    "gpu": (
        [
            ["ds_r1_k3_s1_c24"],
            ["ir_r1_k5_s2_e3_c32"],
            ["ir_r1_k7_s2_e3_c56", "ir_r1_k3_s1_e3_c56"],
            ["ir_r1_k7_s2_e6_c112", "ir_r2_k5_s1_e3_c112"],
            ["ir_r1_k5_s1_e6_c128", "ir_r3_k3_s1_e3_c128"],
            ["ir_r1_k7_s2_e6_c256", "ir_r3_k5_s1_e6_c256"],
            ["ir_r1_k7_s1_e6_c432"],
        ],
        1728,
    ),
    "cpu": (
        [
            ["ds_r1_k3_s1_c24"],
            ["ir_r1_k3_s2_e6_c32", "ir_r3_k3_s1_e3_c32"],
            ["ir_r1_k3_s2_e6_c48", "ir_r3_k3_s1_e3_c48"],
            ["ir_r1_k3_s2_e6_c88", "ir_r3_k3_s1_e3_c88"],
            ["ir_r1_k5_s1_e6_c104", "ir_r3_k3_s1_e3_c104"],
            ["ir_r1_k5_s2_e6_c216", "ir_r3_k5_s1_e3_c216"],
            ["ir_r1_k5_s1_e6_c360"],
        ],
        1432,
    ),
}
GPUNET = {  # GPUNet model types of NVIDIA's hub entry; layouts approximated with MBConv/FusedMBConv stages
    "GPUNet-0": (
        [
            ["cn_r1_k3_s1_c24"],
            ["er_r2_k3_s2_e4_c32"],
            ["er_r2_k3_s2_e4_c64"],
            ["ir_r3_k3_s2_e4_c128"],
            ["ir_r3_k5_s1_e6_c160"],
            ["ir_r4_k5_s2_e6_c256"],
            ["ir_r1_k3_s1_e6_c384"],
        ],
        1280,
    ),
    "GPUNet-1": (
        [
            ["cn_r1_k3_s1_c24"],
            ["er_r2_k3_s2_e4_c32"],
            ["er_r2_k3_s2_e4_c80"],
            ["ir_r3_k3_s2_e4_c144"],
            ["ir_r4_k5_s1_e6_c176"],
            ["ir_r5_k5_s2_e6_c288"],
            ["ir_r1_k3_s1_e6_c448"],
        ],
        1280,
    ),
    "GPUNet-2": (
        [
            ["cn_r1_k3_s1_c32"],
            ["er_r3_k3_s2_e4_c40"],
            ["er_r3_k3_s2_e4_c96"],
            ["ir_r4_k3_s2_e4_c176"],
            ["ir_r5_k5_s1_e6_c224"],
            ["ir_r6_k5_s2_e6_c320"],
            ["ir_r1_k3_s1_e6_c512"],
        ],
        1280,
    ),
}
for _name in ("GPUNet-P0", "GPUNet-D1"):
    GPUNET[_name] = GPUNET["GPUNet-1"]
for _name in ("GPUNet-P1", "GPUNet-D2"):
    GPUNET[_name] = GPUNET["GPUNet-2"]


def mbconv_model(arch_def, num_features: int, num_classes: int = 1000, act="relu6"):
    from timm.layers import get_act_layer
    from timm.models._efficientnet_builder import decode_arch_def
    from timm.models.efficientnet import EfficientNet

    return EfficientNet(
        block_args=decode_arch_def(arch_def),
        num_features=num_features,
        stem_size=32,
        num_classes=num_classes,
        act_layer=get_act_layer(act),
    )


def proxyless(target: str):
    arch, features = PROXYLESS[target]

    doc = (
        f"ProxylessNAS ({target}): MBConv network searched for {target}; layout approximated, random weights."
    )
    return _model_entry(mbconv_model, doc, arch, features)


def nvidia_gpunet(pretrained=True, model_type="GPUNet-0", model_math="fp32", **kwargs):
    """NVIDIA GPUNet of `model_type` (GPUNet-0/1/2, -P0/-P1, -D1/-D2), `model_math` fp32 or fp16."""
    if model_type not in GPUNET:
        raise ValueError(f"model_type {model_type!r} is not one of {sorted(GPUNET)}")
    if model_math not in ("fp32", "fp16"):
        raise ValueError(f"model_math {model_math!r} is not 'fp32' or 'fp16'")
    _pop(kwargs, *LOAD_ARGS)
    arch, features = GPUNET[model_type]
    return mbconv_model(arch, features, act="swish", **kwargs)


def ofa_supernet(name: str):
    def entry(pretrained=True, **kwargs):
        import copy

        from torchvision.models.mobilenetv3 import MobileNetV3, _mobilenet_v3_conf

        class OFAMobileNetV3(MobileNetV3):
            """Once-for-All MobileNetV3 supernet: the full network, with the supernet's API."""

            ks_list, expand_ratio_list, depth_list = [3, 5, 7], [3, 4, 6], [2, 3, 4]

            def __init__(self):
                settings, last = _mobilenet_v3_conf("mobilenet_v3_large", width_mult=1.0)
                super().__init__(settings, last)
                self.active = {"ks": 7, "e": 6, "d": 4}

            def set_max_net(self):
                self.set_active_subnet(ks=7, e=6, d=4)

            def set_active_subnet(self, ks=None, e=None, d=None, **kwargs):
                self.active.update({k: v for k, v in {"ks": ks, "e": e, "d": d}.items() if v is not None})

            def sample_active_subnet(self):
                import random

                config = {
                    "ks": [random.choice(self.ks_list) for _ in range(20)],
                    "e": [random.choice(self.expand_ratio_list) for _ in range(20)],
                    "d": [random.choice(self.depth_list) for _ in range(5)],
                }
                self.set_active_subnet(**config)
                return config

            def get_active_subnet(self, preserve_weight=True):
                return copy.deepcopy(self)

            @property
            def module_str(self):
                return f"OFAMobileNetV3({self.active})"

        _pop(kwargs, *LOAD_ARGS)
        return OFAMobileNetV3()

    entry.__doc__ = f"{name}: Once-for-All MobileNetV3 supernet (width 1.0), random weights."
    return entry


# ----------------------------------------------------------------------------- NVIDIA DeepLearningExamples


class ConvnetsProcessing:
    """`nvidia_convnets_processing_utils()`: what NVIDIA's classification examples call."""

    @staticmethod
    def prepare_input_from_uri(uri, cuda=False):
        from torchvision import transforms

        preprocess = transforms.Compose(
            [
                transforms.Resize(256),
                transforms.CenterCrop(224),
                transforms.ToTensor(),
                transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
            ]
        )
        return preprocess(_open_image(uri)).unsqueeze(0)

    @staticmethod
    def get_imgnet_classes():
        import numpy as np

        return np.array(_imagenet_categories())

    @staticmethod
    def pick_n_best(predictions, n=5):
        import numpy as np

        predictions = predictions.float().detach().cpu().numpy()
        top = np.argsort(-1 * predictions, axis=-1)[:, :n]
        classes = ConvnetsProcessing.get_imgnet_classes()
        results = []
        for idx, case in enumerate(top):
            result = [
                (f"{c}", f"{100 * v:.1f}%")
                for c, v in zip(classes[case], predictions[idx, case], strict=False)
            ]
            print(f"sample {idx}: {result}")
            results.append(result)
        return results


def nvidia_convnets_processing_utils():
    """Processing utils of NVIDIA's image classifiers: prepare_input_from_uri, pick_n_best."""
    return ConvnetsProcessing()


# -- SSD300 with a ResNet-50 backbone (NVIDIA's architecture), its default boxes and decoder

SSD_FEATURES, SSD_STEPS = (38, 19, 10, 5, 3, 1), (8, 16, 32, 64, 100, 300)
SSD_SCALES, SSD_RATIOS = (21, 45, 99, 153, 207, 261, 315), ((2,), (2, 3), (2, 3), (2, 3), (2,), (2,))


def ssd_default_boxes():
    """The 8732 default boxes of SSD300 on COCO, (cx, cy, w, h) relative to the image."""
    import itertools

    import torch

    boxes = []
    for idx, size in enumerate(SSD_FEATURES):
        scale = 300 / SSD_STEPS[idx]
        sk1, sk2 = SSD_SCALES[idx] / 300, SSD_SCALES[idx + 1] / 300
        sizes = [(sk1, sk1), (math.sqrt(sk1 * sk2),) * 2]
        for ratio in SSD_RATIOS[idx]:
            w, h = sk1 * math.sqrt(ratio), sk1 / math.sqrt(ratio)
            sizes += [(w, h), (h, w)]
        for w, h in sizes:
            for i, j in itertools.product(range(size), repeat=2):
                boxes.append(((j + 0.5) / scale, (i + 0.5) / scale, w, h))
    return torch.tensor(boxes).clamp_(0, 1)


def nvidia_ssd(pretrained=True, **kwargs):
    """SSD300 (NVIDIA's): ResNet-50 up to layer3 (stride 1 in its first block), five extra blocks,
    4/6/6/6/4/4 default boxes per cell. `model(x[N,3,300,300])` -> (locs[N,4,8732], scores[N,81,8732])."""
    import torch
    import torchvision
    from torch import nn

    _pop(kwargs, *LOAD_ARGS, "model_math")

    class SSD300(nn.Module):
        def __init__(self, label_num=81):
            super().__init__()
            backbone = torchvision.models.resnet50(weights=None)
            self.feature_extractor = nn.Sequential(*list(backbone.children())[:7])
            block = self.feature_extractor[-1][0]
            block.conv1.stride, block.conv2.stride, block.downsample[0].stride = (1, 1), (1, 1), (1, 1)
            channels, self.label_num = [1024, 512, 512, 256, 256, 256], label_num
            extra = []
            for i, (cin, cout, mid) in enumerate(
                zip(channels[:-1], channels[1:], [256, 256, 128, 128, 128], strict=False)
            ):
                stride, pad = (2, 1) if i < 3 else (1, 0)
                extra.append(
                    nn.Sequential(
                        nn.Conv2d(cin, mid, 1, bias=False),
                        nn.BatchNorm2d(mid),
                        nn.ReLU(inplace=True),
                        nn.Conv2d(mid, cout, 3, stride, pad, bias=False),
                        nn.BatchNorm2d(cout),
                        nn.ReLU(inplace=True),
                    )
                )
            self.additional_blocks = nn.ModuleList(extra)
            defaults = [4, 6, 6, 6, 4, 4]
            self.loc = nn.ModuleList(
                nn.Conv2d(c, d * 4, 3, padding=1) for c, d in zip(channels, defaults, strict=False)
            )
            self.conf = nn.ModuleList(
                nn.Conv2d(c, d * label_num, 3, padding=1) for c, d in zip(channels, defaults, strict=False)
            )

        def forward(self, x):
            x = self.feature_extractor(x)
            sources = [x]
            for block in self.additional_blocks:
                x = block(x)
                sources.append(x)
            n = sources[0].shape[0]
            locs = torch.cat([loc(s).reshape(n, 4, -1) for s, loc in zip(sources, self.loc, strict=False)], 2)
            confs = torch.cat(
                [c(s).reshape(n, self.label_num, -1) for s, c in zip(sources, self.conf, strict=False)], 2
            )
            return locs.contiguous(), confs.contiguous()

    return SSD300()


class SSDProcessing:
    """`nvidia_ssd_processing_utils()`: image loading, batching, decoding and filtering of SSD300."""

    @staticmethod
    def load_image(image_path):
        import numpy as np

        return np.asarray(_open_image(image_path), dtype=np.float64) / 255.0

    @staticmethod
    def rescale(img, input_height, input_width):
        import numpy as np
        from PIL import Image

        aspect = img.shape[1] / float(img.shape[0])
        if aspect > 1:
            size = (int(aspect * input_height), input_height)
        elif aspect < 1:
            size = (input_width, int(input_width / aspect))
        else:
            size = (input_width, input_height)
        image = Image.fromarray((np.clip(img, 0, 1) * 255).astype("uint8")).resize(size, Image.BILINEAR)
        return np.asarray(image, dtype=np.float64) / 255.0

    @staticmethod
    def crop_center(img, cropx, cropy):
        y, x, _ = img.shape
        startx, starty = x // 2 - cropx // 2, y // 2 - cropy // 2
        return img[starty : starty + cropy, startx : startx + cropx]

    @staticmethod
    def normalize(img, mean=128, std=128):
        return (img * 256 - mean) / std

    @staticmethod
    def prepare_input(img_uri):
        img = SSDProcessing.load_image(img_uri)
        img = SSDProcessing.rescale(img, 300, 300)
        img = SSDProcessing.crop_center(img, 300, 300)
        return SSDProcessing.normalize(img)

    @staticmethod
    def prepare_tensor(inputs, fp16=False):
        import numpy as np
        import torch

        nchw = np.ascontiguousarray(np.array(inputs).transpose(0, 3, 1, 2))
        tensor = torch.from_numpy(nchw).float()  # the real one also calls .cuda() here
        return tensor.half() if fp16 else tensor

    @staticmethod
    def decode_results(predictions, criteria=0.5, max_output=20):
        import torch
        import torchvision

        ploc, plabel = (p.float().detach().cpu() for p in predictions)
        boxes = ssd_default_boxes()
        results = []
        for loc, label in zip(ploc, plabel, strict=False):
            xy = boxes[:, :2] + 0.1 * loc[:2].T * boxes[:, 2:]
            wh = boxes[:, 2:] * torch.exp(0.2 * loc[2:].T)
            ltrb = torch.cat([xy - wh / 2, xy + wh / 2], 1)
            scores = label.softmax(0)
            out_boxes, out_labels, out_scores = [], [], []
            for cls in range(1, scores.shape[0]):
                score = scores[cls]
                keep = score > 0.05
                if not keep.any():
                    continue
                b, s = ltrb[keep], score[keep]
                kept = torchvision.ops.nms(b, s, criteria)[:max_output]
                out_boxes.append(b[kept])
                out_scores.append(s[kept])
                out_labels.append(torch.full((len(kept),), cls, dtype=torch.long))
            if out_boxes:
                b, lab, s = torch.cat(out_boxes), torch.cat(out_labels), torch.cat(out_scores)
                order = s.argsort(descending=True)[:max_output]
                b, lab, s = b[order], lab[order], s[order]
            else:
                b, lab, s = torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), torch.zeros(0)
            results.append([b.numpy(), lab.numpy(), s.numpy()])
        return results

    @staticmethod
    def pick_best(detections, threshold=0.3):
        import numpy as np

        _bboxes, _classes, confidences = detections
        best = np.argwhere(confidences > threshold)[:, 0]
        return [pred[best] for pred in detections]

    @staticmethod
    def get_coco_object_dictionary():
        return list(COCO_NAMES)


def nvidia_ssd_processing_utils():
    """Processing utils of NVIDIA's SSD300: prepare_input, prepare_tensor, decode_results, pick_best,
    get_coco_object_dictionary."""
    return SSDProcessing()


# -- Tacotron 2 + WaveGlow (compact: the real interfaces and tensor layouts, smaller layers)

TTS_SYMBOLS = "_-!'(),.:;? " + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def nvidia_tacotron2(pretrained=True, model_math="fp32", **kwargs):
    """Tacotron 2 text -> mel spectrogram. `infer(sequences, lengths)` returns
    (mel[N, 80, T], mel_lengths[N], alignments[N, T, L]); six frames per input symbol (the real
    decoder stops on its gate). Compact: 256-dim encoder and decoder instead of 512/1024."""
    import torch
    from torch import nn

    _pop(kwargs, *LOAD_ARGS)

    class Tacotron2(nn.Module):
        n_mel_channels, frames_per_symbol = 80, 6

        def __init__(self, dim=256):
            super().__init__()
            self.embedding = nn.Embedding(148, dim)
            self.encoder_convs = nn.Sequential(
                *[
                    nn.Sequential(nn.Conv1d(dim, dim, 5, padding=2), nn.BatchNorm1d(dim), nn.ReLU())
                    for _ in range(3)
                ]
            )
            self.encoder_lstm = nn.LSTM(dim, dim // 2, batch_first=True, bidirectional=True)
            self.prenet = nn.Sequential(nn.Linear(80, dim), nn.ReLU(), nn.Linear(dim, dim), nn.ReLU())
            self.decoder_rnn = nn.LSTMCell(2 * dim, dim)
            self.attention = nn.Linear(dim, dim)
            self.mel = nn.Linear(2 * dim, 80)
            self.gate = nn.Linear(2 * dim, 1)
            self.postnet = nn.Sequential(
                nn.Conv1d(80, dim, 5, padding=2), nn.Tanh(), nn.Conv1d(dim, 80, 5, padding=2)
            )

        def infer(self, inputs, input_lengths=None):
            inputs = inputs.long()
            memory = self.embedding(inputs).transpose(1, 2)
            memory, _ = self.encoder_lstm(self.encoder_convs(memory).transpose(1, 2))
            n, length, dim = memory.shape
            if input_lengths is None:
                input_lengths = torch.full((n,), length, dtype=torch.int32)
            steps = self.frames_per_symbol * length
            frame = memory.new_zeros(n, 80)
            h = c = memory.new_zeros(n, dim)
            context = memory.mean(1)
            mels, aligns = [], []
            keys = self.attention(memory)
            for _ in range(steps):
                h, c = self.decoder_rnn(torch.cat([self.prenet(frame), context], 1), (h, c))
                weights = torch.softmax((keys @ h.unsqueeze(2)).squeeze(2) / math.sqrt(dim), 1)
                context = (weights.unsqueeze(1) @ memory).squeeze(1)
                frame = self.mel(torch.cat([h, context], 1))
                mels.append(frame)
                aligns.append(weights)
            mel = torch.stack(mels, 2)
            mel = mel + self.postnet(mel)
            lengths = (input_lengths.to(torch.int32) * self.frames_per_symbol).to(torch.int32)
            return mel, lengths, torch.stack(aligns, 1)

        def forward(self, inputs, input_lengths=None):
            return self.infer(inputs, input_lengths)

    return Tacotron2()


def nvidia_waveglow(pretrained=True, model_math="fp32", **kwargs):
    """WaveGlow mel -> audio. `infer(mel[N, 80, T], sigma=1.0)` returns audio[N, 256*T];
    `remove_weightnorm(model)` as in the real model. Compact: 2 weight-normed layers, not 12 flows."""
    import torch
    from torch import nn

    _pop(kwargs, *LOAD_ARGS)

    class WaveGlow(nn.Module):
        hop = 256

        def __init__(self):
            super().__init__()
            self.upsample = nn.ConvTranspose1d(80, 8, 512, stride=self.hop)
            self.WN = nn.ModuleList(
                [
                    nn.utils.weight_norm(nn.Conv1d(8, 8, 3, padding=1)),
                    nn.utils.weight_norm(nn.Conv1d(8, 1, 3, padding=1)),
                ]
            )

        def infer(self, spect, sigma=1.0):
            frames = spect.shape[-1]
            x = self.upsample(spect.float())[..., : frames * self.hop]
            x = x + sigma * 0.01 * torch.randn_like(x)
            for layer in self.WN:
                x = torch.tanh(layer(x))
            return x.squeeze(1)

        def forward(self, spect, sigma=1.0):
            return self.infer(spect, sigma)

        @staticmethod
        def remove_weightnorm(model):
            for layer in model.WN:
                nn.utils.remove_weight_norm(layer)
            return model

    return WaveGlow()


class TTSProcessing:
    """`nvidia_tts_utils()`: text -> padded symbol ids for Tacotron 2."""

    @staticmethod
    def text_to_sequence(text):
        ids = {s: i for i, s in enumerate(TTS_SYMBOLS)}
        return [ids[ch] for ch in " ".join(text.split()) if ch in ids]

    @staticmethod
    def prepare_input_sequence(texts, cpu_run=False):
        import torch

        seqs = [torch.IntTensor(TTSProcessing.text_to_sequence(t) or [0]) for t in texts]
        lengths, order = torch.sort(torch.IntTensor([len(s) for s in seqs]), descending=True)
        padded = torch.zeros(len(seqs), int(lengths[0]), dtype=torch.long)
        for i, idx in enumerate(order):
            padded[i, : len(seqs[idx])] = seqs[idx]
        return padded, lengths.int()  # the real one moves both to a GPU unless cpu_run


def nvidia_tts_utils():
    """Text processing utils of NVIDIA's Tacotron 2: prepare_input_sequence(texts, cpu_run=False)."""
    return TTSProcessing()


# ----------------------------------------------------------------------------- Silero (speech)

STT_LANGUAGES = ("en", "de", "es", "ua")
STT_LABELS = ["_", " ", "'", *"abcdefghijklmnopqrstuvwxyz", "2"]


class SileroDecoder:
    """Greedy CTC decoding of a Silero STT output frame sequence (probs[T, labels])."""

    def __init__(self, labels):
        self.labels = list(labels)
        self.blank_idx = self.labels.index("_")

    def __call__(self, probs, wav_len: float = 0, word_align: bool = False):
        import itertools

        ids = probs.argmax(dim=1).tolist()
        chars = [self.labels[i] for i, _ in itertools.groupby(ids) if i != self.blank_idx]
        text = "".join(chars).replace("2", "").strip()
        if word_align:
            step = wav_len / max(len(ids), 1)
            return text, [
                {"word": w, "start_ts": round(i * step, 2), "end_ts": round((i + 1) * step, 2)}
                for i, w in enumerate(text.split())
            ]
        return text


def read_audio(path: str, target_sr: int = 16000, sampling_rate: int | None = None):
    import torchaudio

    target_sr = sampling_rate or target_sr
    wav, sr = torchaudio.load(path)
    if wav.size(0) > 1:
        wav = wav.mean(dim=0, keepdim=True)
    if sr != target_sr:
        wav = torchaudio.transforms.Resample(orig_freq=sr, new_freq=target_sr)(wav)
    return wav.squeeze(0)


def read_batch(audio_paths):
    return [read_audio(p) for p in audio_paths]


def split_into_batches(lst, batch_size: int = 10):
    return [lst[i : i + batch_size] for i in range(0, len(lst), batch_size)]


def prepare_model_input(batch, device=None):
    import torch

    length = max(max(len(w) for w in batch), 12800)
    inputs = torch.zeros(len(batch), length)
    for i, wav in enumerate(batch):
        inputs[i, : len(wav)].copy_(wav)
    return inputs.to(device or "cpu")


def silero_stt(language="en", version="latest", jit_model="jit", device=None, **kwargs):
    """Silero speech-to-text: returns (model, decoder, (read_batch, split_into_batches, read_audio,
    prepare_model_input)). `model(wav[N, samples])` -> probs[N, frames, labels], one frame per 20 ms."""
    import torch
    from torch import nn

    assert language in STT_LANGUAGES, f"language {language!r} not in {list(STT_LANGUAGES)}"

    class SileroSTT(nn.Module):
        def __init__(self):
            super().__init__()
            self.labels = list(STT_LABELS)
            self.frontend = nn.Conv1d(1, 64, 400, stride=320, padding=40)
            self.encoder = nn.Sequential(nn.ReLU(), nn.Conv1d(64, 64, 3, padding=1), nn.ReLU())
            self.head = nn.Conv1d(64, len(self.labels), 1)

        def forward(self, x):
            x = x.float()
            if x.dim() == 1:
                x = x.unsqueeze(0)
            return torch.softmax(self.head(self.encoder(self.frontend(x.unsqueeze(1)))), 1).transpose(1, 2)

    model = SileroSTT().eval()
    if device is not None:
        model = model.to(device)
    return (
        model,
        SileroDecoder(model.labels),
        (read_batch, split_into_batches, read_audio, prepare_model_input),
    )


TTS_V1_SPEAKERS = {
    "ru": ["aidar", "baya", "irina", "kseniya", "natasha", "ruslan"],
    "en": ["lj"],
    "de": ["thorsten"],
    "es": ["tux"],
    "fr": ["gilles"],
}
TTS_PACKAGE_SPEAKERS = {
    "ru": ["aidar_v2", "baya_v2", "irina_v2", "kseniya_v2", "natasha_v2", "ruslan_v2", "v3_1_ru"],
    "en": ["lj_v2", "v3_en", "v3_en_indic"],
    "de": ["thorsten_v2", "v3_de"],
    "es": ["tux_v2", "v3_es"],
    "fr": ["gilles_v2", "v3_fr"],
}
TTS_TOKENS = "_~abcdefghijklmnopqrstuvwxyz .,!?-"
TTS_EXAMPLE = (
    "Can you can a canned can into an un-canned can like a canner can can a canned can into an un-canned can?"
)


def _tts_module():
    import torch
    from torch import nn

    class SileroTTS(nn.Module):
        """Symbols -> waveform: 200 samples (16 kHz) per symbol, from an embedding and a conv stack."""

        samples_per_symbol = 200

        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(len(TTS_TOKENS) + 8, 32)
            self.decoder = nn.ConvTranspose1d(32, 1, self.samples_per_symbol, stride=self.samples_per_symbol)
            self.speakers = []

        def forward(self, text_ids):
            x = self.embedding(text_ids.long()).transpose(1, 2)
            audio = torch.tanh(self.decoder(x)).squeeze(1)
            lengths = torch.full((audio.shape[0],), audio.shape[1] // 2, dtype=torch.long)
            return audio, lengths

        def apply_tts(
            self, text=None, ssml_text=None, speaker="en_0", sample_rate=48000, put_accent=True, put_yo=True
        ):
            if sample_rate not in (8000, 24000, 48000):
                raise ValueError(f"sample_rate {sample_rate} not in [8000, 24000, 48000]")
            if speaker not in self.speakers:
                raise ValueError(f"speaker {speaker!r} not in {self.speakers}")
            source = text if text is not None else ssml_text
            ids = torch.LongTensor([[TTS_TOKENS.find(c) + 2 for c in (source or " ").lower()]])
            audio, _ = self.forward(ids)
            return torch.nn.functional.interpolate(
                audio.unsqueeze(1), scale_factor=sample_rate / 16000
            ).flatten()

        def save_wav(
            self,
            text=None,
            ssml_text=None,
            speaker="en_0",
            sample_rate=48000,
            audio_path="test.wav",
            **kwargs,
        ):
            import torchaudio

            audio = self.apply_tts(text=text, ssml_text=ssml_text, speaker=speaker, sample_rate=sample_rate)
            torchaudio.save(audio_path, audio.unsqueeze(0), sample_rate)
            return audio_path

    return SileroTTS


def prepare_tts_model_input(text, symbols):
    import torch

    texts = [text] if isinstance(text, str) else list(text)
    ids = {s: i for i, s in enumerate(symbols)}
    tensors = []
    for t in texts:
        t = " ".join(t.lower().split())
        if not t or t[-1] not in ".!?":
            t += "."
        tensors.append(torch.LongTensor([ids[c] for c in t + symbols[1] if c in ids]))
    lengths, order = torch.sort(torch.LongTensor([len(t) for t in tensors]), descending=True)
    padded = torch.ones(len(tensors), int(lengths[0]), dtype=torch.long)
    for i, idx in enumerate(order):
        padded[i, : len(tensors[idx])] = tensors[idx]
    return padded, order


def apply_tts(texts, model, sample_rate, symbols, device=None):
    """Silero v1 TTS: a list of texts -> a list of 1-D audio tensors at `sample_rate` (8000/16000)."""
    assert sample_rate in (8000, 16000), f"sample_rate {sample_rate} not in [8000, 16000]"
    padded, order = prepare_tts_model_input(texts, symbols)
    out, out_lens = model(padded.to(device or "cpu"))
    out, out_lens = out.cpu(), out_lens.cpu()
    restore = order.argsort()
    factor = 2 if sample_rate == 16000 else 1
    return [out[i][: int(out_lens[i]) * factor] for i in restore.tolist()]


def silero_tts(language="en", speaker="kseniya_16khz", **kwargs):
    """Silero text-to-speech. v1 speakers (e.g. 'lj_16khz') return (model, symbols, sample_rate,
    example_text, apply_tts); v2/v3 speakers (e.g. 'lj_v2', 'v3_en') return (model, example_text)
    whose model has apply_tts(text=..., speaker=..., sample_rate=...)."""
    v1 = {
        f"{s}_{rate}": lang
        for lang, names in TTS_V1_SPEAKERS.items()
        for s in names
        for rate in ("16khz", "8khz")
    }
    package = {s: lang for lang, names in TTS_PACKAGE_SPEAKERS.items() for s in names}
    languages = sorted(TTS_V1_SPEAKERS)
    assert language in languages, f"Language not in the supported list {languages}"
    speakers = {**v1, **package}
    assert speaker in speakers, f"Speaker not in the supported list {list(speakers)}"
    assert language == speakers[speaker], (
        f"Incorrect language '{language}' for this speaker, please specify '{speakers[speaker]}'"
    )
    model = _tts_module()().eval()
    if speaker in package:
        model.speakers = [f"{language}_{i}" for i in range(5)] + ["random"]
        return model, TTS_EXAMPLE
    sample_rate = 16000 if speaker.endswith("16khz") else 8000
    return model, TTS_TOKENS, sample_rate, TTS_EXAMPLE, apply_tts


class SileroVAD:
    """Factory of the VAD model: speech probability of a chunk from its energy (a stand-in with no
    trained weights), with the real model's call signature `model(chunk, sr)` and reset_states()."""

    @staticmethod
    def build():
        import torch
        from torch import nn

        class VADModel(nn.Module):
            def __init__(self):
                super().__init__()
                self.scale = nn.Parameter(torch.tensor(4.0))
                self.offset = nn.Parameter(torch.tensor(2.5))

            def reset_states(self, batch_size=1):
                return None

            def forward(self, x, sr: int = 16000):
                if sr not in (8000, 16000) and sr % 16000:
                    raise ValueError(
                        f"Supported sampling rates: [8000, 16000] (or multiply of 16000), got {sr}"
                    )
                x = x.float()
                if x.dim() == 1:
                    x = x.unsqueeze(0)
                rms = x.pow(2).mean(-1, keepdim=True).sqrt()
                return torch.sigmoid(self.scale * (torch.log10(rms + 1e-8) + self.offset))

        return VADModel().eval()


def get_speech_timestamps(
    audio,
    model,
    threshold: float = 0.5,
    sampling_rate: int = 16000,
    min_speech_duration_ms: int = 250,
    max_speech_duration_s: float = float("inf"),
    min_silence_duration_ms: int = 100,
    window_size_samples: int = 512,
    speech_pad_ms: int = 30,
    return_seconds: bool = False,
    visualize_probs: bool = False,
    **kwargs,
):
    """Speech segments [{'start': sample, 'end': sample}, ...] of a 1-D audio tensor."""
    import torch

    if not torch.is_tensor(audio):
        audio = torch.Tensor(audio)
    while audio.dim() > 1 and audio.shape[0] == 1:
        audio = audio.squeeze(0)
    if audio.dim() > 1:
        raise ValueError("More than one dimension in audio. Are you trying to process audio with 2 channels?")
    model.reset_states()
    probs = [
        float(
            model(
                torch.nn.functional.pad(
                    audio[i : i + window_size_samples],
                    (0, max(0, window_size_samples - len(audio[i : i + window_size_samples]))),
                ),
                sampling_rate,
            )
        )
        for i in range(0, len(audio), window_size_samples)
    ]
    min_speech = sampling_rate * min_speech_duration_ms / 1000
    min_silence = sampling_rate * min_silence_duration_ms / 1000
    pad = int(sampling_rate * speech_pad_ms / 1000)
    segments, start, silence_from = [], None, None
    for i, p in enumerate(probs):
        pos = i * window_size_samples
        if p >= threshold:
            silence_from = None
            if start is None:
                start = pos
        elif start is not None and p < threshold - 0.15:
            silence_from = pos if silence_from is None else silence_from
            if pos - silence_from >= min_silence:
                if silence_from - start > min_speech:
                    segments.append({"start": start, "end": silence_from})
                start, silence_from = None, None
    if start is not None and len(audio) - start > min_speech:
        segments.append({"start": start, "end": len(audio)})
    for seg in segments:
        seg["start"], seg["end"] = max(0, seg["start"] - pad), min(len(audio), seg["end"] + pad)
    if return_seconds:
        for seg in segments:
            seg["start"], seg["end"] = (
                round(seg["start"] / sampling_rate, 1),
                round(seg["end"] / sampling_rate, 1),
            )
    return segments


def save_audio(path: str, tensor, sampling_rate: int = 16000):
    import torchaudio

    torchaudio.save(path, tensor.unsqueeze(0), sampling_rate, bits_per_sample=16)


def collect_chunks(tss, wav):
    import torch

    return torch.cat([wav[t["start"] : t["end"]] for t in tss]) if tss else wav[:0]


class VADIterator:
    """Streaming VAD: call it with consecutive chunks; it returns {'start': ...} / {'end': ...} or None."""

    def __init__(
        self, model, threshold=0.5, sampling_rate=16000, min_silence_duration_ms=100, speech_pad_ms=30
    ):
        self.model, self.threshold, self.sampling_rate = model, threshold, sampling_rate
        self.min_silence = sampling_rate * min_silence_duration_ms / 1000
        self.pad = sampling_rate * speech_pad_ms / 1000
        self.reset_states()

    def reset_states(self):
        self.model.reset_states()
        self.triggered, self.temp_end, self.current_sample = False, 0, 0

    def __call__(self, x, return_seconds=False):
        import torch

        x = x if torch.is_tensor(x) else torch.Tensor(x)
        self.current_sample += x.shape[-1]
        prob = float(self.model(x, self.sampling_rate))
        unit = (lambda s: round(s / self.sampling_rate, 1)) if return_seconds else int
        if prob >= self.threshold and not self.triggered:
            self.triggered, self.temp_end = True, 0
            return {"start": unit(max(0, self.current_sample - self.pad - x.shape[-1]))}
        if prob < self.threshold - 0.15 and self.triggered:
            self.temp_end = self.temp_end or self.current_sample
            if self.current_sample - self.temp_end >= self.min_silence:
                self.triggered, end, self.temp_end = False, self.temp_end + self.pad, 0
                return {"end": unit(end)}
        return None


def silero_vad(onnx=False, force_onnx_cpu=False, **kwargs):
    """Silero VAD: returns (model, (get_speech_timestamps, save_audio, read_audio, VADIterator, collect_chunks))."""
    return SileroVAD.build(), (get_speech_timestamps, save_audio, read_audio, VADIterator, collect_chunks)


# ----------------------------------------------------------------------------- depth (MiDaS)


def midas_model(kind: str, width: int, **kwargs):
    """A compact encoder-decoder depth network with MiDaS's interface: `model(x[N,3,H,W])` returns
    relative inverse depth[N, H, W] (non-negative) at the input resolution."""
    from torch import nn

    class MidasNet(nn.Module):
        def __init__(self):
            super().__init__()
            chans = [3, width, 2 * width, 4 * width, 8 * width]
            self.pretrained = nn.ModuleList(
                nn.Sequential(nn.Conv2d(a, b, 3, 2, 1), nn.BatchNorm2d(b), nn.ReLU(inplace=True))
                for a, b in itertools.pairwise(chans)
            )
            self.scratch = nn.ModuleList(nn.Conv2d(c, width, 3, padding=1) for c in chans[1:])
            self.output_conv = nn.Sequential(
                nn.Conv2d(width, width // 2, 3, padding=1), nn.ReLU(), nn.Conv2d(width // 2, 1, 1), nn.ReLU()
            )

        def forward(self, x):
            size, feats = x.shape[-2:], []
            for layer in self.pretrained:
                x = layer(x)
                feats.append(x)
            path = None
            for feat, proj in reversed(list(zip(feats, self.scratch, strict=False))):
                y = proj(feat)
                path = (
                    y
                    if path is None
                    else y
                    + nn.functional.interpolate(path, size=y.shape[-2:], mode="bilinear", align_corners=False)
                )
            out = self.output_conv(
                nn.functional.interpolate(path, size=size, mode="bilinear", align_corners=False)
            )
            return out.squeeze(1)

    model = MidasNet()
    model.__class__.__name__ = kind
    return model


def midas(kind: str, width: int):
    doc = f"MiDaS depth model ({kind}): compact encoder-decoder with MiDaS's input/output layout, random weights."
    return _model_entry(midas_model, doc, kind, width)


def midas_transforms():
    """MiDaS input transforms: default_transform, small_transform, dpt_transform, beit512_transform,
    swin384_transform, swin256_transform, levit_transform. Each maps an RGB numpy image (H, W, 3,
    0-255) to a tensor[1, 3, h, w]."""
    import types

    import cv2
    import numpy as np
    import torch
    from torchvision.transforms import Compose

    def resize(size, method, multiple=32):
        def apply(sample):
            img = sample["image"]
            h, w = img.shape[:2]
            sh, sw = size / h, size / w
            scale = (
                (max if method == "lower_bound" else min)(sh, sw)
                if method != "minimal"
                else (sh if abs(1 - sh) < abs(1 - sw) else sw)
            )
            if method == "upper_bound":
                scale = min(sh, sw)
            rnd = (
                (lambda v: int(np.floor(v / multiple) * multiple))
                if method == "upper_bound"
                else (lambda v: max(multiple, int(np.round(v / multiple) * multiple)))
            )
            new_w, new_h = max(multiple, rnd(scale * w)), max(multiple, rnd(scale * h))
            sample["image"] = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_CUBIC)
            return sample

        return apply

    def normalize(mean, std):
        def apply(sample):
            sample["image"] = (sample["image"] - np.array(mean)) / np.array(std)
            return sample

        return apply

    def prepare(sample):
        sample["image"] = np.ascontiguousarray(np.transpose(sample["image"], (2, 0, 1))).astype(np.float32)
        return sample

    def make(size, method, mean, std):
        return Compose(
            [
                lambda img: {"image": img / 255.0},
                resize(size, method),
                normalize(mean, std),
                prepare,
                lambda sample: torch.from_numpy(sample["image"]).unsqueeze(0),
            ]
        )

    imagenet = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    half = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    return types.SimpleNamespace(
        default_transform=make(384, "upper_bound", *imagenet),
        small_transform=make(256, "upper_bound", *imagenet),
        dpt_transform=make(384, "minimal", *half),
        beit512_transform=make(512, "minimal", *half),
        swin384_transform=make(384, "minimal", *half),
        swin256_transform=make(256, "minimal", *half),
        levit_transform=make(224, "minimal", *half),
    )


# ----------------------------------------------------------------------------- YOLO family


def _yolo_blocks():
    """YOLOv5's building blocks (Conv-BN-SiLU, C3, SPPF) and its Detect head."""
    import torch
    from torch import nn

    class Conv(nn.Module):
        def __init__(self, c1, c2, k=1, s=1):
            super().__init__()
            self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
            self.bn = nn.BatchNorm2d(c2)
            self.act = nn.SiLU()

        def forward(self, x):
            return self.act(self.bn(self.conv(x)))

    class Bottleneck(nn.Module):
        def __init__(self, c, shortcut=True):
            super().__init__()
            self.cv1, self.cv2, self.add = Conv(c, c, 1), Conv(c, c, 3), shortcut

        def forward(self, x):
            y = self.cv2(self.cv1(x))
            return x + y if self.add else y

    class C3(nn.Module):
        def __init__(self, c1, c2, n=1, shortcut=True):
            super().__init__()
            c = c2 // 2
            self.cv1, self.cv2, self.cv3 = Conv(c1, c, 1), Conv(c1, c, 1), Conv(2 * c, c2, 1)
            self.m = nn.Sequential(*(Bottleneck(c, shortcut) for _ in range(n)))

        def forward(self, x):
            return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))

    class SPPF(nn.Module):
        def __init__(self, c1, c2):
            super().__init__()
            c = c1 // 2
            self.cv1, self.cv2, self.m = Conv(c1, c, 1), Conv(c * 4, c2, 1), nn.MaxPool2d(5, 1, 2)

        def forward(self, x):
            x = self.cv1(x)
            y1 = self.m(x)
            y2 = self.m(y1)
            return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))

    class Detect(nn.Module):
        anchors_px = ((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119), (116, 90, 156, 198, 373, 326))

        def __init__(self, nc, channels, strides=(8, 16, 32)):
            super().__init__()
            self.nc, self.no, self.na = nc, nc + 5, 3
            self.stride = torch.tensor(strides, dtype=torch.float32)
            self.register_buffer(
                "anchor_grid", torch.tensor(self.anchors_px, dtype=torch.float32).view(3, 1, 3, 1, 1, 2)
            )
            self.m = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in channels)
            for conv, s in zip(
                self.m, strides, strict=False
            ):  # YOLOv5's prior: few objects per image at the start
                b = conv.bias.view(self.na, -1)
                b.data[:, 4] += math.log(8 / (640 / s) ** 2)
                b.data[:, 5:] += math.log(0.6 / (nc - 0.99))

        def forward(self, xs):
            z, raw = [], []
            for i, (x, conv) in enumerate(zip(xs, self.m, strict=False)):
                x = conv(x)
                bs, _, ny, nx = x.shape
                x = x.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
                raw.append(x)
                yv, xv = torch.meshgrid(torch.arange(ny), torch.arange(nx), indexing="ij")
                grid = torch.stack((xv, yv), 2).view(1, 1, ny, nx, 2).float()
                y = x.sigmoid()
                xy = (y[..., :2] * 2 - 0.5 + grid) * self.stride[i]
                wh = (y[..., 2:4] * 2) ** 2 * self.anchor_grid[i]
                z.append(torch.cat((xy, wh, y[..., 4:]), -1).view(bs, -1, self.no))
            return torch.cat(z, 1), raw

    return Conv, C3, SPPF, Detect


def _yolo_backbone(width=(32, 64, 128, 256, 512), depth=(1, 2, 3, 1)):
    """YOLOv5s' CSP-Darknet backbone and PAN neck (width 0.5, depth 0.33): returns (module, out channels)."""
    import torch
    from torch import nn

    Conv, C3, SPPF, _ = _yolo_blocks()
    w0, w1, w2, w3, w4 = width

    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(Conv(3, w0, 6, 2), Conv(w0, w1, 3, 2), C3(w1, w1, depth[0]))
            self.p3 = nn.Sequential(Conv(w1, w2, 3, 2), C3(w2, w2, depth[1]))
            self.p4 = nn.Sequential(Conv(w2, w3, 3, 2), C3(w3, w3, depth[2]))
            self.p5 = nn.Sequential(Conv(w3, w4, 3, 2), C3(w4, w4, depth[3]), SPPF(w4, w4))
            self.lat5, self.top4 = Conv(w4, w3, 1), C3(2 * w3, w3, 1, False)
            self.lat4, self.top3 = Conv(w3, w2, 1), C3(2 * w2, w2, 1, False)
            self.down3, self.bot4 = Conv(w2, w2, 3, 2), C3(2 * w2, w3, 1, False)
            self.down4, self.bot5 = Conv(w3, w3, 3, 2), C3(2 * w3, w4, 1, False)

        def forward(self, x):
            up = nn.functional.interpolate
            c3 = self.p3(self.stem(x))
            c4 = self.p4(c3)
            c5 = self.p5(c4)
            l5 = self.lat5(c5)
            t4 = self.top4(torch.cat((up(l5, size=c4.shape[-2:]), c4), 1))
            l4 = self.lat4(t4)
            o3 = self.top3(torch.cat((up(l4, size=c3.shape[-2:]), c3), 1))
            o4 = self.bot4(torch.cat((self.down3(o3), l4), 1))
            o5 = self.bot5(torch.cat((self.down4(o4), l5), 1))
            return [o3, o4, o5]

    return Backbone(), (w2, w3, w4)


def _nms(prediction, conf_thres=0.25, iou_thres=0.45, classes=None, agnostic=False, max_det=1000):
    """YOLO non-maximum suppression: [N, boxes, 5+nc] -> per image [k, 6] (x1, y1, x2, y2, conf, cls)."""
    import torch
    import torchvision

    out = []
    for x in prediction:
        x = x[x[:, 4] > conf_thres]
        if not len(x):
            out.append(torch.zeros((0, 6)))
            continue
        scores = x[:, 5:] * x[:, 4:5]
        conf, cls = scores.max(1, keepdim=True)
        box = torch.cat((x[:, :2] - x[:, 2:4] / 2, x[:, :2] + x[:, 2:4] / 2), 1)
        det = torch.cat((box, conf, cls.float()), 1)[conf.view(-1) > conf_thres]
        if classes is not None:
            det = det[(det[:, 5:6] == torch.tensor(classes)).any(1)]
        offset = 0 if agnostic else det[:, 5:6] * 7680
        keep = torchvision.ops.nms(det[:, :4] + offset, det[:, 4], iou_thres)[:max_det]
        out.append(det[keep])
    return out


class Detections:
    """YOLOv5's results object: pred/xyxy/xywh/xyxyn/xywhn per image, print(), show(), save(),
    crop(), render(), pandas(), tolist()."""

    def __init__(self, ims, pred, files, names, shape=None):
        import torch

        gains = [
            torch.tensor([*(im.shape[i] for i in (1, 0, 1, 0)), 1, 1], dtype=torch.float32) for im in ims
        ]
        self.ims, self.pred, self.names, self.files = ims, pred, names, files
        self.xyxy = pred
        self.xywh = [torch.cat(((x[:, :2] + x[:, 2:4]) / 2, x[:, 2:4] - x[:, :2], x[:, 4:]), 1) for x in pred]
        self.xyxyn = [x / g for x, g in zip(self.xyxy, gains, strict=False)]
        self.xywhn = [x / g for x, g in zip(self.xywh, gains, strict=False)]
        self.n, self.s = len(pred), tuple(shape or ())
        self.t = (0.0, 0.0, 0.0)

    def _summary(self, i):
        pred = self.pred[i]
        counts = {}
        for c in pred[:, 5].int().tolist():
            counts[self.names[c]] = counts.get(self.names[c], 0) + 1
        found = ", ".join(f"{n} {name}{'s' * (n > 1)}" for name, n in counts.items()) or "(no detections)"
        return f"image {i + 1}/{self.n}: {self.ims[i].shape[0]}x{self.ims[i].shape[1]} {found}"

    def _rendered(self, i):
        from PIL import Image, ImageDraw

        im = Image.fromarray(self.ims[i])
        draw = ImageDraw.Draw(im)
        for *box, conf, cls in self.pred[i].tolist():
            draw.rectangle(box, outline=(255, 0, 0), width=2)
            draw.text((box[0], box[1]), f"{self.names[int(cls)]} {conf:.2f}", fill=(255, 0, 0))
        return im

    def print(self):
        print(self.__str__())

    def show(self, labels=True):
        for i in range(self.n):
            self._rendered(i).show(self.files[i])

    def save(self, labels=True, save_dir="runs/detect/exp", exist_ok=False):
        os.makedirs(save_dir, exist_ok=True)
        for i in range(self.n):
            self._rendered(i).save(os.path.join(save_dir, self.files[i]))
        print(f"Saved {self.n} image{'s' * (self.n > 1)} to {save_dir}")
        return save_dir

    def crop(self, save=True, save_dir="runs/detect/exp"):
        from PIL import Image

        crops = []
        for i in range(self.n):
            for *box, conf, cls in self.pred[i].tolist():
                x1, y1, x2, y2 = (int(v) for v in box)
                im = self.ims[i][max(y1, 0) : y2, max(x1, 0) : x2]
                crop = {
                    "box": box,
                    "conf": conf,
                    "cls": cls,
                    "label": f"{self.names[int(cls)]} {conf:.2f}",
                    "im": im,
                }
                crops.append(crop)
                if save and im.size:
                    path = os.path.join(save_dir, "crops", self.names[int(cls)])
                    os.makedirs(path, exist_ok=True)
                    Image.fromarray(im).save(os.path.join(path, self.files[i]))
        return crops

    def render(self, labels=True):
        import numpy as np

        self.ims = [np.asarray(self._rendered(i)) for i in range(self.n)]
        return self.ims

    def pandas(self):
        import copy

        import pandas as pd

        new = copy.copy(self)
        columns = {
            "xyxy": ["xmin", "ymin", "xmax", "ymax", "confidence", "class", "name"],
            "xyxyn": ["xmin", "ymin", "xmax", "ymax", "confidence", "class", "name"],
            "xywh": ["xcenter", "ycenter", "width", "height", "confidence", "class", "name"],
            "xywhn": ["xcenter", "ycenter", "width", "height", "confidence", "class", "name"],
        }
        for key, cols in columns.items():
            frames = []
            for x in getattr(self, key):
                rows = [[*row[:5], int(row[5]), self.names[int(row[5])]] for row in x.tolist()]
                frames.append(pd.DataFrame(rows, columns=cols))
            setattr(new, key, frames)
        return new

    def tolist(self):
        return [
            Detections([self.ims[i]], [self.pred[i]], [self.files[i]], self.names, self.s)
            for i in range(self.n)
        ]

    def __len__(self):
        return self.n

    def __str__(self):
        return "\n".join(self._summary(i) for i in range(self.n))

    __repr__ = __str__


def yolov5_model(
    name: str, pretrained=True, channels=3, classes=80, autoshape=True, _verbose=True, device=None
):
    """YOLOv5s (width 0.5, depth 0.33: the real layout), random weights. With autoshape (default) the
    model takes paths, URLs, PIL images, numpy arrays or lists of them and returns `Detections`;
    a tensor[N,3,H,W] gives the raw (predictions[N, boxes, 85], feature maps)."""
    import numpy as np
    import torch
    from torch import nn

    _, _, _, Detect = _yolo_blocks()
    names = list(COCO_NAMES) if classes == 80 else [f"class{i}" for i in range(classes)]

    class DetectionModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.model, out_channels = _yolo_backbone()
            self.detect = Detect(classes, out_channels)
            self.names, self.stride = names, self.detect.stride

        def forward(self, x, augment=False, profile=False, visualize=False):
            return self.detect(self.model(x))

    class AutoShape(nn.Module):
        conf, iou, agnostic, multi_label, classes, max_det, amp = 0.25, 0.45, False, False, None, 1000, False

        def __init__(self, model):
            super().__init__()
            self.model, self.names, self.stride, self.pt = model, model.names, model.stride, True

        def forward(self, ims, size=640, augment=False, profile=False):
            if isinstance(ims, torch.Tensor):
                return self.model(ims, augment, profile)
            batch = ims if isinstance(ims, (list, tuple)) else [ims]
            arrays, files = [], []
            for i, im in enumerate(batch):
                name = (
                    os.path.basename(str(im)).split("?")[0]
                    if isinstance(im, (str, os.PathLike))
                    else f"image{i}.jpg"
                )
                arr = np.asarray(_open_image(im) if not isinstance(im, np.ndarray) else im)
                if arr.ndim == 2:
                    arr = np.stack([arr] * 3, -1)
                arrays.append(np.ascontiguousarray(arr[..., :3]).astype(np.uint8))
                files.append(
                    name if name.lower().endswith((".jpg", ".jpeg", ".png", ".bmp")) else f"image{i}.jpg"
                )
            size = size if isinstance(size, int) else max(size)
            scale = [size / max(a.shape[:2]) for a in arrays]
            shapes = [
                (int(math.ceil(a.shape[0] * s / 32) * 32), int(math.ceil(a.shape[1] * s / 32) * 32))
                for a, s in zip(arrays, scale, strict=False)
            ]
            h, w = max(s[0] for s in shapes), max(s[1] for s in shapes)
            x = torch.zeros(len(arrays), 3, h, w)
            for i, a in enumerate(arrays):
                t = torch.from_numpy(a).permute(2, 0, 1).float().unsqueeze(0) / 255
                t = nn.functional.interpolate(t, scale_factor=scale[i], mode="bilinear", align_corners=False)
                x[i, :, : t.shape[2], : t.shape[3]] = t[0]
            with torch.no_grad():
                pred = self.model(x)[0]
            dets = _nms(pred, self.conf, self.iou, self.classes, self.agnostic, self.max_det)
            for det, s in zip(dets, scale, strict=False):
                det[:, :4] /= s
            return Detections(arrays, dets, files, self.names, x.shape)

    model = DetectionModel()
    if autoshape:
        model = AutoShape(model)
    model = model.eval()
    return model.to(device) if device is not None else model


def yolop(pretrained=True, **kwargs):
    """YOLOP (panoptic driving perception): `model(img[N,3,H,W])` returns (det_out, da_seg_out,
    ll_seg_out): det_out = (predictions[N, boxes, 6], feature maps), the two segmentations [N,2,H,W].
    Compact: the YOLOv5s-style encoder and detect head of the real model, light segmentation heads."""
    from torch import nn

    _, _, _, Detect = _yolo_blocks()
    _pop(kwargs, *LOAD_ARGS)

    class YOLOP(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, out_channels = _yolo_backbone()
            self.detect = Detect(1, out_channels)
            self.da_head = nn.Conv2d(out_channels[0], 2, 3, padding=1)
            self.ll_head = nn.Conv2d(out_channels[0], 2, 3, padding=1)
            self.names = ["car"]

        def forward(self, x):
            feats = self.encoder(x)

            def up(y):
                return nn.functional.interpolate(
                    y, size=x.shape[-2:], mode="bilinear", align_corners=False
                ).sigmoid()

            return self.detect(feats), up(self.da_head(feats[0])), up(self.ll_head(feats[0]))

    return YOLOP().eval()


def hybridnets(pretrained=True, **kwargs):
    """HybridNets: `model(img[N,3,H,W])` returns (features (P3..P7), regression[N, A, 4],
    classification[N, A, 1], anchors[1, A, 4], segmentation[N, 3, H, W]), 9 anchors per cell.
    Compact: a small convolutional pyramid instead of EfficientNet-B3 + BiFPN."""
    import torch
    from torch import nn

    _pop(kwargs, *LOAD_ARGS)

    class HybridNetsBackbone(nn.Module):
        def __init__(self, width=32, num_classes=1, seg_classes=3):
            super().__init__()
            layers, cin = [], 3
            for _ in range(7):
                layers.append(nn.Sequential(nn.Conv2d(cin, width, 3, 2, 1), nn.BatchNorm2d(width), nn.SiLU()))
                cin = width
            self.layers = nn.ModuleList(layers)
            self.regressor = nn.Conv2d(width, 9 * 4, 3, padding=1)
            self.classifier = nn.Conv2d(width, 9 * num_classes, 3, padding=1)
            self.segmentation_head = nn.Conv2d(width, seg_classes, 3, padding=1)
            self.num_classes = num_classes

        def anchors(self, x, feats):
            levels = []  # per level: 9 anchors (3 scales x 3 ratios) per cell, (y1, x1, y2, x2)
            for f in feats:
                stride = x.shape[-1] / f.shape[-1]
                ys, xs = torch.meshgrid(torch.arange(f.shape[-2]), torch.arange(f.shape[-1]), indexing="ij")
                cy, cx = (ys.flatten() + 0.5) * stride, (xs.flatten() + 0.5) * stride
                cell = []
                for scale in (2**0, 2 ** (1 / 3), 2 ** (2 / 3)):
                    for rx, ry in ((0.62, 1.58), (1.0, 1.0), (1.58, 0.62)):
                        w, h = 4 * stride * scale * rx / 2, 4 * stride * scale * ry / 2
                        cell.append(torch.stack([cy - h, cx - w, cy + h, cx + w], 1))
                levels.append(torch.stack(cell, 1).reshape(-1, 4))
            return torch.cat(levels).unsqueeze(0)

        def forward(self, x):
            feats, y = [], x
            for layer in self.layers:
                y = layer(y)
                feats.append(y)
            feats = feats[2:]
            n = x.shape[0]
            regression = torch.cat(
                [self.regressor(f).permute(0, 2, 3, 1).reshape(n, -1, 4) for f in feats], 1
            )
            classification = torch.cat(
                [self.classifier(f).permute(0, 2, 3, 1).reshape(n, -1, self.num_classes) for f in feats], 1
            ).sigmoid()
            seg = nn.functional.interpolate(
                self.segmentation_head(feats[0]), size=x.shape[-2:], mode="bilinear", align_corners=False
            )
            return tuple(feats), regression, classification, self.anchors(x, feats), seg

    return HybridNetsBackbone().eval()


# ----------------------------------------------------------------------------- other vision repos


def ntsnet(pretrained=True, topN=4, device="cpu", num_classes=200, **kwargs):
    """NTS-Net (CUB-200 birds): `model(x[N,3,448,448])` returns (top_n_coordinates[N,topN,4],
    concat_out, raw_logits[N,C], concat_logits[N,C], part_logits[N,topN,C], top_n_index[N,topN],
    top_n_prob[N,topN]); `model.bird_classes` lists the 200 class names (numbered placeholders).
    Compact: a ResNet-18 backbone (512 features) instead of ResNet-50 (2048)."""
    import torch
    import torchvision
    from torch import nn

    _pop(kwargs, *LOAD_ARGS)
    cat_num = 4

    class AttentionNet(nn.Module):
        def __init__(self):
            super().__init__()
            backbone = torchvision.models.resnet18(weights=None)
            self.pretrained_model = nn.Sequential(*list(backbone.children())[:-2])
            self.proposal_net = nn.Conv2d(512, 6, 3, padding=1)
            self.fc = nn.Linear(512, num_classes)
            self.concat_net = nn.Linear(512 * (cat_num + 1), num_classes)
            self.partcls_net = nn.Linear(512, num_classes)
            self.topN = topN
            self.bird_classes = [f"{i + 1:03d}.bird_{i + 1:03d}" for i in range(num_classes)]

        def features(self, x):
            return self.pretrained_model(x).mean((2, 3))

        def forward(self, x):
            n, _, h, w = x.shape
            fmap = self.pretrained_model(x)
            raw_logits = self.fc(fmap.mean((2, 3)))
            scores = self.proposal_net(fmap).flatten(1)
            top_n_prob, top_n_index = scores.topk(self.topN, 1)
            gh, gw = fmap.shape[-2:]
            cells = top_n_index % (gh * gw)
            cy, cx = (cells // gw).float() * h / gh, (cells % gw).float() * w / gw
            half = min(h, w) / 4
            coords = torch.stack([cy - half, cx - half, cy + half, cx + half], 2).clamp(0, max(h, w)).int()
            parts = []
            for b in range(n):
                for y0, x0, y1, x1 in coords[b].tolist():
                    crop = x[b : b + 1, :, y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]
                    parts.append(
                        nn.functional.interpolate(crop, size=(224, 224), mode="bilinear", align_corners=True)
                    )
            part_feats = self.features(torch.cat(parts)).view(n, self.topN, -1)
            concat_out = torch.cat([part_feats[:, :cat_num].flatten(1), fmap.mean((2, 3))], 1)
            concat_logits = self.concat_net(concat_out)
            part_logits = self.partcls_net(part_feats)
            return coords, concat_out, raw_logits, concat_logits, part_logits, top_n_index, top_n_prob

    return AttentionNet().to(device)


def unet(in_channels=3, out_channels=1, init_features=32, pretrained=False, **kwargs):
    """U-Net for brain MRI segmentation (Buda et al.): the published architecture, random weights.
    `model(x[N,in,H,W])` -> sigmoid mask[N,out,H,W] (H, W multiples of 16)."""
    import torch
    from torch import nn

    _pop(kwargs, *LOAD_ARGS)

    def block(cin, f):
        return nn.Sequential(
            nn.Conv2d(cin, f, 3, padding=1, bias=False),
            nn.BatchNorm2d(f),
            nn.ReLU(inplace=True),
            nn.Conv2d(f, f, 3, padding=1, bias=False),
            nn.BatchNorm2d(f),
            nn.ReLU(inplace=True),
        )

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            f = init_features
            self.encoders = nn.ModuleList(
                [block(in_channels, f), block(f, 2 * f), block(2 * f, 4 * f), block(4 * f, 8 * f)]
            )
            self.bottleneck = block(8 * f, 16 * f)
            self.upconvs = nn.ModuleList(nn.ConvTranspose2d(2 * c, c, 2, 2) for c in (8 * f, 4 * f, 2 * f, f))
            self.decoders = nn.ModuleList(block(2 * c, c) for c in (8 * f, 4 * f, 2 * f, f))
            self.conv = nn.Conv2d(f, out_channels, 1)

        def forward(self, x):
            skips = []
            for enc in self.encoders:
                x = enc(x)
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
            x = self.bottleneck(x)
            for up, dec, skip in zip(self.upconvs, self.decoders, reversed(skips), strict=False):
                x = dec(torch.cat((up(x), skip), 1))
            return torch.sigmoid(self.conv(x))

    return UNet()


def umx(name: str):
    def entry(
        targets=None, residual=False, niter=1, device="cpu", pretrained=True, filterbank="torch", **kwargs
    ):
        """Open-Unmix music source separation (44.1 kHz stereo): `separator(audio[N, 2, T])` returns
        estimates[N, targets, 2, T] for vocals, drums, bass, other (+ residual). Compact: a 64-unit
        single-layer LSTM per target instead of 512 units and three layers."""
        import torch
        from torch import nn

        _pop(kwargs, *LOAD_ARGS, "wiener_win_len")
        names = list(targets or ["vocals", "drums", "bass", "other"]) + (["residual"] if residual else [])

        class OpenUnmix(nn.Module):
            def __init__(self, bins=2049, hidden=64):
                super().__init__()
                self.fc1 = nn.Linear(bins * 2, hidden)
                self.lstm = nn.LSTM(hidden, hidden // 2, batch_first=True, bidirectional=True)
                self.fc2 = nn.Linear(hidden, bins * 2)

            def forward(self, mag):  # mag [N, 2, bins, frames]
                n, c, b, t = mag.shape
                x = torch.tanh(self.fc1(mag.permute(0, 3, 1, 2).reshape(n, t, c * b)))
                x, _ = self.lstm(x)
                return torch.sigmoid(self.fc2(x)).reshape(n, t, c, b).permute(0, 2, 3, 1)

        class Separator(nn.Module):
            sample_rate = 44100.0
            nb_channels = 2

            def __init__(self):
                super().__init__()
                self.target_models = nn.ModuleDict({t: OpenUnmix() for t in names if t != "residual"})
                self.register_buffer("window", torch.hann_window(4096))

            def forward(self, audio):
                n, c, length = audio.shape
                spec = torch.stft(
                    audio.reshape(n * c, length), 4096, 1024, window=self.window, return_complex=True
                )
                spec = spec.reshape(n, c, *spec.shape[-2:])
                estimates = []
                for model in self.target_models.values():
                    masked = (spec * model(spec.abs())).reshape(n * c, *spec.shape[-2:])
                    estimates.append(
                        torch.istft(masked, 4096, 1024, window=self.window, length=length).reshape(
                            n, c, length
                        )
                    )
                if "residual" in names:
                    estimates.append(audio - sum(estimates))
                return torch.stack(estimates, 1)

            def to_dict(self, estimates, aggregate_dict=None):
                out = {t: estimates[:, i] for i, t in enumerate(names)}
                for key, parts in (aggregate_dict or {}).items():
                    out[key] = sum(out[p] for p in parts)
                return out

        return Separator().to(device)

    entry.__name__ = name
    return entry


def gan_zoo(kind: str):
    def entry(pretrained=False, *args, **kwargs):
        """GAN zoo model (facebookresearch/pytorch_GAN_zoo:hub): buildNoiseData(n) -> (noise, None),
        test(noise) -> images[n, 3, S, S] in [-1, 1], getNetG(), getSize(). PGAN's `model_name`
        picks the output size (celebAHQ-512: 512, celebAHQ-256: 256, celeba/DTD/cifar10: 128/64/32);
        DCGAN makes 64x64 images. Compact generator: a few upsampling conv layers."""
        import torch
        from torch import nn

        sizes = {
            "celebAHQ-512": 512,
            "celebAHQ-256": 256,
            "celeba": 128,
            "celeba_cropped": 128,
            "DTD": 128,
            "cifar10": 32,
        }
        model_name = kwargs.get("model_name", "celebAHQ-512" if kind == "PGAN" else "celeba")
        if kind == "PGAN" and pretrained and model_name not in sizes:
            raise ValueError(f"model_name should be in {sorted(sizes)}")
        size = sizes.get(model_name, 128) if kind == "PGAN" else 64
        latent = 512 if kind == "PGAN" else 64

        class Generator(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(latent, 32 * 4 * 4)
                layers, ch, s = [], 32, 4
                while s < size:
                    out = max(ch // 2, 4)
                    layers += [
                        nn.Upsample(scale_factor=2),
                        nn.Conv2d(ch, out, 3, padding=1),
                        nn.LeakyReLU(0.2),
                    ]
                    ch, s = out, s * 2
                self.main = nn.Sequential(*layers)
                self.toRGB = nn.Conv2d(ch, 3, 1)

            def forward(self, z):
                return torch.tanh(self.toRGB(self.main(self.fc(z).view(-1, 32, 4, 4))))

        class GANModel:
            def __init__(self, useGPU=True, **config):
                self.useGPU = bool(useGPU) and torch.cuda.is_available()
                self.device = torch.device("cuda:0" if self.useGPU else "cpu")
                self.config = {"dimLatentVector": latent, **config}
                self.netG, self.avgG = Generator(), None
                self.avgG = self.netG

            def buildNoiseData(self, n_samples, inputLabels=None, skipAtts=False):
                return torch.randn(n_samples, latent, device=self.device), None

            def test(self, input, getAvG=False, toCPU=True):
                with torch.no_grad():
                    out = (self.avgG if getAvG else self.netG)(input.to(self.device))
                return out.cpu() if toCPU else out

            def getNetG(self):
                return self.netG

            def getOriginalG(self):
                return self.netG

            def getSize(self):
                return (size, size)

            def load_state_dict(self, state_dict, **kwargs):
                self.netG.load_state_dict(state_dict.get("netG", state_dict), **kwargs)

        GANModel.__name__ = kind
        return GANModel(useGPU=kwargs.get("useGPU", True), **(kwargs.get("config") or {}))

    entry.__name__ = kind
    return entry


# ----------------------------------------------------------------------------- video (pytorchvideo)


def video_model(kind: str):
    def entry(pretrained=False, progress=True, **kwargs):
        """pytorchvideo's {kind} (Kinetics-400): `model.blocks` ends with a head whose `proj` maps
        2048 features to 400 classes. slow_r50 takes [N,3,8,H,W], x3d_s [N,3,13,H,W], slowfast_r50
        a list [slow[N,3,8,H,W], fast[N,3,32,H,W]]. Compact: one bottleneck per stage, narrow inner widths."""
        import torch
        from torch import nn

        _pop(kwargs, *LOAD_ARGS)

        def stage(cin, inner, cout, t_kernel, stride):
            return nn.Sequential(
                nn.Conv3d(cin, inner, (t_kernel, 1, 1), padding=(t_kernel // 2, 0, 0), bias=False),
                nn.BatchNorm3d(inner),
                nn.ReLU(),
                nn.Conv3d(inner, inner, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False),
                nn.BatchNorm3d(inner),
                nn.ReLU(),
                nn.Conv3d(inner, cout, 1, bias=False),
                nn.BatchNorm3d(cout),
                nn.ReLU(),
            )

        def pathway(width=16):
            return nn.Sequential(
                nn.Conv3d(3, width, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False),
                nn.BatchNorm3d(width),
                nn.ReLU(),
                nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
                stage(width, 8, 256, 1, 1),
                stage(256, 16, 512, 1, 2),
                stage(512, 32, 1024, 3, 2),
                stage(1024, 64, 2048, 3, 2),
            )

        class Head(nn.Module):
            def __init__(self, features=2048):
                super().__init__()
                self.pool = nn.AdaptiveAvgPool3d(1)
                self.dropout = nn.Dropout(0.5)
                self.proj = nn.Linear(features, 400)

            def forward(self, x):
                return self.proj(self.dropout(self.pool(x).flatten(1)))

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                if kind == "slowfast_r50":
                    self.blocks = nn.ModuleList([pathway(), pathway(8), Head(4096)])
                else:
                    self.blocks = nn.ModuleList([pathway(24 if kind == "x3d_s" else 16), Head()])

            def forward(self, x):
                if kind == "slowfast_r50":
                    if not isinstance(x, (list, tuple)) or len(x) != 2:
                        raise ValueError("slowfast_r50 takes a list of two tensors: [slow, fast] pathways")
                    feats = [
                        self.blocks[0](x[0]).mean((2, 3, 4), keepdim=True),
                        self.blocks[1](x[1]).mean((2, 3, 4), keepdim=True),
                    ]
                    return self.blocks[2](torch.cat(feats, 1))
                if isinstance(x, (list, tuple)):
                    x = x[0]
                return self.blocks[-1](self.blocks[0](x))

        return Net()

    entry.__name__ = kind
    return entry


# ----------------------------------------------------------------------------- fairseq


class _ByteDictionary:
    """fairseq-style dictionary over bytes: <s>=0 <pad>=1 </s>=2 <unk>=3, bytes 4..259, <mask>=260."""

    bos, pad, eos, unk, mask, size = 0, 1, 2, 3, 260, 261

    def encode(self, text: str) -> list[int]:
        return [b + 4 for b in text.encode("utf-8")]

    def decode(self, ids) -> str:
        return bytes(i - 4 for i in ids if 4 <= i < 260).decode("utf-8", errors="replace")


def _transformer_encoder(dim, layers, heads, vocab):
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed_tokens = nn.Embedding(vocab, dim, padding_idx=1)
            self.embed_positions = nn.Embedding(514, dim)
            self.layers = nn.ModuleList(
                nn.TransformerEncoderLayer(dim, heads, 4 * dim, 0.0, batch_first=True) for _ in range(layers)
            )

        def forward(self, tokens, return_all_hiddens=False):
            import torch

            x = self.embed_tokens(tokens) + self.embed_positions(torch.arange(tokens.shape[1]).clamp(max=513))
            states = [x]
            for layer in self.layers:
                x = layer(x)
                states.append(x)
            return x, states

    return Encoder()


def fairseq_roberta(variant: str):
    def entry(**kwargs):
        """RoBERTa ({variant}) hub interface: encode, decode, extract_features, predict,
        register_classification_head, fill_mask. Compact: 2 layers of the large model's width (1024)
        and a byte-level dictionary instead of GPT-2 BPE."""
        import torch
        from torch import nn

        _pop(kwargs, *LOAD_ARGS, "checkpoint_file", "data_name_or_path")
        dim = 1024 if "large" in variant else 768
        dictionary = _ByteDictionary()

        class RobertaModel(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = _transformer_encoder(dim, 2, 16 if dim == 1024 else 12, dictionary.size)
                self.lm_head = nn.Linear(dim, dictionary.size)
                self.classification_heads = nn.ModuleDict()

        class RobertaHubInterface(nn.Module):
            def __init__(self):
                super().__init__()
                self.model = RobertaModel()
                self.task = types_namespace(source_dictionary=dictionary, target_dictionary=dictionary)

            @property
            def device(self):
                return self.model.lm_head.weight.device

            def encode(self, sentence: str, *addl_sentences, no_separator=False):
                ids = [dictionary.bos, *dictionary.encode(" " + sentence), dictionary.eos]
                for extra in addl_sentences:
                    ids += (
                        ([] if no_separator else [dictionary.eos])
                        + dictionary.encode(" " + extra)
                        + [dictionary.eos]
                    )
                return torch.tensor(ids, dtype=torch.long)

            def decode(self, tokens):
                return dictionary.decode(tokens.tolist() if hasattr(tokens, "tolist") else tokens).strip()

            def extract_features(self, tokens, return_all_hiddens=False):
                if tokens.dim() == 1:
                    tokens = tokens.unsqueeze(0)
                if tokens.size(-1) > 512:
                    raise ValueError(f"tokens exceeds maximum length: {tokens.size(-1)} > 512")
                last, states = self.model.encoder(tokens.to(self.device))
                return states if return_all_hiddens else last

            def register_classification_head(self, name, num_classes=None, embedding_size=None, **kwargs):
                self.model.classification_heads[name] = nn.Sequential(
                    nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, num_classes or 2)
                )

            def predict(self, head: str, tokens, return_logits: bool = False):
                features = self.extract_features(tokens)
                logits = self.model.classification_heads[head](features[:, 0, :])
                return logits if return_logits else torch.log_softmax(logits, dim=-1)

            def fill_mask(self, masked_input: str, topk: int = 5):
                if masked_input.count("<mask>") != 1:
                    raise ValueError("Please add one <mask> token for the input, eg: 'He is a <mask> guy'")
                before, after = masked_input.split("<mask>")
                ids = [
                    dictionary.bos,
                    *dictionary.encode(before.rstrip()),
                    dictionary.mask,
                    *dictionary.encode(after),
                    dictionary.eos,
                ]
                tokens = torch.tensor([ids])
                logits = self.model.lm_head(self.extract_features(tokens))[0, ids.index(dictionary.mask)]
                printable = torch.arange(32 + 4, 127 + 4)  # fill with printable ASCII bytes
                probs, index = logits[printable].softmax(0).topk(topk)
                out = []
                for p, i in zip(probs.tolist(), index.tolist(), strict=False):
                    word = dictionary.decode([int(printable[i])])
                    out.append((before.rstrip() + " " + word + after, p, " " + word))
                return out

        hub = RobertaHubInterface()
        if variant.endswith("mnli"):
            hub.register_classification_head("mnli", num_classes=3)
        return hub

    entry.__name__ = variant
    entry.__doc__ = entry.__doc__.replace("{variant}", variant)
    return entry


def types_namespace(**kwargs):
    import types

    return types.SimpleNamespace(**kwargs)


def fairseq_translation(variant: str):
    def entry(tokenizer=None, bpe=None, **kwargs):
        """{variant} hub interface (GeneratorHubInterface): translate/sample, encode/decode, generate.
        Compact: a 2-layer byte-level encoder-decoder; outputs are deterministic, not translations."""
        import torch
        from torch import nn

        _pop(kwargs, *LOAD_ARGS, "checkpoint_file", "data_name_or_path", "beam")
        dictionary = _ByteDictionary()

        class TransformerModel(nn.Module):
            def __init__(self, dim=256):
                super().__init__()
                self.encoder = _transformer_encoder(dim, 2, 4, dictionary.size)
                self.decoder_embed = nn.Embedding(dictionary.size, dim)
                self.decoder = nn.TransformerDecoder(
                    nn.TransformerDecoderLayer(dim, 4, 4 * dim, 0.0, batch_first=True), 2
                )
                self.output_projection = nn.Linear(dim, dictionary.size)

        letters = torch.tensor([b + 4 for b in b"abcdefghijklmnopqrstuvwxyz "])

        class GeneratorHubInterface(nn.Module):
            def __init__(self):
                super().__init__()
                self.models = nn.ModuleList([TransformerModel()])
                self.src_dict = self.tgt_dict = dictionary

            def encode(self, sentence: str):
                return torch.tensor([*dictionary.encode(sentence), dictionary.eos], dtype=torch.long)

            def decode(self, tokens):
                return dictionary.decode(tokens.tolist() if hasattr(tokens, "tolist") else tokens)

            def generate(self, tokenized_sentences, beam: int = 5, verbose: bool = False, **kwargs):
                model, hypos = self.models[0], []
                for src in tokenized_sentences:
                    memory, _ = model.encoder(src.unsqueeze(0))
                    out = [dictionary.eos]
                    with torch.no_grad():
                        for _ in range(min(len(src) + 4, 200)):
                            h = model.decoder(model.decoder_embed(torch.tensor([out])), memory)
                            logits = model.output_projection(h[0, -1])
                            out.append(int(letters[logits[letters].argmax()]))
                    tokens = torch.tensor([*out[1:], dictionary.eos])
                    hypos.append(
                        [
                            {
                                "tokens": tokens,
                                "score": torch.tensor(-1.0),
                                "positional_scores": torch.zeros(len(tokens)),
                            }
                        ]
                        * beam
                    )
                return hypos

            def sample(self, sentences, beam: int = 1, verbose: bool = False, **kwargs):
                if isinstance(sentences, str):
                    return self.sample([sentences], beam=beam, verbose=verbose, **kwargs)[0]
                batched = self.generate([self.encode(s) for s in sentences], beam, verbose, **kwargs)
                return [" ".join(self.decode(h[0]["tokens"]).split()) for h in batched]

            def translate(self, sentences, beam: int = 5, verbose: bool = False, **kwargs):
                return self.sample(sentences, beam, verbose, **kwargs)

        return GeneratorHubInterface()

    entry.__name__ = variant
    entry.__doc__ = entry.__doc__.replace("{variant}", variant)
    return entry


# ----------------------------------------------------------------------------- huggingface/pytorch-transformers


def hf_loader(kind: str):
    def entry(*args, **kwargs):
        """transformers' Auto{kind}.from_pretrained(*args, **kwargs), as the real hubconf does: ids
        come from the Hugging Face stand-in world (HF_HOME)."""
        import transformers

        cls = {"model": transformers.AutoModel, "tokenizer": transformers.AutoTokenizer}[kind]
        return cls.from_pretrained(*args, **kwargs)

    entry.__name__ = kind
    entry.__doc__ = entry.__doc__.replace("{kind}", kind.capitalize())
    return entry


# ----------------------------------------------------------------------------- the registry

TORCHVISION_ENTRIES = [
    "alexnet",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
    "googlenet",
    "inception_v3",
    "mobilenet_v2",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "shufflenet_v2_x1_0",
    "squeezenet1_0",
    "squeezenet1_1",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "wide_resnet50_2",
    "wide_resnet101_2",
    "fcn_resnet50",
    "fcn_resnet101",
    "deeplabv3_resnet50",
    "deeplabv3_resnet101",
    "deeplabv3_mobilenet_v3_large",
]


def _named(fn, name: str, doc: str):
    @functools.wraps(fn)
    def entry(*args, **kwargs):
        return fn(*args, **kwargs)

    entry.__name__, entry.__qualname__, entry.__doc__ = name, name, doc
    return entry


def implementation(repo: str, name: str):
    """The stand-in for entry `name` of `repo` (owner/name, no ref), or None if there is none."""
    P = functools.partial
    if repo == "pytorch/vision":
        if name in TORCHVISION_ENTRIES:
            return _named(
                P(tv_model, name),
                name,
                f"torchvision.models.{name}: torchvision's architecture, random weights.",
            )
        if name == "resnext101_32x4d":  # in APIBench's database; torchvision itself has 32x8d and 64x4d
            return _named(
                P(resnext_model, (3, 4, 23, 3), 32, 4),
                name,
                "ResNeXt-101 32x4d (torchvision ResNet, groups 32, width 4).",
            )
    if repo == "facebookresearch/WSL-Images" and name.startswith("resnext101_32x") and name.endswith("d_wsl"):
        width = int(name[len("resnext101_32x") : -len("d_wsl")])
        doc = f"ResNeXt-101 32x{width}d WSL. " + (
            "torchvision's architecture, random weights."
            if width == 8
            else f"Built at width 8 (32x8d): the real 32x{width}d has {dict([(16, 194), (32, 466), (48, 829)]).get(width, '?')}M parameters, more than a sandbox's memory."
        )
        return _named(P(resnext_model, (3, 4, 23, 3), 32, 8), name, doc)
    if repo == "facebookresearch/semi-supervised-ImageNet1K-models" and name.endswith(("_swsl", "_ssl")):
        base = name.rsplit("_", 1)[0]
        tv = {"resnet18": "resnet18", "resnet50": "resnet50", "resnext50_32x4d": "resnext50_32x4d"}.get(base)
        if tv:
            return _named(P(tv_model, tv), name, f"{name}: torchvision {tv} architecture, random weights.")
    if repo == "szq0214/MEAL-V2" and name == "meal_v2":
        return meal_v2
    if repo == "szq0214/MEAL-V1" and name == "mealv1_resnest50":
        return mealv1_resnest50
    if repo == "PingoLH/Pytorch-HarDNet" and name in ("hardnet39ds", "hardnet68ds", "hardnet68", "hardnet85"):
        return _named(hardnet(name), name, hardnet(name).__doc__)
    if repo == "XingangPan/IBN-Net" and name in (
        "resnet50_ibn_a",
        "resnet101_ibn_a",
        "resnext101_ibn_a",
        "se_resnet101_ibn_a",
    ):
        return _named(ibn(name), name, ibn(name).__doc__)
    if repo == "huawei-noah/Efficient-AI-Backbones" and name in ("snnmlp_t", "snnmlp_s", "snnmlp_b"):
        return _named(snnmlp(name), name, snnmlp(name).__doc__)
    if repo == "huawei-noah/ghostnet" and name == "ghostnet_1x":
        return _named(
            P(timm_model, "ghostnet_100"),
            name,
            "GhostNet 1.0x (timm's ghostnet_100 architecture), random weights.",
        )
    if repo == "zhanghang1989/ResNeSt" and name in ("resnest50", "resnest101", "resnest200", "resnest269"):
        arch = {
            "resnest50": "resnest50d",
            "resnest101": "resnest101e",
            "resnest200": "resnest200e",
            "resnest269": "resnest269e",
        }[name]
        return _named(
            P(timm_model, arch),
            name,
            f"{name}: timm's {arch} (the ResNeSt authors' architecture), random weights.",
        )
    if repo == "mit-han-lab/ProxylessNAS":
        target = {
            "proxylessnas_cpu": "cpu",
            "proxylessnas_gpu": "gpu",
            "proxylessnas_mobile": "mobile",
            "proxyless_cpu": "cpu",
            "proxyless_gpu": "gpu",
            "proxyless_mobile": "mobile",
        }.get(name)
        if target:
            return _named(proxyless(target), name, proxyless(target).__doc__)
    if repo == "mit-han-lab/once-for-all" and name.startswith("ofa_supernet_mbv3"):
        return _named(ofa_supernet(name), name, ofa_supernet(name).__doc__)
    if repo == "NVIDIA/DeepLearningExamples":
        classifiers = {
            "nvidia_resnet50": (
                P(tv_model, "resnet50"),
                "ResNet-50 v1.5 (torchvision's resnet50 architecture).",
            ),
            "nvidia_resneXt": (
                P(resnext_model, (3, 4, 23, 3), 32, 4),
                "ResNeXt-101 32x4d (torchvision ResNet, groups 32, width 4).",
            ),
            "nvidia_se_resnext101_32x4d": (
                P(timm_model, "seresnext101_32x4d"),
                "SE-ResNeXt-101 32x4d (timm's architecture).",
            ),
            "nvidia_efficientnet_b0": (
                P(timm_model, "efficientnet_b0"),
                "EfficientNet-B0 (timm's architecture).",
            ),
        }
        if name in classifiers:
            fn, doc = classifiers[name]
            return _named(fn, name, doc + " Random weights.")
        return {
            "nvidia_gpunet": nvidia_gpunet,
            "nvidia_convnets_processing_utils": nvidia_convnets_processing_utils,
            "nvidia_ssd": nvidia_ssd,
            "nvidia_ssd_processing_utils": nvidia_ssd_processing_utils,
            "nvidia_tacotron2": nvidia_tacotron2,
            "nvidia_waveglow": nvidia_waveglow,
            "nvidia_tts_utils": nvidia_tts_utils,
        }.get(name)
    if repo == "snakers4/silero-models":
        return {"silero_stt": silero_stt, "silero_tts": silero_tts}.get(name)
    if repo == "snakers4/silero-vad" and name == "silero_vad":
        return silero_vad
    if repo == "intel-isl/MiDaS":
        if name == "transforms":
            return midas_transforms
        kind = {
            "DPT_Large": ("DPTDepthModel", 64),
            "DPT_Hybrid": ("DPTDepthModel", 48),
            "MiDaS": ("MidasNet", 48),
            "MiDaS_small": ("MidasNet_small", 32),
        }.get(name)
        if kind:
            return _named(midas(*kind), name, midas(*kind).__doc__)
    if repo == "ultralytics/yolov5" and name.startswith("yolov5"):
        return _named(P(yolov5_model, name), name, yolov5_model.__doc__)
    if repo == "hustvl/yolop" and name == "yolop":
        return yolop
    if repo == "datvuthanh/hybridnets" and name == "hybridnets":
        return hybridnets
    if repo == "nicolalandro/ntsnet-cub200" and name == "ntsnet":
        return ntsnet
    if repo == "mateuszbuda/brain-segmentation-pytorch" and name == "unet":
        return unet
    if repo == "sigsep/open-unmix-pytorch" and name in ("umxhq", "umx", "umxse", "umxl"):
        return umx(name)
    if repo == "facebookresearch/pytorch_GAN_zoo" and name in ("DCGAN", "PGAN"):
        return gan_zoo(name)
    if repo == "facebookresearch/pytorchvideo" and name in (
        "slow_r50",
        "slowfast_r50",
        "x3d_s",
        "x3d_m",
        "x3d_xs",
    ):
        return video_model(name)
    if repo == "pytorch/fairseq":
        if name.startswith("roberta."):
            return fairseq_roberta(name)
        if name.startswith(("transformer.wmt", "conv.wmt")):
            return fairseq_translation(name)
    if repo == "huggingface/pytorch-transformers" and name in ("model", "tokenizer"):
        return hf_loader(name)
    return None


def entry(repo: str, name: str):
    """The callable a stand-in hubconf exports as `name`: the implementation, called with weights
    seeded from `repo:name` (the caller's random state is restored afterwards)."""
    impl = implementation(repo, name)
    if impl is None:
        raise RuntimeError(f"no stand-in for {repo}:{name}")

    @functools.wraps(impl)
    def load(*args, **kwargs):
        with _seeded(f"{repo}:{name}"):
            return impl(*args, **kwargs)

    load.__name__ = load.__qualname__ = name
    return load


# ----------------------------------------------------------------------------- the builder

DEPENDENCIES = {  # what each stand-in needs (checked by torch.hub before an entry runs)
    "huggingface/pytorch-transformers": ["torch", "transformers"],
    "snakers4/silero-models": ["torch", "torchaudio"],
    "snakers4/silero-vad": ["torch", "torchaudio"],
    "ultralytics/yolov5": ["torch", "torchvision", "PIL", "pandas"],
    "intel-isl/MiDaS": ["torch", "torchvision", "cv2"],
    "mateuszbuda/brain-segmentation-pytorch": ["torch"],
}
TIMM_REPOS = (
    "szq0214/MEAL-V2",
    "szq0214/MEAL-V1",
    "huawei-noah/ghostnet",
    "zhanghang1989/ResNeSt",
    "mit-han-lab/ProxylessNAS",
    "NVIDIA/DeepLearningExamples",
)

HUBCONF = '''"""Offline stand-in of github.com/{repo} (ref {ref}) in gorilla-rlaif's APIBench world.

Not the real repository: the entry points below are the ones APIBench's API database and answers
use, each returning an object of the shape the real one returns, with random weights (see
_gorilla_torchhub.py). Written by gorilla_rlaif/harness/world/standins_torchhub.py.
"""

dependencies = {deps!r}

import {library} as _standins

{entries}
'''


def repo_dir_name(repo: str, ref: str) -> str:
    owner, name = repo.split("/")
    return f"{owner}_{name}_{ref.replace('/', '_')}"


def hubconf_text(repo: str, ref: str, names) -> str:
    deps = DEPENDENCIES.get(repo, ["torch", "torchvision", *(["timm"] if repo in TIMM_REPOS else [])])
    lines = []
    for name in sorted(names):
        call = f"_standins.entry({repo!r}, {name!r})"
        lines.append(
            f"{name} = {call}"
            if name.isidentifier()
            else f"globals()[{name!r}] = {call}  # a dotted name, as fairseq registers them"
        )
    return HUBCONF.format(repo=repo, ref=ref, deps=deps, library=LIBRARY, entries="\n".join(lines))


# Arguments the probe passes where an entry has no usable defaults (as the API database calls them).
PROBES = {
    "meal_v2": (("mealv2_resnest50",), {}),
    "silero_tts": ((), {"language": "en", "speaker": "lj_16khz"}),
}


def _probe(repo: str, ref: str, name: str, hub_dir: str) -> dict:
    """Load one entry the way an answer does (through torch.hub, from the written repository)."""
    import torch

    if repo == "huggingface/pytorch-transformers":
        return {"status": "built", "probe": "skipped: loads ids of the Hugging Face stand-in world"}
    args, kwargs = PROBES.get(name, ((), {}))
    start = time.perf_counter()
    obj = torch.hub.load(
        f"{repo}:{ref}", name, *args, source="github", verbose=False, skip_validation=True, **kwargs
    )
    seconds = round(time.perf_counter() - start, 3)
    kind = (
        type(obj).__name__
        if not isinstance(obj, tuple)
        else "tuple(" + ", ".join(type(o).__name__ for o in obj) + ")"
    )
    params = sum(p.numel() for p in obj.parameters()) if isinstance(obj, torch.nn.Module) else None
    del obj
    return {
        "status": "built",
        "type": kind,
        "load_s": seconds,
        "params_m": None if params is None else round(params / 1e6, 2),
    }


def build(plan: list[dict], out: str) -> dict:
    """Write the stand-in repositories of `plan` under out/torch/hub and load each entry once."""
    import torch

    start = time.monotonic()
    hub_dir = os.path.join(out, "torch", "hub")
    os.makedirs(hub_dir, exist_ok=True)
    torch.hub.set_dir(hub_dir)
    torch.set_num_threads(1)
    refs: dict[str, set[str]] = {}
    entries: dict[str, set[str]] = {}
    report = {"built": 0, "failed": 0, "skipped": 0, "items": {}}
    for item in plan:
        key = f"{item['repo']}:{item['entry']}"
        if item.get("status", "build") != "build":
            report["skipped"] += 1
            report["items"][key] = {"status": "skipped", "reason": item.get("reason", "")}
            continue
        if implementation(item["repo"], item["entry"]) is None:
            report["failed"] += 1
            report["items"][key] = {"status": "failed", "reason": "no stand-in implementation for this entry"}
            continue
        refs.setdefault(item["repo"], set()).update(item["refs"])
        entries.setdefault(item["repo"], set()).add(item["entry"])
    # every ref of a repository holds all its planned entries (a ref is a version of the same repo)
    wanted = {(repo, ref): entries[repo] for repo in refs for ref in refs[repo]}

    library_copy = None

    def write(repo, ref, names):
        nonlocal library_copy
        path = os.path.join(hub_dir, repo_dir_name(repo, ref))
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "hubconf.py"), "w") as f:
            f.write(hubconf_text(repo, ref, names))
        target = os.path.join(path, LIBRARY + ".py")
        if not os.path.exists(target):
            if library_copy is None:
                with open(os.path.abspath(__file__)) as src, open(target, "w") as dst:
                    dst.write(src.read())
                library_copy = target
            else:
                os.link(library_copy, target)  # one inode for every repository

    for (repo, ref), names in sorted(wanted.items()):
        write(repo, ref, names)
    with open(os.path.join(hub_dir, "trusted_list"), "w") as f:
        f.write("".join(f"{r.replace('/', '_')}\n" for r in sorted({repo for repo, _ in wanted})))

    failed: set[tuple[str, str]] = set()
    for item in plan:
        key = f"{item['repo']}:{item['entry']}"
        if key in report["items"]:
            continue
        ref = item["refs"][0]
        try:
            with _seeded("probe"):
                result = _probe(item["repo"], ref, item["entry"], hub_dir)
            result["refs"] = item["refs"]
            report["built"] += 1
        except Exception as exc:  # the entry is left out: code that loads it meets a hub error
            result = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"[:500]}
            report["failed"] += 1
            failed.add((item["repo"], item["entry"]))
        report["items"][key] = result
        print(
            f"  {key}: {result.get('type', result.get('reason', result.get('probe')))} {result.get('load_s', '')}",
            file=sys.stderr,
        )
    for (repo, ref), names in sorted(wanted.items()):
        if any((repo, n) in failed for n in names):
            write(repo, ref, {n for n in names if (repo, n) not in failed})
    report["repos"] = sorted(repo_dir_name(r, ref) for r, ref in wanted)
    report["build_s"] = round(time.monotonic() - start, 1)
    return report


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--plan", required=True, help="PLAN.json written by gorilla_rlaif.harness.world.torchhub"
    )
    parser.add_argument("--out", required=True, help="output directory (torch/hub/... and report.json)")
    args = parser.parse_args(argv)
    with open(args.plan) as f:
        plan = json.load(f)
    report = build(plan, args.out)
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    print(
        f"torchhub stand-ins: {report['built']} built, {report['failed']} failed, {report['skipped']} skipped, "
        f"{len(report['repos'])} repositories, {report['build_s']} s",
        file=sys.stderr,
    )
    return 0  # an entry that failed is absent from its hubconf (a hub error), and listed in the report


if __name__ == "__main__":
    sys.exit(main())
