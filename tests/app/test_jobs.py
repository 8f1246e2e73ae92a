"""The panel's work without Qt: layer results and the memory guard."""

from __future__ import annotations

import numpy as np
import pytest

from semsr_app.jobs import LayerSource, SuperResolveSettings, super_resolve_layer
from semsr_core.errors import OutputError

pytestmark = pytest.mark.gui


def test_a_2d_layer_becomes_a_named_placed_sr_layer(tiny_model_path, rng):
    image = rng.integers(0, 255, size=(40, 48), dtype=np.uint8)
    source = LayerSource(name="img", data=image, scale=(3.0, 3.0), translate=(10.0, 20.0),
                         units=("nm", "nm"), metadata={"pixel_size_nm": 3.0})
    data, kwargs, kind = super_resolve_layer(source, tiny_model_path,
                                             SuperResolveSettings(device="cpu"))
    assert kind == "image" and data.shape == (160, 192) and data.dtype == np.uint8
    assert kwargs["name"] == "img [SR ×4]"
    assert kwargs["scale"] == (0.75, 0.75)
    assert kwargs["translate"] == (10.0 - 1.125, 20.0 - 1.125)  # − σ(s−1)/(2s)
    assert kwargs["metadata"]["pixel_size_nm"] == 0.75
    settings = kwargs["metadata"]["provenance"]["settings"]
    assert settings["tile"] == "auto" and settings["device_used"] == "cpu"


def test_a_result_too_big_for_memory_is_refused_before_any_work(tiny_model_path):
    import dask.array as da

    huge = da.zeros((2000, 8192, 8192), dtype=np.uint16, chunks=(1, 8192, 8192))
    source = LayerSource(name="huge stack", data=huge, scale=(1.0, 1.0, 1.0),
                         translate=(0.0, 0.0, 0.0))
    events = []
    with pytest.raises(OutputError, match="huge stack.*Files or folder"):
        super_resolve_layer(source, tiny_model_path, SuperResolveSettings(device="cpu"),
                            on_event=events.append)
    assert events == []  # nothing was read or computed


def test_a_clean_layer_is_enlarged_by_the_clean_variant_and_its_layer_says_so(
        tiny_model_path, tmp_path):
    """The job chooses the variant itself, so that the layer's provenance names the
    model that made it; the panel's setting "off" keeps the model chosen."""
    import torch

    from semsr_core.models import load_model

    torch.manual_seed(5)
    other = load_model(tiny_model_path)  # the same network, other weights
    with torch.no_grad():
        for p in other.generator.parameters():
            p.mul_(1 + 0.2 * torch.randn(p.shape))
    other.card.name = "tiny-clean"
    variant = other.save(tmp_path / "tiny-clean.semsr")
    blind = load_model(tiny_model_path)
    blind.card.training["clean_variant"] = {"model": str(variant), "max_noise_sigma": 0.02}
    y, x = np.mgrid[0:40, 0:48] / 48
    image = np.round((0.3 + 0.4 * np.sin(3 * x) * np.cos(2 * y)) * 255).astype(np.uint8)
    source = LayerSource(name="img", data=image, scale=(3.0, 3.0), translate=(0.0, 0.0))
    data, kwargs, _ = super_resolve_layer(source, blind, SuperResolveSettings(device="cpu"))
    record = kwargs["metadata"]["provenance"]
    assert record["model"]["name"] == "tiny-clean"
    assert record["settings"]["clean_variant"]["used"] is True
    expected, _, _ = super_resolve_layer(source, variant, SuperResolveSettings(device="cpu"))
    np.testing.assert_array_equal(data, expected)
    off, kwargs, _ = super_resolve_layer(source, blind, SuperResolveSettings(
        device="cpu", clean_variant="off"))
    assert kwargs["metadata"]["provenance"]["model"]["name"] == "tiny"
    assert kwargs["metadata"]["provenance"]["settings"]["clean_variant"] == "off"
    assert np.abs(off.astype(int) - data.astype(int)).max() > 0


def test_the_self_ensemble_setting_reaches_the_engine_and_the_layer_says_so(
        tiny_model_path, rng):
    from semsr_core.infer import super_resolve

    image = rng.integers(0, 255, size=(40, 48), dtype=np.uint8)
    source = LayerSource(name="img", data=image, scale=(1.0, 1.0), translate=(0.0, 0.0))
    settings = SuperResolveSettings(device="cpu", self_ensemble=True, consistency="off")
    data, kwargs, _ = super_resolve_layer(source, tiny_model_path, settings)
    assert kwargs["metadata"]["provenance"]["settings"]["self_ensemble"] is True
    engine = super_resolve(image, tiny_model_path, device="cpu", consistency="off",
                           self_ensemble=True)
    np.testing.assert_array_equal(data, engine)
    plain, _, _ = super_resolve_layer(source, tiny_model_path, SuperResolveSettings(
        device="cpu", consistency="off"))
    assert np.abs(plain.astype(int) - data.astype(int)).max() > 0
