import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def body():
    from dalnb import BodyModel

    return BodyModel.default()


@pytest.fixture(scope="session")
def body64(body):
    import torch

    from dalnb.body.model import BodyModel

    return BodyModel(body.data, dtype=torch.float64)


def shared_data(sub: str) -> Path:
    root = Path(os.environ.get("DALNB_SHARED_DATA", SHARED))
    p = root / sub
    if not p.exists():
        pytest.skip(f"real sample data not found at {p} (set DALNB_SHARED_DATA)")
    return p


def run_torchrun(script, *args, nproc: int = 2) -> None:
    """Run a script under torchrun (CPU processes, gloo) and fail with its stderr if it fails."""
    import subprocess
    import sys

    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            str(nproc),
            str(script),
            *map(str, args),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
