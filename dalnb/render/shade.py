"""Shading of rasterized fragments: Lambert lighting of per-segment albedo, backgrounds and
occluders (explained in notebook 01). Pure functions on (H, W) fragment buffers."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["vertex_normals", "shade", "background", "random_albedo", "hair_vertices", "random_hair"]

SKIN_TONES = np.array(
    [[0.98, 0.80, 0.68], [0.87, 0.66, 0.52], [0.72, 0.51, 0.36], [0.55, 0.37, 0.25], [0.36, 0.24, 0.16]]
)


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(V, 3), (F, 3) -> (V, 3) unit area-weighted vertex normals."""
    tri = vertices[faces]
    fn = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
    n = torch.zeros_like(vertices).index_add_(0, faces.reshape(-1), fn.repeat_interleave(3, 0))
    return n / n.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def random_albedo(rng: np.random.Generator, segment_names) -> np.ndarray:
    """(S, 3) albedo per segment: skin on head, neck, hands; a top, trousers and shoes."""
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.9, 1.1)
    top, bottom, shoes = rng.uniform(0.05, 0.95, (3, 3))
    short_sleeves = rng.random() < 0.4
    out = np.zeros((len(segment_names), 3))
    for s, n in enumerate(segment_names):
        if (
            n in ("head", "neck")
            or n.endswith("_wrist")
            or n.endswith("_hand")
            or (short_sleeves and n.endswith("_elbow"))
        ):
            out[s] = skin
        elif n.endswith("_ankle") or n.endswith("_foot"):
            out[s] = shoes
        elif n.endswith("_hip") or n.endswith("_knee") or n == "pelvis":
            out[s] = bottom
        else:
            out[s] = top
    return np.clip(out, 0, 1)


#: Hair colours (linear RGB albedo): black, dark brown, brown, auburn, blond, grey.
HAIR_TONES = np.array(
    [
        [0.04, 0.03, 0.03],
        [0.12, 0.07, 0.04],
        [0.28, 0.17, 0.09],
        [0.40, 0.16, 0.07],
        [0.75, 0.60, 0.35],
        [0.60, 0.60, 0.58],
    ]
)


def hair_vertices(
    rest: np.ndarray, head: np.ndarray, eye_y: float, ear_y: float, ear_z: float, hairline: float, nape: float
) -> np.ndarray:
    """(V,) bool: the head's vertices under hair, on the rest-pose template (y up, z towards the face):
    above ``hairline`` metres over the eyes, or behind the ears and above ``nape`` metres under them.
    rest (V, 3); head (V,) bool, the head segment's vertices."""
    y, z = rest[:, 1], rest[:, 2]
    return head & ((y > eye_y + hairline) | ((z < ear_z - 0.01) & (y > ear_y - nape)))


def random_hair(rng: np.random.Generator) -> tuple[np.ndarray, float, float] | None:
    """A person's hair: (colour (3,), hairline, nape) in metres, or None (bald or shaved, 15 %). Real
    photos show the back of a head as hair and its front as a face: the renders' cue for the body's heading."""
    if rng.random() < 0.15:
        return None
    colour = np.clip(HAIR_TONES[rng.integers(len(HAIR_TONES))] * rng.uniform(0.8, 1.2), 0, 1)
    return colour, float(rng.uniform(0.035, 0.07)), float(rng.uniform(-0.01, 0.09))


