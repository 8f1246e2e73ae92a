"""Writes are atomic and never overwrite an input; failures leave nothing behind."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tifffile

from semsr_core.errors import Cancelled, OutputError
from semsr_core.events import CancelToken, EventKind
from semsr_core.io import read_stack, write_stack


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def input_stack(tmp_path, rng):
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "input.tif"
    tifffile.imwrite(path, rng.integers(0, 65536, (6, 32, 32), dtype=np.uint16),
                     photometric="minisblack")
    return path


def _failing_after(stack, count, error):
    for index, image in enumerate(stack):
        if index == count:
            raise error
        yield image


@pytest.mark.parametrize("error", [RuntimeError("model crashed"), KeyboardInterrupt()])
def test_interrupted_write_leaves_no_file_and_input_untouched(input_stack, error):
    before = _sha256(input_stack)
    output = input_stack.parent / "result.ome.tif"
    with read_stack(input_stack) as stack, pytest.raises(type(error)):
        write_stack(output, _failing_after(stack, 3, error), protect=input_stack)
    assert not output.exists()
    assert sorted(p.name for p in input_stack.parent.iterdir()) == ["input.tif"]  # no temp
    assert _sha256(input_stack) == before


def test_nothing_appears_under_the_final_name_while_writing(tmp_path, rng):
    output = tmp_path / "out.ome.tif"
    seen_during_write = []

    def slices():
        for _ in range(3):
            seen_during_write.append(sorted(p.name for p in tmp_path.iterdir()))
            yield rng.integers(0, 255, (16, 16), dtype=np.uint8)

    write_stack(output, slices())
    assert all("out.ome.tif" not in names for names in seen_during_write)
    assert all(len(names) == 1 and names[0].endswith(".partial") for names in seen_during_write)
    assert [p.name for p in tmp_path.iterdir()] == ["out.ome.tif"]


def test_cancel_stops_between_slices_and_removes_the_partial_file(tmp_path, rng):
    token = CancelToken()
    events = []

    def on_event(event):
        events.append(event)
        if event.kind is EventKind.PROGRESS and event.data["done"] == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        write_stack(tmp_path / "c.ome.tif", rng.integers(0, 9, (5, 8, 8), dtype=np.uint8),
                    on_event=on_event, cancel=token)
    assert list(tmp_path.iterdir()) == []
    assert [e.data["done"] for e in events] == [0, 1, 2]


def test_progress_events_count_slices(tmp_path, rng):
    events = []
    write_stack(tmp_path / "p.ome.tif", rng.integers(0, 9, (3, 8, 8), dtype=np.uint8),
                on_event=events.append)
    assert [(e.kind, e.data["done"], e.data["total"], e.data["stage"]) for e in events] == [
        (EventKind.PROGRESS, 0, 3, "writing"), (EventKind.PROGRESS, 1, 3, "writing"),
        (EventKind.PROGRESS, 2, 3, "writing"), (EventKind.PROGRESS, 3, 3, "writing")]


def test_writing_onto_the_input_is_refused_even_with_overwrite(input_stack):
    before = _sha256(input_stack)
    data = np.zeros((4, 4), np.uint8)
    spellings = [input_stack, input_stack.parent / ".." / "data" / "input.tif"]
    for destination in spellings:
        with pytest.raises(OutputError, match="input") as caught:
            write_stack(destination, data, protect=[input_stack], overwrite=True)
        assert "input.tif" in str(caught.value)
    with read_stack(input_stack) as stack, pytest.raises(OutputError, match="input"):
        write_stack(input_stack, stack, overwrite=True)  # a Stack protects its own file
    assert _sha256(input_stack) == before


def test_symlink_to_the_input_is_refused(input_stack):
    link = input_stack.parent / "link.tif"
    os.symlink(input_stack, link)
    with pytest.raises(OutputError, match="input"):
        write_stack(link, np.zeros((4, 4), np.uint8), protect=input_stack, overwrite=True)


def test_existing_file_is_kept_unless_overwrite_is_given(tmp_path):
    output = tmp_path / "r.ome.tif"
    write_stack(output, np.full((4, 4), 1, np.uint8))
    before = _sha256(output)
    with pytest.raises(OutputError, match="already exists") as caught:
        write_stack(output, np.full((4, 4), 2, np.uint8))
    assert "overwrite" in str(caught.value)
    assert _sha256(output) == before
    write_stack(output, np.full((4, 4), 2, np.uint8), overwrite=True)
    with read_stack(output) as stack:
        assert stack[0].max() == 2
    assert [p.name for p in tmp_path.iterdir()] == ["r.ome.tif"]


def test_missing_output_folder_is_named(tmp_path):
    with pytest.raises(OutputError, match="does not exist") as caught:
        write_stack(tmp_path / "no" / "x.ome.tif", np.zeros((4, 4), np.uint8))
    assert str(tmp_path / "no") in str(caught.value)


def test_slices_of_different_sizes_are_refused_and_leave_nothing(tmp_path):
    slices = [np.zeros((8, 8), np.uint8), np.zeros((8, 9), np.uint8)]
    with pytest.raises(OutputError, match="slice 1"):
        write_stack(tmp_path / "x.ome.tif", iter(slices))
    assert list(tmp_path.iterdir()) == []


_DISK_FULL_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from pathlib import Path
    from semsr_core.errors import OutputError
    from semsr_core.io import write_stack
    folder = Path(sys.argv[1])
    try:
        write_stack(folder / "big.ome.tif", np.ones((4, 512, 512), np.uint16))
        result = {"error": None}
    except OutputError as exc:
        result = {"error": str(exc)}
    result["left"] = sorted(p.name for p in folder.iterdir())
    print(json.dumps(result))
""")


