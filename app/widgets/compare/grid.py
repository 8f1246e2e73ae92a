"""The layers the Compare panel adds to the viewer, and its side-by-side grid.

:class:`ComparedLayers` (a part of :class:`~semsr_app.widgets.compare.ComparePanel`, a
mixin using the panel's ``viewer``, ``layer(role)``, ``factor()``, its choices and the
geometry of the last comparison) adds or updates the panel's own image layers — LR
enlarged bicubically and the gradient maps of LR↑, SR and HR on one colour scale — and
arranges LR, SR, HR (and their gradient maps) in napari's grid with one camera, putting
the layers' order and visibility back on "Overlay".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Image
from napari.utils.notifications import show_error

from semsr_app.comparison import PlaneGeometry, SliceViews

ROLES = ("LR", "SR", "HR")
#: Marks the layers this panel adds (their ``metadata`` key), so they are not offered
#: as LR/SR/HR and are recognised again.
DERIVED_KEY = "semsr_compare"
GRADIENT_COLORMAP = "magma"
#: Gradient maps share contrast limits 0 … this percentile of the strongest map.
GRADIENT_PERCENTILE = 99.5


class ComparedLayers:
    """The panel's added layers and the grid view (mixed into the Compare panel)."""


    def _derived_layer(self, key: str, data: np.ndarray, geometry: PlaneGeometry,
                       source: Any, name: str, **kwargs: Any) -> Image:
        """Add or update one of the panel's own 2-D image layers."""
        layer = self._derived.get(key)
        placement = {"scale": geometry.scale, "translate": geometry.translate}
        if layer is None or layer not in self.viewer.layers:
            layer = self.viewer.add_image(
                data, name=name, units=tuple(source.units[-2:]), **placement,
                metadata={DERIVED_KEY: key, "source_layer": source.name}, **kwargs)
            self._derived[key] = layer
        else:
            layer.data = data
            layer.scale, layer.translate = placement["scale"], placement["translate"]
            layer.name = name
            for attribute, value in kwargs.items():
                setattr(layer, attribute, value)
        return layer

    def _show_lr_up(self, views: SliceViews) -> None:
        lr = self.layer("LR")
        bicubic = self.bicubic.isChecked()
        if bicubic:
            self._derived_layer("lr_up", views.lr_up_display, self._geometry["lr_up"], lr,
                                f"{lr.name} [bicubic ↑{self.factor()}]",
                                contrast_limits=tuple(lr.contrast_limits))
        if "lr_up" in self._derived:
            self._derived["lr_up"].visible = bicubic

    def _show_gradients(self, views: SliceViews) -> None:
        wanted = self.gradients.isChecked() and bool(views.gradients)
        if wanted:
            maps = views.gradients
            high = max(float(np.percentile(m, GRADIENT_PERCENTILE)) for m in maps.values())
            limits = (0.0, high if high > 0 else 1.0)
            mode = "bicubic" if self.bicubic.isChecked() else "nearest"
            sources = {"lr_up": (self.layer("LR"), f" [{mode} ↑{self.factor()}, gradient]"),
                       "sr": (self.layer("SR"), " [gradient]"),
                       "hr": (self.layer("HR"), " [gradient]")}
            for key, image in maps.items():
                source, suffix = sources[key]
                self._derived_layer(f"gradient:{key}", image, self._geometry[key], source,
                                    f"{source.name}{suffix}", colormap=GRADIENT_COLORMAP,
                                    contrast_limits=limits)
        for key in ("lr_up", "sr", "hr"):
            layer = self._derived.get(f"gradient:{key}")
            if layer is not None:
                layer.visible = wanted and key in views.gradients

    def gradient_layer(self, role: str) -> Image | None:
        """The gradient-map layer of "LR" (LR↑), "SR" or "HR", if shown."""
        key = {"LR": "lr_up", "SR": "sr", "HR": "hr"}[role]
        layer = self._derived.get(f"gradient:{key}")
        return layer if layer is not None and layer in self.viewer.layers else None

    # ------------------------------------------------------------------ grid
    def _cells(self) -> list[tuple[Any, str]]:
        """The grid's cells in order: (image layer, cell name), one row of images and,
        with gradient maps, a row of their gradient maps."""
        lr = self._derived.get("lr_up") if self.bicubic.isChecked() else self.layer("LR")
        images = [(lr, "LR"), (self.layer("SR"), "SR"), (self.layer("HR"), "HR")]
        cells = [(layer, name) for layer, name in images
                 if layer is not None and layer in self.viewer.layers]
        if self.gradients.isChecked():
            for role in ROLES:
                layer = self.gradient_layer(role)
                if layer is not None and layer.visible:
                    cells.append((layer, f"{role} gradient"))
        return cells

    def show_side_by_side(self) -> None:
        """LR, SR and HR (and their gradient maps) in a grid with one camera."""
        missing = self._missing()
        if missing:
            show_error(missing)
            return
        if not self.side_by_side:
            self._saved_order = list(self.viewer.layers)
            self._saved_visibility = {id(layer): (layer, layer.visible)
                                      for layer in self.viewer.layers}
        self.side_by_side = True
        self._arrangement = ()
        self._arrange()
        self.viewer.reset_view()

    def _arrange(self) -> None:
        cells = self._cells()
        images = sum(1 for _layer, name in cells if "gradient" not in name)
        profile = self._profile_layer()
        order: list[Any] = []
        for layer, name in cells:
            order.append(layer)
            if profile is not None:
                order.append(profile if name == "SR" else self._marker(name, profile))
        grid = self.viewer.canvas.grid
        arrangement = tuple(id(layer) for layer in order)
        if grid.enabled and arrangement == self._arrangement:
            return  # the same cells: leave the user's own visibility changes alone
        self._arrangement = arrangement
        shown = set(arrangement)
        for layer in self.viewer.layers:
            layer.visible = id(layer) in shown
        _move_to_front(self.viewer.layers, order)
        grid.stride = 2 if profile is not None else 1
        grid.shape = (2 if len(cells) > images else 1, max(images, 1))
        grid.enabled = True

    def show_overlay(self) -> None:
        """Back to one view: the grid off, the layers' order and visibility as before."""
        self.viewer.canvas.grid.enabled = False
        if self.side_by_side:
            for layer, visible in self._saved_visibility.values():
                if layer in self.viewer.layers:
                    layer.visible = visible
            _move_to_front(self.viewer.layers,
                           [layer for layer in self._saved_order if layer in self.viewer.layers])
        for key, layer in self._derived.items():
            if key.startswith("marker:"):
                layer.visible = False
        profile = self._profile_layer()
        if profile is not None:
            profile.visible = True
        if self.views is not None:
            self._show_lr_up(self.views)
            self._show_gradients(self.views)
        self.side_by_side = False


def _move_to_front(layers: Any, order: list[Any]) -> None:
    """Put ``order``'s layers first in the layer list, in that order (one move at a time:
    napari 0.9's ``move_multiple`` fails on some interleaved index lists)."""
    for target, layer in enumerate(order):
        source = layers.index(layer)
        if source != target:
            layers.move(source, target)

