"""Oracle test against anny's own forward pass (explained in notebook 01)."""
import numpy as np
import pytest
import torch

from dalnb.body import skeleton as sk
from dalnb.body.template import ANNY_TO_TEMPLATE, load_anny_model


@pytest.fixture(scope="module")
def anny_model():
    return load_anny_model()


def _anny_world_orient_delta(anny_model, body64, Rw):
    """anny deltas ('world-orient': each bone's world orientation, its head following its
    parent) that rotate every bone with its segment's world rotation Rw (ours, (S,3,3))."""
    C = torch.as_tensor(ANNY_TO_TEMPLATE)
    rest_poses = anny_model(None)["rest_bone_poses"][0]
    seg = torch.as_tensor(body64.data.anny_bone_segment)
    Rw_anny = C.T @ Rw[seg] @ C  # (104, 3, 3) in anny's frame
    D = torch.eye(4, dtype=torch.float64).repeat(len(seg), 1, 1)
    D[:, :3, :3] = Rw_anny @ rest_poses[:, :3, :3]
    D[0, :3, 3] = rest_poses[0, :3, 3]
    return D[None]


def test_matches_anny_forward(anny_model, body64):
    """With unit scales and a pose that rotates only the bones that start our segments (the
    bones inside a segment keep their rest orientation relative to it), our vertices match
    anny's (via source_vertex_ids) within 1e-4 m."""
    torch.manual_seed(0)
    pose = torch.randn(1, 24, 3, dtype=torch.float64) * 0.5
    # toes and fingers start at several knuckles in anny: keep them rigid to their parent
    for n in ("left_foot", "right_foot", "left_hand", "right_hand"):
        pose[0, sk.joint_index(n)] = 0
    out = body64(pose)
    D = _anny_world_orient_delta(anny_model, body64, out.world_rotations[0])
    with torch.no_grad():
        va = anny_model(D, pose_parameterization="world-orient")["vertices"][0]
    va = va @ torch.as_tensor(ANNY_TO_TEMPLATE).T
    ours = out.vertices[0]
    theirs = va[torch.as_tensor(body64.source_vertex_ids)]
    err = (ours - theirs).norm(dim=1)
    assert float(err.max()) < 1e-4, float(err.max())
    assert float((ours - body64.v_template).norm(dim=1).max()) > 0.1  # the pose did move things


def test_rest_matches_anny(anny_model, body64):
    rest = anny_model(None)["rest_vertices"][0] @ torch.as_tensor(ANNY_TO_TEMPLATE).T
    err = (body64.v_template - rest[torch.as_tensor(body64.source_vertex_ids)]).norm(dim=1)
    assert float(err.max()) < 1e-9
    assert np.unique(body64.source_vertex_ids).size == body64.num_vertices
