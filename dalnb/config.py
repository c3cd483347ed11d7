"""Presets and run configs: one named config per preset, saved beside every run.

``tiny`` runs in the test suite (seconds per notebook), ``small`` on 2 CPU cores in minutes
(``make demo``), ``full`` on one GPU. A notebook resolves its preset with overrides from its
parameters cell and writes the resolved config to ``run_dir/config/<notebook>.yaml``.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from dalnb.io import atomic_write_text

__all__ = ["PRESETS", "get_preset", "apply_overrides", "save_config", "load_config", "start_run"]

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "body": {"bench_batches": [1, 64], "bench_with_anny": True},
        "data": {"n_train": 24, "n_test": 12, "image_size": 64, "workers": 1, "train_anny_fraction": 0.3, "shard_size": 8},
        "registration": {"iters": 60, "n_study": 8, "n_photos": 2},
        "lifter": {"steps": 40, "hidden": 64, "batch": 32},
        "rounds": {"rounds": 2, "epochs_per_round": 1, "later_iters": 20, "refine_iters": 10, "n_eval": 12, "batch": 8, "lr": 3e-4,
                   "backbone": "resnet18"},
        "evaluation": {"refine_iters": [0, 10, 20], "n_failures": 4},
        "ablations": {"n": 6, "iters": 40, "dense_counts": [10, 60], "noise_px": [0, 3], "source_epochs": 1},
    },
    "small": {
        "body": {"bench_batches": [1, 64, 1024], "bench_with_anny": True},
        "data": {"n_train": 1200, "n_test": 200, "image_size": 96, "workers": 2, "train_anny_fraction": 0.3, "shard_size": 32},
        "registration": {"iters": 300, "n_study": 64, "n_photos": 7},
        "lifter": {"steps": 2000, "hidden": 512, "batch": 128},
        "rounds": {"rounds": 3, "epochs_per_round": 5, "later_iters": 300, "refine_iters": 50, "n_eval": 200, "batch": 32, "lr": 3e-4,
                   "backbone": "resnet18"},
        "evaluation": {"refine_iters": [0, 10, 25, 50, 100], "n_failures": 6},
        "ablations": {"n": 48, "iters": 300, "dense_counts": [10, 25, 50, 100, 200], "noise_px": [0, 1, 3, 6], "source_epochs": 6},
    },
    "full": {
        "body": {"bench_batches": [1, 64, 1024, 8192], "bench_with_anny": True},
        "data": {"n_train": 50000, "n_test": 2000, "image_size": 224, "workers": 16, "train_anny_fraction": 0.3, "shard_size": 64},
        "registration": {"iters": 300, "n_study": 500, "n_photos": 7},
        "lifter": {"steps": 20000, "hidden": 1024, "batch": 256},
        "rounds": {"rounds": 5, "epochs_per_round": 4, "later_iters": 300, "refine_iters": 50, "n_eval": 1000, "batch": 128, "lr": 2e-4,
                   "backbone": "resnet50"},
        "evaluation": {"refine_iters": [0, 10, 25, 50, 100, 200], "n_failures": 8},
        "ablations": {"n": 300, "iters": 300, "dense_counts": [10, 25, 50, 100, 200], "noise_px": [0, 1, 3, 6], "source_epochs": 8},
    },
}


def get_preset(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {list(PRESETS)}")
    return copy.deepcopy(PRESETS[name])


def apply_overrides(cfg: dict[str, Any], overrides: dict[str, Any] | list[str] | None) -> dict[str, Any]:
    """Overrides as a dict of dotted keys or a list of ``key=value`` strings (YAML values)."""
    cfg = copy.deepcopy(cfg)
    if not overrides:
        return cfg
    items = overrides.items() if isinstance(overrides, dict) else (_split(o) for o in overrides)
    for key, value in items:
        node = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            if p not in node or not isinstance(node[p], dict):
                raise ValueError(f"override {key!r}: unknown section {p!r}; expected one of {list(node)}")
            node = node[p]
        if parts[-1] not in node:
            raise ValueError(f"override {key!r}: unknown key {parts[-1]!r}; expected one of {list(node)}")
        node[parts[-1]] = value
    return cfg


def _split(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise ValueError(f"override {item!r}: expected key=value")
    k, v = item.split("=", 1)
    return k.strip(), yaml.safe_load(v)


def save_config(path: Path, cfg: dict[str, Any]) -> Path:
    return atomic_write_text(Path(path), yaml.safe_dump(cfg, sort_keys=True))


def load_config(path: Path) -> dict[str, Any]:
    with open(path) as f:
        return yaml.safe_load(f)


def start_run(run_dir: str | Path, notebook: str, preset: str, overrides=None, **extra) -> dict[str, Any]:
    """Resolve a notebook's config, save it to ``run_dir/config/<notebook>.yaml`` and return it."""
    run_dir = Path(run_dir)
    cfg = apply_overrides(get_preset(preset), overrides)
    cfg = {"preset": preset, "run_dir": str(run_dir), "notebook": notebook, **extra, **cfg}
    save_config(run_dir / "config" / f"{notebook}.yaml", cfg)
    return cfg
