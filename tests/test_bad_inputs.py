"""Bad input through every command: a correct output or one clear line, nothing else.

Each kind of bad input (files, pixel contents, shapes, pairs, models, outputs; see
tests/bad_inputs_kit.py) goes through the commands that read it — ``semsr info``,
``super-resolve``, ``align``, ``train``, ``evaluate``, ``models import``/``info`` and
the napari reader — in-process through :func:`semsr_core.cli.main`. Acceptable: exit
status 0 with a correct output, or exit status 2 with one line that names the file and
says what to do. Never a traceback, a file under the final name after a failure, a
``.partial`` file left, or a changed input (inputs are hashed before and after).
"""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from bad_inputs_kit import (
    IMAGE_KINDS,
    check_outcome,
    disk_fault,
    flip_bytes,
    hashes,
    nearest_model,
    pth_with,
)

from semsr_core.cli import main
from semsr_core.errors import SemsrError
from semsr_core.io import read_stack

SCALE = 4


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {"x4": nearest_model(4).save(folder / "nearest-x4.semsr"),
            "x2": nearest_model(2).save(folder / "nearest-x2.semsr")}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from semsr_core.data.simulate import simulate_dataset

    root = tmp_path_factory.mktemp("base") / "data"
    simulate_dataset(root, pairs=2, scale=SCALE, size=64, seed=3, defect_rate=0)
    shutil.rmtree(root / "masks")
    return root


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.err, captured.out


def _input_name(kind: str) -> str:
    return f"{kind}.png" if kind == "damaged_png" else f"{kind}.tif"


def _correct_result(source: Path, result: Path, scale: int) -> None:
    """The result of the nearest-neighbour model: the input's values on a grid ×scale."""
    with read_stack(source) as stack:
        expected = np.stack([np.asarray(s, np.float64) for s in stack])
    with read_stack(result) as stack:
        got = np.stack([np.asarray(s, np.float64) for s in stack])
    assert got.shape == (expected.shape[0], expected.shape[1] * scale,
                         expected.shape[2] * scale), (got.shape, expected.shape)
    for index, (slice_in, slice_out) in enumerate(zip(expected, got, strict=True)):
        finite = np.isfinite(slice_in)
        assert np.isfinite(slice_out).all() or not finite.all(), f"slice {index}"
        span = float(np.ptp(slice_in[finite])) if finite.any() else 0.0
        if span == 0:
            continue
        big = np.repeat(np.repeat(slice_in, scale, 0), scale, 1)
        keep = np.isfinite(big) & np.isfinite(slice_out)
        corr = np.corrcoef(big[keep], slice_out[keep])[0, 1]
        assert corr > 0.9, f"slice {index}: correlation {corr:.3f} with the input"
        gap = abs(slice_out[keep].mean() - big[keep].mean())
        assert gap <= 0.03 * span, f"slice {index}: mean off by {gap:g} (range {span:g})"


# ------------------------------------------------ image files: info, super-resolve, reader


@pytest.mark.parametrize("kind", list(IMAGE_KINDS))
def test_bad_image_through_info_super_resolve_and_the_app_reader(kind, tmp_path, models,
                                                                   capsys):
    source = tmp_path / "in" / _input_name(kind)
    source.parent.mkdir()
    IMAGE_KINDS[kind](source, (32, 32))
    before = hashes(source.parent)

    code, err, out = _cli(capsys, "info", source)
    check_outcome(code, err, names=[source])
    if code == 0:
        assert "slice(s) of" in out

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    dest = out_dir / f"{kind}_sr.ome.tif"
    code, err, _ = _cli(capsys, "super-resolve", source, "-o", dest, "--model", models["x4"],
                        "--quiet")
    check_outcome(code, err, names=[source], finals=[dest], folders=[out_dir])
    if code == 0:
        _correct_result(source, dest, SCALE)

    from semsr_app.reader import read_sem

    try:
        layers = read_sem(str(source))
        data = np.asarray(layers[0][0])
    except SemsrError as error:
        assert str(source) in str(error)
    else:
        with read_stack(source) as stack:
            assert data.shape in (stack.shape, stack.shape[1:])
    assert hashes(source.parent) == before


# ------------------------------------------------ pairs: align, train, evaluate

TRAIN_QUICK = ["--set", "generator.features=4", "--set", "generator.growth=4",
               "--set", "data.lr_patch=8", "--set", "data.batch=2",
               "--set", "data.val_fraction=0", "--set", "phases.gan.epochs=1",
               "--set", "phases.gan.steps_per_epoch=1", "--set", "discriminators.d.features=4",
               "--set", "discriminators.d.input_size=32", "--device", "cpu"]

