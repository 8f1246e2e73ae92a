"""Importing community ESRGAN / Real-ESRGAN / BasicSR RRDBNet weights (.pth, safetensors)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from semsr_core.errors import ModelError
from semsr_core.models.card import ModelCard, _now
from semsr_core.models.model import Model, _assemble
from semsr_core.models.weights import _first

if TYPE_CHECKING:
    import torch


# ------------------------------------------------------- importing .pth weights


def import_pth(path: str | os.PathLike, name: str = "", scale: int | None = None) -> Model:
    """Import ESRGAN / Real-ESRGAN / BasicSR RRDBNet weights from a ``.pth`` file.

    The file is read with ``torch.load(weights_only=True)``: a file that would create
    Python objects or run code is refused. Wrappers (``params_ema`` preferred over
    ``params``, ``state_dict``), the ``module.`` prefix of DataParallel, and the old
    ESRGAN key names (``RRDB_trunk``/``trunk_conv``/``upconv``/``HRconv`` and the
    oldest ``model.N`` layout) are understood. ``scale`` is detected; give it only
    to settle an ambiguous pixel-unshuffle factor.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelError("weights file not found", path=path, hint="Check the path.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        if "Weights only load failed" in str(exc):  # torch's text invites unsafe loading
            raise ModelError(
                "the file contains Python objects or code, not only weights, and is refused "
                "for safety",
                path=path,
                hint="Ask its authors for a plain state dict or a safetensors file.",
            ) from None
        raise ModelError(
            "not a readable PyTorch weights file (corrupt, truncated or another format)",
            path=path,
            hint="Download or copy the file again.",
        ) from None
    state = _unwrap_state_dict(payload, path)
    return _import_state_dict(state, path, fmt="pth", name=name, scale=scale)


def _unwrap_state_dict(payload: Any, path: Path) -> dict[str, torch.Tensor]:
    import torch

    if isinstance(payload, dict):
        for key in ("params_ema", "params", "state_dict", "model_state_dict"):
            if isinstance(payload.get(key), dict):
                payload = payload[key]
                break
    if not isinstance(payload, dict) or not payload:
        raise ModelError(
            f"the file holds a {type(payload).__name__}, not a state dict of weights",
            path=path,
            hint="Give an ESRGAN/Real-ESRGAN/BasicSR .pth.",
        )
    tensors = {k: v for k, v in payload.items() if isinstance(k, str) and torch.is_tensor(v)}
    if not tensors:
        raise ModelError(
            f"the file holds no weight tensors (keys: {_first([str(k) for k in payload])})",
            path=path,
            hint="Give an ESRGAN/Real-ESRGAN/BasicSR generator .pth.",
        )
    return tensors


_OLD_RRDB = re.compile(r"^RRDB_trunk\.(\d+)\.RDB([123])\.(conv[1-5])\.(weight|bias)$")
_OLDEST_RRDB = re.compile(r"^model\.1\.sub\.(\d+)\.RDB([123])\.(conv[1-5])\.0\.(weight|bias)$")
_OLDEST_LR = re.compile(r"^model\.1\.sub\.(\d+)\.(weight|bias)$")
_OLDEST_TOP = re.compile(r"^model\.(\d+)\.(weight|bias)$")
_UPCONV = re.compile(r"^upconv(\d+)\.(weight|bias)$")
_RENAMES = {"trunk_conv": "conv_body", "HRconv": "conv_hr"}


def rrdb_public_keys(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str]:
    """Rename an RRDBNet state dict to the public BasicSR/Real-ESRGAN key names.

    Returns the renamed dict and the layout found: ``"basicsr"`` (already public),
    ``"esrgan"`` (``RRDB_trunk``/``trunk_conv``/``upconv``/``HRconv``) or
    ``"esrgan-oldest"`` (``model.0``, ``model.1.sub.N.RDB1.conv1.0``, ...).
    """
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if any(k.startswith("model.1.sub.") for k in state):
        return _rename_oldest(state), "esrgan-oldest"
    if any(k.startswith(("RRDB_trunk.", "trunk_conv.")) for k in state):
        renamed = {}
        for key, value in state.items():
            if m := _OLD_RRDB.match(key):
                key = f"body.{m[1]}.rdb{m[2]}.{m[3]}.{m[4]}"
            elif m := _UPCONV.match(key):
                key = f"conv_up{m[1]}.{m[2]}"
            else:
                head, _, tail = key.partition(".")
                key = f"{_RENAMES.get(head, head)}.{tail}"
            renamed[key] = value
        return renamed, "esrgan"
    return state, "basicsr"


def _rename_oldest(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The original ESRGAN ``architecture.py`` layout: one flat ``model`` Sequential."""
    renamed: dict[str, torch.Tensor] = {}
    tops: dict[int, list[tuple[str, torch.Tensor]]] = {}
    for key, value in state.items():
        if m := _OLDEST_RRDB.match(key):
            renamed[f"body.{m[1]}.rdb{m[2]}.{m[3]}.{m[4]}"] = value
        elif m := _OLDEST_LR.match(key):
            renamed[f"conv_body.{m[2]}"] = value
        elif m := _OLDEST_TOP.match(key):
            tops.setdefault(int(m[1]), []).append((m[2], value))
        else:
            renamed[key] = value  # reported as unrecognised by the detector
    # model.0 is conv_first; after model.1 come the up-convolutions, then conv_hr and
    # conv_last (the activations and nn.Upsample in between hold no weights).
    order = sorted(i for i in tops if i != 0)
    names = {0: "conv_first"}
    if len(order) >= 2:
        names[order[-1]] = "conv_last"
        names[order[-2]] = "conv_hr"
        for n, index in enumerate(order[:-2], start=1):
            names[index] = f"conv_up{n}"
    for index, items in tops.items():
        for kind, value in items:
            renamed[f"{names.get(index, f'model.{index}')}.{kind}"] = value
    return renamed


def detect_rrdbnet(
    state: dict[str, torch.Tensor], path: str | os.PathLike | None = None, scale: int | None = None
) -> dict[str, Any]:
    """The ``rrdbnet`` constructor arguments that fit a state dict with public key names.

    ``blocks`` is the number of ``body.N`` blocks, ``features`` the output channels
    of ``conv_first``, ``growth`` those of ``body.0.rdb1.conv1`` (32, unused, when
    there are no blocks), ``out_channels``
    those of ``conv_last``. The input is pixel-unshuffled by ``unshuffle`` when
    ``conv_first`` takes ``out_channels × unshuffle²`` channels (Real-ESRGAN ×2 and
    ×1), and ``scale = 2 ** (number of conv_up layers) / unshuffle``.
    """
    required = ("conv_first.weight", "conv_body.weight", "conv_hr.weight", "conv_last.weight")
    missing = [k for k in required if k not in state]
    up_layers = [k for k in state if re.match(r"^conv_up\d+\.weight$", k)]
    body = [int(m[1]) for k in state if (m := re.match(r"^body\.(\d+)\.", k))]
    if body and "body.0.rdb1.conv1.weight" not in state:
        missing.append("body.0.rdb1.conv1.weight")
    if missing:
        prefixes: dict[str, int] = {}
        for key in state:
            head = key.split(".")[0]
            prefixes[head] = prefixes.get(head, 0) + 1
        found = ", ".join(f"{head} ({count})" for head, count in list(prefixes.items())[:12])
        raise ModelError(
            "not recognised as ESRGAN/Real-ESRGAN/BasicSR RRDBNet weights: "
            f"{len(state)} tensors under {found}; missing {_first(missing)}",
            path=path,
            hint="semsr imports RRDBNet generators; other architectures are "
            "not supported for import.",
        )
    blocks = 1 + max(body) if body else 0
    growth = int(state["body.0.rdb1.conv1.weight"].shape[0]) if body else 32
    first_in = int(state["conv_first.weight"].shape[1])
    out_channels = int(state["conv_last.weight"].shape[0])
    upsampling = 2 ** len(up_layers)
    if scale is not None:
        if scale < 1 or upsampling % scale:
            raise ModelError(
                f"the weights upsample ×{upsampling} and cannot be a ×{scale} model",
                path=path,
                hint="Leave out the scale to detect it.",
            )
        unshuffle = upsampling // scale
    else:
        unshuffle = 1
        for factor in (4, 2):
            if first_in == out_channels * factor * factor:
                unshuffle = factor
                break
    if first_in % (unshuffle * unshuffle):
        raise ModelError(
            f"conv_first takes {first_in} channels, which does not fit a "
            f"pixel-unshuffle by {unshuffle}",
            path=path,
        )
    return {
        "in_channels": first_in // (unshuffle * unshuffle),
        "out_channels": out_channels,
        "scale": upsampling // unshuffle,
        "features": int(state["conv_first.weight"].shape[0]),
        "blocks": blocks,
        "growth": growth,
        "unshuffle": unshuffle,
    }


def _import_state_dict(
    state: dict[str, torch.Tensor], path: Path, fmt: str, name: str = "", scale: int | None = None
) -> Model:
    from semsr_core import __version__

    public, layout = rrdb_public_keys(state)
    config = detect_rrdbnet(public, path, scale=scale)
    card = ModelCard(
        arch="rrdbnet",
        config=config,
        scale=config["scale"],
        in_channels=config["in_channels"],
        out_channels=config["out_channels"],
        normalization={"mode": "auto"},
        value_range=(0.0, 1.0),
        name=name or path.stem,
        description=f"imported from {path.name}",
        semsr_version=__version__,
        created=_now(),
        source={"file": path.name, "format": f"{fmt}/{layout}", "sha256": _sha256(path)},
    )
    return _assemble(card, public, path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
