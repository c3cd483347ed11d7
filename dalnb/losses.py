"""Registration and training losses: one function per term, formula in the docstring, weights
in config (``fitting.RegistrationConfig``). All return per-sample values (B,), so that
registration can track and stop each sample on its own.

Letters: B batch, P points, K keypoints, S segments. 2D quantities are in a normalised image
frame (pixels minus a per-sample centre, divided by a per-sample size), so weights do not depend
on the image resolution.
"""

from __future__ import annotations

import torch

__all__ = [
    "robust",
    "dense_loss",
    "part_dense_loss",
    "keypoint_loss",
    "keypoint_depth_loss",
    "untilted",
    "scale_smoothness_loss",
    "scale_prior_loss",
    "pose_prior_loss",
    "joint_smoothness_loss",
    "joint_limit_loss",
    "determinant_loss",
    "silhouette_loss",
    "coverage_loss",
    "nearest_points",
]


def robust(sq: torch.Tensor, sigma: float | torch.Tensor | None) -> torch.Tensor:
    """Geman-McClure kernel on squared residuals: rho(r^2) = sigma^2 r^2 / (r^2 + sigma^2);
    identity when sigma is None."""
    if sigma is None:
        return sq
    s2 = sigma * sigma
    return s2 * sq / (sq + s2)


