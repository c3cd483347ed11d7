"""The regressor's 2D keypoint head: soft-argmax in the crop's frame, trained on 2D annotations."""

import numpy as np
import torch

from dalnb.keypoint_head import soft_argmax
from dalnb.regressor import Regressor, RegressorConfig, regressor_loss


def test_a_peaked_heatmap_reads_out_at_its_cell_centre_in_the_normalised_frame():
    logits = torch.full((1, 2, 12, 12), -50.0)
    logits[0, 0, 3, 7] = 50.0  # row 3, column 7
    logits[0, 1, 0, 0] = 50.0
    xy = soft_argmax(logits)[0].numpy()
    np.testing.assert_allclose(xy[0], [(7 + 0.5) / 12 - 0.5, (3 + 0.5) / 12 - 0.5], atol=1e-6)
    np.testing.assert_allclose(xy[1], [0.5 / 12 - 0.5, 0.5 / 12 - 0.5], atol=1e-6)


def test_a_flat_heatmap_reads_out_at_the_centre_and_the_read_out_is_the_softmax_mean():
    assert torch.allclose(soft_argmax(torch.zeros(2, 17, 6, 6)), torch.zeros(2, 17, 2), atol=1e-6)
    g = torch.randn(1, 1, 5, 4)
    p = g.reshape(-1).softmax(0).reshape(5, 4).numpy()
    xs, ys = (np.arange(4) + 0.5) / 4 - 0.5, (np.arange(5) + 0.5) / 5 - 0.5
    want = [(p * xs[None]).sum(), (p * ys[:, None]).sum()]
    np.testing.assert_allclose(soft_argmax(g)[0, 0].numpy(), want, rtol=1e-5, atol=1e-6)


def test_the_keypoint_head_gives_keypoints_to_the_loss_and_learns_from_the_annotations(body):
    torch.manual_seed(0)
    m = Regressor(RegressorConfig(image_size=64, hidden=32, keypoint_head=True))
    img = torch.rand(2, 3, 64, 64)
    x, kp = m(img, keypoints=True)
    assert x.shape == (2, 152) and kp.shape == (2, 17, 2) and torch.equal(m(img), x)
    ann = torch.zeros(2, 17, 3)
    ann[..., 2] = 1
    ann[0, :, 0] = 0.3  # every keypoint of the first image at x = 0.3
    args = (torch.zeros(2, 1, dtype=torch.int64), torch.zeros(2, 1, 2), torch.zeros(2, 1), ann)
    sup, reg = torch.tensor([0]), torch.ones(17, 1)
    T = regressor_loss(body, x, None, *args, sup, reg, m.cfg, kp)
    assert "keypoints2d" in T and float(T["keypoints2d"].detach()) > 0
    T0 = regressor_loss(body, x, None, *args, sup, reg, m.cfg)
    assert "keypoints2d" not in T0
    opt = torch.optim.Adam(m.keypoints.parameters(), 1e-2)
    for _ in range(30):
        opt.zero_grad()
        x, kp = m(img, keypoints=True)
        regressor_loss(body, x, None, *args, sup, reg, m.cfg, kp)["keypoints2d"].backward()
        opt.step()
    x, kp = m(img, keypoints=True)
    after = regressor_loss(body, x, None, *args, sup, reg, m.cfg, kp)["keypoints2d"]
    assert float(after.detach()) < 0.5 * float(T["keypoints2d"].detach())
