"""Where a clean variant should take over: the noise limit of ``default-x4``'s
``clean_variant`` entry, chosen on the training distribution, not on the benchmark.

A clean variant (:mod:`semsr_core.infer.variants`) is trained on noise-free inputs
only; the blind model on clean and noisy alike. Which is better depends on the input's
noise. This script makes pairs of the broad training mix (`train_broad.py`'s generators:
simulator scenes, natural-image strips outside the benchmark's crops, textures; block
mean, bicubic and blur + decimation) from seeds no training used, adds Gaussian noise
of several σ to each LR, and enlarges every LR with both models (guard on, as shipped).
For each candidate limit it reports the mean gain over bicubic of the switch (the
variant where the guard's noise estimate of the LR is at most the limit) and picks the
best. `quality_ood.py` then scores the result on images semsr did not make.

    python benchmarks/clean_variant.py default-x4 default-x4-clean \
        --out benchmarks/clean_variant --apply

``--apply`` writes the chosen limit into the blind model's card (its file, e.g. the
bundled ``default-x4.semsr``) as ``training.clean_variant``, naming the variant by its
card's name.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import train_broad  # noqa: E402

from semsr_core.data.resample import upscale  # noqa: E402
from semsr_core.infer import super_resolve  # noqa: E402
from semsr_core.infer.consistency import noise_sigma  # noqa: E402
from semsr_core.metrics.full_reference import psnr  # noqa: E402
from semsr_core.models import load_model  # noqa: E402

SIGMAS = (0.0, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.06)
LIMITS = (0.0, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04)
SEED = 4_200_000  # far from every training seed of train_broad.py (500,000–790,000)


def pairs(count: int, scale: int, side: int) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """Clean (LR, HR, look) pairs of the broad mix at HR ``side``."""
    train_broad.HR_SIDE = side
    train_broad.NOISE["share"] = 0.0
    rng = np.random.default_rng(SEED)
    pool = train_broad._natural_pool()
    out = []
    for _ in range(count):
        lr, hr, _mask, look = train_broad.broad_pair(rng, scale, pool)
        out.append((lr, hr, f"{look['content']}/{look['degradation']}"))
    return out


def measure(blind: str, clean: str, count: int, side: int) -> list[dict]:
    models = {"blind": load_model(blind), "clean": load_model(clean)}
    scale = models["blind"].card.scale
    rng = np.random.default_rng(SEED + 1)
    rows = []
    for index, (lr, hr, look) in enumerate(pairs(count, scale, side)):
        for sigma in SIGMAS:
            noisy = np.clip(lr + rng.normal(0, sigma, lr.shape), 0, 1).astype(np.float32)
            row = {"pair": index, "look": look, "sigma": sigma,
                   "estimate": round(noise_sigma(noisy), 5),
                   "bicubic": psnr(hr, np.clip(upscale(noisy, scale), 0, 1))}
            for name, model in models.items():
                sr = super_resolve(noisy, model, device="cpu", clean_variant="off")
                row[name] = psnr(hr, np.clip(sr, 0, 1))
            rows.append(row)
    return rows


def switched(rows: list[dict], limit: float) -> list[float]:
    return [(r["clean"] if r["estimate"] <= limit else r["blind"]) - r["bicubic"] for r in rows]


def report(rows: list[dict], meta: dict) -> tuple[str, float]:
    lines = ["# Where the clean variant takes over (`benchmarks/clean_variant.py`)", "",
             f"Command: `{meta['command']}`", "",
             f"Run {meta['date']} on this project's CPU, {meta['seconds']:.0f} s. "
             f"{meta['pairs']} clean pairs of the broad training mix at HR {meta['side']}² "
             f"(seed {SEED}, no training used it), each LR with Gaussian noise of every σ "
             "below; both models with their guard on; gains over bicubic of the same LR, "
             "in dB. Not the out-of-domain benchmark: this chooses the limit, "
             "`quality_ood.md` judges it.", "",
             "| noise σ added | noise estimate (mean) | blind | clean variant | clean − blind |",
             "|---|---|---|---|---|"]
    for sigma in SIGMAS:
        at = [r for r in rows if r["sigma"] == sigma]
        blind = np.mean([r["blind"] - r["bicubic"] for r in at])
        clean = np.mean([r["clean"] - r["bicubic"] for r in at])
        lines.append(f"| {sigma:g} | {np.mean([r['estimate'] for r in at]):.4f} | "
                     f"{blind:+.2f} | {clean:+.2f} | {clean - blind:+.2f} |")
    lines += ["", "The switch (the variant where the LR's noise estimate is at most the "
              "limit) over every pair and σ above:", "",
              "| limit | mean gain | worst | LRs given to the variant |", "|---|---|---|---|"]
    best, best_mean = 0.0, -np.inf
    for limit in LIMITS:
        gains = switched(rows, limit)
        share = np.mean([r["estimate"] <= limit for r in rows])
        lines.append(f"| {limit:g} | {np.mean(gains):+.3f} | {min(gains):+.2f} | "
                     f"{100 * share:.0f} % |")
        if np.mean(gains) > best_mean + 1e-4:
            best, best_mean = limit, float(np.mean(gains))
    lines += ["", f"Best limit: **{best:g}** (mean gain {best_mean:+.3f} dB; blind alone "
              f"{np.mean(switched(rows, -1.0)):+.3f} dB)."]
    return "\n".join(lines) + "\n", best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("blind", help="the model (name or file)")
    ap.add_argument("clean", help="its clean variant (name or file)")
    ap.add_argument("--pairs", type=int, default=24)
    ap.add_argument("--side", type=int, default=256, help="HR side of each pair")
    ap.add_argument("--out", default=str(HERE / "clean_variant"))
    ap.add_argument("--apply", action="store_true",
                    help="write the chosen limit into the blind model's file")
    args = ap.parse_args()
    started = time.monotonic()
    rows = measure(args.blind, args.clean, args.pairs, args.side)
    meta = {"command": "python benchmarks/clean_variant.py " + " ".join(sys.argv[1:]),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "seconds": time.monotonic() - started, "pairs": args.pairs, "side": args.side}
    text, best = report(rows, meta)
    Path(args.out).with_suffix(".json").write_text(
        json.dumps({"meta": meta, "best_limit": best, "rows": rows}, indent=1))
    Path(args.out).with_suffix(".md").write_text(text)
    print(text)
    if args.apply:
        blind, clean = load_model(args.blind), load_model(args.clean)
        blind.card.training["clean_variant"] = {
            "model": clean.card.name, "max_noise_sigma": best,
            "chosen_by": meta["command"] + f" ({meta['date']})"}
        blind.save(blind.path)
        print(f"{blind.path}: clean_variant → {clean.card.name} at σ ≤ {best:g}")


if __name__ == "__main__":
    main()
