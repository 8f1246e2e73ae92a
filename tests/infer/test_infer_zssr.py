"""ZSSR: the per-image training that runs at inference time."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semsr_core.errors import Cancelled, ConfigError, InputError
from semsr_core.events import CancelToken, EventKind
from semsr_core.infer import super_resolve
from semsr_core.infer.zssr import (
    ZSSRSettings,
    _loss_is_flat,
    _reconstruction_error,
    train_zssr,
)
from semsr_core.models import Model

FAST = {"crop": 32, "max_iterations": 80, "check_every": 20, "fit_window": 40,
        "min_iterations_per_rate": 20, "record_every": 5, "self_ensemble": False}


@pytest.fixture
def image() -> np.ndarray:
    from skimage import data

    return (data.camera()[200:264, 200:264] / 255.0).astype(np.float32)


def zssr_model(scale: int = 2) -> Model:
    torch.manual_seed(0)
    return Model.create("zssr", scale=scale, features=8, depth=3)


def test_training_on_the_image_lowers_its_reconstruction_error(image):
    model = zssr_model()
    events = []
    trained = train_zssr(image, model.generator, scale=2, device=torch.device("cpu"),
                         settings=ZSSRSettings.from_dict(FAST), on_event=events.append)
    probe = torch.from_numpy(image)[None, None]
    before = _reconstruction_error(model.generator.eval(), probe, 2)
    after = _reconstruction_error(trained, probe, 2)
    assert after < 0.8 * before
    progress = [e.data for e in events if e.kind is EventKind.PROGRESS]
    assert progress[0]["stage"] == "zssr training"
    assert progress[-1]["done"] == progress[-1]["total"] == 80
    assert not trained.training


def test_the_learning_rate_drops_when_the_error_stops_falling():
    steps = list(range(10, 310, 10))
    rng = np.random.default_rng(0)
    falling = [1.0 - 0.002 * s for s in steps]
    flat = [0.1 + 0.001 * rng.standard_normal() for _ in steps]
    settings = ZSSRSettings()
    assert not _loss_is_flat(steps, falling, settings)
    assert _loss_is_flat(steps, flat, settings)


def test_training_stops_at_the_minimum_learning_rate(image):
    """A flat error divides the rate by 10 at every check until it is below the minimum.

    (A rate of 1e-11 cannot change float32 weights, so the error is exactly flat.)"""
    settings = ZSSRSettings.from_dict({**FAST, "max_iterations": 1000, "learning_rate": 1e-11,
                                       "min_learning_rate": 1e-15})
    events = []
    train_zssr(image, zssr_model().generator, scale=2, device=torch.device("cpu"),
               settings=settings, on_event=events.append)
    iterations = [e.data["done"] for e in events if e.kind is EventKind.PROGRESS]
    assert "converged" in events[-1].data["postfix"]
    assert iterations[-2] < 500  # 5 drops, long before the cap of 1000 iterations


def test_super_resolve_with_a_zssr_model_trains_then_enlarges(image):
    events = []
    out = super_resolve((image * 255).astype(np.uint8), zssr_model(), tile=48, overlap=8,
                        zssr_settings={**FAST, "max_iterations": 20, "self_ensemble": True},
                        on_event=events.append)
    assert out.shape == (128, 128) and out.dtype == np.uint8
    stages = {e.data["stage"] for e in events if e.kind is EventKind.PROGRESS}
    assert stages == {"zssr training", "super-resolve"}
    tiles = [e.data for e in events if e.data.get("stage") == "super-resolve"]
    assert tiles[-1]["done"] == tiles[-1]["total"] == 8 * 4  # 8 orientations × 2×2 tiles


def test_cancel_stops_zssr_training(image):
    cancel = CancelToken()

    def on_event(event):
        if event.data.get("done") == 5:
            cancel.cancel()

    with pytest.raises(Cancelled):
        super_resolve((image * 255).astype(np.uint8), zssr_model(), tile=48, overlap=8,
                      zssr_settings=FAST, on_event=on_event, cancel=cancel)


def test_bad_settings_and_tiny_images_are_refused():
    with pytest.raises(ConfigError, match="unknown key 'lr'"):
        ZSSRSettings.from_dict({"lr": 0.1})
    with pytest.raises(ConfigError, match="crop"):
        ZSSRSettings.from_dict({"crop": 0})
    with pytest.raises(InputError, match="at least 8 pixels"):
        train_zssr(np.zeros((5, 40), np.float32), zssr_model(4).generator, scale=4,
                   device=torch.device("cpu"))


def test_sons_as_noisy_as_the_image_teach_it_to_average_noise_out_not_to_paint_it():
    rng = np.random.default_rng(0)
    xx = np.mgrid[0:96, 0:96][1]
    noisy = (0.5 + 0.2 * np.sin(xx / 9.0) + rng.normal(0, 0.05, (96, 96))).astype(np.float32)
    truth = 0.5 + 0.2 * np.sin(np.mgrid[0:192, 0:192][1] / 18.0)
    errors = {}
    for match in (False, True):
        settings = ZSSRSettings(max_iterations=120, crop=48, match_noise=match)
        torch.manual_seed(0)
        model = Model.create("zssr", scale=2)
        net = train_zssr(noisy, model.generator, scale=2, device=torch.device("cpu"),
                         settings=settings)
        with torch.no_grad():
            out = net(torch.from_numpy(noisy)[None, None]).numpy()[0, 0]
        errors[match] = float(np.sqrt(np.mean((out - truth) ** 2)))
    assert errors[True] < 0.75 * errors[False]


def test_an_adaptation_that_does_not_help_on_the_held_out_band_gives_back_the_model(image):
    model = zssr_model()
    events = []
    ruinous = ZSSRSettings(**{**FAST, "max_iterations": 10}, learning_rate=5.0,
                           min_learning_rate=1e-9, holdout=0.25)
    net = train_zssr(image, model.generator, scale=2, device=torch.device("cpu"),
                     settings=ruinous, on_event=events.append)
    for kept, original in zip(net.state_dict().values(),
                              model.generator.state_dict().values(), strict=True):
        assert torch.equal(kept, original)
    warnings = [e.data["text"] for e in events if e.kind is EventKind.MESSAGE]
    assert any("used as it was" in text for text in warnings)
    # a helpful adaptation is kept: the same training at a sane rate changes the weights
    sane = ZSSRSettings(**FAST, holdout=0.25)
    adapted = train_zssr(image, model.generator, scale=2, device=torch.device("cpu"),
                         settings=sane)
    assert any(not torch.equal(a, b) for a, b in zip(
        adapted.state_dict().values(), model.generator.state_dict().values(), strict=True))


def test_the_held_out_share_must_lie_in_0_to_1():
    with pytest.raises(ConfigError, match="holdout"):
        ZSSRSettings.from_dict({"holdout": 1.0})
    assert ZSSRSettings.from_dict({"holdout": 0.2}).holdout == 0.2


def test_a_fine_grating_is_not_adapted_to_but_a_natural_image_is(image):
    from semsr_core.infer.zssr import adaptation_settings, fine_structure_share

    xx = np.mgrid[0:64, 0:64][1]
    grating = (0.5 + 0.4 * np.sin(2 * np.pi * xx / 3.1)).astype(np.float32)
    assert fine_structure_share(grating, 4) > 0.9
    assert fine_structure_share(image, 4) < 0.5
    rng = np.random.default_rng(1)
    noisy = np.clip(image + rng.normal(0, 0.08, image.shape), 0, 1).astype(np.float32)
    assert fine_structure_share(noisy, 4) < 0.75  # noise is not structure
    model = zssr_model(4)
    events = []
    settings = adaptation_settings(2.0)
    kept = train_zssr(grating, model.generator, scale=4, device=torch.device("cpu"),
                      settings=settings, on_event=events.append)
    for a, b in zip(kept.state_dict().values(), model.generator.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    assert any("finer than its ×4 smaller copy" in e.data["text"] for e in events
               if e.kind is EventKind.MESSAGE)
