"""The Super-resolve panel's fixed choices (model list markers, file filters, tile
sizes, precisions, output types, consistency guards) and its self-refreshing list."""

from __future__ import annotations

from typing import Any

from qtpy.QtWidgets import QComboBox

OPEN_MODEL = "__open_model_file__"
ZSSR_MODEL = "__zssr_per_image__"
ZSSR_LABEL = "ZSSR (trains on this image)"
ZSSR_SECONDS = 60
"""The panel's default ZSSR training time per image or slice."""
MODEL_FILTER = "semsr or ESRGAN models (*.semsr *.safetensors *.pth *.pt);;All files (*)"
IMAGE_FILTER = "Images (*.tif *.tiff *.png *.jpg *.jpeg);;All files (*)"
TILE_CHOICES = ("auto", "96", "128", "256", "512", "1024", "2048")
PRECISIONS = (("auto (bf16/fp16 on CUDA; bf16 on CPUs where it measures faster; else fp32)",
               "auto"),
              ("fp32", "fp32"),
              ("fp16", "fp16"), ("bf16", "bf16"))
OUTPUT_TYPES = (("same as input (e.g. uint16)", "input"), ("float32", "float32"))
GUARDS = (("on: agree with the measured scan (model's setting)", "model"),
          ("on: block-mean measurement", "area"), ("on: bicubic measurement", "bicubic"),
          ("off: measure and warn only", "off"))



class RefreshingComboBox(QComboBox):
    """A combo box that updates its items (``refresh()``) just before it opens."""

    def __init__(self, refresh: Any) -> None:
        super().__init__()
        self._refresh = refresh

    def showPopup(self) -> None:
        self._refresh()
        super().showPopup()
