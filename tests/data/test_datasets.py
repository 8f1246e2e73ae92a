"""Training datasets: counts, determinism, synthetic-defect geometry, the clean real
stream, aligned crops, previews, and flat memory over a full epoch."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

from semsr_core.data.datasets import (
    CleanHR,
    PairedPatches,
    RotatedTiles,
    SyntheticDefects,
    TrainingPairs,
    ZssrPasted,
    training_dataset,
)
from semsr_core.data.defects import DefectSource, LabDegradation
from semsr_core.data.preview import preview, preview_grid, preview_indices, write_png
from semsr_core.errors import ConfigError, InputError

SCALE = 4


def _area(hr: np.ndarray) -> np.ndarray:
    h, w = hr.shape
    return hr.reshape(h // SCALE, SCALE, w // SCALE, SCALE).mean(axis=(1, 3))


def _pairs(rng, n=2, lr_shape=(150, 200), low=0.0, high=1.0) -> TrainingPairs:
    arrays = []
    for _ in range(n):
        hr = rng.uniform(low, high, (lr_shape[0] * SCALE, lr_shape[1] * SCALE))
        hr = ndi.gaussian_filter(hr, 2.0).astype(np.float32)
        arrays.append((_area(hr), hr))
    return TrainingPairs.from_arrays(arrays, scale=SCALE, mapped=True)


@pytest.fixture(scope="module")
def bright_source() -> DefectSource:
    return DefectSource.from_images([np.ones((200, 200), dtype=np.float32)], name="ones")


def _defects(pairs, source, **kw) -> SyntheticDefects:
    options = {"alpha": 64, "beta": 8, "degradation": LabDegradation("area", SCALE)}
    options.update(kw)
    return SyntheticDefects(pairs, source=source, **options)


def test_sample_count_is_n_times_tiles_times_beta(rng, bright_source):
    pairs = _pairs(rng, n=3, lr_shape=(150, 200))  # ⌊150/64⌋·⌊200/64⌋ = 2·3 tiles
    assert len(_defects(pairs, bright_source, beta=5)) == 3 * 2 * 3 * 5
    assert len(SyntheticDefects(pairs, source=bright_source)) == 3 * 2 * 3 * 128
    assert len(RotatedTiles(pairs)) == 3 * 2 * 3 * 16
    assert len(CleanHR(pairs, copies=7)) == 3 * 2 * 3 * 7


def test_samples_are_float32_tensors_of_lr_and_scale_times_hr(rng, bright_source):
    item = _defects(_pairs(rng, n=1), bright_source)[3]
    assert set(item) == {"lr", "hr", "mask"}
    assert item["lr"].shape == (1, 64, 64) and item["lr"].dtype == torch.float32
    assert item["hr"].shape == (1, 256, 256) and item["mask"].shape == (1, 256, 256)


def test_copy_i_is_turned_by_pi_i_over_beta(bright_source):
    """A scene with one bright horizontal line through the tile centre: in copy i the
    line runs at π·i/β (counter-clockwise as displayed)."""
    beta = 8
    hr = np.zeros((128 * SCALE, 128 * SCALE), dtype=np.float32)
    hr[64 * SCALE - 3:64 * SCALE + 3, :] = 1.0  # rows of the tile centre of tile (32, 32)
    pairs = TrainingPairs.from_arrays([(_area(hr)[32:96, 32:96],
                                        hr[128:384, 128:384])], scale=SCALE, mapped=True)
    dark = DefectSource.from_images([np.zeros((200, 200), dtype=np.float32)])
    dataset = _defects(pairs, dark, beta=beta, size_range=(4, 6))
    for i in range(beta):
        assert dataset.angle(i) == pytest.approx(math.pi * i / beta)
        tile = dataset[i]["hr"][0].numpy()
        rows, cols = np.nonzero(tile > 0.5)
        cov = np.cov(np.stack([rows, cols]).astype(float))
        _, evecs = np.linalg.eigh(cov)
        d_row, d_col = evecs[:, -1]
        angle = math.atan2(-d_row, d_col) % math.pi  # display y points down
        expected = math.pi * i / beta
        diff = abs((angle - expected + math.pi / 2) % math.pi - math.pi / 2)
        assert diff < math.radians(1.5), (i, math.degrees(angle))


def test_defect_copies_equal_the_clean_rotated_tile_outside_the_patch(rng, bright_source):
    pairs = _pairs(rng, n=1, lr_shape=(128, 128), high=0.5)
    dataset = _defects(pairs, bright_source, beta=16)
    clean = dataset.real_stream()
    for index in (0, 3, 8, 13, 37):
        item = dataset[index]
        mask = item["mask"][0].numpy() > 0
        assert mask.any()
        far = ~ndi.binary_dilation(mask, iterations=12)  # beyond the spline's reach
        np.testing.assert_allclose(item["hr"][0].numpy()[far],
                                   clean[index]["hr"][0].numpy()[far], atol=1e-5)
        assert item["hr"][0].numpy()[mask].max() > 0.9  # the bright patch is there


def test_real_stream_is_clean_hr_only(rng, bright_source):
    """Training images are in [0, 0.5] and every patch is 1.0: the real stream never
    shows a value above 0.5, while the defect stream does."""
    pairs = _pairs(rng, n=1, lr_shape=(128, 128), high=0.5)
    dataset = _defects(pairs, bright_source, beta=6)
    real = dataset.real_stream()
    assert len(real) == len(dataset)
    assert set(real[0]) == {"hr"}
    assert max(float(real[i]["hr"].max()) for i in range(len(real))) <= 0.5
    assert min(float(dataset[i]["hr"].max()) for i in range(len(dataset))) > 0.9
    image, top, left, copy = real.locate(0)
    assert copy == 0  # copy 0 is not turned: the very HR tile
    np.testing.assert_array_equal(real[0]["hr"][0].numpy(),
                                  pairs.hr[image][top * SCALE:(top + 64) * SCALE,
                                                  left * SCALE:(left + 64) * SCALE])


def test_samples_are_deterministic_per_seed_epoch_and_index(rng, bright_source):
    pairs = _pairs(rng, n=2, lr_shape=(128, 128))
    first = _defects(pairs, DefectSource.default(), seed=5)
    forward = [first[i]["hr"] for i in range(6)]
    second = pickle.loads(pickle.dumps(first))  # as a DataLoader worker gets it
    backward = [second[i]["hr"] for i in reversed(range(6))][::-1]
    for a, b in zip(forward, backward, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    first.set_epoch(1)
    assert not torch.equal(first[2]["hr"], forward[2])  # new defects each epoch
    first.set_epoch(0)
    torch.testing.assert_close(first[2]["hr"], forward[2], rtol=0, atol=0)
    other_seed = _defects(pairs, DefectSource.default(), seed=6)
    assert not torch.equal(other_seed[2]["hr"], forward[2])


def test_dataloader_workers_make_the_same_samples(rng, bright_source):
    from torch.utils.data import DataLoader, Subset

    dataset = _defects(_pairs(rng, n=1, lr_shape=(128, 128)), bright_source, beta=4)
    subset = Subset(dataset, range(8))
    direct = torch.stack([dataset[i]["lr"] for i in range(8)])
    loaded = torch.cat([b["lr"] for b in DataLoader(subset, batch_size=3, num_workers=2)])
    torch.testing.assert_close(loaded, direct, rtol=0, atol=0)


@pytest.mark.parametrize("geometric", ["none", "rot90flip"])
def test_paired_patches_take_hr_at_scale_times_the_lr_position(rng, geometric):
    pairs = _pairs(rng, n=2, lr_shape=(60, 80))
    dataset = PairedPatches(pairs, patch=16, samples_per_image=10, geometric=geometric)
    assert len(dataset) == 20
    positions = set()
    for index in range(len(dataset)):
        item = dataset[index]
        lr, hr = item["lr"][0].numpy(), item["hr"][0].numpy()
        assert lr.shape == (16, 16) and hr.shape == (64, 64)
        np.testing.assert_allclose(lr, _area(hr), atol=1e-6)
        image, top, left = dataset.locate(index)
        assert image == index // 10
        positions.add((image, top, left))
        if geometric == "none":
            np.testing.assert_array_equal(lr, pairs.lr[image][top:top + 16, left:left + 16])
            np.testing.assert_array_equal(
                hr, pairs.hr[image][top * SCALE:(top + 16) * SCALE,
                                    left * SCALE:(left + 16) * SCALE])
    assert len(positions) > 15  # random places


def test_stretch_shear_patches_change_the_geometry(rng):
    pairs = _pairs(rng, n=1, lr_shape=(80, 80))
    plain = PairedPatches(pairs, patch=16, geometric="none", seed=2)
    warped = PairedPatches(pairs, patch=16, geometric="stretch_shear", seed=2)
    assert plain.locate(0) == warped.locate(0)  # same crop place, then warped
    assert not np.allclose(plain[0]["hr"].numpy(), warped[0]["hr"].numpy(), atol=1e-3)


def test_zssr_pasting_keeps_the_original_and_pastes_into_the_copies(rng, bright_source):
    pairs = _pairs(rng, n=2, lr_shape=(40, 40), high=0.5)
    dataset = ZssrPasted(pairs, source=bright_source, degradation="area", n1=3, n2=2,
                         sizes=(4, 6))
    assert len(dataset) == 2 * 3
    original = dataset[3]  # image 1, copy 0
    np.testing.assert_array_equal(original["hr"][0].numpy(), pairs.hr[1])
    assert not original["mask"].any()
    for index in (1, 2, 4, 5):
        item = dataset[index]
        mask = item["mask"][0].numpy() > 0
        assert mask.any()
        assert (item["hr"][0].numpy()[mask] == 1.0).all()
        np.testing.assert_array_equal(item["hr"][0].numpy()[~mask],
                                      pairs.hr[index // 3][~mask])


def _annotated_pairs(rng, n=2, lr_shape=(96, 96)) -> TrainingPairs:
    """Pairs whose annotated defects are bright discs (HR 1.0) on a dark background
    (≤ 0.5), so a sample's mask can be checked against its own HR."""
    plain = _pairs(rng, n=n, lr_shape=lr_shape, high=0.5)
    arrays, masks = [], []
    yy, xx = np.mgrid[: plain.hr[0].shape[0], : plain.hr[0].shape[1]]
    for hr in plain.hr:
        mask = np.zeros(hr.shape, dtype=bool)
        for cy, cx in rng.uniform(0, hr.shape[0], (12, 2)):
            mask |= (yy - cy) ** 2 + (xx - cx) ** 2 < 14 ** 2
        hr = np.where(mask, 1.0, hr).astype(np.float32)
        arrays.append((_area(hr), hr))
        masks.append(mask.astype(np.uint8) * 255)  # any nonzero value marks a defect
    masks[0] = None  # the first pair has no annotation
    return TrainingPairs.from_arrays(arrays, scale=SCALE, masks=masks, mapped=True)


