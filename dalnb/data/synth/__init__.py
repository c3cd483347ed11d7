"""Synthetic samples with full ground truth (explained in notebook 01): ``scene`` (body, camera,
render), ``samples`` (annotations and truth from a render) and ``generate`` (sharded, resumable
folders of samples)."""

from dalnb.data.synth.generate import generate
from dalnb.data.synth.samples import keypoints_only, make_samples
from dalnb.data.synth.scene import (
    DENSEPOSE_NOISE,
    RenderResult,
    SynthConfig,
    draw_camera,
    iuv_image,
    render_body,
    visibility_tolerance,
)

__all__ = [
    "DENSEPOSE_NOISE",
    "SynthConfig",
    "make_samples",
    "keypoints_only",
    "draw_camera",
    "generate",
    "render_body",
    "RenderResult",
    "iuv_image",
    "visibility_tolerance",
]
