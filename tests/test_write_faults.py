"""A full disk or a read-only run folder: a clear message naming the path, nothing half-written.

Both on real file systems where the machine lets the tests mount a small tmpfs (root with the
capability, as on CI); elsewhere the same checks run with the system call's error injected."""

import errno
import os
import subprocess
import uuid

import numpy as np
import pytest

from dalnb import io as dio
from dalnb.config import start_run
from dalnb.io import WriteError, atomic_write_json, atomic_write_npz


def _mount(path, *opts):
    if os.environ.get("DALNB_NO_MOUNT"):
        return False
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(opts), "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


@pytest.fixture
def small_fs(tmp_path):
    """A 256 KiB file system (real when it can be mounted)."""
    fs = tmp_path / f"fs-{uuid.uuid4().hex[:6]}"
    real = _mount(fs, "size=256k")
    yield fs, real
    if real:
        subprocess.run(["umount", str(fs)], check=False)


@pytest.fixture
def ro_fs(tmp_path):
    """A read-only file system holding an empty run folder (real when it can be mounted)."""
    fs = tmp_path / f"ro-{uuid.uuid4().hex[:6]}"
    real = _mount(fs, "size=64k", "ro")
    yield fs, real
    if real:
        subprocess.run(["umount", str(fs)], check=False)


def _leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_a_full_disk_names_the_file_and_leaves_nothing_half_written(small_fs, monkeypatch):
    fs, real = small_fs
    fs.mkdir(exist_ok=True)
    target = fs / "rounds" / "round1" / "fits.npz"
    atomic_write_json(fs / "small.json", {"ok": 1})
    if not real:
        real_fsync = os.fsync

        def full(fd):
            if os.fstat(fd).st_size > 100_000:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_fsync(fd)

        monkeypatch.setattr(dio.os, "fsync", full)
    big = {"vertices": np.random.default_rng(0).normal(size=(200, 1000)).astype(np.float32)}  # 800 kB
    with pytest.raises(WriteError, match=rf"{target}: not written \(No space left on device\)") as e:
        atomic_write_npz(target, big, compressed=False)
    assert e.value.errno == errno.ENOSPC
    assert _leftovers(fs) == ["small.json"]  # no temporary file, nothing under the final name


def test_a_read_only_run_folder_is_refused_by_name_before_anything_runs(ro_fs, monkeypatch):
    fs, real = ro_fs
    run = fs / "run" if not real else fs
    if not real:
        run.mkdir(parents=True)
        monkeypatch.setattr(os, "access", lambda p, mode: not str(p).startswith(str(run)))
    with pytest.raises(WriteError, match=f"run folder {run} is not writable"):
        start_run(run, "02_cgan", "tiny")
    assert _leftovers(fs) == []


def test_a_write_into_a_read_only_folder_names_the_file(ro_fs, monkeypatch):
    fs, real = ro_fs
    target = fs / "eval" / "table.json"
    if not real:
        fs.mkdir(exist_ok=True)

        def refuse(*a, **k):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))

        monkeypatch.setattr(dio.tempfile, "mkstemp", refuse)
        monkeypatch.setattr(dio.Path, "mkdir", lambda *a, **k: None)
    with pytest.raises(WriteError, match=rf"{target}: not written \(Read-only file system\)"):
        atomic_write_json(target, {"a": 1})
    assert _leftovers(fs) == []
