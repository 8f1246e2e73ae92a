"""Validation during training: the EMA generator (the weights that would be exported)
enlarges each held-out pair; PSNR/SSIM against the HR and against bicubic go out as a
METRICS event, crops of the first pairs as SAMPLE events, and the best weights so far
are kept as ``best.pt``.

:class:`Validation` is a part (a mixin) of :class:`~semsr_core.train.engine.Trainer`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from semsr_core.events import Metrics, Sample


@dataclass
class ValidationPair:
    """A held-out aligned pair, float32 arrays in [0, 1] (LR is HR/scale in size);
    ``reference``: the HR reference image of reference-based recipes (MASA-SR)."""

    name: str
    lr: np.ndarray
    hr: np.ndarray
    reference: np.ndarray | None = None



class Validation:
    """A trainer's validation on its held-out pairs."""

    def _validate(self, epoch: int) -> None:
        began = time.monotonic()
        self._validate_now(epoch)
        self.book.add_validation(time.monotonic() - began)

    def _validate_now(self, epoch: int) -> None:
        self._validated_step = self.pos.global_step
        if not self.val_pairs or not self.dist.is_main:
            self.dist.barrier()
            return
        from semsr_core.data.resample import upscale
        from semsr_core.metrics.full_reference import mean_psnr, psnr, ssim
        from semsr_core.metrics.no_reference import gradient_map

        model = self.export_model()  # the weights validated are the ones exported
        psnrs, ssims, bic_psnrs, bic_ssims = [], [], [], []
        samples = []
        for pair in self.val_pairs:
            sr = self.super_resolve_array(pair.lr, model, reference=pair.reference)
            hr = pair.hr[: sr.shape[0], : sr.shape[1]]
            bic = upscale(pair.lr, shape=hr.shape)
            psnrs.append(psnr(hr, sr))
            ssims.append(ssim(hr, sr))
            bic_psnrs.append(psnr(hr, bic))
            bic_ssims.append(ssim(hr, bic))
            if len(samples) < self.cfg.train.sample_count:
                samples.append((pair.name, bic, sr, hr))
        metrics = {"psnr": mean_psnr(psnrs), "ssim": float(np.mean(ssims)),
                   "psnr_bicubic": mean_psnr(bic_psnrs),
                   "ssim_bicubic": float(np.mean(bic_ssims))}
        self.last_metrics = metrics
        if self.pos.global_step == 0 and self.init_card is not None:
            self.start_metrics = dict(metrics)
        improved = metrics["psnr"] > self.best_psnr
        if improved:
            self.best_psnr = metrics["psnr"]
        self._emit(Metrics(step=self.pos.global_step, epoch=epoch, **metrics, best=improved))
        for name, bic, sr, hr in samples:
            crop = _center_crop_slices(hr.shape, 128)
            images = {"lr_bicubic": bic[crop], "sr": sr[crop], "hr": hr[crop]}
            images.update({f"{k}_gradient": gradient_map(v) for k, v in list(images.items())})
            self._emit(Sample(step=self.pos.global_step, epoch=epoch, name=name,
                              images=images))
        if improved:
            self.checkpoints.save_best(self._state())
        self.dist.barrier()

    def super_resolve_array(self, lr: np.ndarray, model=None,
                            reference: np.ndarray | None = None) -> np.ndarray:
        """SR of one float32 [0, 1] image with the EMA generator (the exported weights);
        ``reference``: the HR reference of a reference-based model (MASA-SR)."""
        from semsr_core.infer import super_resolve
        from semsr_core.io.intensity import IntensityMapping

        return super_resolve(lr.astype(np.float32), model or self.export_model(),
                             device=str(self.device), precision="fp32",
                             intensity=IntensityMapping.identity(), **_network_output(),
                             **({} if reference is None else {"reference": reference}))


def _network_output() -> dict[str, Any]:
    """Validation judges the network's own output: without the measurement-consistency
    guard of ``super_resolve`` (a post-process for users) where it has one. With a
    contrast gap between LR and HR the guard pulls the result back to the LR's contrast,
    and validation would then rank weights by the guard, not by what they learned."""
    import inspect

    from semsr_core.infer import super_resolve

    takes = "consistency" in inspect.signature(super_resolve).parameters
    return {"consistency": "off"} if takes else {}


def _center_crop_slices(shape: tuple[int, ...], size: int) -> tuple[slice, slice]:
    h, w = shape[-2:]
    ch, cw = min(size, h), min(size, w)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return slice(y0, y0 + ch), slice(x0, x0 + cw)
