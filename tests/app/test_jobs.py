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
