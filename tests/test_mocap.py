from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import shared_data

from dalnb.data.mocap import MocapFormatError, load_bvh, load_motion, retarget

HERE = Path(__file__).parent / "data" / "cmu"


def test_bvh_and_asf_amc_parse():
    m = load_bvh(HERE / "131_01.bvh")
    assert m.num_frames == 994 and abs(m.fps - 120) < 0.01 and len(m.names) == 31
    a = load_motion(HERE / "11_01.amc")
    assert a.num_frames == 597 and "lfemur" in a.names
    R = a.local_rotations
    assert np.allclose(R @ np.swapaxes(R, -1, -2), np.eye(3), atol=1e-9)


def test_every_shared_clip_loads_and_retargets(body):
    folder = shared_data("04_bvh_cmu")
    for p in sorted(folder.glob("*.bvh")) + sorted(folder.glob("*.amc")):
        m = load_motion(p)
        aa = retarget(m, body.data.joints, body.data.segment_axes, frames=slice(0, None, 50))
        assert aa.shape[1:] == (24, 3) and np.isfinite(aa).all(), p.name


def test_retarget_follows_the_capture(body):
    """Our bone directions after retargeting equal the capture's bone directions (world frame
    aligned), for the limbs."""
    m = load_bvh(HERE / "131_01.bvh")
    frames = slice(0, None, 97)
    aa = retarget(m, body.data.joints, body.data.segment_axes, frames=frames)
    out = body(torch.as_tensor(aa))
    J = out.joints.numpy()
    W = m.world_rotations()[frames]
    P = m.rest_positions
    names = {
        "left_knee": ("LeftKnee", "left_ankle"),
        "right_elbow": ("RightElbow", "right_wrist"),
        "left_hip": ("LeftHip", "left_knee"),
    }
    # global alignment as in retarget: x from the hips, y up
    lat = P[m.names.index("LeftHip")] - P[m.names.index("RightHip")]
    up = P[m.names.index("lowerneck")] - P[m.names.index("Hips")]
    ex = lat / np.linalg.norm(lat)
    ey = up - (up @ ex) * ex
    ey /= np.linalg.norm(ey)
    G = np.stack([ex, ey, np.cross(ex, ey)])
    for ours, (cap, child) in names.items():
        j = m.names.index(cap)
        d_cap = np.einsum("ij,tjk,k->ti", G, W[:, j], m.bone_dirs[j])
        d_ours = J[:, body.joint_index(child)] - J[:, body.joint_index(ours)]
        d_ours /= np.linalg.norm(d_ours, axis=1, keepdims=True)
        cos = (d_cap * d_ours).sum(1)
        assert cos.min() > 0.99, (ours, cos)


def test_malformed_mocap_names_file(tmp_path):
    p = tmp_path / "bad.bvh"
    p.write_text((HERE / "131_01.bvh").read_text()[:5000])
    with pytest.raises(MocapFormatError, match="bad.bvh"):
        load_bvh(p)
    q = tmp_path / "x.txt"
    q.write_text("hello")
    with pytest.raises(MocapFormatError, match="expected a .bvh or .amc"):
        load_motion(q)
