"""What made each cached result of a run, and one writer per run folder.

A step's record (``run_dir/steps/<name>.json``) holds its *key*: the resolved config values the
step reads and the digests of the steps it reads from. ``Ledger.ensure`` compares the key a
run asks for with the recorded one: equal, the outputs are reused; different, they are removed
and the step is made again, with a message naming what changed::

    round 2 fits: later_iters 300 -> 100, remade
    round 2 regressor: input 'round 2 store' changed, remade

Since a step's digest enters the keys of the steps that read it, a change remakes everything
downstream of it and nothing upstream. ``strict`` refuses instead, naming the changed keys.

``RunLock`` keeps a second writer out of a run folder: ``run_dir/.lock`` names its holder
(process id, host, start, command); a lock whose process is gone is taken over with a message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dalnb.io import WriteError, atomic_write_json, plain

__all__ = ["Ledger", "StepChanged", "RunLock", "RunInUse", "digest", "changes", "LOCK_ENV", "STRICT_ENV"]

log = logging.getLogger(__name__)

#: environment variable through which a pipeline hands its lock to the notebooks' kernels
LOCK_ENV = "DALNB_RUN_LOCK"
#: environment variable that makes every ledger strict (``python -m dalnb.pipeline --strict``)
STRICT_ENV = "DALNB_STRICT"


class StepChanged(RuntimeError):
    """A strict run asked for a step made from other settings."""


def digest(key: Any) -> str:
    """A short, stable digest of a JSON-able key."""
    return hashlib.sha256(json.dumps(plain(key), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


def changes(old: dict, new: dict) -> list[str]:
    """What differs between two keys, as 'name old -> new' (inputs by name: 'input X changed')."""
    a, b = _flat(plain(old)), _flat(plain(new))
    out = []
    for k in sorted(set(a) | set(b)):
        if a.get(k, "absent") != b.get(k, "absent"):
            if k.startswith("inputs."):
                out.append(f"input '{k[len('inputs.') :]}' changed")
            else:
                out.append(f"{k} {a.get(k, 'absent')} -> {b.get(k, 'absent')}")
    return out


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


@dataclass
class Ledger:
    """The step records of one run folder."""

    root: Path
    strict: bool = field(default_factory=lambda: os.environ.get(STRICT_ENV) == "1")
    remade: list[str] = field(default_factory=list)  # this process's messages, in order

    def __post_init__(self):
        self.root = Path(self.root)

    def record_path(self, name: str) -> Path:
        return self.root / "steps" / (name.replace("/", "_").replace(" ", "_") + ".json")

    def record(self, name: str) -> dict | None:
        p = self.record_path(name)
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError) as e:
            raise StepChanged(f"{p}: unreadable step record ({e}); remove it to remake step {name!r}") from e

    def digest(self, name: str) -> str:
        """The recorded digest of step ``name`` ('' when it was never made)."""
        rec = self.record(name)
        return rec["digest"] if rec else ""

    def ensure(self, name: str, key: dict, outputs: Iterable[str | Path] = ()) -> str:
        """Make sure the outputs of step ``name`` are those of ``key``: when the recorded key
        differs (or none is recorded while an output exists), remove the outputs and record
        ``key`` (the caller then makes them); returns the key's digest, for the steps that read
        this one. Outputs are paths (files or folders) relative to the run folder or absolute."""
        key = plain(key)
        d = digest(key)
        rec = self.record(name)
        outs = [p if Path(p).is_absolute() else self.root / p for p in map(Path, outputs)]
        present = [p for p in outs if p.exists()]
        if rec is not None and rec["digest"] == d:
            return d
        if rec is not None or present:
            why = changes(rec["key"], key) if rec is not None else ["no record of what made it"]
            if present and self.strict:
                raise StepChanged(f"{name}: made from other settings ({'; '.join(why)}); strict run refuses")
            if present:
                msg = f"{name}: {', '.join(why)}, remade"
                self.remade.append(msg)
                log.warning(msg)
            for p in present:
                _remove(p)
        rel = [str(p.relative_to(self.root)) if p.is_relative_to(self.root) else str(p) for p in outs]
        atomic_write_json(self.record_path(name), {"step": name, "key": key, "digest": d, "outputs": rel})
        return d

    def steps(self) -> list[dict]:
        """Every recorded step of the run, by name."""
        folder = self.root / "steps"
        recs = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.exists() else []
        return recs


class RunInUse(RuntimeError):
    """Another live process writes the run folder."""


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class RunLock:
    """One writer per run folder: ``acquire`` writes ``root/.lock`` naming this process, or fails
    naming the live holder, or takes over a lock whose process is gone."""

    root: Path
    command: str = ""
    token: str = ""
    kind: str = "pipeline"  # or "notebook": a kernel stepping through the notebooks by hand

    def __post_init__(self):
        self.root = Path(self.root)
        self.path = self.root / ".lock"
        self.command = self.command or " ".join(sys.argv)

    def holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            return {"pid": -1, "host": socket.gethostname(), "started": "?", "command": "unreadable lock", "token": ""}

    @staticmethod
    def describe(h: dict) -> str:
        return f"process {h['pid']} on {h['host']} since {h['started']} ({h['command']})"

    def acquire(self) -> str:
        """Take the folder; returns the lock's token (hand it to child processes as ``LOCK_ENV``).
        A notebook kernel takes the folder over from another notebook kernel on this host (one
        reader stepping through the notebooks); a pipeline never shares it."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK):
                raise PermissionError(13, "permission denied")
        except OSError as e:
            raise WriteError(e.errno, f"run folder {self.root} is not writable ({e.strerror or e})") from e
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": self.command,
            "token": self.token or f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}",
            "kind": self.kind,
        }
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except OSError as e:
                if not isinstance(e, FileExistsError):
                    raise WriteError(e.errno, f"run folder {self.root} is not writable ({e.strerror or e})") from e
                h = self.holder()
                if h is None:
                    continue
                same_host = h.get("host") == socket.gethostname()
                ours = same_host and h.get("pid") == os.getpid()
                if ours or (h.get("token") and h["token"] == os.environ.get(LOCK_ENV)):
                    self.token = h["token"]
                    return self.token  # this process's lock already, or that of the pipeline running us
                if same_host and not _alive(int(h.get("pid", -1))):
                    log.warning("%s: taking over a stale lock of %s (no such process)", self.root, self.describe(h))
                    self.path.unlink(missing_ok=True)
                    continue
                if same_host and self.kind == h.get("kind") == "notebook":
                    # one reader stepping through the notebooks in JupyterLab: the newest notebook writes
                    log.warning("%s: taken over from %s", self.root, self.describe(h))
                    self.path.unlink(missing_ok=True)
                    continue
                raise RunInUse(
                    f"{self.root} is in use by {self.describe(h)}; wait for it, or stop it"
                    + ("" if same_host else f" (on another host: remove {self.path} if it is gone)")
                ) from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.token = me["token"]
            return self.token
        raise RunInUse(f"{self.path}: could not take the lock")

    def release(self) -> None:
        h = self.holder()
        if h is not None and h.get("token") == self.token:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
