"""The reference image of reference-based models (MASA-SR) at inference.

Such a generator takes ``(image, reference)``. The reference (a file or an array: an
HR image of similar content, e.g. another scan of the same specimen at the HR pixel
size) is mapped to [0, 1] by the model card's intensity policy, as the input is, and
bound to the network (:class:`ReferenceBound`), so that tiling, batching and the
precision check run it like any single-input generator: every tile is matched
against the whole reference. A reference-based model without a reference, or a
reference given to another model, is refused with what to do.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from semsr_core.errors import ConfigError, InputError, ModelError


def takes_reference(arch: str) -> bool:
    """Whether the registered network ``arch`` takes a reference image."""
    from semsr_core import archs

    try:
        return bool(archs.spec(arch).reference_input)
    except ConfigError:
        return False


class ReferenceBound(nn.Module):
    """``generator(x, reference)`` as a one-input module; the reference (1×C×H×W, in the
    network's value range) is a buffer, so it follows the module's device and dtype."""

    def __init__(self, generator: nn.Module, reference: Tensor):
        super().__init__()
        self.generator = generator
        self.register_buffer("reference", reference)

    def forward(self, x: Tensor) -> Tensor:
        return self.generator(x, self.reference.to(x.dtype))


def reference_unit(reference: Any, card) -> tuple[np.ndarray, str]:
    """The reference as a 2-D float32 [0, 1] image, and how to name it in provenance."""
    from semsr_core.infer import normalize

    if isinstance(reference, str | os.PathLike):
        from semsr_core.io import read_stack

        with read_stack(reference) as stack:
            mapping = normalize.mapping_for(stack, card.normalization, path=reference)
            image, name = mapping.to_unit(np.asarray(stack[0])), str(reference)
    else:
        array = np.asarray(reference)
        if array.ndim != 2:
            raise InputError(f"the reference has shape {array.shape}, not a 2-D image",
                             hint="Give one grayscale image as the reference.")
        image = normalize.mapping_for(array, card.normalization).to_unit(array)
        name = f"array {array.shape[0]}×{array.shape[1]}"
    return np.asarray(image, np.float32), name


def bind_reference(model, reference: Any, adapt_seconds: float = 0.0
                   ) -> tuple[nn.Module, str | None]:
    """The module to run for ``model`` (its generator, with ``reference`` bound for a
    reference-based model) and the reference's name for provenance (None: no reference)."""
    from semsr_core.infer import normalize

    card = model.card
    name = card.name or card.arch
    if not takes_reference(card.arch):
        if reference is not None:
            raise ConfigError(f"model '{name}' takes no reference image",
                              hint="Drop --reference (or the Reference layer); it applies "
                                   "to reference-based models such as MASA-SR.")
        return model.generator, None
    if reference is None:
        raise ModelError(f"model '{name}' is reference-based ({card.arch}): it enlarges an "
                         "image with the texture of a reference image, and none was given",
                         hint="Give an HR image of similar content with --reference FILE "
                              "(in the app: choose a Reference layer).")
    if adapt_seconds:
        raise ConfigError(f"cannot adapt the reference-based model '{name}' to the image",
                          hint="Drop --adapt.")
    unit, label = reference_unit(reference, card)
    values = normalize.to_network_range(unit, card.value_range)
    tensor = torch.from_numpy(np.ascontiguousarray(values, np.float32))[None, None]
    tensor = tensor.expand(1, card.in_channels, -1, -1).contiguous()
    return ReferenceBound(model.generator, tensor), label
