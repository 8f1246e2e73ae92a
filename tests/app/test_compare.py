"""The Compare and Export panels: grid view, gradient maps, line profile, metrics, export."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import tifffile

from semsr_app.comparison import (
    REFERENCE_HR,
    PlaneExtent,
    extent_mismatch,
    guess_roles,
    profile_points,
)
from semsr_app.jobs import LayerSource, SuperResolveSettings, super_resolve_layer
from semsr_app.layers import sr_scale_translate
from semsr_app.reader import read_sem
from semsr_app.widgets.compare import ComparePanel
from semsr_app.widgets.export import ExportPanel
from semsr_core.data.resample import upscale
from semsr_core.io import read_stack
from semsr_core.io.intensity import choose_mapping
from semsr_core.metrics.full_reference import psnr, ssim
from semsr_core.metrics.no_reference import gradient_map
from semsr_core.resources import resource_path

from .conftest import needs_display

pytestmark = [pytest.mark.gui, needs_display]

LR_NAME, HR_NAME = "sem_stack_lr", "sem_stack_hr"
SR_NAME = "sem_stack_lr [SR ×4]"


@pytest.fixture(scope="module")
def sample_sr(tmp_path_factory):
    """The bundled LR stack super-resolved by the Super-resolve panel's job (tiny model)."""
    import torch

    from semsr_core.models import Model

    torch.manual_seed(4)
    model = Model.create("rrdbnet", scale=4, blocks=1, features=8, growth=4, name="tiny")
    [(lr, kwargs, _)] = read_sem(str(resource_path("sample", "sem_stack_lr.tif")))
    source = LayerSource(name=kwargs["name"], data=lr, scale=kwargs["scale"],
                         translate=(0.0, 0.0, 0.0), units=kwargs["units"],
                         metadata=kwargs["metadata"])
    data, sr_kwargs, _ = super_resolve_layer(source, model, SuperResolveSettings(device="cpu"))
    return data, sr_kwargs


def _sample_panel(make_napari_viewer, sample_sr, qtbot, *, other=False):
    """A viewer with the sample LR, its SR and the HR laid over them, and the panel."""
    viewer = make_napari_viewer()
    for name in ("sem_stack_lr.tif", "sem_stack_hr.tif"):
        for data, kwargs, _ in read_sem(str(resource_path("sample", name))):
            viewer.add_image(data, **kwargs)
    lr, hr = viewer.layers[LR_NAME], viewer.layers[HR_NAME]
    hr.translate = sr_scale_translate(lr.scale, lr.translate, 4)[1]
    data, kwargs = sample_sr
    viewer.add_image(data, **kwargs)
    if other:
        viewer.add_image(np.zeros((8, 8)), name="other")
    viewer.dims.set_point(0, 0)  # the first slice on screen
    panel = ComparePanel(viewer)
    viewer.window.add_dock_widget(panel, name="Compare")
    _wait(qtbot, panel)
    return viewer, panel


def _wait(qtbot, panel, timeout=20_000):
    qtbot.waitUntil(lambda: not panel.busy, timeout=timeout)


@functools.cache
def _hr_units(z):
    """The HR slice's intensity mapping: the units LR, SR and HR (all uint16 here) share
    on screen, as the engine's policy makes them."""
    return choose_mapping(tifffile.imread(resource_path("sample", "sem_stack_hr.tif"))[z])


def _unit(layer, z):
    return _hr_units(z).to_unit(np.asarray(layer.data[z]))


# ------------------------------------------------------------------ choosing layers


def test_lr_sr_and_hr_are_guessed_from_layer_names():
    names = ["other", "scan_hr", "scan", "scan [SR ×4]", "old [SR ×2]"]
    assert guess_roles(names) == {"LR": "scan", "SR": "scan [SR ×4]", "HR": "scan_hr"}
    assert guess_roles(["a", "b"]) == {"LR": None, "SR": None, "HR": None}


def test_panel_picks_the_sample_layers_and_disables_views_without_sr(
        make_napari_viewer, qtbot, sample_sr):
    viewer, panel = _sample_panel(make_napari_viewer, sample_sr, qtbot)
    assert {role: panel.combos[role].currentText() for role in panel.combos} == {
        "LR": LR_NAME, "SR": SR_NAME, "HR": HR_NAME}
    viewer.layers.remove(SR_NAME)
    assert not panel.side_button.isEnabled()
    assert "SR" in panel.status.text()


