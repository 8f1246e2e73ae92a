"""Training survives being killed, and runs distributed under torchrun."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_engine import tiny


def _semsr(*args: str) -> list[str]:
    return [sys.executable, "-m", "semsr_core.cli", *args]


def _sets(recipe: str, extra: list[str]) -> list[str]:
    out = []
    for item in [*tiny(recipe), *extra]:
        out += ["--set", item]
    return out


def test_run_killed_with_sigkill_resumes_from_its_last_checkpoint(sim_data, tmp_path):
    run = tmp_path / "run"
    sets = _sets("n1_reduced", ["phases.gan.epochs=3", "phases.gan.steps_per_epoch=4",
                                "data.val_fraction=0"])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_semsr("train", "n1_reduced", "--data", str(sim_data), "--run",
                                   str(run), "--device", "cpu", *sets),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    checkpoints = run / "checkpoints"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        done = sorted(checkpoints.glob("step_*.pt")) if checkpoints.is_dir() else []
        if len(done) >= 2:  # mid-epoch: epoch 1 ends at step 4
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "model.semsr").exists()
    killed_at = max(int(p.stem.split("_")[1]) for p in checkpoints.glob("step_*.pt"))
    assert 0 < killed_at < 12

    out = subprocess.run(_semsr("train", "--resume", str(run), "--device", "cpu"),
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "finished: 12 steps" in out.stdout
    assert (run / "model.semsr").is_file()
    assert not list(checkpoints.glob(".*.partial"))


@pytest.mark.slow
def test_two_process_gloo_run_under_torchrun_writes_one_model(sim_data, tmp_path):
    run = tmp_path / "ddp"
    sets = _sets("n1_reduced", ["phases.gan.epochs=1", "phases.gan.steps_per_epoch=3",
                                "data.batch=1"])
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([str(torchrun), "--standalone", "--nproc-per-node", "2", "-m",
                          "semsr_core.cli", "train", "n1_reduced", "--data", str(sim_data),
                          "--run-dir", str(run), "--device", "cpu", *sets],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (run / "model.semsr").is_file()
    assert out.stdout.count("finished:") == 1  # only rank 0 reports
    events = (run / "events.jsonl").read_text().splitlines()
    assert sum('"kind": "finished"' in line for line in events) == 1
