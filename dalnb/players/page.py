"""A frame player in plain JavaScript: precomputed pictures, a slider (and, for a grid, a picker),
no library, no network, no kernel: it plays the same in JupyterLab and in the exported HTML."""

from __future__ import annotations

import base64
import html
import io
import json
import uuid

import numpy as np

__all__ = ["jpeg", "frame_player_html", "frame_player", "figure_image"]


def jpeg(image: np.ndarray, quality: int = 80) -> str:
    """(H, W, 3) uint8 -> a JPEG data URI."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def figure_image(fig, dpi: int = 72) -> np.ndarray:
    """A matplotlib figure as (H, W, 3) uint8 (closed afterwards)."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    out = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return out


_JS = r"""
(function () {
  const P = %(payload)s, root = document.getElementById(%(id)s);
  const img = root.querySelector("img"), slider = root.querySelector("input[type=range]");
  const pick = root.querySelector("select"), label = root.querySelector(".dalnb-frame");
  function show() {
    const g = pick ? +pick.value : 0, k = +slider.value;
    img.src = P.frames[g][k]; label.textContent = P.labels[g][k];
  }
  slider.addEventListener("input", show);
  if (pick) pick.addEventListener("change", show);
  show();
})();
"""


def frame_player_html(
    frames: list[list[str]],
    labels: list[list[str]],
    choices: list[str] | None = None,
    title: str = "",
    step: str = "step",
) -> str:
    """An HTML fragment: ``frames[g][k]`` (image data URIs) with ``labels[g][k]``; the slider
    moves ``k`` (named ``step``); with several groups a picker chooses ``g`` (``choices``)."""
    if not frames or any(len(f) != len(frames[0]) or len(f) != len(lab) for f, lab in zip(frames, labels)):
        raise ValueError(
            f"frame_player: expected groups of equal length with a label per frame, got {[len(f) for f in frames]}"
        )
    uid = "dalnb-player-" + uuid.uuid4().hex[:10]
    pick = ""
    if len(frames) > 1:
        opts = "".join(
            f'<option value="{g}">{html.escape(c)}</option>' for g, c in enumerate(choices or range(len(frames)))
        )
        pick = f'<select aria-label="choose">{opts}</select> '
    script = _JS % {"payload": json.dumps({"frames": frames, "labels": labels}), "id": json.dumps(uid)}
    return (
        f'<div id="{uid}" class="dalnb-player" style="font:13px sans-serif">'
        f'<div>{pick}<input type="range" min="0" max="{len(frames[0]) - 1}" value="0" step="1" style="width:50%" '
        f'aria-label="{html.escape(step)}"> <span class="dalnb-frame"></span></div>'
        f'<img alt="{html.escape(title)}" style="max-width:100%"><script>{script}</script></div>'
    )


def frame_player(frames, labels, choices=None, title: str = "", step: str = "step", height: int = 420):
    """``frame_player_html`` in an iframe (scripts run in JupyterLab and in the report alike)."""
    from IPython.display import HTML

    page = '<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">'
    page += frame_player_html(frames, labels, choices, title, step) + "</body></html>"
    return HTML(
        f'<div class="dalnb-player-frame"><iframe srcdoc="{html.escape(page, quote=True)}" width="100%" '
        f'height="{height}" style="border:0" title="{html.escape(title)}"></iframe></div>'
    )
