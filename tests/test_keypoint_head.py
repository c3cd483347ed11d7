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


def test_heatmap_loss_is_zero_on_its_target_and_its_peak_reads_out_at_the_keypoint():
    from dalnb.keypoint_head import heatmap_loss

    H = W = 12
    kp = torch.tensor([[[0.1, -0.2, 1.0], [0.3, 0.25, 0.0]]])  # the second is unannotated
    c = (torch.arange(W) + 0.5) / W - 0.5
    d2 = ((c[None, :] - kp[0, :, 0, None, None]) * W) ** 2 + ((c[:, None] - kp[0, :, 1, None, None]) * H) ** 2
    target = -d2[None] / 2  # log of a Gaussian one cell wide
    assert float(heatmap_loss(target, kp)) < 1e-6
    np.testing.assert_allclose(soft_argmax(target)[0, 0].numpy(), [0.1, -0.2], atol=2e-3)
    shifted = target.roll(2, dims=-1)  # the first map two cells to the right
    assert float(heatmap_loss(shifted, kp)) > 1.0
    other = target.clone()
    other[0, 1] = 0.0  # the unannotated keypoint's map changes nothing
    assert float(heatmap_loss(other, kp)) < 1e-6
    try:
        heatmap_loss(target, kp[..., :2])
    except ValueError as e:
        assert "(1, 2, 3)" in str(e)
    else:
        raise AssertionError("a (B, K, 2) keypoint tensor was accepted")


def test_the_regressor_gives_its_heatmaps_to_the_loss_and_the_grid_pool_keeps_the_layout(body):
    torch.manual_seed(0)
    m = Regressor(RegressorConfig(image_size=64, hidden=32, keypoint_head=True, pool="grid", w_heatmap=1.0))
    img = torch.rand(2, 3, 64, 64)
    x, heads = m(img, aux=True)
    kp, logits = heads["keypoints"], heads["heatmaps"]
    assert x.shape == (2, 152) and kp.shape == (2, 17, 2) and logits.shape == (2, 17, 8, 8)
    assert torch.equal(soft_argmax(logits), kp) and torch.equal(m(img), x)
    ann = torch.zeros(2, 17, 3)
    ann[..., 2] = 1
    args = (torch.zeros(2, 1, dtype=torch.int64), torch.zeros(2, 1, 2), torch.zeros(2, 1), ann)
    T = regressor_loss(body, x, None, *args, torch.tensor([0]), torch.ones(17, 1), m.cfg, kp, logits)
    assert float(T["heatmap"].detach()) > 0
    try:
        Regressor(RegressorConfig(image_size=64, hidden=32, pool="max"))
    except ValueError as e:
        assert "'max'" in str(e) and "grid" in str(e)
    else:
        raise AssertionError("an unknown pool was accepted")


def test_surface_loss_reads_the_maps_at_the_annotated_pixels_and_the_head_learns_them(body):
    from dalnb.keypoint_head import surface_loss, surface_targets

    targets = surface_targets(body.v_template)
    assert targets[:, 1].min() > -1.001 and targets[:, 1].max() < 1.001 and targets.abs().max() <= 1.001
    h = w = 8
    cells = torch.tensor([[1, 2], [5, 7], [0, 0]])  # (row, column) of three annotated pixels
    xy = torch.stack([(cells[:, 1] + 0.5) / w - 0.5, (cells[:, 0] + 0.5) / h - 0.5], -1)[None]  # cell centres
    verts = torch.tensor([[10, 2000, 4000]])
    maps = torch.zeros(1, 3, h, w)
    for (r, c), v in zip(cells.tolist(), verts[0].tolist()):
        maps[0, :, r, c] = targets[v]
    ones = torch.ones(1, 3)
    assert float(surface_loss(maps, xy, verts, ones, targets)) < 1e-6
    assert float(surface_loss(maps, xy, verts.roll(1, 1), ones, targets)) > 0.05  # the points' vertices swapped
    assert float(surface_loss(maps, xy, verts.roll(1, 1), torch.zeros(1, 3), targets)) == 0.0  # padding only

    torch.manual_seed(0)
    m = Regressor(RegressorConfig(image_size=64, hidden=32, keypoint_head=False, w_surface=1.0))
    img = torch.rand(2, 3, 64, 64)
    dv, dxy = torch.randint(0, len(targets), (2, 20)), torch.rand(2, 20, 2) - 0.5
    opt = torch.optim.Adam(m.surface.parameters(), 1e-2)
    first = None
    for _ in range(30):
        opt.zero_grad()
        x, heads = m(img, aux=True)
        assert heads["surface"].shape == (2, 3, 8, 8) and "keypoints" not in heads
        loss = surface_loss(heads["surface"], dxy, dv, torch.ones(2, 20), targets)
        first = float(loss) if first is None else first
        loss.backward()
        opt.step()
    assert float(loss) < 0.5 * first
