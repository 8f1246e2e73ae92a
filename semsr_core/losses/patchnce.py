"""PatchNCE: the contrastive loss of CUT (Park et al. 2020; [S1] App. A, eq. A.2/A.6).

For each encoder layer, S patch locations are sampled; the output's feature at a
location (the query) should match the source's feature at the same location (the
positive) better than the source's features at the other sampled locations of the
same image (the negatives). Features pass through a small per-layer MLP head and are
L2-normalised; the loss is the InfoNCE cross-entropy with temperature τ = 0.07.

:class:`PatchNCELoss` is also the base of MoNCE (:mod:`~semsr_core.losses.monce`,
re-weighted negatives) and QS-Attn (:mod:`~semsr_core.losses.qsattn`, anchors chosen
by attention): they override :meth:`PatchNCELoss.layer_loss` or
:meth:`PatchNCELoss.sample`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semsr_core.errors import ConfigError
from semsr_core.losses.roles import Loss, LossRole


def projection_head(in_dim: int, dim: int) -> nn.Module:
    """CUT's two-layer MLP (Linear, ReLU, Linear), Xavier-normal weights of gain 0.02."""
    head = nn.Sequential(nn.Linear(in_dim, dim), nn.ReLU(), nn.Linear(dim, dim))
    for layer in (head[0], head[2]):
        nn.init.xavier_normal_(layer.weight, gain=0.02)
        nn.init.zeros_(layer.bias)
    return head


