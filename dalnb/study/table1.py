"""Table 1 (notebook 05): the regressor on held-out bodies with and without test-time refinement, beside the
paper's Human3.6M rows and its peers, on the real test sets and the Human3.6M frames there are."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dalnb import metrics as M
from dalnb.fitting import FitResult, RegistrationConfig, register
from dalnb.study import paper as P

__all__ = ["per_sample_table", "pose_source_table", "summary_table", "table1", "real_table", "h36m_check"]


_KEYS = ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "pixel_err")


#: the paper's Table 1 (Human3.6M, MPJPE / PA-MPJPE mm) and its peers
PAPER_TABLE1 = [
    ("deform-and-learn, paper (5 rounds)", "none", P.ROUNDS5_MPJPE_MM, np.nan),
    ("deform-and-learn, paper (1 round)", "none", P.ROUND1_MPJPE_MM, np.nan),
    ("HMR, unpaired 3D (Kanazawa et al. 2018)", "unpaired (MoSh)", *P.HMR_UNPAIRED_MM),
    ("HMR, paired 3D (Kanazawa et al. 2018)", "paired", *P.HMR_PAIRED_MM),
]


def per_sample_table(body, samples: list[dict], pred: FitResult, ref: FitResult) -> pd.DataFrame:
    """Per test sample: PA-MPJPE and per-pixel error of the regressor and after refinement."""
    H_gt = np.stack([s["joints3d"] for s in samples])
    out = {"shape source": [s["shape_source"] for s in samples], "pose source": [s.get("pose_source") for s in samples]}
    for name, f in (("regressor", pred), ("refined", ref)):
        out[f"PA-MPJPE {name} (mm)"] = M.pa_mpjpe(body.keypoints(f.vertices, "h36m17").numpy(), H_gt) * 1000
    for name, f in (("regressor", pred), ("refined", ref)):
        out[f"pixel error {name} (px)"] = M.surface_pixel_error(f.vertices.numpy(), f.camera.numpy(), samples)
    return pd.DataFrame(out)


def pose_source_table(per: pd.DataFrame) -> pd.DataFrame:
    """Mean PA-MPJPE of the regressor and after refinement on the test bodies posed from motion capture and from
    joint-limit samples (every joint drawn within its limits), with how many of each (:func:`per_sample_table`)."""
    cols = ["PA-MPJPE regressor (mm)", "PA-MPJPE refined (mm)"]
    g = per.dropna(subset=["pose source"]).groupby("pose source")
    return g[cols].mean().assign(bodies=g.size()).rename_axis("pose source")


def summary_table(row: dict, refine_iters: int) -> pd.DataFrame:
    """The regressor and the refinement: MPJPE, PA-MPJPE, PVE, per-pixel error and seconds per image."""
    reg = {"": "regressor", **{k: row[k] for k in _KEYS}, "seconds per image": row["predict_s_per_image"]}
    ref = {
        "": f"+ refinement ({refine_iters} it)",
        **{k: row["refined_" + k] for k in _KEYS},
        "seconds per image": row["predict_s_per_image"] + row["refine_s_per_image"],
    }
    return pd.DataFrame([reg, ref]).set_index("")


def table1(row: dict, n: int, records: list[dict], real: dict[str, dict] | None = None) -> pd.DataFrame:
    """Table 1's counterpart: this run, its Human3.6M test set (S9/S11) when a source gave one
    (``real``: ``evaluate_model`` rows per real test set), the newest recorded benchmark run per
    kind of training annotations, and the paper's rows (Human3.6M)."""
    from dalnb.study.table4 import table4_runs

    data = f"synthetic anny bodies ({n}), this run"
    rows = [
        {
            "method": "deform-and-learn, ours: regressor",
            "dataset": data,
            "3D labels": "none",
            "MPJPE (mm)": row["mpjpe_mm"],
            "PA-MPJPE (mm)": row["pa_mpjpe_mm"],
        },
        {
            "method": "deform-and-learn, ours: + refinement",
            "dataset": data,
            "3D labels": "none",
            "MPJPE (mm)": row["refined_mpjpe_mm"],
            "PA-MPJPE (mm)": row["refined_pa_mpjpe_mm"],
        },
    ]
    h = (real or {}).get("h36m")
    if h is not None and "pa_mpjpe_mm" in h:
        for lab, pre in (("regressor", ""), ("+ refinement", "refined_")):
            rows.append(
                {
                    "method": f"deform-and-learn, ours: {lab}",
                    "dataset": f"Human3.6M S9/S11 ({h['n']} frames), this run",
                    "3D labels": "none",
                    "MPJPE (mm)": h.get(pre + "mpjpe_mm"),
                    "PA-MPJPE (mm)": h.get(pre + "pa_mpjpe_mm"),
                }
            )
    for kind, recs in table4_runs(records).items():
        r = [r for r in recs if r["setting"] == "rounds"][-1]
        rows.append(
            {
                "method": f"ours, bench rounds ({r['preset']}, {kind} training annotations, round {int(r['round'])})",
                "dataset": f"synthetic anny bodies ({r['n_test']}), {r['machine']['cpu'][:28]}, {r['date']}",
                "3D labels": "none",
                "MPJPE (mm)": r["mpjpe_mm"],
                "PA-MPJPE (mm)": r["pa_mpjpe_mm"],
            }
        )
    for method, labels, mpjpe, pa in PAPER_TABLE1:
        rows.append(
            {"method": method, "dataset": "Human3.6M", "3D labels": labels, "MPJPE (mm)": mpjpe, "PA-MPJPE (mm)": pa}
        )
    return pd.DataFrame(rows)