@pytest.mark.parametrize("make", [
    lambda p: PairedPatches(p, patch=16, samples_per_image=8, geometric="none"),
    lambda p: PairedPatches(p, patch=16, samples_per_image=8, geometric="rot90flip"),
    lambda p: PairedPatches(p, patch=16, samples_per_image=8, geometric="stretch_shear"),
    lambda p: RotatedTiles(p, alpha=32, n=4),
    lambda p: SyntheticDefects(p, source=DefectSource.from_images(
        [np.ones((200, 200), dtype=np.float32)]), degradation="area", alpha=32, beta=4),
    lambda p: ZssrPasted(p, source=DefectSource.from_images(
        [np.ones((200, 200), dtype=np.float32)]), degradation="area", n1=2, n2=1,
        patch=24),
], ids=["none", "rot90flip", "stretch_shear", "rot16", "defects", "zssr_paste"])
def test_annotated_defect_masks_follow_the_hr_content_through_every_augmentation(rng, make):
    pairs = _annotated_pairs(rng)
    assert pairs.masks[0] is None and pairs.masks[1].dtype == bool
    dataset = make(pairs)
    both = either = 0
    for index in range(len(dataset)):
        item = dataset[index]
        hr, mask = item["hr"][0].numpy(), item["mask"][0].numpy() > 0
        bright = hr > 0.625  # between the background (≤ 0.5) and the defects (1)
        image = index // 2 if isinstance(dataset, ZssrPasted) else dataset.locate(index)[0]
        if image == 0:  # no annotation: only pasted content (bright) may be masked
            if mask.any():
                assert (hr[mask] > 0.625).mean() > 0.9
            continue
        # pasted content (value 1) is masked too: mask and bright pixels coincide
        both += int((bright & mask).sum())
        either += int((bright | mask).sum())
    assert either > 0
    assert both / either > 0.9  # intersection over union, pooled over the samples


