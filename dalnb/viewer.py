"""A small 3D mesh viewer in plain JavaScript on a 2D canvas: no WebGL, no library, no network,
so it draws the same in JupyterLab, in a mailed HTML report and in a headless browser.

The meshes travel once, compactly: positions quantised to int16 (0.1 mm steps over the scene's
extent), faces as uint16 (or uint32), colours as uint8, all base64. The page centres the meshes
side by side, lights them with a head light (Lambert shading plus ambient, so no face is black)
and draws back to front; drag to turn, wheel to zoom. ``frames`` (several vertex sets per mesh)
and a slider step through them: the players of notebooks 03 and 04 use that.
"""

from __future__ import annotations

import base64
import json
import uuid

import numpy as np

__all__ = ["mesh_page", "mesh_payload"]


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def mesh_payload(
    frames: list[list[np.ndarray]], faces: np.ndarray, colors: list[np.ndarray | None], gap: float = 0.3
) -> dict:
    """The viewer's data: ``frames[k][i]`` the (V, 3) vertices (metres, y up) of mesh i in frame k,
    ``faces`` (F, 3) shared, ``colors[i]`` (V, 3) in [0, 1] or None. Meshes are centred each on its
    own and placed side by side along x, ``gap`` apart."""
    faces = np.asarray(faces)
    placed = []
    for frame in frames:
        row, x = [], 0.0
        for v in frame:
            v = np.asarray(v, np.float64)
            v = v - (v.min(0) + v.max(0)) / 2
            width = v[:, 0].max() - v[:, 0].min()
            row.append(v + [x + width / 2, 0, 0])
            x += width + gap
        placed.append(row)
    allv = np.concatenate([v for row in placed for v in row])
    centre = (allv.min(0) + allv.max(0)) / 2
    step = max(float(np.abs(allv - centre).max()) / 32000, 1e-5)
    q = [[_b64(np.round((v - centre) / step).astype(np.int16)) for v in row] for row in placed]
    idx = faces.astype(np.uint16 if faces.max() < 65536 else np.uint32)
    cols = [None if c is None else _b64((np.clip(np.asarray(c), 0, 1) * 255).astype(np.uint8)) for c in colors]
    return {"step": step, "frames": q, "faces": _b64(idx), "wide": idx.dtype == np.uint32, "colors": cols}


