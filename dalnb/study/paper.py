"""The paper's own numbers (Yoshiyasu & Gamez, arXiv 1907.11955) and its peers', each stated once:
the claims, tables and pages quote them from here."""

from __future__ import annotations

__all__ = [
    "ROUND1_MPJPE_MM",
    "ROUNDS5_MPJPE_MM",
    "ROUNDS_RATIO",
    "PIXEL_REGRESSOR_PX",
    "PIXEL_REFINED_PX",
    "PIXEL_RATIO",
    "HMR_UNPAIRED_MM",
    "HMR_PAIRED_MM",
]

# Table 4 (Human3.6M, MPJPE): deform-and-learn after one round and after five
ROUND1_MPJPE_MM = 140.0
ROUNDS5_MPJPE_MM = 106.0
ROUNDS_RATIO = ROUNDS5_MPJPE_MM / ROUND1_MPJPE_MM  # 0.76

# Table 2 (DensePose-COCO): per-pixel error of the ConvNet's surface points, and after refinement
PIXEL_REGRESSOR_PX = 18.6
PIXEL_REFINED_PX = 12.0
PIXEL_RATIO = PIXEL_REFINED_PX / PIXEL_REGRESSOR_PX  # 0.65

# Table 1's peers (Human3.6M, MPJPE / PA-MPJPE mm): HMR (Kanazawa et al. 2018)
HMR_UNPAIRED_MM = (106.84, 66.5)  # unpaired 3D (MoSh)
HMR_PAIRED_MM = (87.97, 56.8)  # paired 3D
