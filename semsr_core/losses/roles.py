"""The loss protocol: every loss class declares what the training engine must give it.

A loss is a :class:`Loss` (an ``nn.Module``) whose class says, in class attributes,

- ``role`` — a :class:`LossRole`: which images (and other inputs) the engine calls it
  with, and whether it needs a discriminator;
- ``uses_mask`` — whether it accepts a sample's defect mask as a third argument
  (``loss(sr, target, mask)``; a loss may still ignore it, e.g. ``l1`` with
  ``mask_weight = 1``);
- ``trains_structure_net`` — whether it has a trained part of its own that the engine
  updates once per step through ``structure_step(source, output, other)`` (LSeSim).

The registry derives its name sets from these declarations
(:func:`semsr_core.losses.registry.with_role`) and the engine dispatches on them; no
list of loss names is kept by hand anywhere.
"""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from torch import nn


class LossRole(Enum):
    """How the training engine calls a loss in the generator's update."""

    PIXEL = "pixel"
    """``loss(sr, target)`` (or ``loss(sr, target, mask)`` when ``uses_mask``): the
    output against the target, pixel by pixel or in a feature space (L1, VGG, ...).
    On unpaired data the target is the generator's input."""

    INPUT_REFERENCED = "input-referenced"
    """``loss(generator_input, sr)``: the output keeps the structure of the input
    (FSeSim, LSeSim), whatever the data's pairing."""

    ADVERSARIAL = "adversarial"
    """An :class:`~semsr_core.losses.adversarial.AdversarialLoss`: trained against a
    discriminator named by the recipe's term, which it also trains."""

    CONTRASTIVE = "contrastive"
    """A PatchNCE-family loss on the generator's own encoder features, with projection
    heads trained with the generator (:mod:`semsr_core.train.contrastive`)."""

    TILE_LABELS = "tile-labels"
    """``loss(sr, labels)``: the output against each sample's tile class (the batch's
    ``"label"``; the engine adds labels to the training set)."""


class Loss(nn.Module):
    """Base class of every registered loss: its class attributes are its declaration.

    ``role`` has no default, so a loss class that forgets to declare it fails the
    registry's test; the two flags default to ``False``.
    """

    role: ClassVar[LossRole]
    uses_mask: ClassVar[bool] = False
    trains_structure_net: ClassVar[bool] = False
