"""Reading model files: the card alone, or the whole model (never unpickled)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from semsr_core.errors import ModelError
from semsr_core.models.card import CARD_KEY, MODEL_SUFFIX, ModelCard
from semsr_core.models.model import Model, _assemble
from semsr_core.models.pth import _import_state_dict
from semsr_core.models.weights import _check_digest, _short

if TYPE_CHECKING:
    pass


# --------------------------------------------------------------- reading files


def read_card(path: str | os.PathLike) -> ModelCard:
    """The model card of a ``.semsr`` file, without reading its weights."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            metadata = fh.metadata() or {}
    except FileNotFoundError as exc:
        raise ModelError("model file not found", path=path) from exc
    except Exception as exc:  # SafetensorError: not safetensors, truncated, corrupt
        raise ModelError(
            f"not a readable model file ({_short(exc)})",
            path=path,
            hint="The file is corrupt, truncated or of another format; copy it "
            "again or re-export it.",
        ) from exc
    return _card_from_metadata(metadata, path)


def _card_from_metadata(metadata: dict[str, str], path: Path) -> ModelCard:
    text = metadata.get(CARD_KEY)
    if text is None:
        raise ModelError(
            "the file has weights but no semsr model card",
            path=path,
            hint="Plain safetensors weights can be loaded by giving a "
            "'.safetensors' file; a '.semsr' file must be written by semsr.",
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(
            f"the model card is not valid JSON ({exc})",
            path=path,
            hint="The file was damaged; re-export the model.",
        ) from exc
    return ModelCard.from_dict(data, path=path)


def _load_safetensors(path: Path, scale: int | None = None) -> Model:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            metadata = fh.metadata() or {}
            state = {k: fh.get_tensor(k) for k in fh.keys()}
    except MemoryError:
        raise
    except Exception as exc:  # SafetensorError: not safetensors, truncated, corrupt
        raise ModelError(
            f"not a readable model file ({_short(exc)})",
            path=path,
            hint="The file is corrupt, truncated or of another format; copy it "
            "again or re-export it.",
        ) from exc
    if CARD_KEY not in metadata and path.suffix.lower() != MODEL_SUFFIX:
        return _import_state_dict(state, path, fmt="safetensors", scale=scale)
    card = _card_from_metadata(metadata, path)
    model = _assemble(card, state, path)
    _check_digest(metadata, state, path)
    return model


def _is_safetensors(path: Path) -> bool:
    """Whether a file is safetensors by its content (an 8-byte header length, then a
    JSON header), whatever its name says: a ``.semsr`` renamed ``.pth`` is still one."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(9)
            size = path.stat().st_size
    except OSError:
        return False
    if len(head) < 9:
        return False
    length = int.from_bytes(head[:8], "little")
    return head[8:9] == b"{" and 0 < length <= size - 8
