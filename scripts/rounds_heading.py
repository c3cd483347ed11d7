"""The torso rotation error (heading) of `bench rounds` runs recorded before the bench measured it.

    .venv/bin/python scripts/rounds_heading.py RECORDS.jsonl WORK_DIR [RECORDS.jsonl WORK_DIR ...] > out.jsonl

Each RECORDS file holds one run's JSON lines as `python -m dalnb.bench rounds` printed them and
WORK_DIR is that run's `work_dir`: every record comes back with `torso_rot_median_deg` and
`torso_rot_over_90_pct` of the regressor it describes (its round's, or a baseline's), measured
on the run's test renders with `dalnb.metrics.evaluate`, and `torso_measured: "afterwards"`.
Records that have the fields already are passed through.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) % 2 or not argv:
        print(__doc__, file=sys.stderr)
        return 2
    from dalnb import BodyModel
    from dalnb.bench.rounds import record_regressor_path
    from dalnb.data.store import load_samples
    from dalnb.metrics import evaluate
    from dalnb.rounds import build_trainset, load_regressor, predict

    body = BodyModel.default()
    for records, wd in zip(argv[::2], argv[1::2]):
        wd = Path(wd)
        test = load_samples(wd / "data" / "test")
        for line in Path(records).read_text().splitlines():
            r = json.loads(line)
            if r.get("torso_rot_median_deg") is None:
                path = record_regressor_path(wd, r)
                if not path.exists():
                    raise FileNotFoundError(f"{records}: record {r['setting']} {r.get('round')}: no regressor at {path}")
                model = load_regressor(path)
                test_n = test[: r["n_test"]]
                m = evaluate(body, predict(body, model, build_trainset(test_n, model.cfg.image_size)), test_n)
                if abs(m["mpjpe_mm"] - r["mpjpe_mm"]) > 0.5:
                    raise ValueError(f"{records}: {path} scores {m['mpjpe_mm']:.1f} mm MPJPE, the record says {r['mpjpe_mm']:.1f}: another run's work_dir?")
                r.update(torso_rot_median_deg=round(m["torso_rot_median_deg"], 2), torso_rot_over_90_pct=round(m["torso_rot_over_90_pct"], 1),
                         torso_measured="afterwards")  # fmt: skip
            print(json.dumps(r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
