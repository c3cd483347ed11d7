"""The study's one typed config: a preset is a tree of the real config dataclasses.

``tiny`` runs in the test suite (seconds per notebook), ``small`` on 2 CPU cores in minutes (``make
demo``), ``cpu`` (the reference) within two hours on them, ``full`` on one GPU. A notebook resolves its
preset with dotted overrides from its parameters cell (or ``--override`` on the pipeline's command
line), e.g. ``{"data.n_train": 500, "rounds.train.lr": 1e-4}``; an unknown key fails listing the
known ones. The resolved config is saved to ``run_dir/config/<notebook>.yaml``.

Each knob has one name: the registration's iterations are ``registration.iters`` (round 1 of
the rounds uses them too), the image size is ``data.synth.image_size`` (the regressor's input
too), and ``seed`` and ``device`` sit at the top and reach every part (``resolve``).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from dalnb.data.sources import SourcePlan
from dalnb.data.synth.scene import SynthConfig
from dalnb.fitting.config import RegistrationConfig
from dalnb.io import atomic_write_text, plain
from dalnb.lifter import LifterConfig
from dalnb.regressor import RegressorConfig
from dalnb.run import Run
from dalnb.steps import Ledger, RunLock, changes, digest
from dalnb.training.config import RoundsConfig, TrainConfig

__all__ = [
    "StudyConfig",
    "BodyBench",
    "DataConfig",
    "RegistrationStudy",
    "EvaluationConfig",
    "AblationsConfig",
    "PRESETS",
    "parse_override",
    "get_preset",
    "apply_overrides",
    "save_config",
    "start_run",
    "hold_run",
    "inputs_digest",
    "plan",
    "notebook_key",
    "NOTEBOOK_STEPS",
    "NotebookStep",
]


@dataclass
class BodyBench:
    """Notebook 01's body-model benchmark."""

    bench_batches: list[int] = field(default_factory=lambda: [1, 64])
    bench_with_anny: bool = True


@dataclass
class DataConfig:
    """Notebook 01's synthetic training and test sets (the renders' settings in ``synth``)."""

    n_train: int = 24
    n_test: int = 12
    workers: int = 1
    train_anny_fraction: float = 0.3  # training bodies from anny's phenotype model; test bodies all are
    synth: SynthConfig = field(default_factory=SynthConfig)
    # real sources, kind -> "PATH[:EXTRA]" (``dalnb.data.sources``; ``--source`` on the pipeline)
    sources: dict[str, str] = field(default_factory=dict)
    # each real source's training people as a share of n_train (the synthetic renders stay n_train)
    source_fractions: dict[str, float] = field(
        default_factory=lambda: {"densepose_coco": 0.5, "h36m": 0.5, "coco": 0.25, "mpii": 0.25, "photos": 0.5}
    )
    real_test_every: int = 5  # every k-th usable person of a source (not Human3.6M: S9/S11) is held out

    @property
    def image_size(self) -> int:
        return self.synth.image_size

    def train_synth(self) -> SynthConfig:
        return replace(self.synth, anny_fraction=self.train_anny_fraction, store_vertices=False)

    def source_plan(self, kind: str) -> SourcePlan:
        """How many of a real source's people train and test, at what size."""
        if kind not in self.source_fractions:
            raise ValueError(
                f"data.source_fractions: no fraction for source {kind!r}; has {sorted(self.source_fractions)}"
            )
        n = max(1, round(self.source_fractions[kind] * self.n_train))
        return SourcePlan(n, self.n_test, self.image_size, self.real_test_every, self.synth.shard_size)

    def test_synth(self) -> SynthConfig:
        """Held-out bodies all come from anny's phenotype model, never from our own shape space."""
        return replace(self.synth, anny_fraction=1.0, store_vertices=True)


@dataclass
class RegistrationStudy:
    """Registration in notebooks 03-06: its iterations (first fits, studies, ablations' default)."""

    iters: int = 300
    n_study: int = 64  # held-out bodies in notebook 03's studies
    n_photos: int = 7


@dataclass
class EvaluationConfig:
    refine_curve: list[int] = field(default_factory=lambda: [0, 10, 25, 50, 100])  # refinement iterations compared
    n_failures: int = 6


