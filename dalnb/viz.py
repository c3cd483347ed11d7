"""Pictures and 3D views for notebooks and HTML reports (no OpenGL).

``mesh_image`` draws a shaded mesh with matplotlib's painter's algorithm: a static PNG that
any HTML report shows offline. ``mesh_widget`` is the interactive pythreejs view for
JupyterLab (needs jupyterlab_widgets >= 3.0.9).
"""

from __future__ import annotations

import numpy as np

from dalnb.render.overlay import overlay_mesh

__all__ = [
    "mesh_image",
    "overlay_mesh",
    "draw_mesh",
    "mesh_widget",
    "mesh_view",
    "part_colors",
    "VIEWS",
    "empty_axes",
    "rounds_error_figure",
    "store_progress_figure",
]

#: view name -> rotation applied to body-frame points (y up, facing +z) before an
#: orthographic projection onto x (right on screen) and y (up on screen)
VIEWS = {
    "front": np.eye(3),
    "side": np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),  # body's left side
    "back": np.diag([-1.0, 1.0, -1.0]),
    "top": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]),
}


def part_colors(parts: np.ndarray) -> np.ndarray:
    """(V,) part numbers 1..24 -> (V, 3) float RGB from matplotlib's tab20b/tab20c."""
    import matplotlib

    cmap = matplotlib.colormaps["tab20b"].colors + matplotlib.colormaps["tab20c"].colors
    table = np.array(cmap)[:25]
    return table[np.asarray(parts) % 25]


def _np(x):
    return np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float64)


