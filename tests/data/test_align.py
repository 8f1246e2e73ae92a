"""Alignment of unaligned LR/HR scans: shift recovery, verdicts, crops and `semsr align`."""

from __future__ import annotations

import csv
import json

import imagecodecs
import numpy as np
import pytest
from scipy import ndimage
from skimage import data
from skimage.transform import downscale_local_mean, rotate

from semsr_core.cli import main
from semsr_core.data.align import align_pair, upscale
from semsr_core.data.align.geometry import resample_hr
from semsr_core.data.simulate import simulate_pair
from semsr_core.errors import InputError

SCALE = 4


def shifted_sim_pair(seed: int, rng: np.random.Generator, *, size: int = 256,
                     max_shift: float = 20.0):
    """A simulated SEM pair (contrast/gamma "style gap" between LR and HR) whose HR scan
    is displaced by a known random sub-pixel shift (HR px) against the LR scan.

    The LR scan's slow drift is switched off: drift bends the scan lines, so the true
    shift would not be one number. The HR scan keeps the simulator's mild drift/jitter.
    """
    margin = 32
    sim = simulate_pair(seed, size=size + 2 * margin, scale=SCALE, style_gap=True, drift=0.0)
    shift = rng.uniform(-max_shift, max_shift, 2)
    origin = margin - shift  # HR pixel p shows the scene at p + origin
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    hr = ndimage.map_coordinates(sim.hr.astype(float), [yy + origin[0], xx + origin[1]],
                                 order=3)
    m = margin // SCALE
    lr = sim.lr[m:m + size // SCALE, m:m + size // SCALE]
    return lr, hr, shift


def shift_errors(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    errors = []
    for i in range(n):
        lr, hr, shift = shifted_sim_pair(1000 + i, rng)
        result = align_pair(lr, hr, SCALE)
        assert result.verdict != "failed", result.reason
        errors.append(float(np.hypot(*(np.asarray(result.shift) - shift))))
    return np.array(errors)


def test_subpixel_shifts_of_a_few_simulated_pairs_with_a_style_gap_are_recovered():
    errors = shift_errors(8, seed=11)
    assert np.median(errors) < 0.3
    assert (errors < 0.5).sum() >= 7, errors


@pytest.mark.slow
def test_shift_error_is_below_half_a_hr_pixel_for_95_percent_of_40_simulated_pairs():
    errors = shift_errors(40, seed=7)
    assert (errors < 0.5).mean() >= 0.95, np.round(np.sort(errors), 3)


def _camera_pair(shift_lr=(2, -1), crop=192, *, dtype=np.uint16):
    """HR crop of the camera image and an LR scan displaced by whole LR pixels plus a bit."""
    world = data.camera().astype(float) * 200
    hr = world[100:100 + crop, 120:120 + crop]
    y0, x0 = 100 + SCALE * shift_lr[0] + 1, 120 + SCALE * shift_lr[1] + 2
    lr = downscale_local_mean(world[y0:y0 + crop, x0:x0 + crop], (SCALE, SCALE))
    return lr.astype(dtype), hr.astype(dtype)


def test_cropped_hr_is_exactly_scale_times_lr_and_correlates_better_than_before():
    lr, hr = _camera_pair(shift_lr=(3, -2))

    result = align_pair(lr, hr, SCALE)

    assert result.verdict == "aligned", result.reason
    assert result.hr.shape == (SCALE * result.lr.shape[0], SCALE * result.lr.shape[1])
    assert result.ncc_after > result.ncc_before
    # true shift: LR content at q appears in HR at q + (4·3 + 1, 4·(−2) + 2)
    np.testing.assert_allclose(result.shift, (13, -6), atol=0.25)
    # LR pixels are never resampled: the crop is a slice of the input, dtype kept
    r0, r1, c0, c1 = result.lr_box
    np.testing.assert_array_equal(result.lr, lr[r0:r1, c0:c1])
    assert result.lr.dtype == lr.dtype and result.hr.dtype == hr.dtype
    # the cropped pair is itself aligned: no shift left
    again = align_pair(result.lr, result.hr, SCALE)
    assert np.hypot(*again.shift) < 0.25


def test_a_float_pair_and_its_uint16_twin_align_to_the_same_intensities():
    """The resampled HR stays within its source's range: a [0, 1] float scan must not
    come out at −0.002 (the intensity policy would then read it as other data), and
    its uint16 twin gives the same values."""
    lr16, hr16 = _camera_pair(shift_lr=(3, -2))
    lr16, hr16 = (np.round(a / a.max() * 65535).astype(np.uint16) for a in (lr16, hr16))
    as_float = [(a / 65535).astype(np.float32) for a in (lr16, hr16)]
    twin, result = align_pair(lr16, hr16, SCALE), align_pair(*as_float, SCALE)
    assert result.verdict == twin.verdict == "aligned"
    assert as_float[1].min() <= result.hr.min() and result.hr.max() <= as_float[1].max()
    np.testing.assert_allclose(result.hr, twin.hr / 65535, atol=1 / 65535)
    # unclipped, the resampling overshoots the source's range at the sharp edges
    hr_f = as_float[1].astype(np.float64)
    raw = resample_hr(hr_f, result.lr_box, SCALE, result.shift, result.rotation,
                      result.scale_factor, result.centre)
    assert raw.min() < hr_f.min() or raw.max() > hr_f.max()


def test_unrelated_images_are_marked_failed_with_a_reason():
    rng = np.random.default_rng(0)
    a_lr, _, _ = shifted_sim_pair(1, rng)
    _, b_hr, _ = shifted_sim_pair(2, rng)
    brick = data.brick()[:256, :256]
    camera_lr = downscale_local_mean(data.camera()[:256, :256].astype(float), (4, 4))

    for lr, hr in [(a_lr, b_hr), (camera_lr, brick)]:
        result = align_pair(lr, hr, SCALE)
        assert result.verdict == "failed"
        assert "may not show the same place" in result.reason


def test_inverted_contrast_between_the_scans_still_aligns():
    lr, hr = _camera_pair(shift_lr=(-2, 1), dtype=np.float32)
    result = align_pair(lr.max() - lr, hr, SCALE)
    assert result.verdict == "aligned", result.reason
    np.testing.assert_allclose(result.shift, (-7, 6), atol=0.25)


def test_a_small_rotation_is_found_when_searched_with_the_documented_sign():
    world = data.camera().astype(float) / 255
    hr = rotate(world, 1.5, order=3)[128:384, 128:384]  # anticlockwise as displayed
    lr = downscale_local_mean(world[136:392, 124:380], (SCALE, SCALE))

    plain = align_pair(lr, hr, SCALE)
    searched = align_pair(lr, hr, SCALE, max_rotation=3.0)

    assert searched.rotation == pytest.approx(1.5, abs=0.1)
    assert searched.ncc_after > plain.ncc_after
    assert searched.hr.shape == (SCALE * searched.lr.shape[0], SCALE * searched.lr.shape[1])


def _dot_lattice_pair(defect: bool):
    """A dot lattice (period 24 HR px) scanned twice, each scan with its own noise; LR
    displaced by (5, −7) HR px. ``defect``: one dot missing in both."""
    yy, xx = np.mgrid[0:300, 0:300]
    pattern = (np.sin(2 * np.pi * yy / 24) * np.sin(2 * np.pi * xx / 24) > 0.3).astype(float)
    pattern = ndimage.gaussian_filter(pattern, 1.0)
    if defect:
        pattern[100:112, 100:112] = 0.0
    rng = np.random.default_rng(0)
    hr = pattern[20:276, 20:276] + rng.normal(0, 0.05, (256, 256))
    lr = downscale_local_mean(pattern[25:281, 13:269], (SCALE, SCALE))
    return lr + rng.normal(0, 0.05, lr.shape), hr


def test_a_periodic_pattern_is_flagged_suspicious_because_the_period_is_ambiguous():
    lr, hr = _dot_lattice_pair(defect=False)

    result = align_pair(lr, hr, SCALE)

    assert result.verdict == "suspicious"
    assert "period" in result.reason
    # a user who knows the pattern can accept it by lowering the distinctness demand
    assert align_pair(lr, hr, SCALE, min_peak_ratio=1.0).verdict == "aligned"


def test_one_defect_in_a_lattice_decides_the_period():
    """Where two shifts a period apart predict HR differently (here one missing dot),
    the right one explains it much better: aligned, at the true shift."""
    lr, hr = _dot_lattice_pair(defect=True)

    result = align_pair(lr, hr, SCALE)

    assert result.verdict == "aligned", result.reason
    assert result.peak_ratio > 2.0
    np.testing.assert_allclose(result.shift, (5, -7), atol=0.3)


def test_the_lab_cases_periodic_layout_is_aligned_by_where_its_arrays_end(tmp_path):
    """Pair 0 of the simulated lab case (``benchmarks/lab_workflow.py``: seed 15, LR and
    HR cut 88² / 352² from different places): contact-hole arrays over lines, where a
    shift one period away matches the whole field nearly as well (ratio 1.46 over the
    whole field, "suspicious" before) but not where the arrays end."""
    from semsr_core.data.simulate import simulate_dataset
    from semsr_core.io import read_stack

    simulate_dataset(tmp_path, pairs=1, scale=SCALE, size=384, seed=15, style_gap="shared")
    with read_stack(tmp_path / "lr" / "pair_000.tif") as lr_stack, \
            read_stack(tmp_path / "hr" / "pair_000.tif") as hr_stack:
        lr, hr = np.asarray(lr_stack[0]), np.asarray(hr_stack[0])
    rng = np.random.default_rng(15)  # as make_lab_case cuts pair 0
    ly, lx = rng.integers(0, 9, size=2)
    hy, hx = rng.integers(0, 33, size=2)

    result = align_pair(lr[ly:ly + 88, lx:lx + 88], hr[hy:hy + 352, hx:hx + 352], SCALE)

    assert result.verdict == "aligned", result.reason
    np.testing.assert_allclose(result.shift, (SCALE * ly - hy, SCALE * lx - hx), atol=0.5)


@pytest.mark.parametrize("lr, words", [
    (np.zeros((2, 16, 16)), "dimensions"),
    (np.full((16, 16), np.nan), "NaN"),
    (np.ones((16, 16)), "constant"),
    (np.random.default_rng(1).random((8, 8)), "too small"),
])
def test_unusable_images_are_input_errors(lr, words):
    hr = np.random.default_rng(0).random((4 * lr.shape[-2], 4 * lr.shape[-1]))
    with pytest.raises(InputError, match=words):
        align_pair(lr, hr, SCALE)


def test_upscale_keeps_lr_grid_crops_and_hr_crops_in_step():
    lr = np.random.default_rng(0).random((20, 20))
    up = upscale(lr, SCALE)
    # away from the crop edges (where the cubic spline sees the border) they agree
    np.testing.assert_allclose(upscale(lr[4:16, 6:18], SCALE)[16:-16, 16:-16],
                               up[16:64, 24:72][16:-16, 16:-16], atol=1e-2)


def test_semsr_align_writes_pairs_reports_and_overlays(tmp_path, capsys):
    from semsr_core.io import read_stack, write_stack

    rng = np.random.default_rng(5)
    lr_dir, hr_dir, out = tmp_path / "lr", tmp_path / "hr", tmp_path / "aligned"
    lr_dir.mkdir()
    hr_dir.mkdir()
    for stem, seed in [("good1", 21), ("good2", 22)]:
        lr, hr, _ = shifted_sim_pair(seed, rng, size=192)
        write_stack(lr_dir / f"{stem}.tif", lr.astype(np.float32), pixel_size=8.0)
        write_stack(hr_dir / f"{stem}.tif", hr.astype(np.float32), pixel_size=2.0)
    stranger_lr, _, _ = shifted_sim_pair(30, rng, size=192)
    _, stranger_hr, _ = shifted_sim_pair(31, rng, size=192)
    write_stack(lr_dir / "mixup.tif", stranger_lr.astype(np.float32), pixel_size=8.0)
    write_stack(hr_dir / "mixup.tif", stranger_hr.astype(np.float32), pixel_size=2.0)
    write_stack(hr_dir / "lonely.tif", stranger_hr.astype(np.float32), pixel_size=2.0)

    code = main(["align", str(lr_dir), str(hr_dir), "-o", str(out), "--quiet"])

    assert code == 0
    assert "2 aligned" in capsys.readouterr().out
    with open(out / "report.csv", newline="") as handle:
        rows = {row["stem"]: row for row in csv.DictReader(handle)}
    assert rows["good1"]["verdict"] == rows["good2"]["verdict"] == "aligned"
    assert rows["mixup"]["verdict"] == "failed" and rows["mixup"]["reason"]
    assert rows["lonely"]["verdict"] == "unpaired" and "no LR file" in rows["lonely"]["reason"]
    assert float(rows["good1"]["ncc_after"]) > float(rows["good1"]["ncc_before"])
    report = json.loads((out / "report.json").read_text())
    assert report["counts"] == {"aligned": 2, "suspicious": 0, "failed": 1, "unpaired": 1,
                                "written": 2}
    # aligned pairs are written with HR exactly 4 × LR and matching pixel sizes
    for stem in ("good1", "good2"):
        lr_out, hr_out = read_stack(out / "lr" / f"{stem}.tif"), read_stack(out / "hr" /
                                                                           f"{stem}.tif")
        assert hr_out.shape[1:] == (SCALE * lr_out.shape[1], SCALE * lr_out.shape[2])
        assert lr_out.pixel_size == pytest.approx(8.0)
        assert hr_out.pixel_size == pytest.approx(2.0)
    # the failed pair is excluded from the output but has an overlay to look at
    assert not (out / "lr" / "mixup.tif").exists()
    for stem in ("good1", "good2", "mixup"):
        picture = imagecodecs.png_decode((out / "overlays" / f"{stem}.png").read_bytes())
        assert picture.ndim == 3 and picture.shape[2] == 3 and picture.shape[1] > 2 * 100
    # a second run does not overwrite the first one unless asked
    assert main(["align", str(lr_dir), str(hr_dir), "-o", str(out), "--quiet"]) == 2
    assert main(["align", str(lr_dir), str(hr_dir), "-o", str(out), "--quiet",
                 "--overwrite"]) == 0


def test_align_folder_reports_unusable_pairs_and_progress_instead_of_stopping(tmp_path):
    from semsr_core.data.align import align_folder
    from semsr_core.io import write_stack

    lr_dir, hr_dir = tmp_path / "lr", tmp_path / "hr"
    lr_dir.mkdir()
    hr_dir.mkdir()
    lr, hr, _ = shifted_sim_pair(40, np.random.default_rng(1), size=128)
    write_stack(lr_dir / "ok.tif", lr.astype(np.float32))
    write_stack(hr_dir / "ok.tif", hr.astype(np.float32))
    write_stack(lr_dir / "blank.tif", np.zeros((32, 32), np.uint8))
    write_stack(hr_dir / "blank.tif", np.zeros((128, 128), np.uint8))
    events = []

    report = align_folder(lr_dir, hr_dir, tmp_path / "out", on_event=events.append)

    rows = {row["stem"]: row for row in report["pairs"]}
    assert rows["ok"]["written"] and rows["ok"]["verdict"] != "failed"
    assert rows["blank"]["verdict"] == "failed" and "constant" in rows["blank"]["reason"]
    progress = [e.data["done"] for e in events if e.kind.value == "progress"]
    assert progress[-1] == 2
    warnings = [e.data["text"] for e in events if e.kind.value == "message"]
    assert any("blank" in text and "constant" in text for text in warnings)


def test_contradictory_thresholds_stop_before_anything_is_written(tmp_path, capsys):
    (tmp_path / "lr").mkdir()
    (tmp_path / "hr").mkdir()
    code = main(["align", str(tmp_path / "lr"), str(tmp_path / "hr"), "-o",
                 str(tmp_path / "out"), "--fail-threshold", "0.9", "--quiet"])
    assert code == 2
    assert "threshold" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_stacks_are_aligned_slice_by_slice_and_slice_counts_must_agree(tmp_path):
    from semsr_core.data.align import align_folder
    from semsr_core.io import write_stack

    rng = np.random.default_rng(2)
    pairs = [shifted_sim_pair(60 + i, rng, size=128) for i in range(2)]
    lr_dir, hr_dir = tmp_path / "lr", tmp_path / "hr"
    lr_dir.mkdir()
    hr_dir.mkdir()
    write_stack(lr_dir / "s.tif", np.stack([p[0] for p in pairs]).astype(np.float32))
    write_stack(hr_dir / "s.tif", np.stack([p[1] for p in pairs]).astype(np.float32))
    write_stack(lr_dir / "odd.tif", np.stack([p[0] for p in pairs]).astype(np.float32))
    write_stack(hr_dir / "odd.tif", pairs[0][1].astype(np.float32))

    report = align_folder(lr_dir, hr_dir, tmp_path / "out")

    rows = {row["stem"]: row for row in report["pairs"]}
    for z, (_, _, shift) in enumerate(pairs):
        row = rows[f"s_z{z:04d}"]
        assert row["written"]
        assert np.hypot(row["shift_y"] - shift[0], row["shift_x"] - shift[1]) < 0.6
    assert rows["odd"]["verdict"] == "failed" and "slices" in rows["odd"]["reason"]


def test_a_cancelled_folder_alignment_stops_without_a_report(tmp_path):
    from semsr_core.data.align import align_folder
    from semsr_core.errors import Cancelled
    from semsr_core.events import CancelToken
    from semsr_core.io import write_stack

    for folder, shape in (("lr", (32, 32)), ("hr", (128, 128))):
        (tmp_path / folder).mkdir()
        write_stack(tmp_path / folder / "a.tif",
                    np.random.default_rng(0).random(shape).astype(np.float32))
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        align_folder(tmp_path / "lr", tmp_path / "hr", tmp_path / "out", cancel=token)
    assert not (tmp_path / "out" / "report.json").exists()


def test_semsr_align_carries_defect_masks_through_the_same_crop(tmp_path, capsys):
    """Masks next to hr/ (drawn on the unaligned HR scans) come out on the aligned HR
    grid: they mark the same defects as the simulator's mask at the found crop."""
    from semsr_core.io import read_stack, write_stack

    margin, size = 32, 224
    sim = simulate_pair(41, size=size + 2 * margin, scale=SCALE, defect_rate=6.0, drift=0.0)
    shift = np.array([7.3, -5.6])
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    coords = [yy + margin - shift[0], xx + margin - shift[1]]
    hr = ndimage.map_coordinates(sim.hr.astype(float), coords, order=3)
    hr_mask = ndimage.map_coordinates((sim.mask > 0).astype(float), coords, order=1) >= 0.5
    m = margin // SCALE
    lr = sim.lr[m:m + size // SCALE, m:m + size // SCALE]
    for sub, image in (("lr", lr), ("hr", hr), ("masks", hr_mask.astype(np.uint8) * 255)):
        (tmp_path / "scans" / sub).mkdir(parents=True)
        write_stack(tmp_path / "scans" / sub / "wafer.tif", np.asarray(image, np.float32)
                    if sub != "masks" else image)
    write_stack(tmp_path / "scans" / "lr" / "bad.tif", lr.astype(np.float32))
    write_stack(tmp_path / "scans" / "hr" / "bad.tif", hr.astype(np.float32))
    write_stack(tmp_path / "scans" / "masks" / "bad.tif", np.ones((10, 10), np.uint8))
    out = tmp_path / "aligned"

    assert main(["align", str(tmp_path / "scans" / "lr"), str(tmp_path / "scans" / "hr"),
                 "-o", str(out), "--quiet"]) == 0

    assert "with 1 defect mask(s)" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    rows = {row["stem"]: row for row in report["pairs"]}
    assert rows["bad"]["verdict"] == "failed" and "bad.tif" in rows["bad"]["reason"]
    assert rows["wafer"]["mask"].endswith("wafer.tif") and report["counts"]["masks"] == 1
    carried = np.asarray(read_stack(out / "masks" / "wafer.tif")[0]) > 0
    hr_out = np.asarray(read_stack(out / "hr" / "wafer.tif")[0])
    assert carried.shape == hr_out.shape
    r0, _, c0, _ = (int(v) for v in rows["wafer"]["lr_crop"].split())
    top, left = SCALE * (m + r0), SCALE * (m + c0)
    expected = sim.mask[top:top + carried.shape[0], left:left + carried.shape[1]] > 0
    assert expected.sum() > 500  # the crop holds defects
    assert (carried & expected).sum() / (carried | expected).sum() > 0.85
