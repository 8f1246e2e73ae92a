"""napari sample data: semsr's simulated SEM stack and its paired training set.

File ▸ Open Sample ▸ semsr gives

- "Simulated SEM stack (LR and HR)": the 4-slice 128×128 LR stack at 8 nm that a user
  super-resolves, with its 512×512 HR ground truth at 2 nm laid exactly over it;
- "Simulated training pairs (LR, HR, defect masks)": the 8 LR/HR pairs of
  ``resources/sample/pairs`` as two stacks and the defect masks as a labels layer.

All layers are in nanometres, and an HR layer sits where a super-resolved LR layer
would (pixel centres aligned, :func:`semsr_app.layers.sr_scale_translate`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from semsr_app.layers import contrast_limits, image_layer_kwargs, sr_scale_translate
from semsr_app.reader import LayerData, stack_layer_data


def _sample(*parts: str) -> Path:
    from semsr_core.resources import resource_path

    return resource_path("sample", *parts)


def sem_stack() -> list[LayerData]:
    """The simulated LR stack and its HR ground truth, overlaid in nanometres."""
    lr_data, lr_kwargs, _ = stack_layer_data(_sample("sem_stack_lr.tif"), name="SEM stack LR")
    hr_data, hr_kwargs, _ = stack_layer_data(_sample("sem_stack_hr.tif"),
                                             name="SEM stack HR (ground truth)")
    _place_over(hr_kwargs, lr_kwargs, hr_data.shape[-1] // lr_data.shape[-1])
    hr_kwargs["visible"] = False
    return [(lr_data, lr_kwargs, "image"), (hr_data, hr_kwargs, "image")]


def sem_pairs() -> list[LayerData]:
    """The 8 simulated training pairs: LR stack, HR stack and defect-mask labels."""
    from semsr_core.io import read_stack

    folder = _sample("pairs")
    layers: list[LayerData] = []
    for role, name in (("lr", "pairs LR"), ("hr", "pairs HR"), ("masks", "pairs defect masks")):
        files = sorted((folder / role).glob("*.tif"))
        slices, pixel_size = [], None
        for path in files:
            with read_stack(path) as stack:
                slices.append(stack[0])
                pixel_size = stack.pixel_size
        data = np.stack(slices)
        meta = {"source": str(folder / role), "files": [p.name for p in files],
                "pixel_size_nm": pixel_size}
        is_mask = role == "masks"
        kwargs = image_layer_kwargs(data.shape, pixel_size, name=name, metadata=meta,
                                    limits=None if is_mask else contrast_limits(data))
        layers.append((data, kwargs, "labels" if is_mask else "image"))
    lr_kwargs = layers[0][1]
    factor = layers[1][0].shape[-1] // layers[0][0].shape[-1]
    for _data, kwargs, _kind in layers[1:]:
        _place_over(kwargs, lr_kwargs, factor)
    return layers


def _place_over(hr_kwargs: dict[str, Any], lr_kwargs: dict[str, Any], factor: int) -> None:
    """Give an HR layer the scale and translate of the LR layer enlarged ×``factor``."""
    ndim = len(lr_kwargs["scale"])
    scale, translate = sr_scale_translate(lr_kwargs["scale"], (0.0,) * ndim, factor)
    hr_kwargs["scale"], hr_kwargs["translate"] = scale, translate
