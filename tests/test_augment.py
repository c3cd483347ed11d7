"""In-plane augmentation (training.augment): the turned and scaled targets project where the turned
annotations lie, and the turned image carries its content there."""

import math

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from dalnb.body.camera import project
from dalnb.regressor import Prediction, mean_params, params_to_body
from dalnb.training.augment import Turn, turn_matrix


def _joints_2d(body, x: torch.Tensor) -> torch.Tensor:
    p = Prediction.from_flat(x)
    return project(params_to_body(body, p).joints, torch.cat([p.camera[:, :1].exp(), p.camera[:, 1:]], 1))


def test_turn_matrix_against_scipy():
    a = torch.tensor([0.3, -1.2])
    want = Rotation.from_rotvec(np.array([[0, 0, 0.3], [0, 0, -1.2]])).as_matrix()
    np.testing.assert_allclose(turn_matrix(a).numpy(), want, atol=1e-6)


def test_turned_targets_project_onto_the_turned_annotations(body):
    torch.manual_seed(0)
    x = mean_params(3)
    x[:, :92] += 0.2 * torch.randn(3, 92)
    x[:, 92:140] = 0.1 * torch.randn(3, 48)
    x[:, 149:] += 0.05 * torch.randn(3, 3)
    u = _joints_2d(body, x)
    turn = Turn(30, 0.2, body.j_template[0])
    angle, factor = torch.tensor([0.3, -0.5, 1.0]), torch.tensor([1.1, 0.9, 1.0])
    kp = torch.cat([0.5 * u, torch.ones(3, 24, 1)], -1)
    _, x2, dxy, dw, kp2 = turn.batch(torch.rand(3, 3, 16, 16), x, u, torch.ones(3, 24), kp, angle, factor)
    np.testing.assert_allclose(_joints_2d(body, x2).numpy(), dxy.numpy(), atol=1e-5)
    np.testing.assert_allclose(kp2[..., :2].numpy(), 0.5 * dxy.numpy(), atol=1e-6)
    p, p2 = Prediction.from_flat(x), Prediction.from_flat(x2)
    assert torch.equal(p.quat, p2.quat) and torch.equal(p.log_scales, p2.log_scales)
    # what leaves the crop loses its weight, what stays keeps it
    assert torch.equal(dw.bool(), (dxy.abs() <= 0.5).all(-1)) and torch.equal(
        kp2[..., 2].bool(), (kp2[..., :2].abs() <= 0.5).all(-1)
    )


def test_the_turned_image_carries_a_dot_to_the_turned_point():
    S = 64
    img = torch.zeros(1, 3, S, S)
    row, col = 20, 44
    img[0, :, row - 1 : row + 2, col - 1 : col + 2] = 1.0
    u = torch.tensor([[[(col + 0.5) / S - 0.5, (row + 0.5) / S - 0.5]]])
    kp = torch.cat([u, torch.ones(1, 1, 1)], -1)
    turn = Turn(30, 0.2, torch.zeros(3))
    out, _, dxy, _, _ = turn.batch(
        img, None, u, torch.ones(1, 1), kp, torch.tensor([math.radians(25)]), torch.tensor([1.15])
    )
    r, c = np.unravel_index(int(out[0, 0].argmax()), (S, S))
    want = (dxy[0, 0].numpy() + 0.5) * S - 0.5
    assert abs(c - want[0]) <= 1.0 and abs(r - want[1]) <= 1.0
