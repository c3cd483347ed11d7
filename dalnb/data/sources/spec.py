"""Real sources named on the command line or in notebook 01's parameters: ``KIND=PATH[:EXTRA]``
(Human3.6M: ``h36m=NPZ[:IMAGES[:CAMERAS]]``).

    densepose_coco=annotations/densepose_coco_2014_train.json:train2014/   (images beside the json by default)
    coco=annotations/person_keypoints_val2017.json:val2017/
    mpii=annot/train.json:images/
    h36m=h36m/annotation_body3d/fps50/h36m_train.npz:h36m/images/:h36m/annotation_body3d/cameras.pkl
    photos=my_photos/

``check_source`` fails at once, naming the path and what was expected, before any record is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dalnb.data.loaders.common import DataError

__all__ = ["KINDS", "PHOTO_SUFFIXES", "Source", "parse_source", "check_source", "photo_files", "source_of"]

KINDS: dict[str, str] = {
    "densepose_coco": "a DensePose-COCO json (dp_x, dp_y, dp_I, dp_U, dp_V per person); EXTRA: the images folder",
    "coco": "a COCO person-keypoints json; EXTRA: the images folder",
    "mpii": "an MPII json list (joints, joints_vis, image), mmpose style; EXTRA: the images folder",
    "h36m": "a Human3.6M body3d npz (imgname, S, part); EXTRA: the images folder, then cameras.pkl (default: beside)",
    "photos": "a folder of .jpg/.jpeg/.png photos (MediaPipe finds keypoints and mask)",
}
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Source:
    kind: str
    path: Path
    extra: Path | None = None  # the images folder
    cameras: Path | None = None  # Human3.6M's cameras.pkl

    @property
    def images(self) -> Path:
        """Where the records' images are: EXTRA, else beside the annotation file."""
        return self.extra or (self.path if self.path.is_dir() else self.path.parent)

    @property
    def cameras_file(self) -> Path:
        """Human3.6M's cameras.pkl: as named, else beside the npz."""
        return self.cameras or self.path.parent / "cameras.pkl"

    def location(self) -> str:
        """``PATH[:EXTRA[:CAMERAS]]``, what ``parse_source`` reads after ``KIND=``."""
        parts = [self.path, self.extra or (self.images if self.cameras else None), self.cameras]
        return ":".join(str(p) for p in parts if p is not None)

    def spec(self) -> str:
        return f"{self.kind}={self.location()}"


def parse_source(spec: str, base: Path | None = None) -> Source:
    """``"KIND=PATH[:EXTRA]"`` -> ``Source`` (relative paths against ``base``, default the working
    directory). Raises ``DataError`` for an unknown kind, listing the known ones."""
    kind, sep, rest = str(spec).partition("=")
    kind = kind.strip()
    if not sep or not rest:
        raise DataError(f"source {spec!r}: expected KIND=PATH[:EXTRA] with KIND one of {', '.join(KINDS)}")
    if kind not in KINDS:
        raise DataError(f"source {spec!r}: unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    path, *more = rest.split(":")
    if len(more) > (2 if kind == "h36m" else 1):
        raise DataError(f"source {spec!r}: expected {kind}=PATH[:EXTRA]" + ("[:CAMERAS]" if kind == "h36m" else ""))
    base = Path(base) if base else Path.cwd()
    extra, cams = (more + ["", ""])[:2]
    return Source(
        kind,
        (base / path).resolve(),
        (base / extra).resolve() if extra else None,
        (base / cams).resolve() if cams else None,
    )


def source_of(sample: dict) -> str:
    """Where a sample came from: a real source's kind, or ``"synthetic"`` for the renders."""
    return str(sample.get("source", "synthetic"))


def photo_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)


def _first_char(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1].decode("latin-1")


def check_source(src: Source) -> Source:
    """Fail at once when the source is missing or plainly not what its kind claims."""
    what = KINDS[src.kind]
    if not src.path.exists():
        raise DataError(f"{src.path}: no such file or folder (source {src.kind}: expected {what})")
    if src.kind == "photos":
        if not src.path.is_dir():
            raise DataError(f"{src.path}: not a folder (source photos: expected {what})")
        if not photo_files(src.path):
            raise DataError(f"{src.path}: no .jpg, .jpeg or .png file in it (source photos: expected {what})")
        return src
    if src.path.is_dir():
        raise DataError(f"{src.path}: a folder (source {src.kind}: expected {what})")
    if src.kind == "h36m":
        with open(src.path, "rb") as f:
            if f.read(2) != b"PK":
                raise DataError(f"{src.path}: not an .npz archive (source h36m: expected {what})")
        if not src.cameras_file.is_file():
            raise DataError(
                f"{src.cameras_file}: no such file (source h36m: expected its cameras.pkl; name it as "
                "h36m=NPZ:IMAGES:CAMERAS)"
            )
    else:
        want = "[" if src.kind == "mpii" else "{"
        got = _first_char(src.path)
        if got != want:
            raise DataError(f"{src.path}: starts with {got!r}, expected {want!r} (source {src.kind}: expected {what})")
    if src.extra is not None and not src.extra.is_dir():
        raise DataError(f"{src.extra}: no such folder (source {src.kind}: its images)")
    return src
