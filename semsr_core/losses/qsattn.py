"""QS-Attn: PatchNCE whose anchors are chosen by attention ([S1] App. A.1; Hu et al. 2022).

Instead of CUT's random locations, the locations whose attention rows over the
source's features have the lowest entropy (eq. A.4/A.5: a feature similar to few
others is distinctive) are the anchors. The selected rows of the attention matrix,
A_QS, then route the values of both the source (positive and negatives) and the
output (anchors), so source relations are kept in the translation. ``global``
attention compares a location with all others (softmax over HW); ``local`` with its
w×w neighbourhood (w = 7). The attention is the source's alone and is not trained
(there are no query/key/value projections). As in the authors' code, the shallow
layers (the first ``random_layers`` compared) keep CUT's random sampling.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from semsr_core.errors import ConfigError
from semsr_core.losses.patchnce import PatchNCELoss


def row_entropy(attention: Tensor) -> Tensor:
    """−Σ_j a_ij·log a_ij of each row (0·log 0 counts as 0)."""
    return -(attention * torch.log(attention.clamp_min(1e-30))).sum(dim=-1)


class QSAttnNCELoss(PatchNCELoss):
    """The arguments of :class:`PatchNCELoss`, and:

    Args:
        attention: ``"global"`` or ``"local"``.
        window: w of the local attention (odd; 7).
        random_layers: how many of the first compared layers keep random sampling (3).
    """

    def __init__(self, num_layers: int = 5, num_patches: int = 256, temperature: float = 0.07,
                 mlp_dim: int = 256, layers: Sequence[int] | None = None,
                 identity: bool = False, keys: str = "input", attention: str = "global",
                 window: int = 7, random_layers: int = 3):
        super().__init__(num_layers, num_patches, temperature, mlp_dim, layers, identity, keys)
        if attention not in ("global", "local"):
            raise ConfigError(f"qsattn: unknown attention {attention!r}",
                              hint="use 'global' or 'local'")
        if not isinstance(window, int) or window < 3 or window % 2 == 0:
            raise ConfigError(f"qsattn: window must be an odd integer ≥ 3, got {window!r}")
        if not isinstance(random_layers, int) or random_layers < 0:
            raise ConfigError(f"qsattn: random_layers must be ≥ 0, got {random_layers!r}")
        self.attention, self.window, self.random_layers = attention, window, random_layers

    def sample(self, source: Tensor, output: Tensor, layer: int,
               generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        if layer < self.random_layers:
            return super().sample(source, output, layer, generator)
        n, c, h, w = source.shape
        count = min(self.num_patches, h * w)
        src = source.flatten(2).transpose(1, 2)  # N × HW × C
        out = output.flatten(2).transpose(1, 2)
        rows = torch.arange(n, device=source.device)[:, None]
        if self.attention == "global":
            with torch.no_grad():
                attn = torch.bmm(src, src.transpose(1, 2)).float().softmax(dim=-1)  # N×HW×HW
                picks = torch.argsort(row_entropy(attn), dim=1)[:, :count]
                routing = attn[rows, picks].to(src.dtype)  # A_QS: N × S × HW
            return torch.bmm(routing, src), torch.bmm(routing, out)
        k, pad = self.window, self.window // 2

        def neighbours(features: Tensor) -> Tensor:  # N × HW × w² × C
            return (F.unfold(features, k, padding=pad).reshape(n, c, k * k, h * w)
                    .permute(0, 3, 2, 1))

        src_local = neighbours(source)
        with torch.no_grad():
            dots = torch.einsum("nlkc,nlc->nlk", src_local, src).float()
            attn = dots.softmax(dim=-1)  # N × HW × w²
            picks = torch.argsort(row_entropy(attn), dim=1)[:, :count]
            routing = attn[rows, picks].to(src.dtype)  # N × S × w²
        out_local = neighbours(output)[rows, picks]  # N × S × w² × C
        return (torch.einsum("nsk,nskc->nsc", routing, src_local[rows, picks]),
                torch.einsum("nsk,nskc->nsc", routing, out_local))