# ------------------------------------------------------------------ grid


def test_side_by_side_shows_lr_sr_hr_in_a_linked_1x3_grid_and_overlay_restores(
        make_napari_viewer, qtbot, sample_sr):
    viewer, panel = _sample_panel(make_napari_viewer, sample_sr, qtbot, other=True)
    before = [layer.name for layer in viewer.layers]
    panel.side_button.click()
    grid = viewer.canvas.grid
    assert grid.enabled and tuple(grid.shape) == (1, 3)
    cells = {name: grid.position(viewer.layers.index(name), viewer.layers)
             for name in (LR_NAME, SR_NAME, HR_NAME)}
    assert cells == {LR_NAME: (0, 0), SR_NAME: (0, 1), HR_NAME: (0, 2)}
    assert not viewer.layers["other"].visible
    panel.overlay_button.click()
    assert not grid.enabled
    assert [layer.name for layer in viewer.layers] == before
    assert all(layer.visible for layer in viewer.layers)


def test_bicubic_lr_is_an_added_layer_on_the_sr_grid_in_the_lr_cell(
        make_napari_viewer, qtbot, sample_sr):
    viewer, panel = _sample_panel(make_napari_viewer, sample_sr, qtbot)
    panel.side_button.click()
    panel.bicubic.setChecked(True)
    _wait(qtbot, panel)
    up = viewer.layers[f"{LR_NAME} [bicubic ↑4]"]
    sr = viewer.layers[SR_NAME]
    assert tuple(up.scale) == tuple(sr.scale[-2:]) and tuple(up.translate) == tuple(
        sr.translate[-2:])
    expected = upscale(_unit(viewer.layers[LR_NAME], 0), 4)
    np.testing.assert_allclose(up.data / 65535.0, expected, atol=1 / 65535)
    grid = viewer.canvas.grid
    assert grid.position(viewer.layers.index(up), viewer.layers) == (0, 0)
    assert not viewer.layers[LR_NAME].visible


# ------------------------------------------------------------------ gradient maps


def test_gradient_maps_are_those_of_the_slice_on_screen_and_follow_the_slider(
        make_napari_viewer, qtbot, sample_sr):
    viewer, panel = _sample_panel(make_napari_viewer, sample_sr, qtbot)
    viewer.dims.set_point(0, 2)
    panel.gradients.setChecked(True)
    _wait(qtbot, panel)
    lr, sr, hr = (viewer.layers[n] for n in (LR_NAME, SR_NAME, HR_NAME))
    for role, layer in (("SR", sr), ("HR", hr)):
        gradient = panel.gradient_layer(role)
        assert tuple(gradient.scale) == (2.0, 2.0)
        assert tuple(gradient.translate) == tuple(layer.translate[-2:])
        np.testing.assert_allclose(gradient.data, gradient_map(_unit(layer, 2)))
    lr_gradient = panel.gradient_layer("LR")
    assert tuple(lr_gradient.scale) == (2.0, 2.0)
    np.testing.assert_allclose(lr_gradient.data,
                               gradient_map(upscale(_unit(lr, 2), 4, method="nearest")))
    assert panel.gradient_layer("SR").colormap.name == "magma"
    viewer.dims.set_point(0, 1)
    _wait(qtbot, panel)
    np.testing.assert_allclose(panel.gradient_layer("HR").data, gradient_map(_unit(hr, 1)))
    panel.side_button.click()
    assert tuple(viewer.canvas.grid.shape) == (2, 3)
    assert viewer.canvas.grid.position(viewer.layers.index(panel.gradient_layer("HR")),
                                       viewer.layers) == (1, 2)
    panel.gradients.setChecked(False)
    _wait(qtbot, panel)
    assert not panel.gradient_layer("SR").visible
    assert tuple(viewer.canvas.grid.shape) == (1, 3)


# ------------------------------------------------------------------ profile


