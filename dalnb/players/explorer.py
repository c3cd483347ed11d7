"""The body explorer (notebook 01): a slider per joint rotation (axis-angle components) and per
segment's length and girth scale, a reset button; the pythreejs mesh updates in place. The
sliders need a kernel; ``explorer_poses`` shows a few precomputed poses that play without one."""

from __future__ import annotations

import time

import numpy as np
import torch

__all__ = ["EXPLORER_JOINTS", "EXPLORER_SEGMENTS", "body_explorer", "explorer_poses", "EXAMPLE_POSES"]

EXPLORER_JOINTS = (
    "spine1",
    "left_shoulder",
    "left_elbow",
    "right_shoulder",
    "right_elbow",
    "left_hip",
    "left_knee",
    "right_hip",
    "right_knee",
)
EXPLORER_SEGMENTS = ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_knee", "right_knee", "spine1")
EXAMPLE_POSES = {  # what the HTML shows instead of the free sliders
    "rest": ({}, {}),
    "stepping": ({"right_hip": [-0.9, 0, 0], "right_knee": [1.2, 0, 0], "left_shoulder": [0.6, 0, 0.5]}, {}),
    "arms raised, left elbow bent": (
        {"left_shoulder": [0, 0, 1.1], "right_shoulder": [0, 0, -1.1], "left_elbow": [0, -1.4, 0]},
        {},
    ),
    "long thighs, thick upper arms": (
        {},
        {"left_hip": (1.3, 1.0), "right_hip": (1.3, 1.0), "left_shoulder": (1.0, 1.5), "right_shoulder": (1.0, 1.5)},
    ),
}


def _scales(body, segs: dict[str, tuple[float, float]]) -> torch.Tensor:
    sc = torch.ones(1, body.num_joints, 2)
    for name, (length, girth) in segs.items():
        sc[0, body.joint_index(name)] = torch.tensor([length, girth])
    return sc


def explorer_poses(body, poses: dict = EXAMPLE_POSES, height: int = 380):
    """The precomputed poses in the plain-JavaScript viewer, a slider stepping through them."""
    from dalnb.viz import mesh_view, part_colors

    frames = [
        [body(body.pose_of(**rot), segment_scales=_scales(body, segs)).vertices[0]] for rot, segs in poses.values()
    ]
    labels = [f"precomputed pose: {k}" for k in poses]
    return mesh_view(frames[0], body.faces, colors=part_colors(body.parts), height=height, frames=frames, labels=labels)


def body_explorer(body, joints=EXPLORER_JOINTS, segments=EXPLORER_SEGMENTS):
    """An ipywidgets panel: sliders (pose tab: x, y, z of each joint's axis-angle, radians; shape
    tab: length and girth scale of each segment), a reset button, a pythreejs view updated in
    place, and the last update's time."""
    import ipywidgets as W

    from dalnb.viz import mesh_widget, part_colors

    view = mesh_widget(body.v_template, body.faces, colors=part_colors(body.parts))
    geom = view.scene.children[0].geometry
    look = {"style": {"description_width": "110px"}, "layout": W.Layout(width="330px")}
    rot = {
        (j, a): W.FloatSlider(0.0, min=-2.5, max=2.5, step=0.05, description=f"{j} {a}", **look)
        for j in joints
        for a in "xyz"
    }
    shp = {
        (s, k): W.FloatSlider(1.0, min=0.5, max=1.6, step=0.05, description=f"{s} {k}", **look)
        for s in segments
        for k in ("length", "girth")
    }
    took = W.Label("")

    def update(_=None):
        t0 = time.perf_counter()
        pose = body.pose_of(**{j: [rot[(j, a)].value for a in "xyz"] for j in joints})
        segs = {s: (shp[(s, "length")].value, shp[(s, "girth")].value) for s in segments}
        with torch.no_grad():
            v = body(pose, segment_scales=_scales(body, segs)).vertices[0].numpy().astype(np.float32)
        geom.attributes["position"].array = v
        geom.exec_three_obj_method("computeVertexNormals")
        took.value = f"updated in {1000 * (time.perf_counter() - t0):.0f} ms"

    def reset(_):
        for w in rot.values():
            w.value = 0.0
        for w in shp.values():
            w.value = 1.0

    for w in [*rot.values(), *shp.values()]:
        w.observe(update, names="value")
    button = W.Button(description="reset")
    button.on_click(reset)
    tabs = W.Tab([W.VBox(list(rot.values())), W.VBox(list(shp.values()))], titles=("pose", "shape"))
    return W.HBox([W.VBox([tabs, W.HBox([button, took])]), view])
