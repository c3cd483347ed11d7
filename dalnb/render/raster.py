"""Z-buffer rasterizer in plain torch: per pixel the nearest face and its barycentrics.

Pixel (i, j) (row, column) has its centre at continuous image coordinates (x, y) =
(j + 0.5, i + 0.5); projected vertices are given in those coordinates (x right, y down) with
a depth (larger = farther). Every face covering a pixel centre is a candidate (no back-face
culling, so it matches ray casting on any mesh); the smallest depth wins.

With ``perspective=True`` the barycentrics are perspective-correct (screen-space weights
divided by depth and renormalised); with weak perspective (orthographic) screen-space
barycentrics are already exact.

Cost grows with the pixels covered by face bounding boxes, so it suits meshes whose faces are
a few pixels wide (a body at 64-512 px).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dalnb.checks import check_shape

__all__ = ["Fragments", "rasterize"]


@dataclass
class Fragments:
    """face (H, W) int64, -1 for background; bary (H, W, 3); depth (H, W), inf for background."""

    face: torch.Tensor
    bary: torch.Tensor
    depth: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        return self.face >= 0


def rasterize(
    xy: torch.Tensor,
    depth: torch.Tensor,
    faces: torch.Tensor,
    height: int,
    width: int,
    perspective: bool = False,
    max_fragments: int = 50_000_000,
) -> Fragments:
    """Rasterize one mesh.

    Args:
        xy: (V, 2) projected vertices, pixels. depth: (V,) depth along the view axis.
        faces: (F, 3) int64. height, width: image size.
    """
    dims = check_shape("xy", xy, ("V", 2))
    check_shape("depth", depth, (dims["V"],))
    check_shape("faces", faces, ("F", 3))
    dev, dt = xy.device, xy.dtype
    tri = xy[faces]  # (F, 3, 2)
    tz = depth[faces]  # (F, 3)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    lo = torch.minimum(torch.minimum(a, b), c)
    hi = torch.maximum(torch.maximum(a, b), c)
    j0 = torch.ceil(lo[:, 0] - 0.5).clamp(min=0).long()
    j1 = torch.floor(hi[:, 0] - 0.5).clamp(max=width - 1).long()
    i0 = torch.ceil(lo[:, 1] - 0.5).clamp(min=0).long()
    i1 = torch.floor(hi[:, 1] - 0.5).clamp(max=height - 1).long()
    nw = (j1 - j0 + 1).clamp(min=0)
    nh = (i1 - i0 + 1).clamp(min=0)
    ok = (nw > 0) & (nh > 0)
    if perspective:
        ok &= (tz > 0).all(1)
    count = torch.where(ok, nw * nh, torch.zeros_like(nw))
    face_id = torch.full((height, width), -1, dtype=torch.int64, device=dev)
    bary_img = torch.zeros(height, width, 3, dtype=dt, device=dev)
    depth_img = torch.full((height, width), float("inf"), dtype=dt, device=dev)
    if int(count.sum()) > max_fragments:
        raise ValueError(
            f"rasterize: {int(count.sum())} candidate fragments exceed max_fragments={max_fragments}; faces "
            f"too large for the image?"
        )
    # per face: barycentric weights as affine functions of the pixel centre,
    # w_i(x, y) = A_i x + B_i y + C_i, and the vertex depths -> one (F, 12) table
    area = _edge(a, b, c)
    good = area.abs() > 1e-12
    inv = torch.where(good, 1.0 / torch.where(good, area, torch.ones_like(area)), torch.zeros_like(area))
    coef = []
    for p0, p1 in ((b, c), (c, a), (a, b)):  # w0 opposite a, w1 opposite b, w2 opposite c
        coef += [
            -(p1[:, 1] - p0[:, 1]) * inv,
            (p1[:, 0] - p0[:, 0]) * inv,
            ((p1[:, 1] - p0[:, 1]) * p0[:, 0] - (p1[:, 0] - p0[:, 0]) * p0[:, 1]) * inv,
        ]
    table = torch.cat([torch.stack(coef, 1), tz], 1)  # (F, 12)
    ints = torch.stack([j0, i0, nw], 1)  # (F, 3)
    count = torch.where(good, count, torch.zeros_like(count))
    total = int(count.sum())
    if total == 0:
        return Fragments(face_id, bary_img, depth_img)
    f = torch.repeat_interleave(torch.arange(len(faces), device=dev), count)
    start = torch.cumsum(count, 0) - count
    k = torch.arange(total, device=dev) - start.index_select(0, f)
    g = ints.index_select(0, f)
    dy = torch.div(k, g[:, 2], rounding_mode="floor")
    px = g[:, 0] + (k - dy * g[:, 2])
    py = g[:, 1] + dy
    T = table.index_select(0, f)
    x = px.to(dt) + 0.5
    y = py.to(dt) + 0.5
    w = T[:, 0:9:3] * x[:, None] + T[:, 1:9:3] * y[:, None] + T[:, 2:9:3]  # (N, 3)
    keep = (w >= 0).all(1).nonzero().squeeze(1)
    f, w, zf = f.index_select(0, keep), w.index_select(0, keep), T.index_select(0, keep)[:, 9:]
    pix = (py * width + px).index_select(0, keep)
    if perspective:
        w = w / zf
        w = w / w.sum(-1, keepdim=True)
    z = (w * zf).sum(-1)
    zbuf = torch.full((height * width,), float("inf"), dtype=dt, device=dev)
    zbuf.scatter_reduce_(0, pix, z, reduce="amin")
    win = (z <= zbuf.index_select(0, pix)).nonzero().squeeze(1)
    f, w, z, pix = f.index_select(0, win), w.index_select(0, win), z.index_select(0, win), pix.index_select(0, win)
    fid = torch.full((height * width,), -1, dtype=torch.int64, device=dev)
    fid.scatter_reduce_(0, pix, f, reduce="amax")  # ties: the larger face id
    sel = (fid.index_select(0, pix) == f).nonzero().squeeze(1)
    pix = pix.index_select(0, sel)
    face_id.view(-1)[pix] = f.index_select(0, sel)
    bary_img.view(-1, 3)[pix] = w.index_select(0, sel)
    depth_img.view(-1)[pix] = z.index_select(0, sel)
    return Fragments(face_id, bary_img, depth_img)


def _edge(a: torch.Tensor, b: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    return (b[..., 0] - a[..., 0]) * (p[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (p[..., 0] - a[..., 0])
