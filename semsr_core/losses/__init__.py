"""Every loss of semsr, one module per family, built by name through the registry.

- :mod:`~semsr_core.losses.pixel` — ``l1``, ``l2``
- :mod:`~semsr_core.losses.vgg` — ``vgg`` (and the VGG feature network / weight loader)
- :mod:`~semsr_core.losses.adversarial` — ``gan_ns``, ``gan_ragan``, ``gan_rsgan``, ``cgan``
- :mod:`~semsr_core.losses.wgan_gp` — ``wgan_gp``
- :mod:`~semsr_core.losses.frequency` — ``content_lf``, ``texture``, ``color``,
  :func:`lowpass`, :func:`highpass`
- :mod:`~semsr_core.losses.fsesim` — ``fsesim``
- :mod:`~semsr_core.losses.patchnce` — ``patchnce``
- :mod:`~semsr_core.losses.gradient` — ``gradient``
- :mod:`~semsr_core.losses.lsgan` — ``gan_ls``; :mod:`~semsr_core.losses.monce` —
  ``monce``; :mod:`~semsr_core.losses.qsattn` — ``qsattn``;
  :mod:`~semsr_core.losses.lsesim` — ``lsesim``;
  :mod:`~semsr_core.losses.defect_class` — ``defect_class``

``build("gan_ragan")``, ``build("vgg", layers={"54": 1.0})``; ``names()`` lists them.
Each class declares its :class:`LossRole` and whether it takes the defect mask
(:mod:`~semsr_core.losses.roles`); ``with_role(LossRole.ADVERSARIAL)`` and
``using_masks()`` are derived from those declarations.
"""

from semsr_core.losses.registry import (
    build,
    is_adversarial,
    loss_class,
    names,
    role,
    using_masks,
    with_role,
)
from semsr_core.losses.roles import Loss, LossRole

__all__ = ["Loss", "LossRole", "build", "is_adversarial", "loss_class", "names", "role",
           "using_masks", "with_role"]
