"""The training monitor's plots: loss curves, validation PSNR/SSIM and learning rates.

:class:`TrainingPlots` draws a :class:`~semsr_app.run_history.RunHistory`: one loss
plot for the generator and one per discriminator (one curve per loss term, optionally
on a log scale), PSNR and SSIM of the model with bicubic upscaling as a dashed
baseline, and the learning rate of each network. Curves only grow, so an unchanged
curve is not repainted (repainting plots docked in napari's window is what costs the
event loop most). The plots' titles carry their legends (:func:`_title_legend`) and
their y axes label no more values than their height fits (:class:`_FittingAxis`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QGridLayout, QHBoxLayout, QSizePolicy, QWidget

COLOURS = ("#4fc3f7", "#ffb74d", "#81c784", "#e57373", "#ba68c8", "#fff176", "#a1887f",
           "#90a4ae")


class TrainingPlots(QWidget):
    """The loss, metric and learning-rate plots of one run (:meth:`draw`, :meth:`clear`)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.log_losses = False
        self.loss_plots: dict[str, pg.PlotWidget] = {}
        self._curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self._lr_curves: dict[str, pg.PlotDataItem] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self._loss_row = QHBoxLayout()
        grid.addLayout(self._loss_row, 0, 0, 1, 2)
        self.psnr_plot = _plot("PSNR", "dB")
        self.ssim_plot = _plot("SSIM", "")
        self.lr_plot = _plot("Learning rate", "")
        self.lr_plot.getAxis("left").enableAutoSIPrefix(False)  # "0.0002", not "x1e-06" cut off
        grid.addWidget(self.psnr_plot, 1, 0)
        grid.addWidget(self.ssim_plot, 1, 1)
        grid.addWidget(self.lr_plot, 2, 0, 1, 2)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)
        grid.setRowStretch(2, 1)
        self.metric_curves = {
            "psnr": self.psnr_plot.plot(name="SR", pen=pg.mkPen(COLOURS[0], width=2),
                                        symbol="o", symbolSize=6, symbolBrush=COLOURS[0]),
            "psnr_bicubic": self.psnr_plot.plot(
                name="bicubic", pen=pg.mkPen(COLOURS[1], width=2, style=Qt.PenStyle.DashLine)),
            "ssim": self.ssim_plot.plot(name="SR", pen=pg.mkPen(COLOURS[0], width=2),
                                        symbol="o", symbolSize=6, symbolBrush=COLOURS[0]),
            "ssim_bicubic": self.ssim_plot.plot(
                name="bicubic", pen=pg.mkPen(COLOURS[1], width=2, style=Qt.PenStyle.DashLine)),
        }
        _title_legend(self.psnr_plot)
        _title_legend(self.ssim_plot)
        self.loss_plot("generator")

    def loss_plot(self, network: str) -> pg.PlotWidget:
        """The loss plot of ``network`` ("generator" or a discriminator's name), added
        when it is first needed."""
        plot = self.loss_plots.get(network)
        if plot is None:
            title = "Generator" if network == "generator" else f"Discriminator {network}"
            plot = _plot(title, "loss", log_axis=True)
            _set_log_y(plot, self.log_losses)
            self.loss_plots[network] = plot
            self._loss_row.addWidget(plot)
        return plot

    def set_log_losses(self, log: bool) -> None:
        """Show the loss plots on a log scale (``log``) or a linear one."""
        self.log_losses = log
        for plot in self.loss_plots.values():
            _set_log_y(plot, log)

    def clear(self) -> None:
        """Remove every curve and every discriminator's plot (another run is shown)."""
        for network, plot in list(self.loss_plots.items()):
            if network != "generator":
                self._loss_row.removeWidget(plot)
                plot.setParent(None)
                plot.deleteLater()
                del self.loss_plots[network]
        self.loss_plots["generator"].clear()
        self._curves.clear()
        for curve in self._lr_curves.values():
            self.lr_plot.removeItem(curve)
        self._lr_curves.clear()
        _title_legend(self.loss_plots["generator"])
        _title_legend(self.lr_plot)
        for item in self.metric_curves.values():
            _update_curve(item, None)

    def draw(self, history: Any) -> None:
        """Draw the curves of ``history`` (a :class:`~semsr_app.run_history.RunHistory`);
        curves seen before only get their new points."""
        for network, terms in history.losses.items():
            plot = self.loss_plot(network)
            for term, curve in terms.items():
                item = self._curves.get((network, term))
                if item is None:
                    colour = COLOURS[len([k for k in self._curves if k[0] == network])
                                     % len(COLOURS)]
                    item = plot.plot(name=term, pen=pg.mkPen(colour, width=2))
                    self._curves[(network, term)] = item
                    _title_legend(plot)
                _update_curve(item, curve)
        for network, curve in history.learning_rates.items():
            item = self._lr_curves.get(network)
            if item is None:
                colour = COLOURS[len(self._lr_curves) % len(COLOURS)]
                item = self.lr_plot.plot(name=network, pen=pg.mkPen(colour, width=2))
                self._lr_curves[network] = item
                _title_legend(self.lr_plot)
            _update_curve(item, curve)
        for key, item in self.metric_curves.items():
            _update_curve(item, history.metrics[key])