PAIR_IMAGE_KINDS = ["truncated", "text_named_tif", "one_corrupt_page", "page_of_another_size",
                    "nan_pixels", "complex", "one_by_one", "five_d", "true_colour_rgb",
                    "constant", "bigtiff"]


def _hr_replaced_by(kind):
    def make(data):
        IMAGE_KINDS[kind](data / "hr" / "pair_000.tif", (64, 64))
    return make


def _hr_resized(shape):
    def make(data):
        hr = tifffile.imread(data / "hr" / "pair_000.tif")
        tifffile.imwrite(data / "hr" / "pair_000.tif", hr[: shape[0], : shape[1]])
    return make


def _all_hr_at_half_scale(data):
    for path in (data / "hr").iterdir():
        tifffile.imwrite(path, tifffile.imread(path)[::2, ::2])


def _lr_without_hr(data):
    shutil.copy(data / "lr" / "pair_000.tif", data / "lr" / "lonely.tif")


def _only_lr(data):
    shutil.rmtree(data / "hr")
    (data / "hr").mkdir()


PAIR_KINDS = {
    **{f"hr_{kind}": _hr_replaced_by(kind) for kind in PAIR_IMAGE_KINDS},
    "mismatched_sizes": _hr_resized((50, 41)),
    "pair_of_another_scale": _hr_resized((32, 32)),
    "all_pairs_of_another_scale": _all_hr_at_half_scale,
    "lr_without_hr": _lr_without_hr,
    "no_hr_at_all": _only_lr,
}


@pytest.mark.parametrize("kind", list(PAIR_KINDS))
def test_bad_pair_through_align_train_and_evaluate(kind, tmp_path, dataset, models, capsys):
    data = tmp_path / "data"
    shutil.copytree(dataset, data)
    PAIR_KINDS[kind](data)
    before = hashes(data)
    names = [data, *(p.name for p in (data / "lr").iterdir()),
             *(p.name for p in (data / "hr").iterdir())]

    aligned = tmp_path / "aligned"
    code, err, _ = _cli(capsys, "align", data / "lr", data / "hr", "-o", aligned, "--quiet")
    check_outcome(code, err, names=names, finals=[aligned / "report.json"], folders=[aligned])
    if code == 0:
        report = json.loads((aligned / "report.json").read_text())
        for pair in report["pairs"]:
            if pair.get("written"):
                with read_stack(aligned / "hr" / f"{pair['stem']}.tif") as hr:
                    assert np.isfinite(hr[:]).all()
            else:
                assert pair["reason"], pair

    run = tmp_path / "run"
    code, err, _ = _cli(capsys, "train", "n1_reduced", "--data", data, "--run", run,
                        *TRAIN_QUICK)
    check_outcome(code, err, names=names, folders=[run])
    if code == 0:
        exported = list(run.rglob("*.semsr"))
        assert exported, sorted(p.name for p in run.rglob("*"))

    report = tmp_path / "report"
    code, err, _ = _cli(capsys, "evaluate", "--data", data, "--model", models["x4"], "-o",
                        report, "--no-figures", "--device", "cpu", "--quiet")
    check_outcome(code, err, names=[*names, models["x4"], "×"],
                  finals=[report / "report.json"], folders=[report])
    if code == 0:
        assert json.loads((report / "report.json").read_text())
    assert hashes(data) == before


# ------------------------------------------------ models: super-resolve, evaluate, import


def _tiny_state():
    return {k: v.clone() for k, v in nearest_model(4).generator.state_dict().items()}


def _semsr_damaged(how):
    def make(folder, models):
        path = folder / "model.semsr"
        shutil.copy(models["x4"], path)
        how(path)
        return path
    return make


def _pth_nan(folder, models):
    state = _tiny_state()
    state["conv_first.weight"][0, 0, 0, 0] = float("nan")
    pth_with(folder / "nan.pth", state)
    return folder / "nan.pth"


def _pth_code(folder, models):
    pth_with(folder / "code.pth", _tiny_state(), marker=folder.parent / "code_ran")
    return folder / "code.pth"


def _pth_unknown(folder, models):
    torch.save({"encoder.weight": torch.zeros(4, 1, 3, 3)}, folder / "unet.pth")
    return folder / "unet.pth"


MODEL_KINDS = {
    "corrupt_model_200_flipped_bytes": _semsr_damaged(lambda p: flip_bytes(p, 200, start=200)),
    "truncated_model": _semsr_damaged(lambda p: p.write_bytes(p.read_bytes()[:-700])),
    "empty_model": _semsr_damaged(lambda p: p.write_bytes(b"")),
    "text_named_semsr": _semsr_damaged(lambda p: p.write_text("not a model\n")),
    "pth_with_a_nan_weight": _pth_nan,
    "pth_carrying_pickled_code": _pth_code,
    "pth_of_an_unknown_network": _pth_unknown,
    "model_of_another_scale": lambda folder, models: models["x2"],
}


