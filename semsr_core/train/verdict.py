"""The verdict at the end of a run: is the model better than bicubic on the run's own
validation pairs, which weights were exported, and what to try next.

A model worse than bicubic is never exported as if it were fine: the run writes no
``model.semsr`` and says so, in the FINISHED event, ``verdict.json`` in the run folder
and the CLI's last lines; the weights stay in ``checkpoints/`` (``best.pt``). A run
without validation pairs cannot be judged and says that too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from semsr_core.metrics.noisy_reference import NOISY_REFERENCE_SIGMA, denoising_cost_db

VERDICT_FILE = "verdict.json"

BETTER, WORSE, UNCHECKED = "better than bicubic", "worse than bicubic", "not checked"


@dataclass
class Verdict:
    """``status`` is one of :data:`BETTER`, :data:`WORSE`, :data:`UNCHECKED`;
    ``exported`` says which weights became the model ("best validation at step N",
    "last", or "none"); ``advice`` lists what to try next (empty when better)."""

    status: str
    exported: str
    psnr: float | None = None
    psnr_bicubic: float | None = None
    gain_db: float | None = None
    model: str | None = None
    advice: list[str] = field(default_factory=list)
    started_from: str | None = None  # generator.init, and its validation PSNR
    start_psnr: float | None = None
    reference_noise: float | None = None  # the validation HR's largest noise estimate

    @property
    def worse(self) -> bool:
        return self.status == WORSE

    def text(self) -> str:
        """One sentence for people."""
        if self.status == UNCHECKED:
            what = "not checked against bicubic (no validation pairs)"
        else:
            what = (f"{self.status} on its validation pairs: PSNR {self.psnr:.2f} dB vs "
                    f"bicubic {self.psnr_bicubic:.2f} dB ({self.gain_db:+.2f} dB)")
            if self.start_psnr is not None:
                what += f"; {self.started_from} before training: {self.start_psnr:.2f} dB"
        if self.exported == "none":
            return f"model {what}; no model exported (the weights stay in checkpoints/)"
        return f"model {what}; exported: {self.exported}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        keys = {"status", "exported", "psnr", "psnr_bicubic", "gain_db", "model", "advice",
                "started_from", "start_psnr", "reference_noise"}
        return cls(**{k: v for k, v in data.items() if k in keys})


def judge(metrics: dict[str, float], exported: str, *, recipe: str, fine_tuned: bool,
          start: tuple[str | None, float | None] = (None, None),
          reference_noise: float | None = None, scale: int = 4) -> Verdict:
    """The verdict on a model whose validation figures are ``metrics`` (``psnr`` and
    ``psnr_bicubic``; absent without validation pairs). ``exported`` names the weights
    that would be exported; for a model worse than bicubic it becomes "none".
    ``start`` is the model a fine-tune started from and its validation PSNR;
    ``reference_noise`` the largest noise estimate of the validation HR images, at
    ``scale``."""
    if "psnr" not in metrics or "psnr_bicubic" not in metrics:
        return Verdict(UNCHECKED, exported, advice=[
            "Add validation pairs (--val, or more pairs so some are held out) to know "
            "whether the model beats bicubic."])
    psnr, bicubic = float(metrics["psnr"]), float(metrics["psnr_bicubic"])
    gain = psnr - bicubic
    if gain >= 0:
        return Verdict(BETTER, exported, psnr, bicubic, gain, started_from=start[0],
                       start_psnr=start[1], reference_noise=reference_noise)
    tips = advice_for(recipe, fine_tuned)
    if _noisy_reference_explains(gain, reference_noise, scale):
        tips.insert(0, f"Your validation HR scans read noisy (noise estimate up to σ "
                       f"{reference_noise:.3f}), and against a noisy scan a model that "
                       f"removes the noise loses up to {denoising_cost_db(scale):.2f} dB at "
                       f"×{scale} even where it is right — as much as this run lost. Look at "
                       "its samples; if they are right, export it anyway with --set "
                       "train.export_worse=true.")
    return Verdict(WORSE, "none", psnr, bicubic, gain, advice=tips, started_from=start[0],
                   start_psnr=start[1], reference_noise=reference_noise)


def _noisy_reference_explains(gain: float, reference_noise: float | None,
                              scale: int) -> bool:
        return (scale > 1 and reference_noise is not None  # ×1: the LR holds all the noise
            and reference_noise > NOISY_REFERENCE_SIGMA and gain >= -denoising_cost_db(scale))


def advice_for(recipe: str, fine_tuned: bool) -> list[str]:
    """What to try after a run worse than bicubic."""
    tips = []
    if not fine_tuned:
        tips.append("Start from the bundled model instead of from scratch: recipe "
                    "'finetune' (the default for small datasets and CPUs).")
    tips += ["Give it more time (--max-minutes, the wizard's time limit) or more pairs.",
             "Check the alignment (semsr align's report, the wizard's NCC table) and "
             "exclude pairs that do not match.",
             "Lower the learning rate (--set optimizer.lr=5e-5) or turn off the "
             "adversarial phase (--set phases.gan.epochs=0)."]
    if recipe == "finetune":
        tips.append("Your scans may already be served well by the bundled model: "
                    "compare it with `semsr evaluate --model default-x4`.")
    return tips


def write_verdict(run_dir: Path, verdict: Verdict) -> Path:
    path = Path(run_dir) / VERDICT_FILE
    path.write_text(json.dumps(verdict.as_dict(), indent=2), encoding="utf-8")
    return path


def read_verdict(run_dir: str | Path) -> Verdict | None:
    """The verdict of a finished run, or ``None`` (running, killed, older semsr)."""
    path = Path(run_dir) / VERDICT_FILE
    try:
        return Verdict.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, TypeError):
        return None