def _run_isolated(command):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    return done


@pytest.mark.skipif(sys.platform != "linux" or shutil.which("unshare") is None,
                    reason="needs Linux user namespaces to mount a tiny tmpfs")
def test_disk_full_is_reported_naming_the_folder_and_leaves_no_partial_file(tmp_path):
    """A real ENOSPC from a 256 KiB tmpfs mounted in a private user namespace."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    script = tmp_path / "disk_full.py"
    script.write_text(_DISK_FULL_SCRIPT)
    shell = (f"mount -t tmpfs -o size=256k tmpfs {folder} && "
             f"exec {sys.executable} {script} {folder}")
    done = _run_isolated(["unshare", "-r", "-m", "sh", "-c", shell])
    if done.returncode != 0 and "mount" in done.stderr:
        pytest.skip(f"cannot mount tmpfs here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["error"] is not None and "not enough disk space" in result["error"]
    assert str(folder) in result["error"]
    assert result["left"] == []


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_file_size_limit_is_reported_and_leaves_no_partial_file(tmp_path):
    """A real short write (numpy reports it without an errno) from the file-size limit."""
    script = tmp_path / "fsize.py"
    script.write_text("import resource, signal\n"
                      "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
                      "resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))\n"
                      + _DISK_FULL_SCRIPT)
    folder = tmp_path / "out"
    folder.mkdir()
    done = _run_isolated([sys.executable, str(script), str(folder)])
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["error"] is not None and "requested and" in result["error"]
    assert str(folder) in result["error"]
    assert result["left"] == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_written_file_gets_normal_permissions_not_private_temp_ones(tmp_path):
    previous = os.umask(0o022)
    try:
        path = write_stack(tmp_path / "shared.ome.tif", np.zeros((4, 4), np.uint8))
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644  # readable by the lab, like any new file


def test_files_semsr_writes_atomically_get_normal_permissions(tmp_path):
    """Model files, checkpoints and reports are shared between lab members: written through
    a temporary file, they still get the permissions of a normal new file (umask), not a
    temporary file's private 0600; a failed write leaves nothing behind."""
    import os

    import pytest
    import torch

    from semsr_core.io.write import atomic_destination
    from semsr_core.models import Model
    from semsr_core.train.checkpoint import atomic_torch_save

    old = os.umask(0o022)
    try:
        model = Model.create("rrdbnet", scale=2, blocks=1, features=4, growth=4)
        paths = [model.save(tmp_path / "m.semsr"), tmp_path / "c.pt"]
        atomic_torch_save({"x": torch.zeros(1)}, paths[1])
        for path in paths:
            assert os.stat(path).st_mode & 0o777 == 0o644, path
        with pytest.raises(RuntimeError), atomic_destination(tmp_path / "r.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "m.semsr"]
    finally:
        os.umask(old)
