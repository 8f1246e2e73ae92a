"""The Training tab before any run: what a newcomer sees first."""

from __future__ import annotations

import pytest
from qtpy.QtWidgets import QApplication

from semsr_app.widgets.training_monitor import TrainingMonitor

from .conftest import needs_display

pytestmark = [pytest.mark.gui, needs_display]


def _monitor(make_napari_viewer):
    viewer = make_napari_viewer(show=True)
    monitor = TrainingMonitor(viewer)
    viewer.window.add_dock_widget(monitor, name="Training")
    for _ in range(5):
        QApplication.processEvents()
    return monitor


def test_before_any_run_the_progress_bar_says_so_not_step_0_of_1(make_napari_viewer):
    monitor = _monitor(make_napari_viewer)
    assert monitor.progress.text() == "no run yet"


@pytest.mark.parametrize("height", [90, 120, 200])
def test_the_learning_rate_axis_labels_do_not_overlap_on_a_short_plot(make_napari_viewer,
                                                                      height):
    monitor = _monitor(make_napari_viewer)
    plot = monitor.lr_plot
    plot.setFixedHeight(height)
    plot.plot([0, 100, 200], [2e-4, 1.5e-4, 1e-4])
    for _ in range(5):
        QApplication.processEvents()
    axis = plot.getAxis("left")
    low, high = axis.range
    labels = sum(len(values) for _spacing, values in axis.tickValues(low, high, axis.height()))
    line = axis.fontMetrics().height() if hasattr(axis, "fontMetrics") else 14
    assert 1 <= labels and labels * (line + 4) <= axis.height(), (labels, axis.height())