def draw_mesh(ax, vertices, faces, view: str | np.ndarray = "front", colors=None, light=(0.3, 0.5, 1.0)):
    """Draw a mesh on a matplotlib Axes (orthographic, Lambert shading, back faces culled)."""
    from matplotlib.collections import PolyCollection

    v, f = _np(vertices), np.asarray(_np(faces), dtype=np.int64)
    Rv = VIEWS[view] if isinstance(view, str) else np.asarray(view)
    p = v @ Rv.T
    tri = p[f]  # (F, 3, 3)
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True).clip(1e-12)
    visible = n[:, 2] > 0
    L = np.asarray(light, float)
    shade = 0.25 + 0.75 * np.clip(n @ (L / np.linalg.norm(L)), 0, 1)
    base = np.full((len(f), 3), 0.75) if colors is None else _np(colors)[f].mean(1)
    fc = np.clip(base * shade[:, None], 0, 1)
    order = np.argsort(tri[:, :, 2].mean(1))
    order = order[visible[order]]
    ax.add_collection(PolyCollection(tri[order][:, :, :2], facecolors=fc[order], edgecolors="none", antialiased=False))
    lo, hi = p[:, :2].min(0), p[:, :2].max(0)
    pad = 0.05 * (hi - lo).max()
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def mesh_image(vertices, faces, view="front", colors=None, size: tuple[int, int] = (300, 450)) -> np.ndarray:
    """(H, W, 3) uint8 picture of a mesh, drawn off-screen with matplotlib's Agg backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    draw_mesh(ax, vertices, faces, view, colors)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def mesh_widget(vertices, faces, colors=None, width: int = 400, height: int = 500):
    """Interactive pythreejs view (orbit with the mouse) of a mesh in JupyterLab."""
    import pythreejs as p3

    v = _np(vertices).astype(np.float32)
    f = np.asarray(_np(faces), dtype=np.uint32).ravel()
    attrs = {"position": p3.BufferAttribute(v, normalized=False), "index": p3.BufferAttribute(f, normalized=False)}
    if colors is not None:
        attrs["color"] = p3.BufferAttribute(_np(colors).astype(np.float32))
    geom = p3.BufferGeometry(attributes=attrs)
    geom.exec_three_obj_method("computeVertexNormals")
    mat = p3.MeshStandardMaterial(
        vertexColors="VertexColors" if colors is not None else "NoColors",
        color="#cccccc" if colors is None else "#ffffff",
        roughness=0.8,
    )
    mesh = p3.Mesh(geometry=geom, material=mat)
    center = v.mean(0)
    cam = p3.PerspectiveCamera(
        position=[float(center[0]), float(center[1]), float(center[2] + 3.0)],
        fov=40,
        children=[p3.DirectionalLight(position=[1, 2, 3], intensity=0.8)],
    )
    scene = p3.Scene(children=[mesh, cam, p3.AmbientLight(intensity=0.5)], background="#f4f4f4")
    ctrl = p3.OrbitControls(controlling=cam, target=[float(c) for c in center])
    return p3.Renderer(camera=cam, scene=scene, controls=[ctrl], width=width, height=height)


def mesh_html(
    meshes: list, faces, colors=None, gap: float = 0.3, frames: list | None = None, labels: list[str] | None = None
) -> str:
    """A self-contained HTML page showing the meshes side by side (``dalnb.viewer``: a canvas and
    plain JavaScript, no library, no network): drag to rotate. ``frames``: several such lists of
    meshes, stepped through with a slider labelled ``labels``."""
    from dalnb.viewer import mesh_page

    frames = frames or [meshes]
    n = len(frames[0])
    cols = (
        [None] * n
        if colors is None
        else [_np(colors[i] if isinstance(colors, (list, tuple)) else colors) for i in range(n)]
    )
    page = mesh_page([[_np(v) for v in row] for row in frames], _np(faces), cols, labels)
    return f'<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">{page}</body></html>'


def mesh_view(
    meshes, faces, colors=None, height: int = 420, frames: list | None = None, labels: list[str] | None = None
):
    """``mesh_html`` in an iframe: interactive in JupyterLab and in the exported HTML report,
    offline. ``meshes``: one (V, 3) array or a list; ``frames``/``labels`` as in ``mesh_html``."""
    import html as _html

    from IPython.display import HTML

    if not isinstance(meshes, (list, tuple)):
        meshes = [meshes]
    page = mesh_html(list(meshes), faces, colors, frames=frames, labels=labels)
    return HTML(
        f'<div class="dalnb-mesh-frame"><iframe srcdoc="{_html.escape(page, quote=True)}" width="100%" '
        f'height="{height + 40}" style="border:0" title="3D mesh view (drag to rotate)"></iframe></div>'
    )


def draw_sample(ax, sample: dict, points: bool = True, keypoints: bool = True, title: str | None = None):
    """Image of a sample with its dense points (coloured by part) and COCO keypoints
    (green visible or detected, red occluded)."""
    from PIL import Image

    img = sample.get("image")
    if img is None and "image_path" in sample:
        with Image.open(sample["image_path"]) as im:
            img = np.asarray(im.convert("RGB"))
    if img is not None:
        ax.imshow(img)
    if points and "dense_xy" in sample and len(sample["dense_xy"]):
        xy = np.asarray(sample["dense_xy"])
        c = np.asarray(sample["dense_iuv"])[:, 0] if "dense_iuv" in sample else "cyan"
        ax.scatter(xy[:, 0], xy[:, 1], s=4, c=c, cmap="tab20", vmin=1, vmax=24, linewidths=0)
    if keypoints and "keypoints2d" in sample:
        k = np.asarray(sample["keypoints2d"])
        seen = (k[:, 2] == 2) | ((k[:, 2] > 0) & (k[:, 2] < 1))  # COCO v = 2, or a detector's confidence
        for m, col in ((seen, "lime"), (k[:, 2] == 1, "red")):
            ax.scatter(k[m, 0], k[m, 1], s=10, c=col, marker="x", linewidths=1)
    if title:
        ax.set_title(title, fontsize=8)
    ax.axis("off")
    return ax


def contact_sheet(samples, cols: int = 8, size: float = 1.6, title: str = "", **kw):
    """A grid of samples drawn with ``draw_sample``; returns the figure."""
    import matplotlib.pyplot as plt

    n = len(samples)
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size * 1.05), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, s in zip(axes.ravel(), samples):
        draw_sample(ax, s, title=s.get("title"), **kw)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def skeleton_views(truths: list, preds: list, bones, titles: list[str]):
    """One row per pose: the true 3D keypoints (black) and the predicted ones (red) from the front,
    the side and the top."""
    import matplotlib.pyplot as plt

    views = [(-90, -90, "front"), (0, -90, "side"), (90, -90, "top")]
    fig = plt.figure(figsize=(12, 4 * len(truths)))
    for r, (gt, pred, title) in enumerate(zip(truths, preds, titles)):
        for c, (elev, azim, name) in enumerate(views):
            ax = fig.add_subplot(len(truths), 3, 3 * r + c + 1, projection="3d")
            for P, col, lab in ((gt, "k", "truth"), (pred, "tab:red", "lifted")):
                for a, b in bones:
                    ax.plot(*P[[a, b]].T, color=col, lw=2)
                ax.scatter(*P.T, color=col, s=6, label=lab)
            ax.view_init(elev=elev, azim=azim)
            ax.set(title=f"{title}, {name}", xticks=[], yticks=[], zticks=[])
            if c == 0 and r == 0:
                ax.legend()
    fig.suptitle("Lifted 3D keypoints (red, Procrustes-aligned) and the truth (black) from three views")
    return fig


def empty_axes(fig) -> list[str]:
    """The shown axes of ``fig`` with nothing drawn on them (no line, patch, image or collection),
    each by its title or its position: a figure drawn after it was shown has them."""
    out = []
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison:
            continue
        if not (ax.lines or ax.patches or ax.images or ax.collections):
            out.append(ax.get_title() or f"axes {i + 1} of {len(fig.axes)}")
    return out


def _display_checked(display):
    """``display`` of the inline backend, each figure shown with ``dalnb_empty_axes`` in its
    output's metadata (the notebook tests read it)."""

    def show(obj, *args, metadata=None, **kw):
        if hasattr(obj, "axes") and hasattr(obj, "canvas"):
            metadata = {**(metadata or {}), "dalnb_empty_axes": empty_axes(obj)}
        return display(obj, *args, metadata=metadata, **kw)

    show.dalnb_checked = True
    return show


