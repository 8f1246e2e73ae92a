"""PatchNCE: the contrastive loss of CUT (Park et al. 2020; [S1] App. A, eq. A.6).

For each encoder layer, S patch locations are sampled; the output's feature at a
location (the query) should match the source's feature at the same location (the
positive) better than the source's features at the other sampled locations of the
same image (the negatives). Features pass through a small per-layer MLP head and are
L2-normalised; the loss is the InfoNCE cross-entropy with temperature τ = 0.07.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from semsr_core.errors import ConfigError


def _projection_head(dim: int) -> nn.Module:
    """Two-layer MLP whose input size is set by the first features it sees."""
    return nn.Sequential(nn.LazyLinear(dim), nn.ReLU(), nn.Linear(dim, dim))


class PatchNCELoss(nn.Module):
    """InfoNCE between output and source encoder features at sampled locations.

    Args:
        num_layers: how many encoder layers are compared (one MLP head each).
        num_patches: S, locations sampled per layer (fewer if the map is smaller).
        temperature: τ of the InfoNCE softmax (0.07 in CUT).
        mlp_dim: width of the projection heads; ``0`` compares the raw features.

    The heads are trainable parameters of this module (optimise them with the
    generator, as CUT does); their input sizes are fixed on the first call.

    Call ``loss(source_features, output_features, generator=None)`` with two lists
    of N×C×H×W tensors, one per layer, in the same order: the source's (the
    generator's input) are the keys and are not back-propagated (as in CUT, the heads
    learn through the queries); the output's are the queries. The per-layer losses
    are averaged. ``loss(source_image, output_image)`` works too after
    :meth:`use_encoder` (in CUT, the generator's encoder layers).
    """

    def __init__(self, num_layers: int = 5, num_patches: int = 256, temperature: float = 0.07,
                 mlp_dim: int = 256):
        super().__init__()
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ConfigError(f"patchnce: num_layers must be ≥ 1, got {num_layers!r}")
        if not isinstance(num_patches, int) or num_patches < 2:
            raise ConfigError(f"patchnce: num_patches must be ≥ 2, got {num_patches!r}")
        if not temperature > 0:
            raise ConfigError(f"patchnce: temperature must be > 0, got {temperature!r}")
        self.num_layers, self.num_patches = num_layers, num_patches
        self.temperature, self.mlp_dim = float(temperature), mlp_dim
        self.heads = nn.ModuleList(
            [_projection_head(mlp_dim) if mlp_dim else nn.Identity() for _ in range(num_layers)]
        )
        self._encoder: Callable[[Tensor], Sequence[Tensor]] | None = None

    def use_encoder(self, encoder: Callable[[Tensor], Sequence[Tensor]] | None) -> None:
        """Let the loss take images: ``encoder(images)`` gives the list of features.

        The encoder is not registered as a submodule, so its parameters stay with the
        network that owns them (they are not added to this loss's parameters).
        """
        object.__setattr__(self, "_encoder", encoder)

    def _embed(self, features: Tensor, picks: Tensor, head: nn.Module) -> Tensor:
        flat = features.flatten(start_dim=2)[:, :, picks]  # N × C × S
        return F.normalize(head(flat.transpose(1, 2)), dim=-1)  # N × S × D

    def _as_features(self, value: Tensor | Sequence[Tensor]) -> Sequence[Tensor]:
        if not isinstance(value, Tensor):
            return value
        if self._encoder is None:
            raise ConfigError(
                "patchnce compares encoder features, but it was given images and has no "
                "encoder",
                hint="pass lists of features, or call loss.use_encoder(the generator's encoder)",
            )
        return self._encoder(value)

    def forward(self, source_features: Tensor | Sequence[Tensor],
                output_features: Tensor | Sequence[Tensor],
                generator: torch.Generator | None = None) -> Tensor:
        source_features = self._as_features(source_features)
        output_features = self._as_features(output_features)
        if len(output_features) != self.num_layers or len(source_features) != self.num_layers:
            raise ConfigError(
                f"patchnce: got {len(source_features)} source and {len(output_features)} "
                f"output feature layers, but num_layers is {self.num_layers}",
                hint="set num_layers to the number of encoder layers compared",
            )
        losses = []
        for head, src_f, out_f in zip(self.heads, source_features, output_features,
                                      strict=True):
            if out_f.shape != src_f.shape:
                raise ConfigError(
                    f"patchnce: output features {tuple(out_f.shape)} and source features "
                    f"{tuple(src_f.shape)} differ", hint="encode both with the same network")
            positions = out_f.shape[-2] * out_f.shape[-1]
            count = min(self.num_patches, positions)
            picks = torch.randperm(positions, generator=generator)[:count].to(out_f.device)
            queries = self._embed(out_f, picks, head)
            keys = self._embed(src_f, picks, head).detach()
            # Logits: every query against every key of the same image; the diagonal
            # (same location) is the positive, the rest are the negatives.
            logits = torch.bmm(queries, keys.transpose(1, 2)) / self.temperature  # N × S × S
            targets = torch.arange(count, device=out_f.device).expand(out_f.shape[0], count)
            losses.append(F.cross_entropy(logits.flatten(0, 1), targets.flatten()))
        return torch.stack(losses).mean()
