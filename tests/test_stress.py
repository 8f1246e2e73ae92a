"""Runs and files under stress (issue 20): two processes on one run folder, a full disk,
a killed or terminated process, a stale lock, an output path under a file, names that
would shadow a bundled model, mixed scales, and messages that name the CLI's flags.

Each test states what a user relies on. The full-disk tests use a real tiny tmpfs in
a private user namespace where Linux allows it, and injected ENOSPC otherwise.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from semsr_core import cli
from semsr_core.errors import ConfigError, InputError, ModelError, OutputError

TINY_N1 = ["generator.features=8", "generator.growth=4", "generator.blocks=1",
           "data.lr_patch=16", "data.batch=2", "train.checkpoint_every=1",
           "data.val_fraction=0", "discriminators.d.features=8",
           "discriminators.d.input_size=64", "discriminators.d.dense_features=16",
           "phases.gan.epochs=1", "phases.gan.steps_per_epoch=3"]


def _sets(items: list[str]) -> list[str]:
    out = []
    for item in items:
        out += ["--set", item]
    return out


def _semsr(*args: str) -> list[str]:
    return [sys.executable, "-m", "semsr_core.cli", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(sys.path)}


def _cli(capsys, *argv: str) -> tuple[int, str]:
    """Run ``semsr ARGV`` in this process; (exit status, stderr)."""
    capsys.readouterr()
    code = cli.main(list(argv))
    return code, capsys.readouterr().err


def _one_clean_line(err: str) -> str:
    """The error line, checked to be one line of semsr's own words."""
    lines = [line for line in err.strip().splitlines() if line.startswith("semsr: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def data4(tmp_path_factory):
    from semsr_core.data.simulate import simulate_dataset

    out = tmp_path_factory.mktemp("sim4") / "d4"
    simulate_dataset(out, pairs=3, scale=4, size=64, seed=3)
    return out


@pytest.fixture(scope="module")
def data2(tmp_path_factory):
    from semsr_core.data.simulate import simulate_dataset

    out = tmp_path_factory.mktemp("sim2") / "d2"
    simulate_dataset(out, pairs=2, scale=2, size=64, seed=4)
    return out


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "afile"
    path.write_text("I am a file, not a folder")
    return path


def _hold_lock(run: Path, kill_after: float | None = None) -> subprocess.Popen:
    """Another process that holds ``run``'s lock (as a training would) until killed."""
    script = (f"from semsr_core.train.lock import RunLock\n"
              f"import sys, time\n"
              f"lock = RunLock({str(run)!r}, 'train'); lock.acquire()\n"
              f"print('held', flush=True)\n"
              f"time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            text=True, env=_env())
    assert proc.stdout.readline().strip() == "held"
    return proc


def _minimal_run_folder(run: Path, data: Path) -> None:
    from semsr_core.train.config import dump_config, load_config

    run.mkdir(parents=True, exist_ok=True)
    (run / "config.toml").write_text(dump_config(load_config("n1_reduced", TINY_N1)))
    (run / "run.json").write_text(json.dumps({"data": str(data), "val": None,
                                              "device": "cpu"}))


# ------------------------------------------------------------------ run-folder lock


def test_a_second_process_is_refused_naming_the_holder_and_what_to_do(tmp_path, data4, capsys):
    from semsr_core.train import resume, train
    from semsr_core.train.lock import RunFolderBusy

    run = tmp_path / "run"
    _minimal_run_folder(run, data4)
    holder = _hold_lock(run)
    try:
        for attempt in (lambda: train("n1_reduced", data4, run, overrides=TINY_N1),
                        lambda: resume(run)):
            with pytest.raises(RunFolderBusy) as caught:
                attempt()
            text = str(caught.value)
            assert f"PID {holder.pid}" in text and socket.gethostname() in text
            assert "--resume" in text and "another --run folder" in text
        code, err = _cli(capsys, "train", "--resume", str(run), "--device", "cpu")
        assert code == 2 and "is in use" in _one_clean_line(err)
        assert not (run / "checkpoints").exists()  # nothing was written next to the holder
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_of_a_killed_process_is_taken_over_with_a_warning(tmp_path):
    from semsr_core.events import EventKind
    from semsr_core.train.lock import LOCK_NAME, holder, run_lock

    run = tmp_path / "run"
    proc = _hold_lock(run)
    assert holder(run)["pid"] == proc.pid
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (run / LOCK_NAME).is_file()  # a killed process cannot clean up
    assert holder(run) is None  # ... but the operating system released its lock
    events = []
    with run_lock(run, "train", on_event=events.append) as lock:
        assert lock.held and holder(run)["pid"] == os.getpid()
    warnings = [e.data["text"] for e in events if e.kind is EventKind.MESSAGE]
    assert len(warnings) == 1 and f"PID {proc.pid}" in warnings[0]
    assert "no longer running" in warnings[0]
    assert not (run / LOCK_NAME).exists()  # released: the folder is as before


@pytest.mark.slow
def test_two_trainings_started_together_one_trains_the_other_is_refused(tmp_path, data4):
    run = tmp_path / "run"
    args = _semsr("train", "n1_reduced", "--data", str(data4), "--run", str(run),
                  "--device", "cpu", *_sets(TINY_N1))
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=_env())
    time.sleep(0.5)
    second = subprocess.run(args, capture_output=True, text=True, env=_env(), timeout=300)
    _out, err = first.communicate(timeout=600)
    codes = sorted([first.returncode, second.returncode])
    assert codes == [0, 2], (err, second.stderr)
    refused = second.stderr if second.returncode == 2 else err
    assert "is in use" in refused and "PID" in refused
    steps = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()
             if '"kind": "step"' in line]
    assert sorted(e["step"] for e in steps) == sorted({e["step"] for e in steps})  # once each
    assert not (run / ".lock").exists()


# -------------------------------------------------------------------- full disk


def _free(monkeypatch, free_bytes: int) -> None:
    import semsr_core.io.atomic as atomic

    monkeypatch.setattr(atomic, "_free_bytes", lambda folder: free_bytes)


def test_a_checkpoint_on_a_full_disk_is_one_error_naming_the_file_and_the_space(
        tmp_path, monkeypatch):
    import torch

    from semsr_core.train.checkpoint import CheckpointStore

    def torch_disk_full(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter "
                           "failed writing file data/0: file write failed")

    monkeypatch.setattr(torch, "save", torch_disk_full)
    _free(monkeypatch, 2000)
    store = CheckpointStore(tmp_path / "run")
    with pytest.raises(OutputError) as caught:
        store.save({"w": torch.zeros(1000)}, step=7)
    text = str(caught.value)
    assert "not enough disk space to write" in text and "step_00000007.pt" in text
    assert "needs about 4.0 kB" in text and "inline_container" not in text
    assert os.listdir(tmp_path / "run" / "checkpoints") == []  # no partial file


def test_write_errors_of_libraries_are_translated_and_bugs_are_not(tmp_path):
    from semsr_core.io.write import atomic_destination, write_bytes_atomic

    safetensors_full = RuntimeError('Error while serializing: IoError(Os { code: 28, kind: '
                                    'StorageFull, message: "No space left on device" })')
    with pytest.raises(OutputError, match="not enough disk space to write .*m.semsr"), \
            atomic_destination(tmp_path / "m.semsr", needed=10) as tmp:
        tmp.write_bytes(b"x")
        raise safetensors_full
    with pytest.raises(ValueError, match="a bug"), atomic_destination(tmp_path / "b") as tmp:
        raise ValueError("a bug stays a bug")
    assert os.listdir(tmp_path) == []
    with pytest.raises(OutputError, match="afile is a file, not a folder"):
        (tmp_path / "afile").write_text("")
        write_bytes_atomic(tmp_path / "afile" / "x.json", b"{}")


def test_evaluate_on_a_full_disk_leaves_no_partial_figures_or_tables(tmp_path, data4,
                                                                      monkeypatch, capsys):
    import semsr_core.metrics.report as report
    from semsr_core.io.write import atomic_destination

    real = report.write_bytes_atomic
    calls = {"n": 0}

    def disk_full_at(path: Path, data: bytes) -> None:
        """What a full disk does: half the bytes land in the temporary file, then ENOSPC."""
        with atomic_destination(path, needed=len(data)) as tmp:
            tmp.write_bytes(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

    def fail_on_the_second_figure(path, data):
        if path.suffix == ".png":
            calls["n"] += 1
            if calls["n"] == 2:  # the first pair's spectrum, after its crops
                return disk_full_at(path, data)
        return real(path, data)

    monkeypatch.setattr(report, "write_bytes_atomic", fail_on_the_second_figure)
    out = tmp_path / "report"
    code, err = _cli(capsys, "evaluate", "--data", str(data4), "-o", str(out),
                     "--baseline-only", "--quiet")
    assert code == 2
    line = _one_clean_line(err)
    assert "not enough disk space to write" in line and "_spectrum.png" in line
    left = [p.relative_to(out) for p in out.rglob("*") if p.is_file()]
    assert left == []  # no crops of a pair without its spectrum, no report without figures

    def fail_on_the_report(path, data):  # figures pass, the last file fails
        if path.name == "report.json":
            return disk_full_at(path, data)
        return real(path, data)

    monkeypatch.setattr(report, "write_bytes_atomic", fail_on_the_report)
    code, err = _cli(capsys, "evaluate", "--data", str(data4), "-o", str(out),
                     "--baseline-only", "--quiet")
    assert code == 2 and "report.json" in _one_clean_line(err)
    assert [p for p in out.rglob("*") if p.is_file()] == []


_TMPFS_SCRIPT = textwrap.dedent("""
    import contextlib, io, json, os, sys
    from pathlib import Path
    from semsr_core import cli
    tiny, data = Path(sys.argv[1]), sys.argv[2]
    fd = os.open(tiny / "filler", os.O_WRONLY | os.O_CREAT)  # fill the disk ...
    with contextlib.suppress(OSError):
        while True:
            os.write(fd, b"0" * 4096)
    os.ftruncate(fd, os.fstat(fd).st_size - 8192)  # ... then free a little
    os.close(fd)
    commands = {
        "export": ["models", "export", "default-x4", str(tiny / "x.semsr")],
        "align": ["align", data + "/lr", data + "/hr", "-o", str(tiny / "aligned"),
                  "--quiet"],
        "evaluate": ["evaluate", "--data", data, "-o", str(tiny / "report"),
                     "--baseline-only", "--quiet"],
        "super-resolve": ["super-resolve", data + "/lr", "-o", str(tiny / "sr"), "--quiet",
                          "--device", "cpu"],
    }
    results = {}
    for name, argv in commands.items():
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = cli.main(argv)
        results[name] = {"code": code, "err": err.getvalue()}
    results["partials"] = [str(p) for p in tiny.rglob("*.partial")]
    print(json.dumps(results))
""")


def _in_tiny_tmpfs(tmp_path: Path, script: str, *args: str, size: str = "1m",
                   timeout: int = 300) -> subprocess.CompletedProcess:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        pytest.skip("needs Linux user namespaces to mount a tiny tmpfs")
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    path = tmp_path / "script.py"
    path.write_text(script)
    shell = (f"mount -t tmpfs -o size={size} tmpfs {tiny} && "
             f"exec {sys.executable} {path} {tiny} {' '.join(args)}")
    done = subprocess.run(["unshare", "-r", "-m", "sh", "-c", shell], capture_output=True,
                          text=True, env=_env(), timeout=timeout)
    if done.returncode != 0 and "mount" in done.stderr:
        pytest.skip(f"cannot mount tmpfs here: {done.stderr.strip()}")
    return done


def test_every_writer_on_a_real_full_disk_says_which_file_and_leaves_nothing(tmp_path, data4):
    done = _in_tiny_tmpfs(tmp_path, _TMPFS_SCRIPT, str(data4))
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results.pop("partials") == []
    for name, result in results.items():
        assert result["code"] == 2, (name, result)
        line = _one_clean_line(result["err"])
        assert "not enough disk space" in line and " free" in line, (name, line)
        assert "SafetensorError" not in line and "No space left on device" not in line


_TRAIN_TMPFS = textwrap.dedent("""
    import subprocess, sys, json
    from pathlib import Path
    tiny, data = Path(sys.argv[1]), sys.argv[2]
    sets = sys.argv[3:]
    done = subprocess.run([sys.executable, "-m", "semsr_core.cli", "train", "n1_reduced",
                           "--data", data, "--run", str(tiny / "run"), "--device", "cpu",
                           *sets], capture_output=True, text=True)
    print(json.dumps({"code": done.returncode, "err": done.stderr,
                      "partials": [str(p) for p in tiny.rglob("*.partial")]}))
""")


@pytest.mark.slow
def test_training_on_a_full_disk_stops_with_one_line_naming_the_checkpoint(tmp_path, data4):
    # 200 kB: the config, events and samples fit, a checkpoint (~1 MB) does not
    done = _in_tiny_tmpfs(tmp_path, _TRAIN_TMPFS, str(data4), *_sets(TINY_N1), size="200k",
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 2, result["err"][-3000:]
    line = _one_clean_line(result["err"])
    assert "not enough disk space to write" in line and ".pt" in line, line
    assert result["partials"] == []


# ------------------------------------------------------------------ names


def _pth(tmp_path: Path) -> Path:
    import torch

    from semsr_core.models import Model

    model = Model.create("rrdbnet", scale=4, blocks=1, features=8, growth=4)
    path = tmp_path / "mine.pth"
    torch.save(model.generator.state_dict(), path)
    return path


def test_a_user_model_cannot_take_a_bundled_name_without_replace(tmp_path, capsys):
    from semsr_core import models

    weights = _pth(tmp_path)
    code, err = _cli(capsys, "models", "import", str(weights), "--name", "default-x4")
    assert code == 2
    line = _one_clean_line(err)
    assert "bundled model" in line and "--replace" in line
    assert models.resolve_model("default-x4").parent == models.bundled_models_dir()

    code, err = _cli(capsys, "models", "import", str(weights), "--name", "default-x4",
                     "--replace")
    assert code == 0, err
    assert models.resolve_model("default-x4").parent == models.user_models_dir()


def test_models_list_marks_which_of_two_models_of_one_name_wins(tmp_path, capsys):
    from semsr_core import models

    models.import_model(_pth(tmp_path), name="default-x4", overwrite=True)
    capsys.readouterr()
    assert cli.main(["models", "list"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if " default-x4 " in f" {line} "]
    user = [r for r in rows if str(models.user_models_dir()) in r]
    bundled = [r for r in rows if str(models.bundled_models_dir()) in r]
    assert len(user) == 1 and len(bundled) == 1
    assert "(hidden)" in bundled[0] and "(hidden)" not in user[0]
    assert any(line.startswith("(hidden) 'default-x4'") and "your model" in line
               for line in out.splitlines())


# ------------------------------------------------------------------ mixed scales


@pytest.fixture
def mixed(tmp_path, data4, data2) -> Path:
    folder = tmp_path / "mixed"
    for sub in ("lr", "hr"):
        (folder / sub).mkdir(parents=True)
        for source, tag in ((data4, "x4"), (data2, "x2")):
            for path in sorted((source / sub).glob("*.tif"))[:2]:
                shutil.copy(path, folder / sub / f"{tag}_{path.name}")
    return folder


def test_align_refuses_a_folder_of_mixed_scales_naming_the_pairs_of_each(mixed, tmp_path,
                                                                          capsys):
    out = tmp_path / "aligned"
    code, err = _cli(capsys, "align", str(mixed / "lr"), str(mixed / "hr"), "-o", str(out),
                     "--quiet")
    assert code == 2
    line = _one_clean_line(err)
    assert "×2: x2_pair_000, x2_pair_001" in line and "×4: x4_pair_000, x4_pair_001" in line
    assert "--scale 2" in line and "--scale 4" in line
    assert not out.exists()  # nothing written

    code, err = _cli(capsys, "align", str(mixed / "lr"), str(mixed / "hr"), "-o", str(out),
                     "--scale", "4", "--quiet")
    assert code == 0, err
    assert sorted(p.name for p in (out / "lr").iterdir()) == ["x4_pair_000.tif",
                                                              "x4_pair_001.tif"]


def test_a_scale_error_in_training_says_what_to_set(data2):
    from semsr_core.train.config import load_config
    from semsr_core.train.data import prepare_data

    with pytest.raises(InputError) as caught:
        prepare_data(load_config("n1_reduced", TINY_N1), data2)  # a ×4 recipe, ×2 pairs
    text = str(caught.value)
    assert "--set data.scale=2" in text and "separate folder" in text
    assert "Align the pairs first" not in text


# ------------------------------------------------------------ resume and options


def test_resume_refuses_what_it_cannot_apply_and_nonsense_values_are_refused(
        tmp_path, data4, capsys):
    from semsr_core.train import train

    run = tmp_path / "run"
    _minimal_run_folder(run, data4)
    for extra in (["n1_reduced"], ["--set", "data.batch=4"]):
        code, err = _cli(capsys, "train", "--resume", str(run), *extra)
        line = _one_clean_line(err)
        assert code == 2 and "cannot be applied" in line and "--max-minutes" in line
    for minutes in ("-1", "0", "nan"):
        code, err = _cli(capsys, "train", "n1_reduced", "--data", str(data4), "--run",
                         str(tmp_path / "r2"), "--max-minutes", minutes)
        assert code == 2 and "--max-minutes" in _one_clean_line(err)
    with pytest.raises(ConfigError, match=r"phases\.gan\.epochs.*nothing would be trained"):
        train("n1_reduced", data4, tmp_path / "r3",
              overrides=[*TINY_N1, "phases.gan.epochs=0"])
    with pytest.raises(ConfigError, match="--max-minutes"):
        train("n1_reduced", data4, tmp_path / "r3", overrides=TINY_N1, max_minutes=-1)
    assert not (tmp_path / "r2").exists() and not (tmp_path / "r3").exists()


# ----------------------------------------------------------- messages in CLI words


def test_the_patch_size_error_names_the_key_that_set_accepts(rng):
    from semsr_core.data.datasets import PairedPatches, TrainingPairs
    from semsr_core.train.config import load_config

    pairs = TrainingPairs([rng.random((20, 20), dtype=np.float32)],
                          [rng.random((80, 80), dtype=np.float32)], scale=4, names=["p"])
    # the patch is in LR pixels, and 32 > 20
    with pytest.raises(ConfigError) as caught:
        PairedPatches(pairs, patch=32, samples_per_image=1, geometric="none", seed=0)
    text = str(caught.value)
    assert "data.lr_patch" in text and "augmentation.patch" not in text
    load_config("n1_reduced", ["data.lr_patch=16"])  # the key named is one --set accepts


def test_a_set_error_is_blamed_on_the_set_not_on_the_recipe_file(tmp_path):
    from semsr_core.train.config import load_config

    with pytest.raises(ConfigError) as caught:
        load_config("n1_reduced", ["foo.bar=1"])
    text = str(caught.value)
    assert text.startswith("--set foo.bar=1") and ".toml" not in text
    from semsr_core.resources import resource_path

    bad = tmp_path / "bad.toml"  # the file's own mistake stays the file's
    bad.write_text(resource_path("presets", "n1_reduced.toml").read_text()
                   .replace("[data]", "[data]\nnot_a_key = 1", 1))
    with pytest.raises(ConfigError) as caught:
        load_config(bad, ["data.batch=2"])
    assert str(caught.value).startswith(str(bad)) and "not_a_key" in str(caught.value)


@pytest.mark.parametrize("command", ["align", "train", "evaluate", "super-resolve", "export"])
def test_an_output_under_an_existing_file_is_named_as_such(command, a_file, data4, capsys):
    under = str(a_file / "out")
    argv = {
        "align": ["align", str(data4 / "lr"), str(data4 / "hr"), "-o", under, "--quiet"],
        "train": ["train", "n1_reduced", "--data", str(data4), "--run", under],
        "evaluate": ["evaluate", "--data", str(data4), "-o", under, "--baseline-only",
                     "--quiet"],
        "super-resolve": ["super-resolve", str(data4 / "lr"), "-o", under, "--quiet"],
        "export": ["models", "export", "default-x4", under + "/m.semsr"],
    }[command]
    code, err = _cli(capsys, *argv)
    assert code == 2
    line = _one_clean_line(err)
    assert f"{a_file} is a file, not a folder" in line, line
    assert "Not a directory" not in line and "does not exist" not in line


def test_align_errors_name_its_flags_not_its_api(data4, tmp_path, capsys):
    out = str(tmp_path / "aligned")
    base = ["align", str(data4 / "lr"), str(data4 / "hr"), "-o", out, "--quiet"]
    for extra, flag, api in ((["--max-shift", "-3"], "--max-shift", "max_shift"),
                             (["--scale-search", "0.7"], "--scale-search", "scale_search"),
                             (["--min-peak-ratio", "0.5"], "--min-peak-ratio",
                              "min_peak_ratio")):
        code, err = _cli(capsys, *base, *extra)
        line = _one_clean_line(err)
        assert code == 2 and flag in line and api not in line, line
    assert _cli(capsys, *base)[0] == 0
    (Path(out) / "report.json").unlink()  # an earlier run interrupted before its report
    code, err = _cli(capsys, *base)
    line = _one_clean_line(err)
    assert code == 2 and "--overwrite" in line and "overwrite=True" not in line, line


def test_a_valid_model_file_renamed_pth_is_loaded_not_called_corrupt(tmp_path, capsys):
    from semsr_core.models import bundled_models_dir, load_model

    renamed = tmp_path / "default-x4.pth"
    shutil.copy(bundled_models_dir() / "default-x4.semsr", renamed)
    model = load_model(renamed)
    assert model.card.arch == "rrdbnet" and model.scale == 4
    code, err = _cli(capsys, "models", "info", str(renamed))
    assert code == 0 and "corrupt" not in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_input_is_named_as_one_and_never_blocks(tmp_path):
    fifo = tmp_path / "scan.tif"
    os.mkfifo(fifo)
    for argv in (["info", str(fifo)], ["super-resolve", str(fifo), "-o",
                                       str(tmp_path / "o.tif"), "--quiet"]):
        done = subprocess.run(_semsr(*argv), capture_output=True, text=True, env=_env(),
                              timeout=120)
        assert done.returncode == 2
        line = _one_clean_line(done.stderr)
        assert "named pipe (FIFO)" in line and "no such file" not in line.lower()


def test_a_refused_pickle_says_only_that_it_is_refused_for_safety(tmp_path, capsys):
    import torch

    from semsr_core.train.checkpoint import CheckpointStore

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    evil = tmp_path / "evil.pth"
    torch.save({"params": {"conv_first.weight": torch.zeros(1)}, "x": Payload()}, evil)
    code, err = _cli(capsys, "models", "import", str(evil))
    line = _one_clean_line(err)
    assert code == 2 and "refused for safety" in line
    assert "weights_only" not in err and "Unpickler" not in err and len(err.splitlines()) == 1
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(evil, run / "checkpoints" / "step_00000001.pt")
    store = CheckpointStore(run)
    with pytest.raises(InputError) as caught:
        store.load(store.latest())
    assert "refused for safety" in str(caught.value)
    assert "weights_only" not in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(ModelError):
        from semsr_core.models import import_pth

        import_pth(evil)
    assert not marker.exists()  # the payload never ran


# ------------------------------------------------------------ signals


def test_sigterm_cleans_up_like_ctrl_c(tmp_path):
    from semsr_core.io import write_stack

    stack = tmp_path / "stack.tif"
    write_stack(stack, (np.random.default_rng(0).random((40, 96, 96)) * 60000)
                .astype(np.uint16))
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(_semsr("super-resolve", str(stack), "-o", str(out / "sr.ome.tif"),
                                   "--device", "cpu", "--quiet"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if list(out.glob(".*.partial")):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "finished before a partial file appeared"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "terminated; nothing partial was written" in err
    assert list(out.iterdir()) == []


def test_the_event_log_on_a_full_disk_names_its_file(tmp_path, monkeypatch):
    from semsr_core.events import Event, EventKind
    from semsr_core.train.runlog import RunLog

    log = RunLog(tmp_path / "run")
    _free(monkeypatch, 0)

    class FullDisk:
        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self):
            pass

    log._file.close()
    log._file = FullDisk()
    with pytest.raises(OutputError, match=r"not enough disk space to write .*events\.jsonl"):
        log(Event(EventKind.MESSAGE, {"text": "hello"}))


def test_only_the_rank_that_writes_the_run_folder_takes_its_lock(tmp_path, monkeypatch):
    from semsr_core.train.lock import LOCK_NAME, run_lock

    monkeypatch.setenv("RANK", "1")  # another rank of a torchrun job
    with run_lock(tmp_path / "run") as lock:
        assert lock is None and not (tmp_path / "run" / LOCK_NAME).exists()
    monkeypatch.setenv("RANK", "0")
    with run_lock(tmp_path / "run") as lock:
        assert lock.held and (tmp_path / "run" / LOCK_NAME).is_file()


def test_a_refused_vgg_weights_file_says_only_that_it_is_refused_for_safety(tmp_path):
    import torch

    from semsr_core.losses.vgg import load_vgg_weights

    class Payload:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "ran",))

    evil = tmp_path / "vgg19.pth"
    torch.save({"features.0.weight": torch.zeros(1), "x": Payload()}, evil)
    with pytest.raises(ModelError) as caught:
        load_vgg_weights("vgg19", evil)
    text = str(caught.value)
    assert "refused for safety" in text and "weights_only" not in text and "\n" not in text
    assert not (tmp_path / "ran").exists()
