"""Real sources for the training and test sets (explained in notebook 01): DensePose-COCO, COCO,
MPII, Human3.6M and folders of photos, each streamed into crops in the one sample schema."""

from dalnb.data.sources.prepare import parse_sources, prepare_sources, source_rows
from dalnb.data.sources.records import MIN_CONFIDENCE, MIN_DENSE, MIN_KEYPOINTS, Record, records
from dalnb.data.sources.spec import KINDS, PHOTO_SUFFIXES, Source, check_source, parse_source, photo_files, source_of
from dalnb.data.sources.write import KEYS, SourcePlan, write_source

__all__ = [
    "KINDS",
    "KEYS",
    "PHOTO_SUFFIXES",
    "MIN_CONFIDENCE",
    "MIN_DENSE",
    "MIN_KEYPOINTS",
    "Record",
    "Source",
    "SourcePlan",
    "check_source",
    "parse_source",
    "parse_sources",
    "photo_files",
    "prepare_sources",
    "source_of",
    "source_rows",
    "records",
    "write_source",
]
