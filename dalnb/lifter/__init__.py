"""The lifting cGAN: joint depths from 2D keypoints alone (explained in notebook 02).

A generator (an MLP of eight linear layers, residual blocks as in Martinez et al.) lifts
root-centred, scale-normalised COCO-17 keypoints to one depth per keypoint. Each lifted 3D pose
is rotated about the vertical axis by several angles and projected; a discriminator must not
tell these projections from real 2D poses. Geometric losses constrain the 3D pose without any
3D label: bone symmetry (left and right limbs equal) and bone ratios (each bone relative to
the trunk, against the open template's ratios). A cycle term (Chen et al. 2019) lifts each
rotated projection again and asks that, rotated back, it agree with the first lift.

Units: 2D keypoints are centred on the hip midpoint and divided by the torso length (shoulder
midpoint to hip midpoint, in the image); depths come out in the same units and are converted
to metres with the template's torso length (``keypoints_depth`` convention: depth relative to
the hip midpoint, camera z forward). Missing keypoints (confidence 0) are masked: the
generator sees a mask channel, never a zero standing in for a position.
"""

from dalnb.lifter.joints import BONES, MIRROR, SYMMETRIC
from dalnb.lifter.losses import (
    bone_lengths,
    orientation_loss,
    ratio_loss,
    rotate_y,
    symmetry_loss,
    template_ratios,
    template_torso_m,
)
from dalnb.lifter.networks import (
    DegenerateInput,
    Discriminator,
    Generator,
    LifterConfig,
    normalize_2d,
)
from dalnb.lifter.train import (
    LIFTED_FRAME,
    Lifter,
    keypoint_pool,
    lift_3d,
    lift_depths,
    load_lifter,
    train_lifter,
    with_lifted_depths,
    write_depths,
)

__all__ = [
    "BONES",
    "SYMMETRIC",
    "bone_lengths",
    "orientation_loss",
    "ratio_loss",
    "rotate_y",
    "symmetry_loss",
    "template_ratios",
    "template_torso_m",
    "MIRROR",
    "DegenerateInput",
    "Discriminator",
    "Generator",
    "LifterConfig",
    "normalize_2d",
    "LIFTED_FRAME",
    "Lifter",
    "keypoint_pool",
    "lift_3d",
    "lift_depths",
    "load_lifter",
    "train_lifter",
    "with_lifted_depths",
    "write_depths",
]
