"""The output follows its name (PNG, JPEG, OME-TIFF); a run never reads or overwrites its
own results; results that are not images are refused (issue 13 item 4, item 3)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from semsr_core.cli import main
from semsr_core.errors import ModelError, OutputError
from semsr_core.infer.files import is_earlier_output, output_paths
from semsr_core.infer.output_check import check_slice
from semsr_core.io import read_stack, write_stack
from semsr_core.models import Model


@pytest.fixture
def model_file(tmp_path):
    model = Model.create("rrdbnet", scale=2, blocks=1, features=8, growth=4, name="small",
                         skip="bicubic")  # untrained: bicubic (an image, not a constant)
    return model.save(tmp_path / "small.semsr")


def _scan(path, dtype=np.uint8, shape=(24, 20), depth=None):
    rng = np.random.default_rng(3)
    top = 255 if dtype == np.uint8 else 60000
    data = rng.integers(20, top, size=shape if depth is None else (depth, *shape))
    tifffile.imwrite(path, data.astype(dtype), photometric="minisblack")
    return path


def _run(*argv):
    return main(["super-resolve", *map(str, argv), "--quiet"])


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("semsr: error:"), err
    for word in words:
        assert word in err, err
    return err


# ------------------------------------------------------------------ format by name


@pytest.mark.parametrize(("name", "fmt", "dtype"), [
    ("out.png", "PNG", np.uint8), ("out.PNG", "PNG", np.uint16), ("out.jpg", "JPEG", np.uint8),
    ("out.jpeg", "JPEG", np.uint8)])
def test_a_picture_name_gives_that_format(tmp_path, model_file, name, fmt, dtype):
    source = _scan(tmp_path / "scan.tif", dtype)
    dest = tmp_path / name
    assert _run(source, "-o", dest, "--model", model_file) == 0
    assert not dest.read_bytes().startswith((b"II*\x00", b"II+\x00"))
    with Image.open(dest) as picture:
        assert picture.format == fmt
        assert picture.size == (40, 48)
        text = picture.info.get("semsr") or picture.info.get("comment")
    assert json.loads(text)["provenance"]["model"]["name"] == "small"
    with read_stack(dest) as stack:
        assert stack.shape == (1, 48, 40) and stack.dtype == dtype
    assert sorted(os.listdir(tmp_path)) == sorted(["scan.tif", "small.semsr", name])


@pytest.mark.parametrize(("name", "kind", "option", "words"), [
    ("out.png", "stack", [], ["stack of 3 slices", ".ome.tif"]),
    ("out.jpg", "uint16", [], ["uint16", "8-bit", "PNG"]),
    ("out.png", "uint8", ["--float32"], ["float32"]),
    ("out.bmp", "uint8", [], [".bmp", ".ome.tif"]),
])
def test_a_result_the_named_format_cannot_hold_is_refused_before_any_work(
        tmp_path, model_file, capsys, name, kind, option, words):
    source = _scan(tmp_path / "scan.tif", np.uint16 if kind == "uint16" else np.uint8,
                   depth=3 if kind == "stack" else None)
    dest = tmp_path / name
    assert _run(source, "-o", dest, "--model", model_file, *option) == 2
    _one_line_error(capsys, str(dest), *words)
    assert not dest.exists()
    assert sorted(os.listdir(tmp_path)) == ["scan.tif", "small.semsr"]


def test_write_stack_refuses_a_stack_or_float_under_a_picture_name(tmp_path):
    with pytest.raises(OutputError, match="stack"):
        write_stack(tmp_path / "s.png", np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(OutputError, match="stack"):
        write_stack(tmp_path / "g.png", (np.zeros((8, 8), np.uint8) for _ in range(2)))
    with pytest.raises(OutputError, match="float32"):
        write_stack(tmp_path / "f.png", np.zeros((8, 8), np.float32))
    assert os.listdir(tmp_path) == []


def test_a_png_write_on_a_full_disk_leaves_nothing(tmp_path, monkeypatch):
    from PIL import Image as PILImage

    def full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PILImage.Image, "save", full)
    with pytest.raises(OutputError, match="disk space"):
        write_stack(tmp_path / "x.png", np.zeros((8, 8), np.uint8))
    assert os.listdir(tmp_path) == []


# -------------------------------------------------------- a folder run and its outputs


def test_a_folder_run_into_itself_never_takes_or_overwrites_its_own_results(
        tmp_path, model_file, capsys):
    folder = tmp_path / "scans"
    folder.mkdir()
    a, b = _scan(folder / "a.tif"), _scan(folder / "b.tif")
    before = {p.name: p.read_bytes() for p in (a, b)}
    assert _run(folder, "-o", folder, "--model", model_file) == 0
    first = sorted(os.listdir(folder))
    assert first == ["a.tif", "a_sr2x.ome.tif", "b.tif", "b_sr2x.ome.tif"]
    capsys.readouterr()
    assert _run(folder, "-o", folder, "--model", model_file, "--overwrite") == 0
    assert "left out 2 earlier result(s)" in capsys.readouterr().err
    assert sorted(os.listdir(folder)) == first  # no a_sr2x_sr2x
    assert {p.name: p.read_bytes() for p in (a, b)} == before
    with read_stack(folder / "a_sr2x.ome.tif") as stack:
        assert stack.shape == (1, 48, 40)  # enlarged once, from a.tif


def test_an_explicit_result_file_given_with_its_source_is_refused(tmp_path, model_file,
                                                                  capsys):
    folder = tmp_path / "scans"
    folder.mkdir()
    source = _scan(folder / "a.tif")
    earlier = _scan(folder / "a_sr2x.ome.tif")
    kept = earlier.read_bytes()
    assert _run(source, earlier, "-o", folder, "--model", model_file, "--overwrite") == 2
    _one_line_error(capsys, "input of this run")
    assert earlier.read_bytes() == kept


def test_a_folder_of_only_results_says_so(tmp_path):
    _scan(tmp_path / "x_sr4x.ome.tif")
    with pytest.raises(Exception, match="only earlier super-resolve results"):
        output_paths([tmp_path], tmp_path / "out", 4)


def test_an_output_name_without_an_extension_is_a_folder(tmp_path, model_file, capsys):
    """`-o results` for one scan writes results/scan_sr2x.ome.tif, not a file called
    `results`; a file already under that name is refused, untouched, and said to be one."""
    source = _scan(tmp_path / "scan.tif")
    assert _run(source, "-o", tmp_path / "results", "--model", model_file) == 0
    assert (tmp_path / "results").is_dir()
    with read_stack(tmp_path / "results" / "scan_sr2x.ome.tif") as stack:
        assert stack[0].shape == (48, 40)
    (tmp_path / "taken").write_bytes(b"notes")
    assert _run(source, "-o", tmp_path / "taken", "--model", model_file) != 0
    _one_line_error(capsys, "without an extension is a folder", "taken")
    assert (tmp_path / "taken").read_bytes() == b"notes"
    assert output_paths([source], tmp_path / "one.ome.tif", 2) == [
        (source, tmp_path / "one.ome.tif")]


@pytest.mark.parametrize(("name", "result"), [
    ("a_sr4x.ome.tif", True), ("a_SR2x.tif", True), ("a_sr4x.png", True),
    ("a_sr4x.disagreement.ome.tif", True), ("a.disagreement.tif", False),
    ("a_sr4x_notes.tif", False), ("sr4x.tif", False), ("a_sr.tif", False)])
def test_result_names(name, result):
    assert is_earlier_output(name) is result


# ---------------------------------------------------------------- result checks


@pytest.mark.parametrize("result", [
    np.full((8, 8), np.nan, np.float32),
    np.where(np.eye(8, dtype=bool), np.inf, 1.0).astype(np.float32),
    np.full((8, 8), 7, np.uint16),
    np.full((8, 8), 0.25, np.float32),
])
def test_results_that_are_not_images_are_refused_naming_the_file(result):
    source = np.arange(16, dtype=np.uint16).reshape(4, 4)
    with pytest.raises(ModelError) as caught:
        check_slice(result, source, index=3, path="scan.tif", model="m")
    assert "slice 3 of scan.tif" in str(caught.value) and "'m'" in str(caught.value)


def test_real_images_pass_the_check():
    source = np.arange(16, dtype=np.float32).reshape(4, 4)
    check_slice(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8), source)
    # a constant input may give a constant result; a NaN input may give a few NaN
    check_slice(np.zeros((8, 8), np.uint8), np.zeros((4, 4), np.uint8))
    with_nan = source.copy()
    with_nan[0, 0] = np.nan
    result = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    result[:2, :2] = np.nan
    check_slice(result, with_nan)


@pytest.mark.parametrize("option", [[], ["--float32"]])
def test_a_model_that_overflows_writes_no_file(tmp_path, capsys, option):
    """Finite weights, too large for float32 arithmetic: every result value is NaN."""
    model = Model.create("rrdbnet", scale=2, blocks=1, features=8, growth=4, name="overflow")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.generator.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 3e4)
    path = model.save(tmp_path / "overflow.semsr")
    source = _scan(tmp_path / "scan.tif")
    dest = tmp_path / "out.ome.tif"
    assert _run(source, "-o", dest, "--model", path, *option) == 2
    line = _one_line_error(capsys, str(source), "'overflow'", "not written")
    assert ("NaN" in line) if option else ("constant" in line or "NaN" in line)
    assert sorted(os.listdir(tmp_path)) == ["overflow.semsr", "scan.tif"]