def _plot(title: str, unit: str, log_axis: bool = False) -> pg.PlotWidget:
    plot = pg.PlotWidget(axisItems={"left": _FittingAxis("left")})
    plot._semsr_title = title
    _title_legend(plot)
    plot.setLabel("bottom", "step")
    if unit:
        plot.setLabel("left", unit)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setMinimumSize(160, 110)
    plot.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
    return plot


def _set_log_y(plot: pg.PlotWidget, log: bool) -> None:
    plot.setLogMode(y=log)


class _FittingAxis(pg.AxisItem):
    """A y axis with no more labels than its height fits (about one per
    :data:`LABEL_PIXELS`; pyqtgraph's own ticks overlap on a short plot such as the
    learning rate's). On a log scale it labels a few round values (1, 2, 5 × 10ⁿ, or
    three values inside one decade) instead of every minor tick."""

    LABEL_PIXELS = 22  # a 9-pt label and a gap

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        if size <= 0:  # not laid out yet
            return []
        most = max(1, int(size // self.LABEL_PIXELS))
        if not self.logMode:
            levels, kept = super().tickValues(minVal, maxVal, size), []
            for spacing, values in levels:  # coarsest level first
                if sum(len(v) for _, v in kept) + len(values) > most:
                    if not kept:  # even the coarsest is too dense: every n-th of it
                        kept.append((spacing, values[:: int(np.ceil(len(values) / most))]))
                    break
                kept.append((spacing, values))
            return kept
        if not (np.isfinite(minVal) and np.isfinite(maxVal)) or maxVal <= minVal:
            return []
        decades = range(int(np.floor(minVal)) - 1, int(np.ceil(maxVal)) + 1)
        for mantissas in ((1, 2, 5), (1,)):
            ticks = [np.log10(m) + e for e in decades for m in mantissas]
            ticks = [t for t in ticks if minVal <= t <= maxVal]
            if 2 <= len(ticks) <= most:
                return [(1.0, ticks)]
        if len(ticks) > most:
            return [(1.0, ticks[:: int(np.ceil(len(ticks) / most))])]
        values = [float(f"{v:.3g}") for v in 10 ** np.linspace(minVal, maxVal, 4)[1:3]]
        return [(1.0, [float(np.log10(v)) for v in values if v > 0])]

    def tickStrings(self, values: list, scale: float, spacing: float) -> list[str]:
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        return [f"{10 ** v:.3g}" for v in values]


def _title_legend(plot: pg.PlotWidget) -> None:
    """The plot's title followed by its curves' names in their colours (a legend that
    never covers the curves of a small plot)."""
    entries = []
    for item in plot.getPlotItem().listDataItems():
        if not item.name():
            continue
        pen = pg.mkPen(item.opts["pen"])
        mark = "╍╍" if pen.style() == Qt.PenStyle.DashLine else "━━"
        entries.append(f"<span style='color:{pen.color().name()}'>{mark} {item.name()}</span>")
    plot.setTitle(f"{plot._semsr_title}&nbsp;&nbsp;{'&nbsp;&nbsp;'.join(entries)}", size="9pt")


def _update_curve(item: pg.PlotDataItem, curve: Any) -> None:
    """Give ``item`` the points of ``curve`` (None: no points) when they changed: curves
    only grow, and an unchanged plot is not repainted (repainting a plot docked in
    napari's window is what costs the event loop most)."""
    count = len(curve) if curve is not None else 0
    if getattr(item, "_semsr_points", None) == count:
        return
    item._semsr_points = count
    if curve is None:
        item.setData([], [])
    else:
        item.setData(np.asarray(curve.steps), np.asarray(curve.values))
