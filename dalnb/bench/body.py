"""``python -m dalnb.bench body``: body model forward / forward+backward, meshes per second,
beside anny's own forward on the same batch in the same run (``study.body.body_speed``)."""

from __future__ import annotations

from dalnb.bench import emit, register_bench
from dalnb.study.body import body_speed


@register_bench("body")
def bench_body(
    batches=(1, 64, 1024), subset: int = 300, device: str | None = None, with_anny: bool = True
) -> list[dict]:
    return [emit("body", rec) for rec in body_speed(batches, subset, device, with_anny)]
