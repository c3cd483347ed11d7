"""Where things are: relative paths (run folders, real-data folders, the MediaPipe environment)
resolve from the repository root, never from the working directory, so a notebook opened in
JupyterLab (working directory notebooks/) finds exactly what the pipeline finds."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ROOT", "NOTEBOOKS", "SHARED_DATA", "resolve", "shown"]


def _root() -> Path:
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").exists() else Path.cwd()


#: the repository root (the working directory when dalnb is installed without its checkout)
ROOT = _root()
NOTEBOOKS = ROOT / "notebooks"
#: the real samples beside the checkout (DensePose, COCO, MPII, Human3.6M, photos)
SHARED_DATA = ROOT.parent / "shared" / "data"


def resolve(path: str | Path) -> Path:
    """``path`` as given when absolute, else relative to the repository root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(os.path.normpath(ROOT / p))


def shown(path: str | Path) -> str:
    """A path as a page shows it: relative to the repository root, else its last two parts
    (``.../run/lifter``), never the machine's absolute path."""
    path = Path(path)
    if path.is_absolute() and path.is_relative_to(ROOT):
        return str(path.relative_to(ROOT))
    return str(path) if not path.is_absolute() else str(Path("...", *path.parts[-2:]))