def test_profile_across_an_edge_gives_three_curves_in_nm_with_the_edge_in_place(
        make_napari_viewer, qtbot):
    """LR 64×64 at 8 nm with a vertical edge between columns 31 and 32 (x = 252 nm);
    SR and HR at 2 nm laid over it have their edge at the same place."""
    viewer = make_napari_viewer()
    lr = np.full((64, 64), 6000, np.uint16)
    lr[:, 32:] = 50000
    hr = np.repeat(np.repeat(lr, 4, axis=0), 4, axis=1)
    scale, translate = sr_scale_translate((8.0, 8.0), (0.0, 0.0), 4)
    viewer.add_image(lr, name="edge", scale=(8.0, 8.0), units=("nm", "nm"))
    viewer.add_image(hr, name="edge [SR ×4]", scale=scale, translate=translate,
                     units=("nm", "nm"))
    viewer.add_image(hr.copy(), name="edge HR", scale=scale, translate=translate,
                     units=("nm", "nm"))
    panel = ComparePanel(viewer)
    _wait(qtbot, panel)
    profile = panel.start_profile()
    profile.add_lines(np.array([[100.0, 150.0], [100.0, 350.0]]))  # world nm, 200 nm long
    curves = panel.profiles
    assert set(curves) == {"LR", "SR", "HR"}
    for distance, values in curves.values():
        assert distance[0] == 0 and distance[-1] == pytest.approx(200.0)
        assert len(distance) == len(values) == 101  # every 2 nm (the SR/HR pixel)
    distance, values = curves["HR"]
    middle = (6000 + 50000) / 2 / 65535
    assert np.interp(middle, values, distance) == pytest.approx(102.0, abs=1.0)
    _plotted_x, plotted_y = panel.curves["HR"].getData()
    np.testing.assert_allclose(plotted_y, values)
    assert "nm" in panel.plot.getAxis("bottom").labelText
    profile.data = [np.array([[100.0, 200.0], [100.0, 350.0]])]  # move the line's start
    distance, values = panel.profiles["HR"]
    assert distance[-1] == pytest.approx(150.0)
    assert np.interp(middle, values, distance) == pytest.approx(52.0, abs=1.0)


def test_profile_line_is_shown_in_every_cell_and_follows_the_slice(
        make_napari_viewer, qtbot, sample_sr):
    viewer, panel = _sample_panel(make_napari_viewer, sample_sr, qtbot)
    panel.side_button.click()
    profile = panel.start_profile()
    profile.add_lines(np.array([[50.0, 40.0], [300.0, 400.0]]))
    grid = viewer.canvas.grid
    line_cells = {grid.position(i, viewer.layers) for i, layer in enumerate(viewer.layers)
                  if layer.name.startswith("profile") and layer.visible}
    assert line_cells == {(0, 0), (0, 1), (0, 2)}
    for layer in viewer.layers:
        if layer.name.startswith("profile"):
            np.testing.assert_allclose(layer.data[-1], profile.data[-1])
    first = panel.profiles["HR"][1].copy()
    viewer.dims.set_point(0, 3)
    _wait(qtbot, panel)
    hr = viewer.layers[HR_NAME]
    assert not np.allclose(panel.profiles["HR"][1], first)
    centre = np.array([50.0, 40.0]) + 0.5 * np.array([250.0, 360.0])
    y, x = np.rint((centre - np.asarray(hr.translate[-2:])) / 2.0).astype(int)
    distance, values = panel.profiles["HR"]
    middle = np.argmin(np.abs(distance - distance[-1] / 2))
    assert values[middle] == pytest.approx(float(_unit(hr, 3)[y, x]), abs=0.08)


# ------------------------------------------------------------------ metrics


def test_metrics_of_the_aligned_sample_are_psnr_and_ssim_against_hr(
        make_napari_viewer, qtbot, sample_sr):
    viewer, panel = _sample_panel(make_napari_viewer, sample_sr, qtbot)
    lr, sr, hr = (viewer.layers[n] for n in (LR_NAME, SR_NAME, HR_NAME))
    truth, result = _unit(hr, 0), _unit(sr, 0)
    bicubic = upscale(_unit(lr, 0), 4)
    metrics = panel.views.metrics
    assert metrics.full_reference["SR"]["psnr"] == pytest.approx(psnr(truth, result))
    assert metrics.full_reference["SR"]["ssim"] == pytest.approx(ssim(truth, result))
    assert metrics.full_reference["bicubic"]["psnr"] == pytest.approx(psnr(truth, bicubic))
    text = panel.metrics_label.text()
    assert "PSNR" in text and f"{psnr(truth, result):.2f}" in text


