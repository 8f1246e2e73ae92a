"""The main job on a fresh machine: super-resolve the bundled sample SEM stack.

``run_demo`` enlarges ``resources/sample/sem_stack_lr.tif`` (4 simulated slices,
8 nm pixels) ×4 with the bundled default model, writes the OME-TIFF result (2 nm
pixels) and compares it and bicubic upscaling with the known high-resolution truth
``sem_stack_hr.tif``, slice by slice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from semsr_core.errors import ModelError
from semsr_core.events import CancelToken, EventCallback
from semsr_core.io.intensity import choose_mapping
from semsr_core.resources import resource_path

DEFAULT_MODEL = "default-x4"


@dataclass
class DemoResult:
    output: Path
    model: str
    rows: list[dict[str, float]] = field(default_factory=list)  # per slice

    def mean(self, key: str) -> float:
        return float(np.mean([r[key] for r in self.rows]))


def sample_stacks() -> tuple[Path, Path]:
    """The bundled LR sample stack and its HR ground truth."""
    return resource_path("sample", "sem_stack_lr.tif"), resource_path("sample", "sem_stack_hr.tif")


def run_demo(out_dir: str | Path = "out", *, model: str = DEFAULT_MODEL, device: str = "auto",
             on_event: EventCallback | None = None,
             cancel: CancelToken | None = None) -> DemoResult:
    from semsr_core.data.resample import upscale
    from semsr_core.infer import super_resolve_file
    from semsr_core.io import read_stack
    from semsr_core.metrics.full_reference import psnr, ssim
    from semsr_core.models import load_model

    lr_path, hr_path = sample_stacks()
    try:
        loaded = load_model(model)
    except ModelError as exc:
        raise ModelError(f"{exc}",
                         hint="The default model is made by benchmarks/train_defaults.py.") \
            from None
    out = Path(out_dir) / f"{lr_path.stem}_sr{loaded.scale}x.ome.tif"
    out.parent.mkdir(parents=True, exist_ok=True)
    super_resolve_file(lr_path, out, loaded, overwrite=True, device=device,
                       on_event=on_event, cancel=cancel)
    result = DemoResult(out, loaded.name or model)
    with read_stack(lr_path) as lr, read_stack(hr_path) as hr, read_stack(out) as sr:
        units = choose_mapping(hr, path=hr_path)  # LR, SR and HR share the HR's units
        for index in range(len(lr)):
            truth = units.to_unit(hr[index])
            enlarged = units.to_unit(sr[index])
            bicubic = upscale(units.to_unit(lr[index]), shape=truth.shape)
            result.rows.append({
                "slice": index,
                "psnr": psnr(truth, enlarged), "ssim": ssim(truth, enlarged),
                "psnr_bicubic": psnr(truth, bicubic), "ssim_bicubic": ssim(truth, bicubic),
            })
    return result
