import numpy as np
import pytest
from scipy.spatial import procrustes
from scipy.spatial.transform import Rotation

from dalnb import metrics as M


def test_procrustes_recovers_a_similarity():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(5, 17, 3))
    R = Rotation.random(5, random_state=1).as_matrix()
    pred = 1.7 * np.einsum("bij,bnj->bni", R, gt) + rng.normal(size=(5, 1, 3))
    assert np.allclose(M.procrustes_align(pred, gt), gt, atol=1e-9)
    assert np.allclose(M.pa_mpjpe(pred, gt), 0, atol=1e-9)


def test_pa_error_against_scipy():
    """scipy's procrustes standardises both sets; its disparity equals our aligned squared
    error divided by the ground truth's centred sum of squares."""
    rng = np.random.default_rng(2)
    gt, pred = rng.normal(size=(1, 20, 3)), rng.normal(size=(1, 20, 3))
    _, _, disparity = procrustes(gt[0], pred[0])
    aligned = M.procrustes_align(pred, gt)[0]
    g = gt[0] - gt[0].mean(0)
    assert np.isclose(((aligned - gt[0]) ** 2).sum() / (g**2).sum(), disparity)


def test_reflections_are_not_allowed():
    gt = np.random.default_rng(3).normal(size=(1, 10, 3))
    mirrored = gt * np.array([-1, 1, 1])
    assert M.pa_error(mirrored, gt)[0] > 0.1


def test_mpjpe_hand_made_and_rescaling():
    gt = np.zeros((1, 17, 3))
    gt[0, :, 0] = np.arange(17) * 0.1
    shifted = gt + 5.0
    assert np.allclose(M.mpjpe(shifted, gt), 0)
    one_off = gt.copy()
    one_off[0, 3, 1] += 0.17  # one joint 17 cm off: mean 1 cm
    assert np.isclose(M.mpjpe(one_off, gt, rescale=False)[0], 0.01)
    assert np.allclose(M.mpjpe(2.0 * gt, gt, rescale=True), 0) and M.mpjpe(2.0 * gt, gt, rescale=False)[0] > 0.1
    with pytest.raises(ValueError, match="shapes differ"):
        M.mpjpe(gt[:, :5], gt)


def test_pixel_error_with_padding():
    a = np.zeros((1, 3, 2))
    b = np.array([[[3.0, 4.0], [0, 0], [100, 100]]])
    assert np.isclose(M.pixel_error(b, a, np.array([[1, 1, 0]]))[0], 2.5)
