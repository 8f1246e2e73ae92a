"""The broad training mix of the bundled models (``benchmarks/train_broad.py``): its
options change the mix, and its defaults make the data the shipped models' commands made."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
train_broad = pytest.importorskip("train_broad")


def _looks(count: int, seed: int = 123) -> list[tuple[str, str, bool]]:
    rng, pool = np.random.default_rng(seed), train_broad._natural_pool()
    looks = []
    for _ in range(count):
        lr, hr, _mask, look = train_broad.broad_pair(rng, 4, pool)
        assert lr.shape == (hr.shape[0] // 4, hr.shape[1] // 4)
        assert 0.0 <= lr.min() and lr.max() <= 1.0
        looks.append((look["content"], look["degradation"], "dose" in look))
    return looks


@pytest.fixture
def mix(monkeypatch):
    """The module's mix, restored after the test."""
    monkeypatch.setattr(train_broad, "NOISE", dict(train_broad.NOISE))
    monkeypatch.setattr(train_broad, "CONTENT", dict(train_broad.CONTENT))
    monkeypatch.setattr(train_broad, "DEGRADATIONS", dict(train_broad.DEGRADATIONS))
    return train_broad


def test_the_default_mix_draws_what_it_drew_before_the_options(mix):
    # recorded with the script of git revision 836d0ad (before --sim-share,
    # --scan-share and --drift-max): the same seed gives the same pairs
    assert _looks(8) == [("texture", "crappify", False), ("natural", "bicubic", False),
                         ("texture", "area", True), ("simulator", "area", False),
                         ("texture", "crappify", False), ("natural", "bicubic", False),
                         ("natural", "bicubic", False), ("natural", "crappify", False)]


def test_the_options_change_the_content_and_the_scans(mix):
    mix.CONTENT.update(simulator=1.0, natural=0.0, texture=0.0)
    mix.NOISE.update(share=1.0, scan_share=1.0, drift_max=0.3)
    looks = _looks(4)
    assert {content for content, _, _ in looks} == {"simulator"}
    assert all(how == "sem-noise" and noisy for _, how, noisy in looks)


def test_the_clean_variant_draws_the_mix_without_noise(mix):
    """default-x4-clean's data: default-x4's generators and seed without noise (the
    same pairs up to the first that default-x4's mix makes noisy: the noise's own draws
    are not made after it); with --degradations only the ones named."""
    blind = _looks(8)
    mix.NOISE.update(share=mix.MODELS["default-x4-clean"]["noise_share"])
    assert mix.MODELS["default-x4-clean"]["seed"] == mix.MODELS["default-x4"]["seed"]
    clean = _looks(8)
    first_noisy = [noisy for _, _, noisy in blind].index(True)
    assert clean[:first_noisy + 1] == [(c, h, False) for c, h, _ in blind[:first_noisy + 1]]
    assert not any(noisy for _, _, noisy in clean)
    mix.DEGRADATIONS.update(area=1.0, bicubic=0.0, crappify=0.0)
    assert {how for _, how, _ in _looks(8)} == {"area"}


def test_a_clean_variant_card_says_the_noise_it_was_trained_with(mix):
    """A clean variant's card says the noise it saw: none by default, or the low noise
    that --noise-share and --dose gave it."""
    clean = mix.MODELS["default-x4-clean"]["description"]

    def card(share: float) -> str:
        args = argparse.Namespace(noise_share=share, dose=(2000.0, 100000.0), read_max=0.008)
        return clean.format(noise=mix._variant_noise(args))

    assert "without noise" in card(0.0)
    low = card(0.6)
    assert "without noise" not in low and "60 %" in low and "2000–100000" in low
