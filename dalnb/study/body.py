"""The body model's speed (notebook 01): our template's forward against anny's, per batch."""

from __future__ import annotations

import torch

from dalnb.records import timeit

__all__ = ["body_speed"]


def body_speed(
    batches=(1, 64, 1024), subset: int = 300, device: str | None = None, with_anny: bool = True
) -> list[dict]:
    """Meshes per second of the body model's forward and forward+backward, all vertices and a
    ``subset`` of them, per batch size, beside anny's own forward on the same batch (``with_anny``)."""
    from dalnb.body.model import BodyModel

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    sync = dev.type == "cuda"
    body = BodyModel.default().on(dev)
    anny_model = None
    if with_anny:
        from dalnb.body.template import load_anny_model

        anny_model = load_anny_model().to(dev)
    out = []
    for B in batches:
        g = torch.Generator().manual_seed(0)
        pose = (torch.randn(B, 24, 3, generator=g) * 0.3).to(dev)
        sc = (1 + 0.1 * torch.randn(B, 24, 2, generator=g)).to(dev)
        ids = torch.randint(0, body.num_vertices, (B, subset), generator=g).to(dev)
        rec = {"batch": B, "device": dev.type, "vertices": body.num_vertices, "subset": subset}

        def fwd(vid=None):
            with torch.no_grad():
                return body(pose, segment_scales=sc, vertex_ids=vid).vertices

        def fwd_bwd(vid=None):
            p = pose.clone().requires_grad_()
            s = sc.clone().requires_grad_()
            body(p, segment_scales=s, vertex_ids=vid).vertices.square().sum().backward()

        for name, fn in (
            ("full_forward", lambda: fwd()),
            ("full_forward_backward", lambda: fwd_bwd()),
            ("subset_forward", lambda: fwd(ids)),
            ("subset_forward_backward", lambda: fwd_bwd(ids)),
        ):
            rec[f"{name}_meshes_per_s"] = round(B / timeit(fn, sync=sync), 1)
        rec["subset_speedup_forward_backward"] = round(
            rec["subset_forward_backward_meshes_per_s"] / rec["full_forward_backward_meshes_per_s"], 1
        )
        rec["subset_speedup_forward"] = round(rec["subset_forward_meshes_per_s"] / rec["full_forward_meshes_per_s"], 1)
        if anny_model is not None:
            delta = torch.eye(4, dtype=anny_model.dtype, device=dev).repeat(B, len(anny_model.bone_labels), 1, 1)
            delta[:, :, :3, :3] = torch.linalg.matrix_exp(
                _skew(0.1 * torch.randn(B, len(anny_model.bone_labels), 3, generator=g, dtype=anny_model.dtype).to(dev))
            )

            def anny_fwd():
                with torch.no_grad():
                    return anny_model(delta)["vertices"]

            rec["anny_forward_meshes_per_s"] = round(B / timeit(anny_fwd, sync=sync), 1)
            rec["anny_dtype"] = str(anny_model.dtype).replace("torch.", "")
            rec["full_forward_vs_anny"] = round(rec["full_forward_meshes_per_s"] / rec["anny_forward_meshes_per_s"], 2)
        out.append(rec)
    return out


def _skew(w: torch.Tensor) -> torch.Tensor:
    z = torch.zeros_like(w[..., 0])
    return torch.stack(
        [
            torch.stack([z, -w[..., 2], w[..., 1]], -1),
            torch.stack([w[..., 2], z, -w[..., 0]], -1),
            torch.stack([-w[..., 1], w[..., 0], z], -1),
        ],
        -2,
    )
