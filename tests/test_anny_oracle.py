"""Oracle test against anny's own forward pass (explained in notebook 01)."""

import numpy as np
import pytest
import torch

from dalnb.body.oracle import compare_with_anny, oracle_pose
from dalnb.body.template import ANNY_TO_TEMPLATE, load_anny_model


@pytest.fixture(scope="module")
def anny_model():
    return load_anny_model()


def test_matches_anny_forward(anny_model, body64):
    """Unit scales, a pose rotating only the bones that start our segments: our vertices
    match anny's (via source_vertex_ids) within 1e-4 m."""
    pose = oracle_pose(batch=3, scale=0.5, seed=0)
    err = compare_with_anny(anny_model, body64, pose)
    assert float(err.max()) < 1e-4, err
    moved = (body64(pose).vertices - body64.v_template).norm(dim=-1).amax(1)
    assert float(moved.min()) > 0.1  # the pose did move the body


def test_oracle_detects_a_wrong_pose(anny_model, body64):
    """The comparison can fail: anny posed with another pose differs by centimetres."""
    from dalnb.body.oracle import anny_vertices_for

    pose = oracle_pose(batch=1, seed=1)
    other = body64(oracle_pose(batch=1, seed=2)).world_rotations
    theirs = anny_vertices_for(anny_model, body64, other)[:, torch.as_tensor(body64.source_vertex_ids)]
    assert float((body64(pose).vertices - theirs).norm(dim=-1).max()) > 0.05


def test_rest_matches_anny(anny_model, body64):
    rest = anny_model(None)["rest_vertices"][0] @ torch.as_tensor(ANNY_TO_TEMPLATE).T
    err = (body64.v_template - rest[torch.as_tensor(body64.source_vertex_ids)]).norm(dim=1)
    assert float(err.max()) < 1e-9
    assert np.unique(body64.source_vertex_ids).size == body64.num_vertices
