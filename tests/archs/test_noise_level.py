"""The noise estimate (one owner for the guard, the noise gate and the noise-level
input): the smaller of the Haar estimate (numpy's median and percentile by another
route) and the patch-PCA estimate (numpy's eigenvalues by another route), per image of a
batch; what each reads on a lattice; and the level RRDBNet's trunk is given."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semsr_core.archs.noise_level import haar_sigma, noise_sigma, pca_sigma
from semsr_core.archs.rrdbnet import NOISE_LEVEL_GAIN, RRDBNet, network_input


def _numpy_reference(image: np.ndarray, block: int = 8) -> float:
    h, w = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    if h < 2 or w < 2:
        return 0.0
    x = image[:h, :w].astype(np.float64)
    detail = np.abs(x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2.0
    bh, bw = detail.shape[0] // block, detail.shape[1] // block
    if bh * bw < 4:
        return float(np.median(detail) / 0.6745)
    cells = detail[: bh * block, : bw * block].reshape(bh, block, bw, block)
    local = np.median(cells.transpose(0, 2, 1, 3).reshape(bh, bw, -1), axis=-1) / 0.6745
    return float(np.percentile(local, 25))


def _numpy_pca(image: np.ndarray, patch: int = 7) -> float:
    """Chen, Zhu & Heng's rule on the 7×7 patches (every one up to 16,384, else a grid
    of them); inf below 196 patches."""
    count = (image.shape[0] - patch + 1) * (image.shape[1] - patch + 1)
    if count < 4 * patch * patch:
        return float("inf")
    step = max(1, int(np.ceil(np.sqrt(count / 16384))))
    windows = np.lib.stride_tricks.sliding_window_view(image.astype(np.float64),
                                                       (patch, patch))[::step, ::step]
    cols = windows.reshape(-1, patch * patch)
    cols = cols - cols.mean(axis=0)
    values = np.clip(np.linalg.eigvalsh(cols.T @ cols / len(cols)), 0, None)
    for m in range(len(values), 0, -1):
        if np.mean(values[:m]) <= np.median(values[:m]) * (1 + 1e-9) + 1e-18:
            return float(np.sqrt(np.mean(values[:m])))
    raise AssertionError("m = 1 always holds")


def _lattice(side: int = 96, period: float = 5.0) -> np.ndarray:
    yy, xx = np.mgrid[:side, :side]
    return 0.5 + 0.3 * np.cos(2 * np.pi * yy / period) * np.cos(2 * np.pi * xx / period)


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (20, 30), (33, 47), (64, 64), (96, 200)])
@pytest.mark.parametrize("sigma", [0.0, 0.02, 0.1])
def test_the_estimate_is_the_smaller_of_numpys_two(shape, sigma):
    rng = np.random.default_rng(sum(shape))
    image = np.linspace(0.2, 0.7, shape[1])[None, :] + sigma * rng.standard_normal(shape)
    tensor = torch.from_numpy(image)
    haar, pca = _numpy_reference(image), _numpy_pca(image)
    assert float(haar_sigma(tensor)) == pytest.approx(haar, abs=1e-12)
    assert float(pca_sigma(tensor)) == pytest.approx(pca, rel=1e-6, abs=1e-9)
    assert float(noise_sigma(tensor)) == pytest.approx(min(haar, pca), rel=1e-6, abs=1e-9)


def test_a_lattice_reads_its_noise_not_its_texture():
    """Texture everywhere: the Haar estimate reads the lattice as noise, the patches'
    covariance does not — clean reads near 0, noisy reads its noise."""
    rng = np.random.default_rng(1)
    clean = _lattice()
    assert float(haar_sigma(torch.from_numpy(clean))) > 0.05  # what it misreads
    assert float(noise_sigma(torch.from_numpy(clean))) < 1e-3
    for sigma in (0.01, 0.05):
        noisy = clean + sigma * rng.standard_normal(clean.shape)
        assert float(noise_sigma(torch.from_numpy(noisy))) == pytest.approx(sigma, rel=0.15)


def test_an_image_with_values_that_are_not_finite_reads_by_the_haar_estimate():
    rng = np.random.default_rng(4)
    batch = np.stack([_lattice(64) + 0.02 * rng.standard_normal((64, 64)) for _ in range(2)])
    batch[0, 3, 3] = np.nan
    found = pca_sigma(torch.from_numpy(batch))
    assert np.isinf(float(found[0])) and float(found[1]) == pytest.approx(0.02, rel=0.15)
    assert float(noise_sigma(torch.from_numpy(batch))[0]) == float(
        haar_sigma(torch.from_numpy(batch[0])))


def test_a_large_image_reads_a_grid_of_its_patches():
    rng = np.random.default_rng(2)
    image = _lattice(400) + 0.03 * rng.standard_normal((400, 400))
    assert float(pca_sigma(torch.from_numpy(image))) == pytest.approx(0.03, rel=0.1)
    assert float(pca_sigma(torch.from_numpy(image.astype(np.float32)))) == pytest.approx(
        float(pca_sigma(torch.from_numpy(image))), rel=1e-4)


def test_a_batch_gives_one_estimate_per_image_near_its_noise():
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.2, 0.8, 128)[None, :].repeat(128, 0)
    batch = np.stack([[ramp + s * rng.standard_normal(ramp.shape)] for s in (0.0, 0.05, 0.1)])
    found = noise_sigma(torch.from_numpy(batch))
    assert found.shape == (3, 1)
    assert float(found[0, 0]) < 1e-6
    assert found[1:, 0].numpy() == pytest.approx([0.05, 0.1], rel=0.15)
    for i in range(3):
        expected = min(_numpy_reference(batch[i, 0]), _numpy_pca(batch[i, 0]))
        assert float(found[i, 0]) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_the_trunk_is_given_the_measured_noise_level_as_one_more_channel():
    torch.manual_seed(0)
    clean = torch.linspace(0.2, 0.8, 40).view(1, 1, 1, 40).expand(1, 1, 40, 40)
    x = torch.cat((clean, clean + 0.08 * torch.randn(1, 1, 40, 40)))
    trunk, source = network_input(x, None, True)
    assert trunk.shape == (2, 2, 40, 40) and torch.equal(trunk[:, :1], x)
    assert torch.equal(source, x)
    level = trunk[:, 1]
    assert float(level[0].abs().max()) < 1e-5
    assert float(level[1].std()) == 0.0  # one number per image
    noisy = x[1, 0].double().numpy()
    assert float(level[1, 0, 0]) == pytest.approx(
        NOISE_LEVEL_GAIN * min(_numpy_reference(noisy), _numpy_pca(noisy)), rel=1e-5)
    # the level changes what the network makes: the same image, two noise readings
    net = RRDBNet(scale=2, features=8, blocks=1, growth=4, noise_input=True).eval()
    with torch.no_grad():
        told_clean = net.conv_last(net.lrelu(net.conv_hr(net.conv_first(
            torch.cat((x[1:], torch.zeros_like(x[1:])), 1)))))
        told_noisy = net.conv_last(net.lrelu(net.conv_hr(net.conv_first(trunk[1:]))))
    assert float((told_clean - told_noisy).abs().max()) > 1e-4


def test_the_guards_estimate_takes_any_numpy_view_and_dtype():
    from semsr_core.infer.consistency import noise_sigma as guard_sigma

    rng = np.random.default_rng(5)
    image = (0.5 + 0.05 * rng.standard_normal((64, 48))).astype(np.float32)

    def expected_of(view: np.ndarray) -> float:
        return min(_numpy_reference(view), _numpy_pca(view.astype(np.float64)))

    expected = expected_of(image)
    for view in (image, image[::-1], image[:, ::-2], image.T, image.astype(np.float16)):
        assert guard_sigma(view) == pytest.approx(expected_of(view), abs=1e-6)
    assert guard_sigma(image[::-1]) == pytest.approx(expected, rel=0.2)
