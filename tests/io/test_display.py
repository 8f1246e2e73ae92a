"""The one display stretch (semsr_core.io.display): what previews, overlays and a run's
sample PNGs show."""

from __future__ import annotations

import numpy as np
from skimage.io import imread

from semsr_core.events import Event, Sample
from semsr_core.io.display import stretch, to_uint8, to_uint8_rgb


def test_percentile_stretch_ignores_a_few_hot_pixels():
    image = np.tile(np.linspace(100.0, 200.0, 100), (100, 1))
    image[0, :5] = 60000.0  # hot pixels: 0.05 % of the image
    u8 = to_uint8(image)
    assert u8.dtype == np.uint8 and u8.shape == image.shape
    assert u8[50, 0] == 0 and u8[50, -1] == 255  # the ramp spans black to white
    assert 120 <= u8[50, 50] <= 135


def test_fixed_limits_show_network_units_as_they_are():
    image = np.array([[-0.2, 0.0, 0.5, 1.0, 1.3]])
    assert to_uint8(image, limits=(0.0, 1.0)).tolist() == [[0, 0, 128, 255, 255]]
    rgb = to_uint8_rgb(image, limits=(0.0, 1.0))
    assert rgb.shape == (1, 5, 3) and (rgb[..., 0] == rgb[..., 2]).all()


def test_min_max_stretch_and_a_flat_image():
    assert to_uint8(np.array([[2.0, 3.0, 4.0]]), (0, 100)).tolist() == [[0, 128, 255]]
    assert not to_uint8(np.full((3, 3), 7.0)).any()
    assert stretch(np.full((2, 2), 7.0), (0, 100)).max() == 0.0


def test_a_runs_sample_png_shows_each_panel_stretched_to_its_range(tmp_path):
    from semsr_core.train.run_folder import RunFolder

    folder = RunFolder(tmp_path / "run")
    log = folder.events_log()
    ramp = np.tile(np.linspace(0.2, 0.4, 8), (8, 1))
    log(Event(Sample(step=3, name="a", images={"sr": ramp, "hr": ramp * 2})))
    log.close()
    png = imread(folder.path / "samples" / "step_00000003.png")
    assert png.shape == (8, 16)
    assert png[:, 0].max() == 0 and png[:, 7].min() == 255  # sr panel: 0 … 255
    assert np.array_equal(png[:, :8], png[:, 8:])  # hr panel: its own range, same picture