_JS = r"""
(function () {
  const P = %(payload)s, root = document.getElementById(%(id)s);
  const cv = root.querySelector("canvas"), ctx = cv.getContext("2d");
  const dec = (s, T) => { const b = atob(s), u = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i++) u[i] = b.charCodeAt(i); return new T(u.buffer); };
  const faces = dec(P.faces, P.wide ? Uint32Array : Uint16Array), F = faces.length / 3;
  const frames = P.frames.map(row => row.map(s => dec(s, Int16Array)));
  const colors = P.colors.map(c => c ? dec(c, Uint8Array) : null);
  let yaw = 0.35, pitch = 0.15, zoom = 1, k = 0;
  const slider = root.querySelector("input[type=range]"), label = root.querySelector(".dalnb-frame");
  function draw() {
    const W = cv.width, H = cv.height;
    const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
    ctx.fillStyle = "#f4f4f4"; ctx.fillRect(0, 0, W, H);
    let ext = 1;
    frames[k].forEach(v => { for (let i = 0; i < v.length; i++) ext = Math.max(ext, Math.abs(v[i])); });
    const s = zoom * 0.92 * Math.min(W, H) / (2 * ext), tris = [];
    frames[k].forEach((v, m) => {
      const n = v.length / 3, X = new Float32Array(n), Y = new Float32Array(n), Z = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const x = v[3 * i], y = v[3 * i + 1], z = v[3 * i + 2];
        const x1 = cy * x + sy * z, z1 = -sy * x + cy * z;
        X[i] = x1; Y[i] = cp * y - sp * z1; Z[i] = sp * y + cp * z1;
      }
      const c = colors[m];
      for (let f = 0; f < F; f++) {
        const a = faces[3 * f], b = faces[3 * f + 1], d = faces[3 * f + 2];
        const ux = X[b] - X[a], uy = Y[b] - Y[a], uz = Z[b] - Z[a];
        const vx = X[d] - X[a], vy = Y[d] - Y[a], vz = Z[d] - Z[a];
        const nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
        const len = Math.hypot(nx, ny, nz) || 1, lit = 0.35 + 0.65 * Math.abs(nz / len);
        let r = 190, g = 190, bl = 200;
        if (c) { r = (c[3 * a] + c[3 * b] + c[3 * d]) / 3; g = (c[3 * a + 1] + c[3 * b + 1] + c[3 * d + 1]) / 3;
                 bl = (c[3 * a + 2] + c[3 * b + 2] + c[3 * d + 2]) / 3; }
        tris.push([Z[a] + Z[b] + Z[d], X[a], Y[a], X[b], Y[b], X[d], Y[d], r * lit, g * lit, bl * lit]);
      }
    });
    tris.sort((p, q) => p[0] - q[0]);
    for (const t of tris) {
      ctx.fillStyle = ctx.strokeStyle = `rgb(${t[7] | 0},${t[8] | 0},${t[9] | 0})`;
      ctx.beginPath(); ctx.moveTo(W / 2 + s * t[1], H / 2 - s * t[2]); ctx.lineTo(W / 2 + s * t[3], H / 2 - s * t[4]);
      ctx.lineTo(W / 2 + s * t[5], H / 2 - s * t[6]); ctx.closePath(); ctx.fill(); ctx.stroke();
    }
  }
  let drag = null, queued = false;
  const redraw = () => { if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; draw(); }); } };
  cv.addEventListener("pointerdown", e => { drag = [e.clientX, e.clientY]; cv.setPointerCapture(e.pointerId); });
  cv.addEventListener("pointermove", e => {
    if (!drag) return;
    yaw += (e.clientX - drag[0]) * 0.01; pitch += (e.clientY - drag[1]) * 0.01;
    drag = [e.clientX, e.clientY]; redraw();
  });
  cv.addEventListener("pointerup", () => { drag = null; });
  cv.addEventListener("wheel", e => {
    e.preventDefault(); zoom *= Math.exp(-e.deltaY * 0.001); redraw();
  }, {passive: false});
  if (slider) slider.addEventListener("input", () => { k = +slider.value; label.textContent = P.labels[k]; redraw(); });
  draw();
})();
"""


def mesh_page(
    frames: list[list[np.ndarray]],
    faces: np.ndarray,
    colors: list[np.ndarray | None] | None = None,
    labels: list[str] | None = None,
    width: int = 720,
    height: int = 400,
    title: str = "3D mesh view (drag to rotate)",
) -> str:
    """An HTML fragment (canvas, optional frame slider, script) showing ``frames[k]``: a list of
    (V, 3) meshes drawn side by side; with several frames a slider steps through them, each with
    its ``labels[k]``."""
    colors = colors if colors is not None else [None] * len(frames[0])
    payload = mesh_payload(frames, faces, colors)
    payload["labels"] = labels or [f"frame {k}" for k in range(len(frames))]
    uid = "dalnb-mesh-" + uuid.uuid4().hex[:10]
    slider = ""
    if len(frames) > 1:
        slider = (
            f'<div><input type="range" min="0" max="{len(frames) - 1}" value="0" step="1" style="width:60%" '
            f'aria-label="frame"> <span class="dalnb-frame">{payload["labels"][0]}</span></div>'
        )
    script = _JS % {"payload": json.dumps(payload), "id": json.dumps(uid)}
    return (
        f'<div id="{uid}" class="dalnb-mesh" title="{title}"><canvas width="{width}" height="{height}" '
        f'style="border:1px solid #ddd;touch-action:none;cursor:grab"></canvas>{slider}<script>{script}</script></div>'
    )