def _wmean(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return (x * w).sum(-1) / w.sum(-1).clamp_min(1e-8)


def dense_loss(
    proj: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, sigma: float | None = None
) -> torch.Tensor:
    """Dense correspondence: L = sum_p w_p rho(|pi(x_p) - y_p|^2) / sum_p w_p.

    proj (B, P, 2) projected template points, target (B, P, 2) annotated image points,
    weight (B, P) (0 for padding)."""
    return _wmean(robust((proj - target).square().sum(-1), sigma), weight)


def part_dense_loss(
    proj_candidates: torch.Tensor,
    cand_part: torch.Tensor,
    target: torch.Tensor,
    target_part: torch.Tensor,
    weight: torch.Tensor,
    sigma: float | None = None,
) -> torch.Tensor:
    """Part-level correspondence (DensePose points without an exact chart map):
    L = sum_p w_p rho(min_{v in part(p)} |pi(v) - y_p|^2) / sum_p w_p.

    proj_candidates (B, C, 2) projected candidate vertices, cand_part (C,) their parts,
    target (B, P, 2), target_part (B, P) parts 1..24, weight (B, P)."""
    d = (target[:, :, None, :] - proj_candidates[:, None, :, :]).square().sum(-1)  # (B, P, C)
    same = target_part[:, :, None] == cand_part[None, None, :]
    d = torch.where(same, d, torch.full_like(d, 1e4))
    return _wmean(robust(d.min(-1).values, sigma), weight * same.any(-1))


def keypoint_loss(proj: torch.Tensor, keypoints: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
    """2D keypoints, confidence-weighted: L = sum_k c_k rho(|pi(J_k) - y_k|^2) / sum_k c_k.

    proj (B, K, 2), keypoints (B, K, 3) with x, y, confidence (0 = missing)."""
    return _wmean(robust((proj - keypoints[..., :2]).square().sum(-1), sigma), keypoints[..., 2])


def keypoint_depth_loss(depth: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Soft depth prior: L = sum_k w_k (z_k - z_hips - d_k)^2 / sum_k w_k, metres.

    depth (B, K) camera-frame keypoint depth relative to the hip midpoint (model), target (B, K)
    the prior (e.g. the lifter's, ``keypoints_depth``), weight (B, K) (0 where unknown)."""
    return _wmean((depth - target).square(), weight)


def untilted(residual: torch.Tensor, xy: torch.Tensor, weight: torch.Tensor, ridge: float = 1e-6) -> torch.Tensor:
    """A depth residual free of a global tilt: r - (a x + b y + c), with (a, b, c) its weighted least-squares
    plane over the keypoints' image-plane positions. A small rotation of the whole body about an image axis
    adds such a plane to every depth (dz = a x + b y), so a prior on the untilted residual keeps a lifter's
    relative depths (which limb lies in front of which) and leaves the body's tilt and heading to the image.

    residual (B, K), xy (B, K, 2) camera-frame positions (metres), weight (B, K) >= 0."""
    A = torch.cat([xy, torch.ones_like(xy[..., :1])], -1)  # (B, K, 3)
    AtW = A.transpose(1, 2) * weight[:, None]
    eye = torch.eye(3, dtype=A.dtype, device=A.device)
    coef = torch.linalg.solve(AtW @ A + ridge * eye, (AtW @ residual[..., None]))  # (B, 3, 1)
    return residual - (A @ coef)[..., 0]


def scale_smoothness_loss(log_scales: torch.Tensor, parents: torch.Tensor) -> torch.Tensor:
    """Adjacent segments scale alike: L = mean_{s, p(s)} |log l_s - log l_p|^2 + |log g_s - log g_p|^2.

    log_scales (B, S, 2), parents (S,) with -1 for the root."""
    has_parent = parents >= 0
    par = torch.where(
        has_parent, parents, torch.arange(len(parents), device=parents.device)
    )  # the root: itself, difference 0
    d = (log_scales - log_scales[:, par]).square().sum(-1)
    return d.sum(-1) / has_parent.sum()  # no data-dependent shapes: one graph under torch.compile


def scale_prior_loss(log_scales: torch.Tensor) -> torch.Tensor:
    """Scales stay near the template: L = mean_s |log scale_s|^2."""
    return log_scales.square().sum(-1).mean(-1)


def pose_prior_loss(local: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Small rotations are likelier: L = mean_s sum_i w_si a_si^2, with a_s the joint-local
    axis-angle (x flexion, y twist, z abduction) of the non-root joints (S-1, 3) and w_si the
    per-joint, per-axis weights (twists about the bone and the collars weigh more: 2D points
    constrain them least). local (B, S-1, 3)."""
    sq = local.square()
    if weights is not None:
        sq = sq * weights
    return sq.sum(-1).mean(-1)


def joint_smoothness_loss(pose: torch.Tensor, chains: torch.Tensor) -> torch.Tensor:
    """Neighbouring joints of a chain (the spine, the neck) bend alike:
    L = mean_{(a, b) in chains} |theta_a - theta_b|^2. chains (C, 2) joint index pairs."""
    return (pose[:, chains[:, 0]] - pose[:, chains[:, 1]]).square().sum(-1).mean(-1)


def joint_limit_loss(local: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, sharpness: float = 10.0) -> torch.Tensor:
    """Exponential penalty outside per-joint limits (hyper-extended knees and elbows included):
    L = mean_s sum_i exp(k relu(a_si - hi_si)) + exp(k relu(lo_si - a_si)) - 2.

    local (B, S, 3) axis-angle in each joint's frame (``body.limits``), lo/hi (S, 3)."""
    over = torch.relu(local - hi) + torch.relu(lo - local)
    return (torch.exp(sharpness * over) - 1).sum(-1).mean(-1)


def determinant_loss(raw: torch.Tensor) -> torch.Tensor:
    """Keep the 9-number global rotation right-handed: L = (1 - det M)^2 with M the raw 3x3
    whose columns are scaled to unit length (det M <= 1, equal iff M is a rotation).

    raw (B, 9) or (B, 3, 3): the numbers *before* Gram-Schmidt. On the orthonormalised matrix
    det is +-1, piecewise constant, so a loss there has no gradient and a reflection (which
    leaves every weak-perspective projection unchanged) could not be undone."""
    m = raw.reshape(-1, 3, 3)
    m = m / m.norm(dim=-2, keepdim=True).clamp_min(1e-8)
    return (1 - torch.linalg.det(m)).square()


def nearest_points(query: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(B, M, 2) query, (B, N, 2) points -> (B, M) index of each query's nearest point (no gradient)."""
    with torch.no_grad():
        d2 = query.square().sum(-1)[..., None] + points.square().sum(-1)[..., None, :] - 2 * query @ points.mT
        return d2.argmin(-1)


def coverage_loss(
    proj: torch.Tensor,
    mask_xy: torch.Tensor,
    weight: torch.Tensor,
    sigma: float | None = None,
    near: torch.Tensor | None = None,
) -> torch.Tensor:
    """The mask is covered by the body: L = sum_m w_m rho(|y_m - pi(x_n(m))|^2) / sum_m w_m, over
    pixels y_m sampled inside the person mask and n(m) the projected surface sample nearest to
    y_m. Unlike :func:`silhouette_loss` it does not pull the body out of what an occluder hides
    (those pixels are not in the mask), and it stops the body from shrinking inside the mask.

    proj (B, N, 2), mask_xy (B, M, 2) normalised, weight (B, M) (0 for padding); ``near`` (B, M):
    n(m) when already known (registration refreshes it every few iterations, like ICP), else
    :func:`nearest_points`. The gradient is the one through a min over samples."""
    near = nearest_points(mask_xy, proj) if near is None else near
    d2 = (mask_xy - torch.gather(proj, 1, near[..., None].expand(-1, -1, 2))).square().sum(-1)
    return _wmean(robust(d2, sigma), weight)


def silhouette_loss(
    proj: torch.Tensor,
    outside_distance: torch.Tensor,
    weight: torch.Tensor | None = None,
    robust_sigma: float | None = None,
) -> torch.Tensor:
    """Projected surface points stay inside the person mask:
    L = mean_v rho(D(pi(x_v))^2), D the distance transform of the mask's complement, rho the
    Geman-McClure kernel at ``robust_sigma`` (squares when None; see :func:`robust`).

    proj (B, N, 2) in [-1, 1] grid coordinates, outside_distance (B, 1, H, W) normalised units."""
    d = torch.nn.functional.grid_sample(
        outside_distance, proj[:, :, None, :], align_corners=False, padding_mode="border"
    )[:, 0, :, 0]
    d2 = robust(d.square(), robust_sigma)
    if weight is None:
        return d2.mean(-1)
    return _wmean(d2, weight)
