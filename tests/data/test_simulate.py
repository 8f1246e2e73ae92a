"""The SEM simulator: reproducible, aligned LR/HR pairs whose masks mark every defect."""

from __future__ import annotations

import json

import numpy as np
import pytest
from skimage.registration import phase_cross_correlation

from semsr_core.cli import main
from semsr_core.data.degrade import area
from semsr_core.data.sem_defects import DEFECT_LABELS, MASK_TOLERANCE
from semsr_core.data.sem_imaging import Contrast, SceneFields, render
from semsr_core.data.sem_layouts import LAYOUTS, disc, grid
from semsr_core.data.simulate import simulate_dataset, simulate_pair
from semsr_core.errors import Cancelled, ConfigError, OutputError
from semsr_core.events import CancelToken, EventKind
from semsr_core.io import read_stack
from semsr_core.resources import resource_path


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


# ------------------------------------------------------------------ one pair


@pytest.mark.parametrize("layout", LAYOUTS)
def test_same_seed_gives_bit_identical_pairs_and_another_seed_differs(layout):
    a = simulate_pair(7, size=128, layout=layout, defect_rate=3)
    b = simulate_pair(7, size=128, layout=layout, defect_rate=3)
    c = simulate_pair(8, size=128, layout=layout, defect_rate=3)
    for name in ("hr", "lr", "mask", "clean_hr", "ideal_hr", "ideal_lr"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.defects == b.defects
    assert not np.array_equal(a.hr, c.hr)
    assert not np.array_equal(a.lr, c.lr)


@pytest.mark.parametrize("scale", [2, 4])
def test_lr_is_exactly_hr_over_scale_with_matching_pixel_sizes(scale):
    pair = simulate_pair(1, size=96, scale=scale, pixel_size=1.5)
    assert pair.hr.shape == pair.mask.shape == pair.clean_hr.shape == (96, 96)
    assert pair.lr.shape == pair.ideal_lr.shape == (96 // scale, 96 // scale)
    assert pair.hr.dtype == pair.lr.dtype == np.float32
    assert pair.mask.dtype == np.uint8
    assert 0.0 <= pair.hr.min() and pair.hr.max() <= 1.0
    assert pair.hr_pixel_size == 1.5 and pair.lr_pixel_size == 1.5 * scale


@pytest.mark.parametrize("degradation", ["sem-noise", "bicubic", "area"])
@pytest.mark.parametrize("scale", [2, 4])
def test_noise_free_lr_is_the_block_averaged_hr_geometry(degradation, scale):
    pair = simulate_pair(3, size=192, scale=scale, degradation=degradation)
    assert ncc(area(pair.ideal_hr, scale), pair.ideal_lr) > 0.95


@pytest.mark.parametrize("degradation", ["sem-noise", "bicubic", "crappify", "area"])
def test_lr_and_hr_scans_are_aligned_to_a_fraction_of_an_lr_pixel(degradation):
    pair = simulate_pair(4, size=256, scale=4, layout="hexmesh", degradation=degradation)
    shift, _, _ = phase_cross_correlation(area(pair.hr, 4), pair.lr, upsample_factor=20)
    assert np.abs(shift).max() <= 0.25


def test_hr_scan_is_mildly_noisy_and_the_fast_lr_scan_is_noisier():
    pair = simulate_pair(5, size=256, scale=4, layout="vias")
    hr_noise = float((pair.hr - pair.ideal_hr).std())
    lr_noise = float((pair.lr - pair.ideal_lr).std())
    assert 0.005 < hr_noise < 0.06
    assert lr_noise > 1.5 * hr_noise


def test_lower_lr_dose_gives_a_noisier_lr_of_the_same_scene():
    bright = simulate_pair(6, size=128, layout="lines", lr_dose=200)
    dim = simulate_pair(6, size=128, layout="lines", lr_dose=10)
    assert np.array_equal(bright.ideal_lr, dim.ideal_lr)
    assert (dim.lr - dim.ideal_lr).std() > 2 * (bright.lr - bright.ideal_lr).std()


def test_style_gap_changes_lr_contrast_but_keeps_its_structure():
    same = simulate_pair(9, size=128, layout="hexmesh")
    gap = simulate_pair(9, size=128, layout="hexmesh", style_gap=True)
    reference = area(gap.ideal_hr, 4)
    assert np.allclose(same.ideal_lr, reference, atol=1e-6)
    assert np.abs(gap.ideal_lr - reference).mean() > 0.02
    # a monotone tone curve: ordering of intensities (structure) is kept
    rank = np.argsort(np.argsort(reference.ravel()))
    rank_gap = np.argsort(np.argsort(gap.ideal_lr.ravel()))
    assert np.corrcoef(rank, rank_gap)[0, 1] > 0.99


def test_sem_rendering_has_a_dark_substrate_bright_rims_and_a_duller_inside():
    yy, xx = grid((64, 64))
    sdf = disc(yy, xx, 32.0, 32.0, 15.0)
    contrast = Contrast(substrate=0.1, material=0.3, edge_gain=0.4, rim_inside=2.0,
                        rim_outside=1.0, shadow=0.0, shadow_angle=0.0, grain=0.0,
                        shading=0.0, beam_sigma=0.7, edge_roughness=0.0)
    flat = np.zeros((64, 64), np.float32)
    img = render(sdf, contrast, SceneFields(flat, flat, flat + 1.0))
    rim, centre, substrate = img[32, 32 + 15], img[32, 32], img[2, 2]
    assert rim > centre + 0.2 > substrate + 0.2


# ------------------------------------------------------------------ defects

KIND_LAYOUTS = [("bridge", "hexmesh"), ("bridge", "lines"), ("break", "lines"),
                ("missing", "vias"), ("merged", "hexmesh"), ("particle", "particles"),
                ("particle", "mixed")]


@pytest.mark.parametrize(("kind", "layout"), KIND_LAYOUTS)
def test_each_defect_kind_appears_and_its_mask_marks_exactly_the_changed_pixels(kind, layout):
    pair = simulate_pair(12, size=192, layout=layout, defect_kinds=(kind,), defect_count=2)
    assert pair.defects and all(d.kind == kind for d in pair.defects)
    label = DEFECT_LABELS[kind]
    assert set(np.unique(pair.mask)) == {0, label}
    change = np.abs(pair.ideal_hr - pair.clean_hr)
    assert change[pair.mask > 0].min() > MASK_TOLERANCE
    assert change[pair.mask == 0].max() <= MASK_TOLERANCE
    for defect in pair.defects:  # every defect is visible, inside its own box
        y0, x0, y1, x1 = defect.bbox
        pad = 40
        region = pair.mask[max(y0 - pad, 0):y1 + pad, max(x0 - pad, 0):x1 + pad]
        assert (region == label).sum() >= 15
    # the noisy HR scan shows the defect, not just the noise-free rendering
    assert np.abs(pair.hr - pair.clean_hr)[pair.mask > 0].mean() > 0.05


def test_no_defects_means_an_empty_mask_and_the_clean_scene():
    pair = simulate_pair(13, size=128, defect_rate=0)
    assert pair.defects == []
    assert not pair.mask.any()
    assert np.array_equal(pair.ideal_hr, pair.clean_hr)


def test_merged_contacts_fill_the_gap_between_three_balls():
    pair = simulate_pair(14, size=192, layout="hexmesh", defect_kinds=("merged",),
                         defect_count=1)
    (defect,) = pair.defects
    cy, cx = (round(v) for v in defect.centre)
    # the centre of the three balls is substrate (dark) without the defect, material with it
    assert pair.ideal_hr[cy, cx] > pair.clean_hr[cy, cx] + 0.05
    assert pair.mask[cy, cx] == DEFECT_LABELS["merged"]


@pytest.mark.parametrize(("options", "match"), [
    ({"size": 130, "scale": 4}, "not divisible"),
    ({"layout": "honeycomb"}, "honeycomb"),
    ({"degradation": "jpeg"}, "jpeg"),
    ({"layout": "hexmesh", "defect_kinds": ("break",)}, "break"),
    ({"defect_rate": -1}, "defect_rate"),
])
def test_impossible_options_are_refused_by_name(options, match):
    with pytest.raises(ConfigError, match=match):
        simulate_pair(0, **options)


# ------------------------------------------------------------------ datasets and CLI


def _pixels(folder):
    return {p.relative_to(folder).as_posix(): read_stack(p)[:] for p in
            sorted(folder.rglob("*.tif"))}


def test_cli_writes_matching_pairs_masks_and_stacks_with_pixel_sizes(tmp_path):
    out = tmp_path / "sim"
    rc = main(["simulate", str(out), "--pairs", "3", "--scale", "2", "--size", "64",
               "--seed", "5", "--stack", "--quiet"])
    assert rc == 0
    stems = {p.stem for p in (out / "hr").glob("*.tif")}
    assert stems == {"pair_000", "pair_001", "pair_002"}
    for sub in ("lr", "masks"):
        assert {p.stem for p in (out / sub).glob("*.tif")} == stems
    hr, lr, mask = (read_stack(out / sub / "pair_001.tif") for sub in ("hr", "lr", "masks"))
    assert hr.shape == mask.shape == (1, 64, 64) and lr.shape == (1, 32, 32)
    assert hr.dtype == lr.dtype == np.uint16 and mask.dtype == np.uint8
    assert hr.pixel_size == pytest.approx(2.0) and lr.pixel_size == pytest.approx(4.0)
    assert mask.pixel_size == pytest.approx(2.0) and hr.unit == "nm"
    hr_stack, lr_stack = read_stack(out / "hr_stack.tif"), read_stack(out / "lr_stack.tif")
    assert hr_stack.shape == (3, 64, 64) and lr_stack.shape == (3, 32, 32)
    assert lr_stack.pixel_size == pytest.approx(4.0)
    assert np.array_equal(lr_stack[1], lr[0])
    record = json.loads((out / "simulation.json").read_text())
    assert record["options"]["scale"] == 2 and len(record["pairs"]) == 3
    assert record["pairs"][1]["seed"] == hr.metadata["provenance"]["seed"]


def test_same_command_writes_the_same_pixels(tmp_path):
    args = ["--pairs", "2", "--size", "64", "--scale", "4", "--seed", "11", "--quiet",
            "--layout", "hexmesh", "--defects", "2"]
    assert main(["simulate", str(tmp_path / "a"), *args]) == 0
    assert main(["simulate", str(tmp_path / "b"), *args]) == 0
    a, b = _pixels(tmp_path / "a"), _pixels(tmp_path / "b")
    assert a.keys() == b.keys() and len(a) == 6
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(("args", "words"), [
    (["--scale", "3"], "scale 3"),
    (["--size", "66", "--scale", "4"], "not divisible"),
    (["--pairs", "-2"], "pairs"),
    (["--layout", "honeycomb"], "honeycomb"),
])
def test_cli_bad_options_give_one_line_errors_and_write_nothing(tmp_path, capsys, args, words):
    out = tmp_path / "sim"
    assert main(["simulate", str(out), "--quiet", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err
    assert not out.exists()


def test_existing_dataset_is_never_overwritten(tmp_path):
    simulate_dataset(tmp_path, pairs=1, size=64, scale=2)
    before = (tmp_path / "hr" / "pair_000.tif").read_bytes()
    with pytest.raises(OutputError, match=r"pair_000\.tif"):
        simulate_dataset(tmp_path, pairs=1, size=64, scale=2, seed=1)
    assert (tmp_path / "hr" / "pair_000.tif").read_bytes() == before


def test_progress_is_reported_per_pair_and_cancelling_leaves_no_files(tmp_path):
    events = []
    simulate_dataset(tmp_path / "a", pairs=3, size=64, scale=2, on_event=events.append)
    done = [e.data["done"] for e in events
            if e.kind is EventKind.PROGRESS and e.data["stage"] == "simulating"]
    assert done == [0, 1, 2, 3]  # 0: a progress bar starts when the work does

    token = CancelToken()

    def cancel_after_first(event):
        if event.kind is EventKind.PROGRESS and event.data.get("stage") == "simulating" \
                and event.data["done"] == 1:
            token.cancel()

    with pytest.raises(Cancelled):
        simulate_dataset(tmp_path / "b", pairs=3, size=64, scale=2,
                         on_event=cancel_after_first, cancel=token)
    assert not (tmp_path / "b").exists()  # pair 0 was written, then removed again


# ------------------------------------------------------------------ bundled sample data

PAIRS_COMMAND = ["--pairs", "8", "--size", "256", "--scale", "4", "--seed", "1",
                 "--layout", "mixed", "--defects", "2"]


def _same_simulation(made: np.ndarray, shipped: np.ndarray, name: str) -> bool:
    """Equal up to what last-bit float differences between machines can change.

    A tiny change of a Poisson mean re-synchronises numpy's rejection sampler
    differently, so the noise may differ between platforms while the scene may not:
    masks must agree pixel for pixel (almost), images after averaging out the noise.
    """
    if name.startswith("masks/"):
        return float((made != shipped).mean()) < 0.002
    # two noise draws of one scene: NCC > 0.95 (HR) and > 0.7 (LR); other scenes: ~0
    return ncc(made.astype(np.float64), shipped.astype(np.float64)) > (
        0.9 if name.startswith("hr/") else 0.5)


def test_bundled_training_pairs_are_what_the_documented_command_makes(tmp_path):
    sample = resource_path("sample")
    assert " ".join(PAIRS_COMMAND) in (sample / "README.md").read_text().replace("\\\n    ", "")
    assert main(["simulate", str(tmp_path), *PAIRS_COMMAND, "--quiet"]) == 0
    made, shipped = _pixels(tmp_path), _pixels(sample / "pairs")
    assert made.keys() == shipped.keys() and len(made) == 24
    for name, image in made.items():
        assert _same_simulation(image, shipped[name], name), (
            f"{name} differs: remake resources/sample with the commands in its README")


def test_bundled_sample_stack_is_an_aligned_x4_pair_with_pixel_sizes():
    lr = read_stack(resource_path("sample", "sem_stack_lr.tif"))
    hr = read_stack(resource_path("sample", "sem_stack_hr.tif"))
    assert lr.shape == (4, 128, 128) and hr.shape == (4, 512, 512)
    assert lr.pixel_size == pytest.approx(8.0) and hr.pixel_size == pytest.approx(2.0)
    for k in range(len(lr)):
        assert ncc(area(hr[k] / 65535.0, 4), lr[k] / 65535.0) > 0.7


def test_a_shared_style_gap_gives_every_pair_the_same_look_and_per_pair_gives_each_its_own(
        tmp_path):
    from semsr_core.data.simulate import simulate_dataset
    from semsr_core.errors import ConfigError

    simulate_dataset(tmp_path / "shared", pairs=3, size=64, seed=4, style_gap="shared")
    simulate_dataset(tmp_path / "own", pairs=3, size=64, seed=4, style_gap=True)
    shared = json.loads((tmp_path / "shared" / "simulation.json").read_text())
    own = json.loads((tmp_path / "own" / "simulation.json").read_text())
    looks = [pair["style"] for pair in shared["pairs"]]
    assert looks[0] == looks[1] == looks[2] == shared["options"]["shared_style"]
    assert looks[0] != {"gain": 1.0, "gamma": 1.0, "offset": 0.0}
    own_looks = [pair["style"] for pair in own["pairs"]]
    assert own_looks[0] != own_looks[1]
    assert own["options"]["style_gap"] == "per-pair"
    with pytest.raises(ConfigError, match="style gap"):
        simulate_dataset(tmp_path / "bad", pairs=1, size=64, style_gap="sometimes")