def test_reference_hr_mode_shows_no_pixel_metrics_only_no_reference_figures(
        make_napari_viewer, qtbot, sample_sr):
    _viewer, panel = _sample_panel(make_napari_viewer, sample_sr, qtbot)
    panel.reference_hr.setChecked(True)
    _wait(qtbot, panel)
    metrics = panel.views.metrics
    assert metrics.mode == REFERENCE_HR and not metrics.full_reference
    assert set(metrics.gradient) == {"bicubic", "SR", "HR"}
    assert metrics.spectrum_score is not None
    text = panel.metrics_label.text()
    assert "PSNR" not in text and "no-reference" in text and "Spectrum score" in text


def test_hr_of_another_size_is_taken_as_a_reference_not_aligned(
        make_napari_viewer, qtbot, sample_sr):
    viewer, panel = _sample_panel(make_napari_viewer, sample_sr, qtbot)
    hr = viewer.layers[HR_NAME]
    viewer.add_image(np.asarray(hr.data[:, 20:400, 10:300]), name="similar HR",
                     scale=hr.scale, units=hr.units)
    panel.choose(LR_NAME, SR_NAME, "similar HR")
    _wait(qtbot, panel)
    assert panel.views.metrics.mode == REFERENCE_HR
    assert "PSNR" not in panel.metrics_label.text()
    assert "380 × 290" in panel.metrics_label.text()


def test_hr_opened_without_its_pixel_size_is_not_reported_as_aligned(
        make_napari_viewer, qtbot, sample_sr):
    """napari's builtin reader gives HR 1 pixel per pixel: same pixel count as SR, but
    not SR's physical area, so the pair is not aligned."""
    viewer, panel = _sample_panel(make_napari_viewer, sample_sr, qtbot)
    viewer.add_image(np.asarray(viewer.layers[HR_NAME].data), name="HR builtins")
    panel.choose(LR_NAME, SR_NAME, "HR builtins")
    _wait(qtbot, panel)
    assert panel.views.metrics.mode == REFERENCE_HR and not panel.views.metrics.full_reference
    text = panel.metrics_label.text()
    assert "aligned with SR" not in text and "PSNR" not in text
    assert "pixel units" in text and "semsr's reader" in text


def test_extents_that_differ_by_more_than_a_pixel_are_a_mismatch():
    sr = PlaneExtent.of((512, 512), (2.0, 2.0), ["nanometer"])
    assert extent_mismatch(sr, PlaneExtent.of((512, 512), (2.0, 2.0), ["nanometer"])) == ""
    assert extent_mismatch(sr, PlaneExtent.of((512, 512), (2.001, 2.0), ["nanometer"])) == ""
    assert "HR covers 1536 × 1536 nm but SR 1024 × 1024 nm" in extent_mismatch(
        sr, PlaneExtent.of((512, 512), (3.0, 3.0), ["nanometer"]))
    assert "HR is in pixel units" in extent_mismatch(sr, PlaneExtent.of((512, 512), (1, 1)))


# ------------------------------------------------------------------ export


def _export_panel(viewer, *names):
    panel = ExportPanel(viewer)
    viewer.window.add_dock_widget(panel, name="Export")
    viewer.layers.selection = {viewer.layers[n] for n in names}
    return panel