class PatchNCELoss(Loss):
    """InfoNCE between output and source encoder features at sampled locations.

    Args:
        num_layers: how many encoder layers are compared (one MLP head each).
        num_patches: S, locations sampled per layer (fewer if the map is smaller).
        temperature: τ of the InfoNCE softmax (0.07 in CUT).
        mlp_dim: width of the projection heads; ``0`` compares the raw features.
        layers: the generator's encoder layers compared (CUT: 0, 4, 8, 12, 16 of
            ``resnet_gen``); when given, ``num_layers`` is their count. Training uses
            them to encode images (see :mod:`semsr_core.train.contrastive`).
        identity: add CUT's identity term (the same loss between a target-domain
            image and its translation, averaged with the main term; [S1] eq. A.3).
        keys: ``"input"`` — the keys come from the generator's input (unpaired, CUT);
            ``"target"`` — from the paired target (paired data only).

    The heads are trainable parameters of this module, made for the features' channel
    counts by :meth:`init_heads` (or the first call); training optimises them with the
    generator, as CUT does.

    Call ``loss(source_features, output_features, generator=None)`` with two lists
    of N×C×H×W tensors, one per layer, in the same order: the source's (the
    generator's input) are the keys and are not back-propagated (as in CUT, the heads
    learn through the queries); the output's are the queries. The per-layer losses
    are averaged. ``loss(source_image, output_image)`` works too after
    :meth:`use_encoder` (in CUT, the generator's encoder layers).
    """

    role = LossRole.CONTRASTIVE

    def __init__(self, num_layers: int = 5, num_patches: int = 256, temperature: float = 0.07,
                 mlp_dim: int = 256, layers: Sequence[int] | None = None,
                 identity: bool = False, keys: str = "input"):
        super().__init__()
        name = type(self).__name__
        if layers is not None:
            if not layers or not all(isinstance(i, int) and i >= 0 for i in layers):
                raise ConfigError(f"{name}: layers must be encoder layer indices ≥ 0, "
                                  f"got {layers!r}")
            num_layers = len(layers)
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ConfigError(f"{name}: num_layers must be ≥ 1, got {num_layers!r}")
        if not isinstance(num_patches, int) or num_patches < 2:
            raise ConfigError(f"{name}: num_patches must be ≥ 2, got {num_patches!r}")
        if not temperature > 0:
            raise ConfigError(f"{name}: temperature must be > 0, got {temperature!r}")
        if keys not in ("input", "target"):
            raise ConfigError(f"{name}: keys must be 'input' or 'target', got {keys!r}")
        self.num_layers, self.num_patches = num_layers, num_patches
        self.temperature, self.mlp_dim = float(temperature), mlp_dim
        self.layers = None if layers is None else [int(i) for i in layers]
        self.identity, self.keys = bool(identity), keys
        self.heads = nn.ModuleList()
        self._encoder: Callable[[Tensor], Sequence[Tensor]] | None = None

    # ------------------------------------------------------------ set-up

    def use_encoder(self, encoder: Callable[[Tensor], Sequence[Tensor]] | None) -> None:
        """Let the loss take images: ``encoder(images)`` gives the list of features.

        The encoder is not registered as a submodule, so its parameters stay with the
        network that owns them (they are not added to this loss's parameters).
        """
        object.__setattr__(self, "_encoder", encoder)

    def init_heads(self, features: Sequence[Tensor]) -> None:
        """Make one projection head per layer for these features' channel counts."""
        if len(self.heads):
            return
        self._check_layers(features, features)
        for f in features:
            head = projection_head(f.shape[1], self.mlp_dim) if self.mlp_dim else nn.Identity()
            self.heads.append(head.to(f.device))

    # ------------------------------------------------------------ the loss

    def sample(self, source: Tensor, output: Tensor, layer: int,
               generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """Keys (from ``source``) and queries (from ``output``), N × S × C each: the
        features at the same S random locations (CUT's sampling)."""
        positions = output.shape[-2] * output.shape[-1]
        count = min(self.num_patches, positions)
        picks = torch.randperm(positions, generator=generator)[:count].to(output.device)
        return (source.flatten(start_dim=2)[:, :, picks].transpose(1, 2),
                output.flatten(start_dim=2)[:, :, picks].transpose(1, 2))

    def layer_loss(self, queries: Tensor, keys: Tensor) -> Tensor:
        """InfoNCE of one layer: ``queries`` and ``keys`` are N × S × D, L2-normalised;
        query i's positive is key i, the other keys of its image are its negatives."""
        logits = torch.bmm(queries, keys.transpose(1, 2)) / self.temperature  # N × S × S
        n, count = queries.shape[:2]
        targets = torch.arange(count, device=queries.device).expand(n, count)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    def _as_features(self, value: Tensor | Sequence[Tensor], keys: bool) -> Sequence[Tensor]:
        if not isinstance(value, Tensor):
            return value
        if self._encoder is None:
            raise ConfigError(
                f"{type(self).__name__} compares encoder features, but it was given images "
                "and has no encoder",
                hint="pass lists of features, or call loss.use_encoder(the generator's encoder)",
            )
        if keys:  # the keys are detached anyway: no graph through the encoder
            with torch.no_grad():
                return self._encoder(value)
        return self._encoder(value)

    def _check_layers(self, source: Sequence[Tensor], output: Sequence[Tensor]) -> None:
        if len(output) != self.num_layers or len(source) != self.num_layers:
            raise ConfigError(
                f"{type(self).__name__}: got {len(source)} source and {len(output)} output "
                f"feature layers, but num_layers is {self.num_layers}",
                hint="set num_layers to the number of encoder layers compared",
            )
        for src_f, out_f in zip(source, output, strict=True):
            if out_f.shape != src_f.shape:
                raise ConfigError(
                    f"{type(self).__name__}: output features {tuple(out_f.shape)} and source "
                    f"features {tuple(src_f.shape)} differ", hint="encode both with the same "
                    "network")

    def forward(self, source_features: Tensor | Sequence[Tensor],
                output_features: Tensor | Sequence[Tensor],
                generator: torch.Generator | None = None) -> Tensor:
        source_features = self._as_features(source_features, keys=True)
        output_features = self._as_features(output_features, keys=False)
        self._check_layers(source_features, output_features)
        self.init_heads(source_features)
        losses = []
        for layer, (head, src_f, out_f) in enumerate(zip(self.heads, source_features,
                                                         output_features, strict=True)):
            src_s, out_s = self.sample(src_f, out_f, layer, generator)
            queries = F.normalize(head(out_s), dim=-1)  # N × S × D
            keys = F.normalize(head(src_s), dim=-1).detach()
            losses.append(self.layer_loss(queries, keys))
        return torch.stack(losses).mean()