def front_cue_vertices(
    rest: np.ndarray, rest_normals: np.ndarray, head: np.ndarray, torso: np.ndarray, nose: np.ndarray, eyes: np.ndarray
) -> dict[str, np.ndarray]:
    """(V,) bool masks of what tells a body's front from its back, on the rest-pose template (y up,
    z towards the face): ``eyes`` and ``brows`` and ``mouth`` on the face, ``vneck`` (a V of skin
    under the neck) and ``print`` (a chest panel) on the front of the top. rest, rest_normals
    (V, 3); head, torso (V,) bool; nose (3,); eyes (2, 3) the COCO eye keypoints."""
    x, y, z = rest.T
    front = rest_normals[:, 2] > 0.35
    face = head & (z > eyes[:, 2].min() - 0.025)
    near_eye = np.min(np.linalg.norm(rest[:, None] - eyes[None], axis=-1), axis=1) < 0.011
    brow_x = np.min(np.abs(x[:, None] - eyes[None, :, 0]), axis=1) < 0.017
    brow_y = (y > eyes[0, 1] + 0.013) & (y < eyes[0, 1] + 0.022)
    mouth = (np.abs(x) < 0.022) & (y > nose[1] - 0.047) & (y < nose[1] - 0.034)
    neck_y = rest[head, 1].min()
    depth = 0.13
    vneck = torso & front & (y > neck_y - depth) & (np.abs(x) < 0.075 * (y - (neck_y - depth)) / depth + 0.01)
    chest = torso & front & (y > neck_y - 0.30) & (y < neck_y - 0.17) & (np.abs(x) < 0.09)
    return {
        "eyes": face & near_eye,
        "brows": face & brow_x & brow_y,
        "mouth": face & mouth,
        "vneck": vneck,
        "print": chest & ~vneck,
    }


def paint_front_cues(albedo_v: np.ndarray, masks: dict[str, np.ndarray], skin: np.ndarray, rng) -> np.ndarray:
    """``albedo_v`` (V, 3) with a face (dark eyes and brows, lips) and, for some people, a
    V-neck or a chest print of another colour: the front/back cues a photo carries. Draws from
    ``rng`` only (a stream of its own keeps the annotations unchanged)."""
    out = albedo_v.copy()
    dark = rng.uniform(0.02, 0.12)
    out[masks["eyes"]] = dark
    out[masks["brows"]] = dark * rng.uniform(1.0, 2.0)
    out[masks["mouth"]] = np.clip(skin * np.array([0.75, 0.45, 0.45]), 0, 1)
    neck = rng.random()
    if neck < 0.5:
        out[masks["vneck"]] = skin
    if rng.random() < 0.5:
        out[masks["print"]] = rng.uniform(0.05, 0.95, 3)
    return out


def shade(
    face: torch.Tensor,
    bary: torch.Tensor,
    faces: torch.Tensor,
    normals: torch.Tensor,
    albedo_v: torch.Tensor,
    light_dir: torch.Tensor,
    ambient: float = 0.35,
) -> torch.Tensor:
    """(H, W, 3) colour in [0, 1] where face >= 0 (camera-frame normals; light towards the scene)."""
    m = face >= 0
    out = torch.zeros(*face.shape, 3, dtype=normals.dtype)
    if not m.any():
        return out
    fv = faces[face[m]]  # (N, 3)
    w = bary[m].to(normals.dtype)
    n = (normals[fv] * w[..., None]).sum(1)
    n = n / n.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    a = (albedo_v[fv] * w[..., None]).sum(1)
    lam = (-(n @ light_dir)).clamp_min(0)  # normals face the camera (-z); light travels along light_dir
    out[m] = (a * (ambient + (1 - ambient) * lam[:, None])).clamp(0, 1)
    return out


def background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(H, W, 3) float background: a vertical gradient between two random colours, low-frequency
    noise and a few random rectangles."""
    c0, c1 = rng.uniform(0, 1, (2, 3))
    t = np.linspace(0, 1, h)[:, None, None]
    img = (1 - t) * c0 + t * c1
    img = np.broadcast_to(img, (h, w, 3)).copy()
    small = rng.uniform(-0.15, 0.15, (4, 4, 3))
    img += np.kron(small, np.ones((h // 4 + 1, w // 4 + 1, 1)))[:h, :w]
    for _ in range(rng.integers(0, 4)):
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        img[y0 : y0 + rng.integers(h // 8, h // 2), x0 : x0 + rng.integers(w // 8, w // 2)] = rng.uniform(0, 1, 3)
    return np.clip(img, 0, 1)