@pytest.mark.parametrize("kind", list(MODEL_KINDS))
def test_bad_model_through_super_resolve_evaluate_and_import(kind, tmp_path, dataset, models,
                                                             capsys):
    folder = tmp_path / "models"
    folder.mkdir()
    model = MODEL_KINDS[kind](folder, models)
    source = tmp_path / "scan.tif"
    IMAGE_KINDS["separate_write_pages"](source, (24, 24))
    before = hashes(model, source)

    dest = tmp_path / "out" / "scan_sr.ome.tif"
    dest.parent.mkdir()
    code, err, _ = _cli(capsys, "super-resolve", source, "-o", dest, "--model", model,
                        "--scale", SCALE, "--quiet")
    assert code == 2  # every kind here is unusable for a ×4 run
    check_outcome(code, err, names=[model, "×2"], finals=[dest], folders=[dest.parent])

    report = tmp_path / "report"
    code, err, _ = _cli(capsys, "evaluate", "--data", dataset, "--model", model, "-o", report,
                        "--no-figures", "--device", "cpu", "--quiet")
    assert code == 2
    check_outcome(code, err, names=[model, "×2"], finals=[report / "report.json"],
                  folders=[report])

    for argv in (["models", "info", model], ["models", "import", model]):
        code, err, _ = _cli(capsys, *argv)
        check_outcome(code, err, names=[model, model.name])
        if kind != "model_of_another_scale":
            assert code == 2, argv
    assert not (tmp_path / "code_ran").exists()
    assert hashes(model, source) == before


# ------------------------------------------------ outputs: super-resolve, align, evaluate


def _fault(error):
    def arrange(out, monkeypatch):
        out.mkdir()
        return disk_fault(monkeypatch, out, error)
    return arrange


def _parent_is_a_file(out, monkeypatch):
    out.write_text("a file where the output folder should be\n")
    return _nothing()


def _nothing():
    import contextlib

    return contextlib.nullcontext()


OUTPUT_KINDS = {
    "unwritable_output_folder": _fault(errno.EACCES),
    "full_disk": _fault(errno.ENOSPC),
    "output_folder_is_a_file": _parent_is_a_file,
}


@pytest.mark.parametrize("kind", list(OUTPUT_KINDS))
@pytest.mark.parametrize("command", ["super-resolve", "super-resolve-png", "align", "evaluate"])
def test_unwritable_output(kind, command, tmp_path, dataset, models, capsys, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(dataset, data)
    out = tmp_path / "out"
    before = hashes(data)
    source = data / "lr" / "pair_000.tif"
    argv = {
        "super-resolve": ["super-resolve", source, "-o", out / "x.ome.tif", "--model",
                          models["x4"], "--quiet"],
        "super-resolve-png": ["super-resolve", source, "-o", out / "x.png", "--model",
                              models["x4"], "--quiet"],
        "align": ["align", data / "lr", data / "hr", "-o", out, "--quiet"],
        "evaluate": ["evaluate", "--data", data, "--model", models["x4"], "-o", out,
                     "--no-figures", "--device", "cpu", "--quiet"],
    }[command]
    with OUTPUT_KINDS[kind](out, monkeypatch):
        code, err, _ = _cli(capsys, *argv)
    assert code == 2, err
    check_outcome(code, err, names=[out], folders=[out] if out.is_dir() else [])
    if out.is_dir():
        assert not [p for p in out.rglob("*") if p.is_file()], sorted(out.rglob("*"))
    assert hashes(data) == before


def test_an_output_that_exists_or_is_the_input_is_refused(tmp_path, models, capsys):
    source = tmp_path / "scan.tif"
    IMAGE_KINDS["bigtiff"](source, (24, 24))
    existing = tmp_path / "old.ome.tif"
    existing.write_bytes(b"an earlier result")
    before = hashes(tmp_path)
    for dest, words in ((existing, "already exists"), (source, "input")):
        for extra in ([], ["--overwrite"]) if dest == source else ([],):
            code, err, _ = _cli(capsys, "super-resolve", source, "-o", dest, "--model",
                                models["x4"], "--quiet", *extra)
            line = check_outcome(code, err, names=[dest])
            assert code == 2 and words in line
    missing = tmp_path / "no" / "such" / "folder" / "x.ome.tif"
    code, err, _ = _cli(capsys, "super-resolve", source, "-o", missing, "--model",
                        models["x4"], "--quiet")
    assert code == 2 and "does not exist" in check_outcome(code, err, names=[missing])
    assert hashes(tmp_path) == before
