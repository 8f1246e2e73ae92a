"""Checks on weights: plausible values, the saved checksum, an exact fit to the network."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from semsr_core.errors import ModelError
from semsr_core.models.card import CARD_KEY, CHECKSUM_KEY, IMPLAUSIBLE_WEIGHT

if TYPE_CHECKING:
    import torch
    from torch import nn


def check_weights(state: dict[str, torch.Tensor], path: str | os.PathLike | None = None) -> None:
    """Refuse weights that no trained network has: NaN, infinity, or magnitudes of
    :data:`IMPLAUSIBLE_WEIGHT` and more (what flipped bytes in a file give)."""
    import torch

    for key, value in state.items():
        if not value.is_floating_point() or value.numel() == 0:
            continue
        values = value.detach().float()
        finite = torch.isfinite(values)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            raise ModelError(
                f"weight '{key}' holds {bad} NaN or infinite value(s)", path=path, hint=_DAMAGED
            )
        largest = float(values.abs().max())
        if largest >= IMPLAUSIBLE_WEIGHT:
            raise ModelError(
                f"weight '{key}' holds a value of {largest:.3g}, far beyond "
                "what a trained network holds",
                path=path,
                hint=_DAMAGED,
            )


_DAMAGED = (
    "The file is damaged or the training diverged; copy or download it again, or use another model."
)


def weights_digest(card_text: str, state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a model card's JSON text and the weights (names, types, shapes, bytes),
    recorded in a ``.semsr`` file's header under :data:`CHECKSUM_KEY` when it is saved."""
    import torch

    digest = hashlib.sha256(card_text.encode("utf-8"))
    for key in sorted(state):
        tensor = state[key].detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"\0{key}\0{state[key].dtype}\0{tuple(state[key].shape)}\0".encode())
        digest.update(tensor.view(torch.uint8).numpy())
    return digest.hexdigest()


def _check_digest(metadata: dict[str, str], state: dict[str, torch.Tensor], path: Path) -> None:
    """Compare the weights with the checksum saved with them (files written before
    semsr recorded one have none and are checked by :func:`check_weights` only)."""
    recorded = metadata.get(CHECKSUM_KEY)
    if recorded is None:
        return
    if recorded != weights_digest(metadata.get(CARD_KEY, ""), state):
        raise ModelError(
            "the weights or the model card differ from what was saved (the "
            "checksum in the file does not match): the file is damaged",
            path=path,
            hint="Copy or download it again, or re-export it from "
            "the original with `semsr models export`.",
        )


def load_weights(
    generator: nn.Module, state: dict[str, torch.Tensor], path: str | os.PathLike | None = None
) -> None:
    """Load ``state`` into ``generator`` exactly, or raise a ModelError that says in words
    which weights are missing, unexpected or of the wrong shape."""
    import torch

    own = generator.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [
        f"{k} (file {tuple(state[k].shape)}, network {tuple(own[k].shape)})"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or mismatched:
        parts = []
        for label, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("of the wrong shape", mismatched),
        ):
            if keys:
                parts.append(f"{len(keys)} {label}: {_first(keys)}")
        raise ModelError(
            "the weights do not fit the network described by the model card; " + "; ".join(parts),
            path=path,
            hint="The file was damaged or its card edited; re-export the model.",
        )
    converted = {}
    for key, value in state.items():
        target = own[key]
        converted[key] = value.to(target.dtype) if value.is_floating_point() else value
    with torch.no_grad():
        generator.load_state_dict(converted, strict=True)


def _first(keys: list[str], n: int = 4) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f", … (+{len(keys) - n} more)" if len(keys) > n else "")


def _short(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
