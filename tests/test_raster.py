"""The rasterizer against an outside reference: trimesh ray casting on the same mesh and camera."""

import numpy as np
import pytest
import torch

from dalnb.render import rasterize

trimesh = pytest.importorskip("trimesh")


def _cast(mesh_xyz, faces, H, W, perspective):
    m = trimesh.Trimesh(mesh_xyz, faces, process=False)
    ii, jj = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    if perspective:  # camera at the origin; mesh_xyz are camera-frame points, f = 1 px units handled by caller
        raise NotImplementedError
    orig = np.c_[jj.ravel() + 0.5, ii.ravel() + 0.5, np.full(H * W, -100.0)]
    dirs = np.tile([0.0, 0.0, 1.0], (H * W, 1))
    return m.ray.intersects_first(orig, dirs).reshape(H, W)


@pytest.mark.parametrize("size", [48, 96])
def test_orthographic_matches_trimesh(body, size):
    torch.manual_seed(0)
    pose = torch.randn(1, 24, 3) * 0.3
    v = body(pose).vertices[0].double()
    s = 0.9 * size / float(v[:, 1].max() - v[:, 1].min())
    xy = torch.stack([v[:, 0] * s + size / 2, -v[:, 1] * s + size / 2], -1)
    z = 5.0 - v[:, 2]
    fr = rasterize(xy, z, body.faces, size, size)
    ref = _cast(np.c_[xy.numpy(), z.numpy()], body.faces.numpy(), size, size, False)
    assert (fr.face.numpy() >= 0).sum() > 0.1 * size * size
    assert np.mean((fr.face.numpy() >= 0) == (ref >= 0)) > 0.999
    both = (ref >= 0) & (fr.face.numpy() >= 0)
    assert np.mean(fr.face.numpy()[both] == ref[both]) > 0.995


def test_perspective_depth_matches_ray_hits(body):
    """Perspective: the rasterized 3D point at each pixel equals trimesh's ray hit."""
    H = W = 64
    f, c = 70.0, 32.0
    v = body.v_template.double().numpy() * np.array([1, -1, -1]) + np.array([0, 0, 3.0])  # facing the camera
    uv = f * v[:, :2] / v[:, 2:] + c
    fr = rasterize(torch.as_tensor(uv), torch.as_tensor(v[:, 2]), body.faces, H, W, perspective=True)
    m = trimesh.Trimesh(v, body.faces.numpy(), process=False)
    ii, jj = np.nonzero(fr.face.numpy() >= 0)
    dirs = np.c_[(jj + 0.5 - c) / f, (ii + 0.5 - c) / f, np.ones(len(ii))]
    loc, idx_ray, _ = m.ray.intersects_location(np.zeros_like(dirs), dirs, multiple_hits=False)
    hit = np.full((len(ii), 3), np.nan)
    hit[idx_ray] = loc
    F = body.faces.numpy()[fr.face.numpy()[ii, jj]]
    ours = (v[F] * fr.bary.numpy()[ii, jj][..., None]).sum(1)
    ok = ~np.isnan(hit[:, 0])
    assert ok.mean() > 0.99
    assert np.median(np.linalg.norm(ours[ok] - hit[ok], axis=1)) < 1e-6


def test_empty_and_bad_input(body):
    fr = rasterize(torch.full((body.num_vertices, 2), -50.0), torch.ones(body.num_vertices), body.faces, 16, 16)
    assert not fr.mask.any()
    with pytest.raises(ValueError, match="xy"):
        rasterize(torch.zeros(10, 3), torch.ones(10), body.faces, 8, 8)