def test_export_writes_the_selected_layers_as_ome_tiff_with_pixel_size_and_provenance(
        make_napari_viewer, qtbot, sample_sr, tmp_path, notifications):
    viewer, _compare = _sample_panel(make_napari_viewer, sample_sr, qtbot)
    panel = _export_panel(viewer, SR_NAME, HR_NAME)
    panel.export_to(tmp_path / "out")
    qtbot.waitUntil(lambda: panel.worker is None, timeout=20_000)
    names = sorted(p.split("/")[-1] for p in panel.written)
    assert names == ["sem_stack_hr.ome.tif", "sem_stack_lr [SR ×4].ome.tif"]
    with read_stack(tmp_path / "out" / "sem_stack_lr [SR ×4].ome.tif") as stack:
        assert stack.pixel_size == pytest.approx(2.0)
        assert stack.shape == (4, 512, 512)
        np.testing.assert_array_equal(stack[1], sample_sr[0][1])
        assert stack.metadata["provenance"]["model"]["name"] == "tiny"
    assert any(s == "info" and "sem_stack_hr.ome.tif" in m for s, m in notifications)
    assert "Wrote 2 file(s)" in panel.status.text()


def test_export_failures_are_notifications_and_write_nothing(
        make_napari_viewer, qtbot, sample_sr, tmp_path, notifications):
    viewer, _compare = _sample_panel(make_napari_viewer, sample_sr, qtbot)
    panel = _export_panel(viewer, HR_NAME)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    for target in (blocker, blocker / "inside"):  # a file; a folder inside a file
        panel.export_to(target)
        qtbot.waitUntil(lambda: panel.worker is None, timeout=20_000)
        assert notifications and notifications[-1][0] == "error"
        assert str(blocker) in notifications[-1][1]
    assert panel.written == [] and blocker.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_folder"]
    (tmp_path / "out").mkdir()
    existing = tmp_path / "out" / "sem_stack_hr.ome.tif"
    existing.write_bytes(b"keep")
    panel.export_to(tmp_path / "out")
    assert notifications[-1][0] == "error" and "Replace existing" in notifications[-1][1]
    assert existing.read_bytes() == b"keep"
    assert panel.save_button.isEnabled()


def test_profile_points_are_spaced_by_the_step_in_world_units():
    distance, points = profile_points((0.0, 0.0), (30.0, 40.0), 2.0)
    assert len(distance) == 26 and distance[-1] == pytest.approx(50.0)
    np.testing.assert_allclose(points[-1], (30.0, 40.0))


def test_a_one_slice_sr_preview_is_compared_on_its_own_slice_only(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    lr = rng.integers(1000, 60000, size=(3, 32, 32), dtype=np.uint16)
    viewer.add_image(lr, name="scan", scale=(1.0, 8.0, 8.0), units=("pixel", "nm", "nm"))
    scale, translate = sr_scale_translate((1.0, 8.0, 8.0), (0.0, 0.0, 0.0), 4)
    sr = np.repeat(np.repeat(lr[2:3], 4, axis=1), 4, axis=2)
    viewer.add_image(sr, name="scan [SR ×4]", scale=scale,
                     translate=(2.0, *translate[1:]), units=("pixel", "nm", "nm"))
    viewer.dims.set_point(0, 2)
    panel = ComparePanel(viewer)
    _wait(qtbot, panel)
    assert panel.views is not None and panel.views.metrics.mode == "no HR"
    np.testing.assert_array_equal(panel.views.unit["sr"], sr[0] / np.float32(65535))
    viewer.dims.set_point(0, 0)
    _wait(qtbot, panel)
    assert "SR has no slice here" in panel.status.text()


@needs_display
def test_an_sr_layer_added_after_the_panel_opened_is_picked_but_a_users_choice_is_kept(
        make_napari_viewer, sample_sr):
    """In `semsr gui` the panel exists before Super-resolve has run: the result it adds
    becomes the SR (not the LR stand-in the panel had to show); a layer the user chose
    stays chosen when layers come and go."""
    viewer = make_napari_viewer()
    for name in ("sem_stack_lr.tif", "sem_stack_hr.tif"):
        for data, kwargs, _ in read_sem(str(resource_path("sample", name))):
            viewer.add_image(data, **kwargs)
    panel = ComparePanel(viewer)
    data, kwargs = sample_sr
    viewer.add_image(data, **kwargs)
    assert panel.combos["SR"].currentText() == kwargs["name"]
    assert panel.combos["LR"].currentText() == LR_NAME

    panel.combos["SR"].setCurrentText(HR_NAME)  # the user's (odd) choice
    viewer.add_image(np.zeros((8, 8)), name="other")
    assert panel.combos["SR"].currentText() == HR_NAME
