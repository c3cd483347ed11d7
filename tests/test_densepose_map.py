"""The exact DensePose -> template map, tested on stand-in files in the real formats
(UV_Processed.mat and an SMPL-style pickle) built from our own template, so the right answer is
known: the identity correspondence."""

import pickle

import numpy as np
import pytest
import scipy.io
import torch

from dalnb.data.densepose_map import (
    build_densepose_map,
    closest_points_on_faces,
    load_smpl_mesh,
    load_uv_processed,
    part_vertex_ids,
)
from dalnb.data.loaders import DataError


@pytest.fixture(scope="module")
def standin(tmp_path_factory, body):
    d = tmp_path_factory.mktemp("dp")
    pose = torch.zeros(1, 24, 3)
    pose[0, body.joint_index("left_shoulder"), 2] = 0.7  # a T-pose like SMPL's rest
    pose[0, body.joint_index("right_shoulder"), 2] = -0.7
    v = body(pose).vertices[0].double().numpy() * 1.05 + np.array([0.01, 0.2, -0.03])
    with open(d / "smpl.pkl", "wb") as f:
        pickle.dump({"v_template": v, "f": body.data.faces, "weights": np.zeros((len(v), 24))}, f)
    F = body.data.faces
    fp = body.parts[F]
    keep = (fp == fp[:, :1]).all(1) & (np.ptp(body.data.uv[F], axis=1).max(1) < 0.5)
    scipy.io.savemat(
        d / "UV_Processed.mat",
        {
            "All_FaceIndices": fp[keep, 0][:, None].astype(float),
            "All_Faces": (F[keep] + 1).astype(float),
            "All_U_norm": body.data.uv[:, :1],
            "All_V_norm": body.data.uv[:, 1:],
            "All_vertices": (np.arange(len(v)) + 1)[:, None].astype(float),
        },
    )
    return d, np.unique(F[keep])


def test_exact_map_recovers_the_correspondence(standin, body):
    d, charted = standin
    m = build_densepose_map(d / "UV_Processed.mat", d / "smpl.pkl", body, iters=120)
    assert m.fit_error_m < 0.02
    ids = np.random.default_rng(0).choice(charted, 200, replace=False)
    sp = m.to_template(body.charts.vertex_iuv(ids))
    F = body.data.faces
    got = (body.data.vertices[F[sp.face]] * sp.bary[..., None]).sum(1)
    err = np.linalg.norm(got - body.data.vertices[ids], axis=1)
    assert np.median(err) < 0.015 and np.percentile(err, 90) < 0.04
    assert (body.parts[F[sp.face]] == body.parts[ids][:, None]).all()  # lands on the same part


def test_loaders_check_formats(tmp_path, standin):
    d, _ = standin
    uvp = load_uv_processed(d / "UV_Processed.mat")
    assert uvp["faces"].min() == 0 and uvp["smpl_vertex"].min() == 0
    np.savez(tmp_path / "smpl.npz", v_template=np.zeros((5, 3)), f=np.zeros((2, 3), np.int64))
    v, f = load_smpl_mesh(tmp_path / "smpl.npz")
    assert v.shape == (5, 3)
    scipy.io.savemat(tmp_path / "x.mat", {"All_Faces": np.ones((2, 3))})
    with pytest.raises(DataError, match="missing"):
        load_uv_processed(tmp_path / "x.mat")
    with pytest.raises(DataError, match="smpl.is.tue.mpg.de"):
        load_smpl_mesh(tmp_path / "nope.pkl")


def test_part_vertices_and_closest_points(body):
    ids = part_vertex_ids(body, 2)
    assert len(ids) > 100 and (body.parts[ids] == 2).all()
    with pytest.raises(ValueError, match="1..24"):
        part_vertex_ids(body, 0)
    tri = np.array([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]])
    pts = np.array([[0.2, 0.2, 1.0], [2.0, -1.0, 0.0]])
    f, b, dist = closest_points_on_faces(pts, tri.reshape(-1, 3), np.array([[0, 1, 2]]))
    assert np.allclose(dist, [1.0, np.sqrt(2)]) and np.allclose(b[0], [0.6, 0.2, 0.2])