@dataclass
class AblationsConfig:
    n: int = 48  # held-out bodies per ablation
    iters: int = 300
    dense_counts: list[int] = field(default_factory=lambda: [10, 25, 50, 100, 200])
    noise_px: list[float] = field(default_factory=lambda: [0, 1, 3, 6])
    source_epochs: int = 6  # Table 3's trainings


@dataclass
class StudyConfig:
    preset: str = "tiny"
    seed: int = 0
    device: str | None = None  # None: cuda when present, else cpu
    body: BodyBench = field(default_factory=BodyBench)
    data: DataConfig = field(default_factory=DataConfig)
    registration: RegistrationStudy = field(default_factory=RegistrationStudy)
    lifter: LifterConfig = field(default_factory=LifterConfig)
    rounds: RoundsConfig = field(default_factory=RoundsConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    ablations: AblationsConfig = field(default_factory=AblationsConfig)

    def resolve(self) -> StudyConfig:
        """The same config with every copy in ``DERIVED`` set from the one knob it follows."""
        cfg = self
        for derived, source in DERIVED.items():
            cfg = _set(cfg, derived.split("."), get_knob(cfg, source), derived)
        return cfg

    def registration_config(self, iters: int | None = None) -> RegistrationConfig:
        """``RegistrationConfig`` with ``iters`` (default ``registration.iters``), seed and device."""
        n = self.registration.iters if iters is None else iters
        return RegistrationConfig.with_iters(n, seed=self.seed, device=self.device)

    def refinement_config(self, iters: int | None = None) -> RegistrationConfig:
        """Test-time refinement: registration from a prediction (``RegistrationConfig.refinement``)."""
        n = self.rounds.refine_iters if iters is None else iters
        return RegistrationConfig.refinement(n, seed=self.seed, device=self.device)

    def to_dict(self) -> dict[str, Any]:
        return plain(dataclasses.asdict(self))


# Settings that parts of the study keep a copy of, and the one knob each copy follows: ``resolve`` sets the
# copies, and an override names the knob, never a copy (``apply_overrides`` refuses a copy)
DERIVED: dict[str, str] = {
    "rounds.first_iters": "registration.iters",  # round 1's fits are notebook 03's
    "rounds.regressor.image_size": "data.synth.image_size",  # the regressor reads the renders' crops
    "rounds.seed": "seed",
    "rounds.device": "device",
    "rounds.train.seed": "seed",  # each round's training seeds from the rounds' seed
    "rounds.train.device": "device",
    "lifter.seed": "seed",
    "lifter.device": "device",
}


def get_knob(node, dotted: str):
    """The value at a dotted path of a config (``get_knob(cfg, "rounds.train.lr")``)."""
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def _data(n_train: int, n_test: int, workers: int, image_size: int, shard_size: int) -> DataConfig:
    return DataConfig(n_train, n_test, workers, synth=SynthConfig(image_size=image_size, shard_size=shard_size))


def _rounds(
    rounds: int, epochs: int, n_eval: int, batch: int, lr: float, backbone: str, later: int = 300, refine: int = 50
) -> RoundsConfig:
    return RoundsConfig(
        rounds=rounds,
        epochs_per_round=epochs,
        later_iters=later,
        refine_iters=refine,
        n_eval=n_eval,
        train=TrainConfig(batch=batch, lr=lr),
        regressor=RegressorConfig(backbone=backbone),
    )


_CURVE, _DENSE, _NOISE = [0, 10, 25, 50, 100], [10, 25, 50, 100, 200], [0, 1, 3, 6]
PRESETS: dict[str, StudyConfig] = {
    "tiny": StudyConfig(
        "tiny",
        data=_data(n_train=24, n_test=12, workers=1, image_size=64, shard_size=8),
        registration=RegistrationStudy(iters=60, n_study=8, n_photos=2),
        lifter=LifterConfig(steps=40, hidden=64, batch=32),
        rounds=_rounds(rounds=2, epochs=1, n_eval=12, batch=8, lr=3e-4, backbone="resnet18", later=20, refine=10),
        evaluation=EvaluationConfig(refine_curve=[0, 10, 20], n_failures=4),
        ablations=AblationsConfig(n=6, iters=40, dense_counts=[10, 60], noise_px=[0, 3], source_epochs=1),
        body=BodyBench(bench_batches=[1, 64]),
    ),
    "small": StudyConfig(
        "small",
        data=_data(n_train=1200, n_test=200, workers=2, image_size=96, shard_size=32),
        registration=RegistrationStudy(iters=300, n_study=64, n_photos=7),
        lifter=LifterConfig(steps=2000, hidden=512, batch=128),
        rounds=_rounds(rounds=3, epochs=5, n_eval=200, batch=32, lr=3e-4, backbone="resnet18"),
        evaluation=EvaluationConfig(refine_curve=_CURVE, n_failures=6),
        ablations=AblationsConfig(n=48, iters=300, dense_counts=_DENSE, noise_px=_NOISE, source_epochs=6),
        body=BodyBench(bench_batches=[1, 64, 1024]),
    ),
    "full": StudyConfig(
        "full",
        data=_data(n_train=50000, n_test=2000, workers=16, image_size=224, shard_size=64),
        registration=RegistrationStudy(iters=300, n_study=500, n_photos=7),
        lifter=LifterConfig(steps=20000, hidden=1024, batch=256),
        rounds=_rounds(rounds=5, epochs=4, n_eval=1000, batch=128, lr=2e-4, backbone="resnet50"),
        evaluation=EvaluationConfig(refine_curve=_CURVE + [200], n_failures=8),
        ablations=AblationsConfig(n=300, iters=300, dense_counts=_DENSE, noise_px=_NOISE, source_epochs=8),
        body=BodyBench(bench_batches=[1, 64, 1024, 8192]),
    ),
}
PRESETS["cpu"] = replace(PRESETS["small"], preset="cpu", data=replace(PRESETS["small"].data, n_train=4800))


def get_preset(name: str) -> StudyConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {list(PRESETS)}")
    return copy.deepcopy(PRESETS[name])


def apply_overrides(cfg: StudyConfig, overrides: dict[str, Any] | list[str] | None) -> StudyConfig:
    """Overrides as a dict of dotted keys or a list of ``key=value`` strings (YAML values)."""
    if not overrides:
        return cfg
    items = overrides.items() if isinstance(overrides, dict) else (parse_override(o) for o in overrides)
    for key, value in items:
        if key in DERIVED:
            raise ValueError(f"override {key!r}: it follows {DERIVED[key]!r} (config.DERIVED); override that instead")
        cfg = _set(cfg, key.split("."), value, key)
    return cfg


def _set(node, parts: list[str], value, key: str):
    names = [f.name for f in dataclasses.fields(node)]
    if parts[0] not in names:
        raise ValueError(
            f"override {key!r}: unknown key {parts[0]!r} in {type(node).__name__}; expected one of {names}"
        )
    old = getattr(node, parts[0])
    if len(parts) > 1:
        if not dataclasses.is_dataclass(old):
            raise ValueError(f"override {key!r}: {parts[0]!r} is a value ({type(old).__name__}), not a section")
        return replace(node, **{parts[0]: _set(old, parts[1:], value, key)})
    if dataclasses.is_dataclass(old):
        raise ValueError(f"override {key!r}: {parts[0]!r} is a section; set one of its keys, e.g. {key}.<name>")
    if isinstance(old, tuple) and isinstance(value, list):
        value = tuple(value)
    return replace(node, **{parts[0]: value})


def parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise ValueError(f"override {item!r}: expected key=value")
    k, v = item.split("=", 1)
    return k.strip(), yaml.safe_load(v)


def save_config(path: Path, cfg: StudyConfig | dict[str, Any]) -> Path:
    d = cfg.to_dict() if isinstance(cfg, StudyConfig) else plain(cfg)
    return atomic_write_text(Path(path), yaml.safe_dump(d, sort_keys=False))


@dataclass(frozen=True)
class NotebookStep:
    """What a notebook's results are made from: the config sections it reads, the run folders
    it writes (removed when those settings or its inputs change; the rounds key each of their
    files themselves), and the notebooks it reads from."""

    reads: tuple[str, ...]
    writes: tuple[str, ...]
    after: tuple[str, ...]


NOTEBOOK_STEPS: dict[str, NotebookStep] = {
    "01_data_prep": NotebookStep(("data", "body"), (), ()),
    "02_cgan": NotebookStep(("lifter",), ("lifter",), ("01_data_prep",)),
    "03_registration": NotebookStep(("registration",), ("fits", "photos"), ("01_data_prep", "02_cgan")),
    "04_deform_and_learn": NotebookStep(("rounds",), (), ("01_data_prep", "02_cgan", "03_registration")),
    "05_evaluation": NotebookStep(
        ("evaluation", "rounds", "registration"),
        ("eval",),
        ("01_data_prep", "02_cgan", "03_registration", "04_deform_and_learn"),
    ),
    "06_ablations": NotebookStep(
        ("ablations", "rounds", "registration", "evaluation"),
        ("ablations",),
        ("01_data_prep", "02_cgan", "03_registration", "04_deform_and_learn"),
    ),
}


def _without_device(x):
    if isinstance(x, dict):
        return {k: _without_device(v) for k, v in x.items() if k != "device"}
    return x


def _section(d: dict, dotted: str):
    for part in dotted.split("."):
        d = d[part]
    return d


def notebook_key(cfg: StudyConfig, notebook: str, digests: dict[str, str]) -> dict:
    """The key of a notebook's results: the seed, the config sections it reads (no device) and
    the digests (``digests``: notebook -> digest) of the notebooks it reads from."""
    step = NOTEBOOK_STEPS.get(notebook, NotebookStep((), (), ()))
    d = cfg.to_dict()
    return {
        "seed": cfg.seed,
        **{name: _without_device(_section(d, name)) for name in step.reads},
        "inputs": {nb: digests.get(nb, "") for nb in step.after},
    }


def start_run(
    run_dir: str | Path, notebook: str, preset: str, overrides=None, seed: int = 0, device: str | None = None
) -> StudyConfig:
    """Resolve a notebook's config (preset, overrides, seed, device), take the run folder
    (``steps.RunLock``: one writer at a time), remove this notebook's results when they were made
    from other settings or inputs (``NOTEBOOK_STEPS``; a warning says what changed), save the
    config to ``run_dir/config/<notebook>.yaml`` and return it."""
    cfg = apply_overrides(replace(get_preset(preset), seed=seed, device=device), overrides).resolve()
    run = Run(run_dir)
    hold_run(run.root, f"notebook {notebook}")
    ledger = Ledger(run.root)
    step = NOTEBOOK_STEPS.get(notebook, NotebookStep((), (), ()))
    recorded = {nb: ledger.digest(nb) for nb in step.after}
    ledger.ensure(notebook, notebook_key(cfg, notebook, recorded), [run.root / w for w in step.writes])
    save_config(run.config(notebook), cfg)
    return cfg


def inputs_digest(run_dir: str | Path, notebook: str) -> str:
    """The digest of what a notebook reads from earlier notebooks (their recorded digests): the
    ``inputs`` of the steps it keys itself (``run_rounds``, ``label_ceiling``)."""
    ledger = Ledger(Run(run_dir).root)
    return digest({nb: ledger.digest(nb) for nb in NOTEBOOK_STEPS[notebook].after})


def plan(run_dir: str | Path, preset: str, overrides=None, seed: int = 0) -> list[dict]:
    """Per notebook, what a run of ``preset`` with ``overrides`` would do in ``run_dir``: make
    it (never made), reuse it (made from the same settings and inputs) or remake it, and why;
    then the steps recorded inside the notebooks (the rounds' files), each with its digest."""
    cfg = apply_overrides(replace(get_preset(preset), seed=seed), overrides).resolve()
    ledger = Ledger(Run(run_dir).root)
    digests: dict[str, str] = {}
    rows = []
    for nb in NOTEBOOK_STEPS:
        key = notebook_key(cfg, nb, digests)  # the digests this run would give the notebooks before
        digests[nb] = digest(key)
        rec = ledger.record(nb)
        if rec is None:
            state = "not made"
        elif rec["digest"] == digests[nb]:
            state = "reused"
        else:
            state = "remade: " + ", ".join(changes(rec["key"], key))
        rows.append({"step": nb, "state": state, "digest": rec["digest"] if rec else ""})
    for rec in ledger.steps():
        if rec["step"] not in NOTEBOOK_STEPS:
            rows.append({"step": rec["step"], "state": "recorded", "digest": rec["digest"]})
    return rows


_HELD: dict[Path, RunLock] = {}


def hold_run(root: Path, command: str) -> RunLock:
    """This process's lock on a run folder, taken once and released when the process ends (a
    pipeline's kernels share the pipeline's lock through ``steps.LOCK_ENV``)."""
    import atexit

    root = Path(root)
    if root not in _HELD:
        _HELD[root] = RunLock(root, command, kind="notebook")
        atexit.register(_HELD[root].release)
    _HELD[root].acquire()
    return _HELD[root]