def test_a_mask_not_of_the_hr_size_is_refused_naming_the_pair(rng):
    with pytest.raises(InputError, match="scan3.*mask"):
        TrainingPairs.from_arrays([(rng.random((8, 8)), rng.random((32, 32)))], scale=4,
                                  names=["scan3"], masks=[np.ones((8, 8))])


def test_pairs_that_are_not_scale_times_larger_are_refused(rng):
    with pytest.raises(InputError, match="scan7"):
        TrainingPairs.from_arrays([(rng.random((30, 30)), rng.random((100, 120)))],
                                  scale=4, names=["scan7"])
    with pytest.raises(InputError, match="scan8.*NaN"):
        TrainingPairs.from_arrays([(np.full((8, 8), np.nan), np.ones((32, 32)))], scale=4,
                                  names=["scan8"])


def test_float_pairs_in_any_units_are_mapped_by_the_intensity_policy(rng):
    """Detector counts (339 … 1343) train like the same image in [0, 1]."""
    hr = ndi.gaussian_filter(rng.random((64, 64)), 2.0)
    counts = (339 + 1004 * (hr - hr.min()) / np.ptp(hr)).astype(np.float32)
    pairs = TrainingPairs.from_arrays([(_area(counts), counts)], scale=4)
    assert pairs.hr[0].dtype == np.float32
    assert np.percentile(pairs.hr[0], 0.1) == pytest.approx(0.0, abs=1e-3)
    assert np.percentile(pairs.hr[0], 99.9) == pytest.approx(1.0, abs=1e-3)


