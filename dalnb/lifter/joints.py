"""The lifter's keypoints: COCO-17, the hips and shoulders that set its frame and scale, each
keypoint's mirror image, and the bones its geometric losses constrain."""

from __future__ import annotations

from dalnb.body import skeleton as sk
from dalnb.body.skeleton import COCO_LIMBS

K = 17


HIPS = [sk.COCO17.index("left_hip"), sk.COCO17.index("right_hip")]


SHOULDERS = [sk.COCO17.index("left_shoulder"), sk.COCO17.index("right_shoulder")]


#: each COCO-17 keypoint's mirror image (left <-> right)
MIRROR = sk.mirror_index(sk.COCO17)
# the eight limbs (skeleton.COCO_LIMBS: upper arms, forearms, thighs, shins) then the trunk
BONES = [*COCO_LIMBS.values()] + [
    (sk.COCO17.index(a), sk.COCO17.index(b))
    for a, b in [
        ("left_shoulder", "left_hip"),
        ("right_shoulder", "right_hip"),
        ("left_shoulder", "right_shoulder"),
        ("left_hip", "right_hip"),
    ]
]


SYMMETRIC = [(0, 2), (1, 3), (4, 6), (5, 7), (8, 9)]  # pairs of indices into BONES
