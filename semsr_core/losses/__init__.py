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

``build("gan_ragan")``, ``build("vgg", layers={"54": 1.0})``; ``names()`` lists them.
"""

from semsr_core.losses.registry import build, is_adversarial, loss_class, names

__all__ = ["build", "is_adversarial", "loss_class", "names"]
