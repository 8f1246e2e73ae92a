"""`semsr super-resolve` in a real subprocess: clean Ctrl-C, kill -9, one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from semsr_core.io import read_stack, write_stack
from semsr_core.models import Model


def semsr(*args: str) -> list[str]:
    return [sys.executable, "-m", "semsr_core.cli", "super-resolve", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def model_file(tmp_path) -> Path:
    model = Model.create("rrdbnet", scale=2, blocks=1, features=16, growth=8, name="small")
    return model.save(tmp_path / "small.semsr")


@pytest.fixture
def stack_file(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    data = (rng.random((8, 128, 128)) * 65535).astype(np.uint16)
    return write_stack(tmp_path / "stack.tif", data, pixel_size=10.0)


@pytest.fixture
def long_stack_file(tmp_path) -> Path:
    """A stack that takes seconds, not a fraction of one, at tile 32: a signal sent once
    the progress bar is up always arrives while the work is still running."""
    rng = np.random.default_rng(1)
    data = (rng.random((48, 128, 128)) * 65535).astype(np.uint16)
    return write_stack(tmp_path / "long.tif", data, pixel_size=10.0)


def _as_in_a_terminal() -> None:
    """Ctrl-C reaches the command as in a terminal, even when the tests themselves run
    in the background (a shell starts background jobs with SIGINT ignored, and the
    command would inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class RunningCommand:
    """A command whose stderr is collected in the background while it runs."""

    def __init__(self, args: list[str]):
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=_env(), preexec_fn=_as_in_a_terminal)
        self.stderr = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while chunk := os.read(self.process.stderr.fileno(), 4096):
            self.stderr += chunk

    def wait_for(self, text: bytes, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.stderr:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"never saw {text!r}; stderr: {self.stderr[-2000:]!r}")
            time.sleep(0.05)

    def finish(self, timeout: float = 60.0) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code


def test_ctrl_c_exits_130_and_leaves_no_output(tmp_path, model_file, long_stack_file):
    out = tmp_path / "out.ome.tif"
    run = RunningCommand(semsr(str(long_stack_file), "-o", str(out), "--model",
                               str(model_file), "--tile", "32", "--overlap", "8",
                               "--device", "cpu"))
    run.wait_for(b"tile")  # the progress bar is up: inference is running
    assert run.process.poll() is None
    run.process.send_signal(signal.SIGINT)
    assert run.finish() == 130
    assert b"interrupted" in run.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".out.ome.tif.*"))  # no temporary file either


@pytest.mark.slow
def test_kill_9_leaves_nothing_under_the_final_name_and_the_next_run_cleans_up(
        tmp_path, model_file, stack_file):
    out = tmp_path / "out.ome.tif"
    args = semsr(str(stack_file), "-o", str(out), "--model", str(model_file),
                 "--tile", "32", "--overlap", "8", "--device", "cpu")
    run = RunningCommand(args)
    run.wait_for(b"tile")
    deadline = time.monotonic() + 60  # killed while it writes, not at a guessed moment
    while not list(tmp_path.glob(".out.ome.tif.*.partial")):
        assert run.process.poll() is None and time.monotonic() < deadline, run.stderr[-2000:]
        time.sleep(0.01)
    run.process.send_signal(signal.SIGKILL)
    assert run.finish() == -signal.SIGKILL
    assert not out.exists()
    leftovers = list(tmp_path.glob(".out.ome.tif.*.partial"))
    assert leftovers  # the killed run could not remove its temporary file...
    assert all(p.name.startswith(".") for p in leftovers)  # only hidden, clearly temporary
    for p in leftovers:
        os.utime(p, (0, 0))  # as if the kill happened long ago
    done = subprocess.run([*args, "--tile", "128", "--quiet"], capture_output=True, env=_env(),
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert not list(tmp_path.glob(".out.ome.tif.*.partial"))  # ...the next run did
    with read_stack(out) as result:
        assert result.shape == (8, 256, 256) and result.pixel_size == pytest.approx(5.0)


def _one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_model_scale_mismatch_is_one_line(tmp_path, model_file, stack_file):
    done = subprocess.run(semsr(str(stack_file), "-o", str(tmp_path / "o.ome.tif"),
                                "--model", str(model_file), "--scale", "4"),
                          capture_output=True, env=_env(), timeout=120)
    line = _one_line_error(done)
    assert "×2" in line and "--scale 4" in line
    assert not (tmp_path / "o.ome.tif").exists()


def test_too_small_image_is_one_line(tmp_path):
    small = write_stack(tmp_path / "small.tif", np.zeros((16, 16), np.uint8))
    model = Model.create("unet64", scale=2, features=4).save(tmp_path / "p2p.semsr")
    done = subprocess.run(semsr(str(small), "-o", str(tmp_path / "o.ome.tif"),
                                "--model", str(model)),
                          capture_output=True, env=_env(), timeout=120)
    line = _one_line_error(done)
    assert "16×16 pixels" in line and "32-pixel minimum" in line


def test_a_folder_in_gives_one_output_per_image(tmp_path, model_file):
    folder = tmp_path / "scans"
    folder.mkdir()
    for name in ("a.tif", "b.tif"):
        write_stack(folder / name, np.full((24, 20), 100, np.uint8), pixel_size=4.0)
    done = subprocess.run(semsr(str(folder), "-o", str(tmp_path / "sr"), "--model",
                                str(model_file), "--quiet"),
                          capture_output=True, env=_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    outputs = sorted(p.name for p in (tmp_path / "sr").iterdir())
    assert outputs == ["a_sr2x.ome.tif", "b_sr2x.ome.tif"]
    with read_stack(tmp_path / "sr" / "a_sr2x.ome.tif") as result:
        assert result.shape == (1, 48, 40) and result.pixel_size == pytest.approx(2.0)
