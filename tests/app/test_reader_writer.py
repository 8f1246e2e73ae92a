"""Opening SEM files in napari and saving layers back to OME-TIFF keep the pixel size."""

from __future__ import annotations

import numpy as np
import pytest

from semsr_app.reader import get_reader, read_sem
from semsr_app.writer import write_image, write_images
from semsr_core.errors import InputError, OutputError
from semsr_core.io import read_stack

from .conftest import needs_display

pytestmark = pytest.mark.gui


def test_reader_gives_16_bit_stack_physical_scale_units_and_data_contrast(sem_tiff):
    path, values = sem_tiff
    reader = get_reader(str(path))
    assert reader is not None
    [(data, kwargs, kind)] = reader(str(path))
    assert kind == "image" and data.shape == (2, 160, 160) and data.dtype == np.uint16
    assert kwargs["scale"] == (1.0, 5.0, 5.0)
    assert kwargs["units"] == ("pixel", "nm", "nm")
    assert kwargs["axis_labels"] == ("z", "y", "x")
    low, high = kwargs["contrast_limits"]
    assert values.min() <= low < 2000 and 7000 < high <= values.max()  # not 0..65535
    assert kwargs["metadata"]["pixel_size_nm"] == 5.0
    assert kwargs["metadata"]["source"] == str(path)
    np.testing.assert_array_equal(np.asarray(data[1]), values[1])  # read lazily, exactly


def test_reader_declines_other_files_and_reports_corrupt_ones(tmp_path):
    assert get_reader(str(tmp_path / "notes.txt")) is None
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00garbage")
    with pytest.raises(InputError, match="broken.tif"):
        read_sem(str(broken))


def test_writer_round_trips_pixel_size_and_provenance(tmp_path, rng):
    data = rng.integers(0, 60000, size=(3, 40, 50), dtype=np.uint16)
    meta = {"name": "scan [SR ×4]", "scale": (1.0, 0.0025, 0.0025),
            "units": ("pixel", "micrometer", "micrometer"),
            "metadata": {"provenance": {"model": {"name": "tiny"}}}}
    [written] = write_image(str(tmp_path / "out.ome.tif"), data, meta)
    with read_stack(written) as stack:
        assert stack.pixel_size == pytest.approx(2.5)  # 0.0025 µm in nm
        np.testing.assert_array_equal(stack[:], data)
        assert stack.metadata["provenance"]["model"] == {"name": "tiny"}
        assert stack.metadata["provenance"]["napari_layer"] == "scan [SR ×4]"


def test_writer_never_overwrites_the_file_a_layer_came_from(sem_tiff):
    path, values = sem_tiff
    [(data, kwargs, _)] = read_sem(str(path))
    with pytest.raises(OutputError):
        write_image(str(path), data, kwargs)
    with read_stack(path) as stack:
        np.testing.assert_array_equal(stack[:], values)


def test_several_layers_are_saved_as_files_in_a_folder(tmp_path, rng):
    a = rng.integers(0, 255, size=(20, 20), dtype=np.uint8)
    b = rng.integers(0, 255, size=(2, 20, 20), dtype=np.uint8)
    layers = [(a, {"name": "a/b", "scale": (4.0, 4.0), "units": ("nm", "nm")}, "image"),
              (b, {"name": "c", "scale": (1.0, 1.0, 1.0), "units": None}, "image")]
    written = write_images(str(tmp_path / "saved"), layers)
    assert [p.split("/")[-1] for p in written] == ["a_b.ome.tif", "c.ome.tif"]
    assert read_stack(written[0]).pixel_size == 4.0
    assert read_stack(written[1]).pixel_size is None


@needs_display
def test_napari_opens_with_semsr_reader_and_saves_with_semsr_writer(
        make_napari_viewer, sem_tiff, tmp_path):
    from semsr_app.launch import ensure_plugin_registered

    ensure_plugin_registered()
    path, values = sem_tiff
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(path), plugin="semsr")
    assert tuple(layer.scale) == (1.0, 5.0, 5.0)
    assert str(layer.units[-1]) == "nanometer"
    out = tmp_path / "saved.ome.tif"
    viewer.layers.save(str(out), selected=True, plugin="semsr")
    with read_stack(out) as stack:
        assert stack.pixel_size == 5.0
        np.testing.assert_array_equal(stack[:], values)


@needs_display
def test_sample_data_overlays_hr_on_lr_in_nanometres(make_napari_viewer):
    from semsr_app.launch import ensure_plugin_registered

    ensure_plugin_registered()
    viewer = make_napari_viewer()
    viewer.open_sample("semsr", "sem_stack")
    lr, hr = viewer.layers
    assert lr.data.shape == (4, 128, 128) and hr.data.shape == (4, 512, 512)
    # the HR pixels 0..3 of a row lie inside LR pixel 0, centred on it
    lr_centre = lr.data_to_world((0, 0, 0))
    hr_centres = np.array([hr.data_to_world((0, 0, k)) for k in range(4)])
    assert hr_centres[:, 2].mean() == pytest.approx(lr_centre[2])
    viewer.open_sample("semsr", "sem_pairs")
    names = [layer.name for layer in viewer.layers]
    assert names[2:] == ["pairs LR", "pairs HR", "pairs defect masks"]
    assert viewer.layers["pairs defect masks"].data.max() > 0
