"""Rendering without OpenGL: a z-buffer rasterizer in torch (CPU and GPU) and shading."""

from dalnb.render.raster import Fragments, rasterize

__all__ = ["Fragments", "rasterize"]
