"""The :class:`Model`: a generator with its card; saving one as a ``.semsr`` file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from semsr_core.errors import ConfigError, ModelError, OutputError
from semsr_core.io.write import atomic_destination, check_output_folder
from semsr_core.models.card import (
    CARD_KEY,
    CHECKSUM_KEY,
    FORMAT_KEY,
    FORMAT_VERSION,
    MODEL_SUFFIX,
    SAFETENSORS_SUFFIXES,
    ModelCard,
    _now,
)
from semsr_core.models.weights import check_weights, load_weights, weights_digest

if TYPE_CHECKING:
    import torch
    from torch import nn


class Model:
    """A generator network with its model card: what inference and training hand around.

    ``Model.create(arch, scale=...)`` makes a freshly initialised one,
    :func:`load_model` reads one from a file or a name, :meth:`save` writes it.
    """

    def __init__(self, generator: nn.Module, card: ModelCard, path: Path | None = None):
        self.generator = generator
        self.card = card
        self.path = path  # the file it was loaded from or last saved to, if any

    @classmethod
    def create(
        cls,
        arch: str,
        scale: int = 4,
        in_channels: int = 1,
        out_channels: int = 1,
        *,
        name: str = "",
        **config: Any,
    ) -> Model:
        """A freshly initialised model of a registered architecture.

        ``config`` holds the architecture's own arguments (e.g. ``blocks=23`` for
        ``rrdbnet``); a wrong name or key raises :class:`ConfigError`. ``scale`` and
        the channels go to the constructor when it takes them (a network that works
        at the output size takes no ``scale``; the card still records it).
        """
        from semsr_core import __version__, archs
        from semsr_core.arguments import accepted_keywords

        arch_spec = archs.spec(arch)
        accepted = accepted_keywords(arch_spec.cls)
        common = {"in_channels": in_channels, "out_channels": out_channels, "scale": scale}
        full = {**{k: v for k, v in common.items() if k in accepted}, **config}
        generator = archs.build(arch, **full)
        card = ModelCard(
            arch=arch,
            config=full,
            scale=scale,
            in_channels=in_channels,
            out_channels=out_channels,
            value_range=tuple(arch_spec.value_range),
            name=name,
            semsr_version=__version__,
            created=_now(),
        )
        return cls(generator, card)

    # properties a user asks about
    @property
    def scale(self) -> int:
        return self.card.scale

    @property
    def in_channels(self) -> int:
        return self.card.in_channels

    @property
    def out_channels(self) -> int:
        return self.card.out_channels

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def arch_spec(self):
        """The architecture's :class:`semsr_core.archs.ArchSpec` (value range, sizes)."""
        from semsr_core import archs

        return archs.spec(self.card.arch)

    @property
    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.generator.parameters())

    def to(self, device: str | torch.device) -> Model:
        self.generator.to(device)
        return self

    def __repr__(self) -> str:
        return (
            f"Model(name={self.name!r}, arch={self.card.arch!r}, scale={self.scale}, "
            f"channels={self.in_channels}→{self.out_channels})"
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model as one ``.semsr`` file (weights + card), atomically.

        The file appears under its final name only once completely written.
        """
        from safetensors.torch import save_file

        path = Path(path)
        if path.suffix.lower() not in SAFETENSORS_SUFFIXES:
            raise OutputError(
                f"a model file must end in '{MODEL_SUFFIX}'",
                path=path,
                hint=f"Use a name like '{path.stem}{MODEL_SUFFIX}'.",
            )
        check_output_folder(path)  # "out/m.semsr" where out is a file: say so
        if not path.parent.is_dir():
            raise OutputError(
                "the folder does not exist",
                path=path.parent,
                hint="Create it first or choose another destination.",
            )
        if not self.card.semsr_version:
            from semsr_core import __version__

            self.card.semsr_version = __version__
        if not self.card.created:
            self.card.created = _now()
        tensors = {
            k: v.detach().to("cpu").contiguous().clone()
            for k, v in self.generator.state_dict().items()
        }
        card_text = self.card.to_json()
        metadata = {
            CARD_KEY: card_text,
            FORMAT_KEY: FORMAT_VERSION,
            CHECKSUM_KEY: weights_digest(card_text, tensors),
        }
        needed = sum(t.numel() * t.element_size() for t in tensors.values()) + len(card_text)
        with atomic_destination(path, needed=needed) as tmp:  # SafetensorError: OutputError
            save_file(tensors, str(tmp), metadata=metadata)
        self.path = path
        return path


def _assemble(card: ModelCard, state: dict[str, torch.Tensor], path: Path) -> Model:
    """Build the card's generator and load ``state`` into it, or explain the mismatch."""
    from semsr_core import archs

    try:
        generator = archs.build(card.arch, **card.config)
    except ConfigError as exc:
        raise ModelError(
            f"the model card describes a network semsr cannot build ({exc})",
            path=path,
            hint="The model may need a newer semsr version.",
        ) from exc
    load_weights(generator, state, path)
    check_weights(state, path)
    return Model(generator, card)
