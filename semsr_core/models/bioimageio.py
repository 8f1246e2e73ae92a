"""BioImage Model Zoo packages: export a semsr model as one, import one written by semsr.

The package is a zip (``DEST.zip``) with ``rdf.yaml`` (model description format
0.5), the weights as a PyTorch state dict (``weights.pt``, the architecture named by
its import path in :mod:`semsr_core.archs` with the card's constructor arguments),
a README made from the model card, test input/output tensors (``.npy``, the output
made by the model on the input) and the semsr card itself (``semsr_card.json``), from
which :func:`import_bioimageio` restores the model exactly. Weights are read back
with ``torch.load(weights_only=True)``; nothing is unpickled. ``bioimageio.spec``
(``pip install 'semsr[zoo]'``) validates the package offline before it is written.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from semsr_core.errors import ConfigError, ModelError, OutputError
from semsr_core.io.write import atomic_destination, check_output_folder
from semsr_core.models.card import ModelCard
from semsr_core.models.model import Model, _assemble

CARD_FILE = "semsr_card.json"
WEIGHTS_FILE = "weights.pt"
TEST_SIZE = 32
"""Side of the test input in pixels (a multiple of every architecture's size step)."""


def _spec():
    os.environ.setdefault(
        "BIOIMAGEIO_CACHE_PATH", str(Path(tempfile.gettempdir()) / "semsr-bioimageio-cache")
    )
    try:
        import bioimageio.spec as spec
    except ImportError:
        raise ConfigError(
            "exporting to the BioImage Model Zoo needs bioimageio.spec",
            hint="Install it with `pip install 'semsr[zoo]'`.",
        ) from None
    return spec


def export_bioimageio(model: Model, dest: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``model`` as a BioImage Model Zoo package ``dest``, validated, atomically.

    ``dest`` is the ``.zip`` file (``.zip`` is added when missing) or a folder to put
    ``<name>.zip`` in."""
    import numpy as np
    import torch

    spec = _spec()
    dest = Path(dest).expanduser()
    if dest.is_dir():
        dest = dest / f"{model.name or 'model'}.zip"
    if dest.suffix.lower() != ".zip":
        dest = dest.with_name(dest.name + ".zip")
    check_output_folder(dest)
    if dest.exists() and not overwrite:
        raise OutputError(
            "the destination already exists",
            path=dest,
            hint="Choose another name, or replace it (--force).",
        )
    card = model.card
    arch = model.arch_spec
    step = max(arch.size_multiple, 1)
    side = max(TEST_SIZE, arch.min_size) // step * step or step
    low, high = card.value_range
    rng = np.random.default_rng(0)
    test_in = (low + (high - low) * rng.random((1, card.in_channels, side, side))).astype("float32")
    generator = model.generator.to("cpu").eval()
    with torch.no_grad():
        test_out = generator(torch.from_numpy(test_in)).numpy().astype("float32")
    if not float(test_out.max()) > 0.0:
        # the zoo requires a reproducibility tolerance of at most 1% of the test output's
        # maximum; an output that is nowhere positive (an untrained network) cannot meet it
        raise ModelError(
            "the BioImage Model Zoo cannot take this model: its output on the test image is "
            f"nowhere positive (maximum {float(test_out.max()):.3g}), and the zoo requires a "
            "reproducibility tolerance of at most 1% of that maximum",
            path=dest,
            hint="Export a trained model; an untrained network's output says nothing.",
        )
    out_scale = test_out.shape[-1] / side
    with tempfile.TemporaryDirectory(prefix="semsr-zoo-") as tmp:
        root = Path(tmp)
        np.save(root / "test_input.npy", test_in)
        np.save(root / "test_output.npy", test_out)
        torch.save(
            {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()},
            root / WEIGHTS_FILE,
        )
        (root / CARD_FILE).write_text(card.to_json(), encoding="utf-8")
        (root / "README.md").write_text(_readme(model), encoding="utf-8")
        # the zoo asks for a tolerance within 1% of the test output's maximum
        tolerance = min(1e-3, max(0.0, 0.005 * float(test_out.max())))
        rdf = _rdf(model, arch, side, step, out_scale, tolerance)
        (root / "rdf.yaml").write_text(json.dumps(rdf, indent=1), encoding="utf-8")
        summary = spec.load_description(
            root / "rdf.yaml", perform_io_checks=True
        ).validation_summary
        if summary.status not in ("passed", "valid-format"):
            raise ModelError(
                f"the BioImage Model Zoo package did not validate: {summary.status}"
                f" ({_errors(summary)})",
                path=dest,
                hint="Report this as a semsr bug, with the model's card.",
            )
        files = sorted(p for p in root.iterdir() if p.is_file())
        needed = sum(p.stat().st_size for p in files)
        with atomic_destination(dest, needed=needed) as part:
            with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as zf:
                for path in files:
                    zf.write(path, path.name)
    return dest


def _errors(summary: Any) -> str:
    details = [d for d in summary.details if d.status == "failed"]
    texts = [f"{e.loc}: {e.msg}" for d in details for e in d.errors][:3]
    return "; ".join(texts) or "see bioimageio.spec"


def _rdf(
    model: Model, arch: Any, side: int, step: int, out_scale: float, tolerance: float
) -> dict[str, Any]:
    import torch

    from semsr_core import __version__

    card = model.card
    name = _zoo_name(card.name)

    def channels(n: int) -> dict[str, Any]:
        return {"type": "channel", "channel_names": [f"c{i}" for i in range(n)]}

    low, high = card.value_range
    description = card.description or (
        f"semsr ×{card.scale} super-resolution of SEM images ({card.arch}); input and output "
        f"intensities in [{low:g}, {high:g}]."
    )
    return {
        "format_version": "0.5.4",
        "type": "model",
        "name": name,
        "description": description,
        "authors": [{"name": "semsr developers"}],
        # The GAN families semsr's architectures come from (SRGAN, and ESRGAN's RRDB).
        "cite": [
            {
                "text": "Ledig et al., Photo-realistic single image super-resolution using "
                "a generative adversarial network (SRGAN), CVPR 2017",
                "doi": "10.1109/CVPR.2017.19",
            },
            {
                "text": "Wang et al., ESRGAN: enhanced super-resolution generative "
                "adversarial networks, ECCV Workshops 2018",
                "doi": "10.1007/978-3-030-11021-5_5",
            },
        ],
        "license": "BSD-3-Clause",
        "tags": ["super-resolution", "electron-microscopy", "sem", "pytorch"],
        "documentation": "README.md",
        "version": "0.1.0",
        "attachments": [{"source": CARD_FILE}],
        "config": {
            "semsr": {"version": __version__, "card": CARD_FILE},
            "bioimageio": {
                "reproducibility_tolerance": [
                    {"absolute_tolerance": tolerance, "relative_tolerance": 1e-3}
                ]
            },
        },
        "inputs": [
            {
                "id": "input",
                "description": f"image(s) with intensities in [{low:g}, {high:g}]",
                "axes": [
                    {"type": "batch"},
                    channels(card.in_channels),
                    {"type": "space", "id": "y", "size": {"min": side, "step": step}},
                    {"type": "space", "id": "x", "size": {"min": side, "step": step}},
                ],
                "test_tensor": {"source": "test_input.npy"},
                "data": {"type": "float32"},
            }
        ],
        "outputs": [
            {
                "id": "output",
                "description": f"the ×{card.scale} super-resolved image(s)",
                "axes": [
                    {"type": "batch"},
                    channels(card.out_channels),
                    {
                        "type": "space",
                        "id": "y",
                        "scale": 1 / out_scale,
                        "size": {"tensor_id": "input", "axis_id": "y"},
                    },
                    {
                        "type": "space",
                        "id": "x",
                        "scale": 1 / out_scale,
                        "size": {"tensor_id": "input", "axis_id": "x"},
                    },
                ],
                "test_tensor": {"source": "test_output.npy"},
                "data": {"type": "float32"},
            }
        ],
        "weights": {
            "pytorch_state_dict": {
                "source": WEIGHTS_FILE,
                "architecture": {
                    "callable": arch.cls.__name__,
                    "import_from": arch.cls.__module__,
                    "kwargs": dict(card.config),
                },
                "pytorch_version": torch.__version__.split("+")[0],
            }
        },
    }


def _zoo_name(name: str) -> str:
    """The model name as the zoo accepts it (5 to 128 letters, digits, ``_+- ()``); the
    exact name is kept in the attached card."""
    name = re.sub(r"[^A-Za-z0-9_+\- ()]", "-", name or "model")
    return (name if len(name) >= 5 else f"semsr {name}")[:128]


def _readme(model: Model) -> str:
    card = model.card
    lines = [
        f"# {card.name or 'semsr model'}",
        "",
        card.description or f"A ×{card.scale} super-resolution model made with semsr.",
        "",
        f"- architecture: `{card.arch}` ({model.parameter_count:,} parameters)",
        f"- scale: ×{card.scale}, {card.in_channels} channel(s) in, {card.out_channels} out",
        f"- intensities: in and out in [{card.value_range[0]:g}, {card.value_range[1]:g}]"
        " (normalise the input first)",
    ]
    if card.recipe:
        lines.append(f"- recipe: {card.recipe}")
    if card.metrics:
        lines.append("- metrics: " + ", ".join(f"{k} {v}" for k, v in card.metrics.items()))
    lines += [
        "",
        f"The semsr model card is attached as `{CARD_FILE}`; "
        "`semsr models import` restores the model from this package.",
        "",
    ]
    return "\n".join(lines)


def is_bioimageio_package(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a zip or folder with an ``rdf.yaml``."""
    path = Path(path)
    if path.is_dir():
        return (path / "rdf.yaml").is_file()
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return "rdf.yaml" in zf.namelist()
    return False


def import_bioimageio(path: str | os.PathLike) -> Model:
    """The semsr model in a zoo package written by :func:`export_bioimageio`.

    Only packages of semsr architectures (with the attached semsr card) can be read;
    any other package is refused naming the file.
    """
    import io

    import torch

    path = Path(path)
    files = _package_files(path, (CARD_FILE, WEIGHTS_FILE, "rdf.yaml"))
    if files.get("rdf.yaml") is None:
        raise ModelError(
            "not a BioImage Model Zoo package (no rdf.yaml)",
            path=path,
            hint="Give a .zip or folder exported by `semsr models export --format bioimageio`.",
        )
    if files.get(CARD_FILE) is None or files.get(WEIGHTS_FILE) is None:
        raise ModelError(
            "this BioImage Model Zoo package is not a semsr model (it has no "
            f"{CARD_FILE}); only semsr architectures can be imported",
            path=path,
            hint="Import models exported by semsr, or ESRGAN/Real-ESRGAN .pth weights.",
        )
    try:
        card = ModelCard.from_dict(json.loads(files[CARD_FILE]), path=path)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{CARD_FILE} is not valid JSON ({exc})", path=path) from exc
    try:
        state = torch.load(io.BytesIO(files[WEIGHTS_FILE]), map_location="cpu", weights_only=True)
    except Exception:
        raise ModelError(
            f"{WEIGHTS_FILE} is not a plain PyTorch state dict (refused: it would "
            "have to be unpickled, or it is damaged)",
            path=path,
            hint="Export the model again with semsr.",
        ) from None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ModelError(f"{WEIGHTS_FILE} holds no state dict of tensors", path=path)
    return _assemble(card, state, path)


def _package_files(path: Path, names: tuple[str, ...]) -> dict[str, bytes | None]:
    if path.is_dir():
        return {n: (path / n).read_bytes() if (path / n).is_file() else None for n in names}
    if not path.is_file():
        raise ModelError("package not found", path=path, hint="Check the path.")
    try:
        with zipfile.ZipFile(path) as zf:
            present = set(zf.namelist())
            return {n: zf.read(n) if n in present else None for n in names}
    except zipfile.BadZipFile:
        raise ModelError(
            "not a zip file (damaged, or not a zoo package)",
            path=path,
            hint="Copy or download it again.",
        ) from None
