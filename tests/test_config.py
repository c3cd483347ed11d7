"""The typed config: presets are trees of the real config dataclasses; dotted overrides; one
name per knob; seed and device reach every part; the resolved config saved beside the run."""

import dataclasses

import pytest
import yaml

from dalnb.config import DERIVED, PRESETS, StudyConfig, apply_overrides, get_knob, get_preset, start_run
from dalnb.data.synth import SynthConfig
from dalnb.lifter import LifterConfig
from dalnb.training import RoundsConfig


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_preset_is_a_tree_of_the_real_configs(name):
    cfg = get_preset(name)
    assert isinstance(cfg, StudyConfig) and cfg.preset == name
    assert isinstance(cfg.lifter, LifterConfig) and isinstance(cfg.rounds, RoundsConfig)
    assert isinstance(cfg.data.synth, SynthConfig)


def test_dotted_overrides_reach_nested_configs_and_leave_the_preset_alone():
    cfg = apply_overrides(
        get_preset("small"), {"data.n_train": 7, "rounds.train.lr": 1e-4, "data.synth.distance_m": [3, 4]}
    )
    assert (cfg.data.n_train, cfg.rounds.train.lr, cfg.data.synth.distance_m) == (7, 1e-4, (3, 4))
    assert get_preset("small").data.n_train == 1200 and get_preset("small").rounds.train.lr == 3e-4
    cfg = apply_overrides(get_preset("tiny"), ["registration.iters=5", "ablations.noise_px=[0, 2]"])
    assert cfg.registration.iters == 5 and cfg.ablations.noise_px == [0, 2]


def test_an_unknown_key_fails_listing_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown key 'n_trian' in DataConfig; expected one of \['n_train'"):
        apply_overrides(get_preset("tiny"), {"data.n_trian": 3})
    with pytest.raises(ValueError, match="is a section"):
        apply_overrides(get_preset("tiny"), {"rounds.train": 3})
    with pytest.raises(ValueError, match="expected key=value"):
        apply_overrides(get_preset("tiny"), ["rounds.rounds"])


def test_one_name_per_knob_seed_and_device_travel_inside():
    cfg = apply_overrides(
        get_preset("tiny"), {"registration.iters": 77, "data.synth.image_size": 80, "seed": 3}
    ).resolve()
    assert cfg.rounds.first_iters == 77 and cfg.rounds.regressor.image_size == 80
    assert cfg.lifter.seed == cfg.rounds.seed == 3 and cfg.registration_config().seed == 3
    assert sum(s.iters for s in cfg.registration_config().stages) == 77
    ref = cfg.refinement_config()
    assert sum(s.iters for s in ref.stages) == cfg.rounds.refine_iters and ref.yaw_hypotheses == 2 and ref.seed == 3


def _leaves(node, prefix: str = ""):
    for f in dataclasses.fields(node):
        v = getattr(node, f.name)
        yield from _leaves(v, f"{prefix}{f.name}.") if dataclasses.is_dataclass(v) else [f"{prefix}{f.name}"]


# leaves that share a name but are different knobs, each with what it sets
DISTINCT = {
    "batch": {"lifter.batch": "the lifter's minibatch", "rounds.train.batch": "the regressor's minibatch"},
    "hidden": {"lifter.hidden": "the lifter's width", "rounds.regressor.hidden": "the regressor head's width"},
    "lr": {"lifter.lr": "the lifter's step size", "rounds.train.lr": "the regressor's step size"},
    "iters": {"registration.iters": "notebook 03's fits (round 1)", "ablations.iters": "each ablation's fits"},
    "noise_px": {"data.synth.noise_px": "the renders' noise", "ablations.noise_px": "the noise ablation's levels"},
}


def test_no_knob_appears_twice_in_the_config_tree():
    """A leaf name that appears twice is a copy that ``resolve`` sets from its one knob (``DERIVED``)
    or a different knob (``DISTINCT``); anything else is a second name for one knob."""
    by_name: dict[str, list[str]] = {}
    for leaf in _leaves(get_preset("small")):
        if leaf not in DERIVED:
            by_name.setdefault(leaf.split(".")[-1], []).append(leaf)
    twice = {k: v for k, v in by_name.items() if len(v) > 1 and set(v) != set(DISTINCT.get(k, {}))}
    assert not twice, twice
    leaves = set(_leaves(get_preset("small")))
    assert all(c in leaves and s in leaves for c, s in DERIVED.items())


@pytest.mark.parametrize("copy", sorted(DERIVED))
def test_an_override_of_a_copy_names_the_knob_it_follows(copy):
    with pytest.raises(ValueError, match=f"override '{copy}': it follows '{DERIVED[copy]}'"):
        apply_overrides(get_preset("tiny"), {copy: 1})


def test_every_copy_equals_its_knob_after_resolve():
    cfg = apply_overrides(get_preset("small"), {"seed": 5, "device": "cpu", "registration.iters": 41}).resolve()
    for copy, source in DERIVED.items():
        assert get_knob(cfg, copy) == get_knob(cfg, source), copy
    assert cfg.rounds.first_iters == 41 and cfg.rounds.train.seed == 5


def test_start_run_saves_the_resolved_config(tmp_path):
    cfg = start_run(tmp_path, "03_registration", "tiny", {"lifter.steps": 9}, seed=2, device="cpu")
    saved = yaml.safe_load((tmp_path / "config" / "03_registration.yaml").read_text())
    assert saved["lifter"]["steps"] == 9 and saved["seed"] == 2 and saved["lifter"]["device"] == "cpu"
    assert saved["rounds"]["regressor"]["image_size"] == cfg.data.image_size == 64