def test_tiles_larger_than_every_image_are_a_config_error(rng, bright_source):
    with pytest.raises(ConfigError, match="alpha"):
        SyntheticDefects(_pairs(rng, n=1, lr_shape=(40, 40)), source=bright_source)


def test_augmentations_are_chosen_by_name_and_unknown_options_are_named(rng, bright_source):
    pairs = _pairs(rng, n=1, lr_shape=(64, 64))
    assert isinstance(training_dataset("defects", pairs, source=bright_source, beta=2),
                      SyntheticDefects)
    assert isinstance(training_dataset("rot16", pairs), RotatedTiles)
    assert training_dataset("stretch_shear", pairs).geometric == "stretch_shear"
    with pytest.raises(ConfigError, match="betta"):
        training_dataset("defects", pairs, betta=3)
    with pytest.raises(ConfigError, match="sparkle"):
        training_dataset("sparkle", pairs)


def test_preview_shows_what_training_gets(rng, bright_source, tmp_path):
    pairs = _pairs(rng, n=2, lr_shape=(128, 128), high=0.5)
    samples = preview("defects", pairs, n=4, seed=3, source=bright_source, beta=8,
                      degradation="area")
    dataset = training_dataset("defects", pairs, seed=3, source=bright_source, beta=8,
                               degradation="area")
    assert len(samples) == 4
    for index, (lr, hr, mask) in zip(preview_indices(len(dataset), 4, 3), samples, strict=True):
        assert lr.shape == (64, 64) and hr.shape == (256, 256) and mask.any()
        item = dataset[int(index)]  # each preview sample is that training sample
        np.testing.assert_array_equal(item["hr"][0].numpy(), hr)
        np.testing.assert_array_equal(item["lr"][0].numpy(), lr)
        np.testing.assert_array_equal(item["mask"][0].numpy() > 0, mask)
    grid = preview_grid(samples)
    assert grid.dtype == np.uint8 and grid.shape[2] == 3
    red = (grid[..., 0] == 255) & (grid[..., 1] == 40)
    assert red.any()  # the outline of the pasted patches is drawn
    out = write_png(grid, tmp_path / "grid.png")
    import imageio.v3 as iio

    np.testing.assert_array_equal(iio.imread(out), grid)


