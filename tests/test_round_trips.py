"""Every command accepts what another wrote, for every kind of intensity a lab has:
``semsr align``'s output feeds ``semsr train``, the trained model feeds ``semsr
super-resolve``, and its output feeds ``semsr evaluate`` — for uint8, uint16 using its
range and a narrow part of it, float32 in [0, 1], float32 detector counts and signed
float32 (issue 13 item 5)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from semsr_core.cli import main

KINDS = {
    "uint8": lambda u: np.round(u * 255).astype(np.uint8),
    "uint16": lambda u: np.round(u * 65535).astype(np.uint16),
    "uint16-narrow": lambda u: np.round(1282 + u * 1427).astype(np.uint16),
    "float32-unit": lambda u: u.astype(np.float32),
    "float32-counts": lambda u: (339 + u * 1004).astype(np.float32),
    "float32-signed": lambda u: (u * 2 - 1).astype(np.float32),
}


def _scans(sim, out, convert):
    """The simulated pairs, LR shifted against HR (unaligned), in the kind's units."""
    from semsr_core.io import read_stack, write_stack

    for folder in ("lr", "hr"):
        (out / folder).mkdir(parents=True)
    for path in sorted((sim / "lr").glob("*.tif")):
        with read_stack(path) as s:
            lr, lr_px = np.asarray(s[0]) / 65535, s.pixel_size
        with read_stack(sim / "hr" / path.name) as s:
            hr, hr_px = np.asarray(s[0]) / 65535, s.pixel_size
        write_stack(out / "lr" / path.name, convert(lr[2:42, 3:43]), pixel_size=lr_px)
        write_stack(out / "hr" / path.name, convert(hr[:176, :176]), pixel_size=hr_px)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    sim = tmp_path_factory.mktemp("rt") / "sim"
    assert main(["simulate", str(sim), "--pairs", "4", "--size", "192", "--seed", "8",
                 "--quiet"]) == 0
    return sim


@pytest.mark.parametrize("kind", [
    pytest.param(k, marks=[] if k == "float32-counts" else [pytest.mark.slow])
    for k in KINDS])
def test_align_train_super_resolve_evaluate_round_trip(kind, simulated, tmp_path, capsys):
    from semsr_core.io import read_stack

    scans, aligned, run = tmp_path / "scans", tmp_path / "aligned", tmp_path / "run"
    _scans(simulated, scans, KINDS[kind])
    assert main(["align", str(scans / "lr"), str(scans / "hr"), "-o", str(aligned),
                 "--quiet"]) == 0
    assert main(["train", "finetune", "--data", str(aligned), "--run", str(run),
                 "--max-minutes", "0.05", "--device", "cpu", "--set", "data.batch=4",
                 "--set", "train.min_epoch_samples=8"]) == 0
    model = run / "model.semsr"
    assert model.is_file()
    sr = tmp_path / "sr"
    sr.mkdir()
    source = sorted((aligned / "lr").glob("*.tif"))[0]
    assert main(["super-resolve", str(source), "-o", str(sr) + "/", "--model", str(model),
                 "--quiet"]) == 0
    [result] = sr.glob("*_sr4x.ome.tif")
    with read_stack(source) as lr, read_stack(result) as out:
        lr_values, sr_values = np.asarray(lr[0], np.float64), np.asarray(out[0], np.float64)
        assert out.dtype == lr.dtype  # in the input's dtype and units
    span = np.ptp(lr_values)
    assert abs(sr_values.mean() - lr_values.mean()) < 0.03 * span
    assert main(["evaluate", "--data", str(aligned), "--model", str(model), "-o",
                 str(tmp_path / "report"), "--quiet"]) == 0
    capsys.readouterr()
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["aggregate"]["bicubic"]["psnr"] > 15  # both in the same units