def rounds_error_figure(tab):
    """Fig. 8 of a rounds table (one row per round, ``run_rounds``' columns): the test errors of
    the regressor and of its refinement beside the mean body's, the share of test bodies whose
    heading is off by more than 90 degrees, the per-pixel error, and the fits' error against the
    hidden truth (this round's and the store's)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(18, 4.6), sharex=True)
    for k, lab in (("mpjpe_mm", "MPJPE"), ("pa_mpjpe_mm", "PA-MPJPE"), ("pve_mm", "PVE")):
        (line,) = axes[0].plot(tab.index, tab[k], "o-", label=lab)
        axes[0].plot(tab.index, tab["refined_" + k], "o--", color=line.get_color(), alpha=0.6, label=lab + " refined")
    axes[0].plot(tab.index, tab["mean_pose_pa_mpjpe_mm"], "k:", label="PA-MPJPE, one mean body for all")
    axes[0].set(xlabel="round", ylabel="test error (mm)", title="Test error per round (Fig. 8)")
    axes[1].plot(tab.index, tab["torso_rot_over_90_pct"], "o-", label="regressor")
    axes[1].plot(tab.index, tab["refined_torso_rot_over_90_pct"], "o--", label="refined")
    axes[1].set(xlabel="round", ylabel="test bodies (%)", title="Heading off by more than 90 degrees")
    axes[2].plot(tab.index, tab["pixel_err"], "o-", label="regressor")
    axes[2].plot(tab.index, tab["refined_pixel_err"], "o--", label="refined")
    axes[2].set(xlabel="round", ylabel="per-pixel error (px)", title="2D agreement with the annotations")
    axes[3].plot(tab.index, tab["train_fit_pa_mpjpe_mm"], "o-", label="this round's fits")
    axes[3].plot(tab.index, tab["store_fit_pa_mpjpe_mm"], "s-", label="fit store (best so far)")
    axes[3].set(xlabel="round", ylabel="median PA-MPJPE of fits (mm)", title="Pseudo-label quality", xticks=tab.index)
    axes[0].legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2))  # below: clear of the lines
    for ax in axes[1:]:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def store_progress_figure(body, samples: list[dict], stores: dict):
    """Fig. 9: the same training samples (with ``joints3d``), one row per round: the fit the
    store (``{round: FitStore}``) holds for each, drawn over its image, titled with the round
    that made it and its PA-MPJPE against the hidden truth."""
    import matplotlib.pyplot as plt

    from dalnb.metrics import pa_mpjpe

    truth = np.stack([s["joints3d"] for s in samples])
    fig, axes = plt.subplots(len(stores), len(samples), figsize=(2.6 * len(samples), 2.7 * len(stores)), squeeze=False)
    for row, (r, st) in zip(axes, stores.items()):
        idx = [st.index[s["sample_id"]] for s in samples]
        f = st.as_fits(body).take(idx)
        err = pa_mpjpe(body.keypoints(f.vertices, "h36m17").numpy(), truth) * 1000
        for j, (ax, s) in enumerate(zip(row, samples)):
            ax.imshow(overlay_mesh(s["image"], f.vertices[j], body.faces, f.camera[j]))
            ax.set_title(f"round {r} (from r{int(st.round[idx[j]])}): {err[j]:.0f} mm", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("Fit store after each round: overlay and PA-MPJPE against the hidden ground truth")
    return fig


def notebook_style() -> None:
    """Display settings for the study's notebooks: tables shown whole (no truncated cells or
    rows), figures as compact JPEG, each shown figure's empty axes named in its output's
    metadata (``empty_axes``)."""
    import matplotlib as mpl
    import pandas as pd

    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_rows", 500)
    pd.set_option("display.max_columns", 60)
    pd.set_option("display.width", 250)
    mpl.rcParams["figure.dpi"] = 80
    mpl.rcParams["savefig.dpi"] = 80
    try:  # in a kernel: figures as JPEG, a few times smaller than PNG for rendered images
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        if get_ipython() is not None:
            set_matplotlib_formats("jpeg", pil_kwargs={"quality": 85})
            import matplotlib_inline.backend_inline as inline

            if not getattr(inline.display, "dalnb_checked", False):
                inline.display = _display_checked(inline.display)
    except ImportError:
        pass