@pytest.mark.slow
def test_a_full_epoch_of_en1_defects_keeps_memory_flat():
    """20 simulated pairs of 240×240 LR (960×960 HR): a full epoch of the en1_defects
    set (20·3·3·128 = 23,040 samples) is iterated while the resident memory is sampled."""
    import psutil

    from semsr_core.data.simulate import simulate_pair

    sims = [simulate_pair(seed, size=960, scale=SCALE) for seed in range(20)]
    pairs = TrainingPairs.from_arrays([(p.lr, p.hr) for p in sims], scale=SCALE)
    del sims
    dataset = SyntheticDefects(pairs, degradation="sem-noise", seed=0)
    assert len(dataset) == 20 * 3 * 3 * 128
    process = psutil.Process()
    checksum = 0.0
    for i in range(200):  # warm up allocator and caches
        checksum += float(dataset[i]["lr"][0, 0, 0])
    rss = []
    for i in range(len(dataset)):
        item = dataset[i]
        checksum += float(item["lr"][0, 0, 0])
        if i % 1000 == 0:
            rss.append(process.memory_info().rss)
    growth_mb = (max(rss) - rss[0]) / 2**20
    print(f"RSS start {rss[0] / 2**20:.0f} MB, max {max(rss) / 2**20:.0f} MB, "
          f"growth {growth_mb:.1f} MB over {len(dataset)} samples")
    assert growth_mb < 50
    assert dataset[1234]["hr"].equal(dataset[1234]["hr"])


def test_augment_preview_command_writes_the_grid(tmp_path, rng):
    import imageio.v3 as iio
    import tifffile

    from semsr_core.cli import main

    for sub in ("lr", "hr"):
        (tmp_path / "data" / sub).mkdir(parents=True)
    for stem in ("scan1", "scan2"):
        hr = ndi.gaussian_filter(rng.random((256, 256)), 2.0)
        hr = (hr - hr.min()) / (hr.max() - hr.min())
        tifffile.imwrite(tmp_path / "data" / "hr" / f"{stem}.tif",
                         (hr * 65535).astype(np.uint16))
        tifffile.imwrite(tmp_path / "data" / "lr" / f"{stem}.tif",
                         (_area(hr) * 65535).astype(np.uint16))
    out = tmp_path / "grid.png"
    code = main(["augment-preview", "defects", "--data", str(tmp_path / "data"), "-o",
                 str(out), "-n", "3", "--degradation", "area"])
    assert code == 0
    grid = iio.imread(out)
    assert grid.shape == (3 * 256 + 2 * 4, 3 * 256 + 2 * 4, 3)
    assert main(["augment-preview", "defects", "--data", str(tmp_path / "nowhere"), "-o",
                 str(out)]) == 2
