"""Any motion file by its extension (.bvh, or an .amc beside its .asf) -> ``Motion``."""

from __future__ import annotations

from pathlib import Path

from dalnb.data.mocap.asf_amc import load_asf_amc
from dalnb.data.mocap.bvh import load_bvh
from dalnb.data.mocap.motion import MocapFormatError, Motion


def load_motion(path: str | Path) -> Motion:
    """BVH by suffix, or an AMC whose ASF lies beside it (``11_01.amc`` -> ``11.asf``)."""
    path = Path(path)
    if path.suffix.lower() == ".bvh":
        return load_bvh(path)
    if path.suffix.lower() == ".amc":
        asf = path.with_name(path.stem.split("_")[0] + ".asf")
        if not asf.exists():
            raise MocapFormatError(f"{path}: no ASF skeleton {asf.name} beside it")
        return load_asf_amc(asf, path)
    raise MocapFormatError(f"{path}: expected a .bvh or .amc file")
