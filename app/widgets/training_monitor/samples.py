"""The training monitor's validation samples: LR upscaled bicubically, SR and HR of each
validation pair in a row, or their Sobel gradient maps.

:class:`SamplesView` draws the :class:`~semsr_app.run_history.Sample` list of a run (the
arrays of a live run or the PNG grids of a logged one) with a caption saying the step,
and redraws only when the samples changed (:meth:`SamplesView.show`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

NO_SAMPLES = "Validation samples appear after the first validation."


class SamplesView(QWidget):
    """The latest validation samples of a run, one row per pair, with a caption."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.gradient = False
        self.samples: list[Any] = []
        self._drawn: tuple = ()
        self.view = pg.GraphicsLayoutWidget()
        self.view.setMinimumHeight(160)
        self.box = self.view.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.caption = QLabel(NO_SAMPLES)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.view)

    def show_samples(self, samples: list[Any]) -> None:
        """Show ``samples`` (redrawn only when their names or step changed)."""
        self.samples = samples
        drawn = tuple((s.name, s.step) for s in samples)
        if drawn != self._drawn:
            self._drawn = drawn
            self.draw()

    def clear(self) -> None:
        """Forget what is drawn: the next :meth:`show_samples` draws again."""
        self._drawn = ()

    def set_gradient(self, gradient: bool, samples: list[Any] | None = None) -> None:
        """Show gradient maps (``gradient``) or the images themselves (of ``samples``,
        or of the samples shown)."""
        self.gradient = bool(gradient)
        if samples is not None:
            self.samples = samples
        self.draw()

    def draw(self) -> None:
        from semsr_core.errors import SemsrError

        self.box.clear()
        samples = self.samples
        if not samples:
            self.caption.setText(NO_SAMPLES)
            return
        try:
            rows = [sample.panels(self.gradient) for sample in samples]
        except SemsrError as exc:
            self.caption.setText(f"Samples: {exc}")
            return
        gap = 4
        y = 0
        for panels in rows:
            x = 0
            height = max(image.shape[0] for _, image in panels)
            for title, image in panels:
                item = pg.ImageItem(_normalised(image), axisOrder="row-major",
                                    levels=(0.0, 1.0))
                item.setRect(x, y, image.shape[1], image.shape[0])
                self.box.addItem(item)
                label = pg.TextItem(title, color="#ffff00", anchor=(0, 0),
                                    fill=pg.mkBrush(0, 0, 0, 170))
                label.setPos(x + 2, y + 2)
                self.box.addItem(label)
                x += image.shape[1] + gap
            y += height + gap
        self.box.autoRange(padding=0.01)
        names = ", ".join(s.name for s in samples)
        kind = "gradient maps of " if self.gradient else ""
        self.caption.setText(f"Validation samples at step {samples[0].step} "
                             f"({kind}{names}): LR upscaled bicubically, SR, HR")


def _normalised(image: np.ndarray) -> np.ndarray:
    """The image stretched to [0, 1] between its minimum and maximum (as the run log's
    sample PNGs are), so live and reopened samples look the same."""
    image = np.asarray(image, dtype=np.float32)
    low, high = float(np.nanmin(image)), float(np.nanmax(image))
    if high <= low:
        return np.zeros_like(image)
    return (image - low) / (high - low)
