"""A run folder never mixes configs or writers: step records and the run lock."""

import json
import os
import subprocess
import sys

import pytest

from dalnb.config import NOTEBOOK_STEPS, plan, start_run
from dalnb.steps import Ledger, RunInUse, RunLock, StepChanged, changes, digest


def test_a_step_made_from_the_same_key_is_reused_and_from_another_is_remade(tmp_path):
    led = Ledger(tmp_path)
    out = tmp_path / "round2" / "fits.npz"
    d1 = led.ensure("round 2 fits", {"iters": 300, "inputs": {"start": "abc"}}, [out])
    out.parent.mkdir()
    out.write_bytes(b"fits of 300 iterations")
    assert led.ensure("round 2 fits", {"iters": 300, "inputs": {"start": "abc"}}, [out]) == d1
    assert out.exists() and led.remade == []
    d2 = led.ensure("round 2 fits", {"iters": 100, "inputs": {"start": "abc"}}, [out])
    assert d2 != d1 and not out.exists()
    assert led.remade == ["round 2 fits: iters 300 -> 100, remade"]
    led.ensure("round 2 fits", {"iters": 100, "inputs": {"start": "xyz"}}, [out])  # nothing there: no message
    out.write_bytes(b"new")
    led.ensure("round 2 fits", {"iters": 100, "inputs": {"start": "uvw"}}, [out])
    assert led.remade[-1] == "round 2 fits: input 'start' changed, remade"


def test_an_output_with_no_record_is_not_trusted(tmp_path):
    (tmp_path / "lifter").mkdir()
    (tmp_path / "lifter" / "lifter.pt").write_bytes(b"made by an older run")
    led = Ledger(tmp_path)
    led.ensure("02_cgan", {"epochs": 3}, ["lifter"])
    assert not (tmp_path / "lifter").exists() and "no record of what made it" in led.remade[0]


def test_a_strict_ledger_refuses_naming_the_changed_keys(tmp_path):
    Ledger(tmp_path).ensure("05_evaluation", {"evaluation": {"n_failures": 6}}, ["eval"])
    (tmp_path / "eval").mkdir()
    with pytest.raises(StepChanged, match="evaluation.n_failures 6 -> 3"):
        Ledger(tmp_path, strict=True).ensure("05_evaluation", {"evaluation": {"n_failures": 3}}, ["eval"])
    assert (tmp_path / "eval").exists()


def test_digests_are_stable_and_changes_read_as_sentences():
    assert digest({"a": 1, "b": [1, 2]}) == digest({"b": [1, 2], "a": 1})
    assert changes({"a": {"b": 1}, "inputs": {"x": "1"}}, {"a": {"b": 2}, "inputs": {"x": "2"}}) == [
        "a.b 1 -> 2",
        "input 'x' changed",
    ]


def test_a_knob_remakes_its_notebook_and_those_after_it_and_nothing_before(tmp_path):
    """The plan a run would follow, after each notebook was started once with the tiny preset."""
    run = tmp_path / "run"
    for nb in NOTEBOOK_STEPS:
        start_run(run, nb, "tiny")
    assert {r["state"] for r in plan(run, "tiny") if r["step"] in NOTEBOOK_STEPS} == {"reused"}
    expect = {
        "lifter.steps": {"02_cgan", "03_registration", "04_deform_and_learn", "05_evaluation", "06_ablations"},
        "registration.n_study": {"03_registration", "04_deform_and_learn", "05_evaluation", "06_ablations"},
        "rounds.later_iters": {"04_deform_and_learn", "05_evaluation", "06_ablations"},
        "evaluation.n_failures": {"05_evaluation", "06_ablations"},
        "ablations.n": {"06_ablations"},
    }
    for knob, remade in expect.items():
        rows = {r["step"]: r["state"] for r in plan(run, "tiny", {knob: 3})}
        assert {nb for nb, s in rows.items() if s.startswith("remade")} == remade, (knob, rows)
        first = min(remade)
        assert f"{knob} " in rows[first] and "-> 3" in rows[first], rows[first]


def _hold(root, ready, kind="pipeline"):
    code = (
        "import sys, time; from dalnb.steps import RunLock; "
        f"RunLock({str(root)!r}, 'holder for the test', kind={kind!r}).acquire(); "
        f"open({str(ready)!r}, 'w').close(); time.sleep(60)"
    )
    return subprocess.Popen([sys.executable, "-c", code])


def _wait_for(ready, p):
    for _ in range(300):
        if ready.exists() or p.poll() is not None:
            return
        __import__("time").sleep(0.1)


def test_a_second_writer_fails_at_once_naming_the_holder(tmp_path):
    ready = tmp_path / "ready"
    p = _hold(tmp_path / "run", ready)
    try:
        _wait_for(ready, p)
        with pytest.raises(RunInUse, match=f"in use by process {p.pid} .*holder for the test"):
            RunLock(tmp_path / "run", "second").acquire()
        with pytest.raises(RunInUse, match=str(p.pid)):
            start_run(tmp_path / "run", "02_cgan", "tiny")
    finally:
        p.kill()
        p.wait()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path, caplog):
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()  # a process id that is gone
    (tmp_path / ".lock").write_text(
        json.dumps({"pid": p.pid, "host": os.uname().nodename, "started": "x", "command": "killed", "token": "t"})
    )
    lock = RunLock(tmp_path, "me")
    with caplog.at_level("WARNING"):
        lock.acquire()
    assert "taking over a stale lock" in caplog.text and str(p.pid) in caplog.text
    assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    lock.release()
    assert not (tmp_path / ".lock").exists()


def test_a_notebook_takes_the_folder_over_from_another_notebook_but_a_pipeline_does_not(tmp_path, caplog):
    """One reader stepping through the notebooks in JupyterLab has a kernel per notebook: the
    newest takes the folder, with a message; a pipeline fails on a folder a notebook holds."""
    ready = tmp_path / "ready"
    p = _hold(tmp_path / "run", ready, kind="notebook")
    try:
        _wait_for(ready, p)
        with pytest.raises(RunInUse, match=f"in use by process {p.pid}"):
            RunLock(tmp_path / "run", "a pipeline").acquire()
        with caplog.at_level("WARNING"):
            RunLock(tmp_path / "run", "notebook 03", kind="notebook").acquire()
        assert f"taken over from process {p.pid}" in caplog.text
        assert json.loads((tmp_path / "run" / ".lock").read_text())["pid"] == os.getpid()
    finally:
        p.kill()
        p.wait()