def real_table(real: dict[str, dict]) -> pd.DataFrame:
    """Every real test set: its size and what can be measured on it, regressor and refined."""
    cols = {
        "keypoint_err_px": "keypoint error (px)",
        "refined_keypoint_err_px": "keypoint error refined (px)",
        "pixel_err": "per-pixel error (px)",
        "refined_pixel_err": "per-pixel error refined (px)",
        "pa_mpjpe_mm": "PA-MPJPE (mm)",
        "refined_pa_mpjpe_mm": "PA-MPJPE refined (mm)",
    }
    rows = [
        {"test set": k, "images": r["n"], **{v: r.get(c, np.nan) for c, v in cols.items()}} for k, r in real.items()
    ]
    return pd.DataFrame(rows).set_index("test set").dropna(axis=1, how="all")


def h36m_check(
    body, model, frames: list[dict], refine: RegistrationConfig, reg: RegistrationConfig, lifter=None
) -> tuple[pd.DataFrame, FitResult]:
    """Human3.6M frames: the regressor, its refinement and registration from the rest pose, per
    frame (MPJPE, PA-MPJPE mm); ``lifter``: its depths as the soft prior (keypoints only)."""
    from dalnb.study.fig7 import lift_samples
    from dalnb.training import predict_in_image

    frames = lift_samples(frames, lifter)
    hp = predict_in_image(body, model, frames)
    fits = {
        "regressor": hp,
        "regressor + refinement": register(body, frames, refine, init=hp),
        "registration from the rest pose": register(body, frames, reg),
    }
    gt = np.stack([f["joints3d"] for f in frames])
    rows = []
    for name, f in fits.items():
        J = body.keypoints(f.vertices, "h36m17").numpy()
        for i, fr in enumerate(frames):
            rows.append(
                {
                    "frame": fr["sample_id"],
                    "subject": fr["subject"],
                    "method": name,
                    "MPJPE (mm)": M.mpjpe(J[i : i + 1], gt[i : i + 1])[0] * 1000,
                    "PA-MPJPE (mm)": M.pa_mpjpe(J[i : i + 1], gt[i : i + 1])[0] * 1000,
                }
            )
    return pd.DataFrame(rows), fits["regressor + refinement"]
