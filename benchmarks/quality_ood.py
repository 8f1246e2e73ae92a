"""Out-of-domain quality: every bundled model against bicubic on images semsr did not make.

    .venv/bin/python benchmarks/quality_ood.py [--quick] [--old REV] [--out benchmarks/quality_ood]

Scored in one run, with the same LR for every method:

- scikit-image's bundled images (``ood_data.CLASSES``: natural, texture, microscopy,
  document), the centre crop that training never sees (``ood_data.scored_crop``);
- real microscopy images shipped by packages on the registries
  (``benchmarks/ood_images/``: SEM, cryo-ET, X-ray tomography, fluorescence; sources
  and licences in its README);
- a periodic class made by semsr's texture generators from seeds training never uses
  (reported apart: semsr made it);
- at ×2 and ×4, with LR by block mean and by antialiased bicubic, clean and with
  shot noise (Poisson at 50 e⁻ per LR pixel at full brightness) plus Gaussian read
  noise (0.005);
- the simulator's held-out set (``semsr simulate … --seed 7000``) through
  ``semsr evaluate``, for PSNR and the defect-region figures.

Methods: bicubic; each bundled model with its measurement-consistency guard (the
default) and without it (``--consistency off``); with ``--old REV`` also the models of
that git revision (the ones these replace). The models get the LR as a float image in
[0, 1] through the public ``super_resolve`` (the intensity policy maps it by
percentiles, as it would a user's float scan) and give float32 in the same units.

Reports per image and condition: PSNR, SSIM, and the error of the mean intensity (in %
of the range); ``quality_ood.md`` has the means per class and the worst image.
``--quick`` scores a subset (the slow test uses it).
"""

from __future__ import annotations

import argparse
import atexit
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from semsr_core.metrics.noisy_reference import NOISY_REFERENCE_SIGMA

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import ood_data  # noqa: E402

NOISE = {"clean": None, "dose50": 50.0}
READ_NOISE = 0.005
DEGRADATIONS = ("area", "bicubic")
BUNDLED = {2: ("default-x2",), 4: ("default-x4", "default-x4-gan")}


def ood_images() -> list[tuple[str, str, np.ndarray]]:
    """(class, name, HR in [0, 1]) of benchmarks/ood_images (the intensity policy's
    mapping, clipped: the reference for scoring)."""
    import tifffile

    from semsr_core.io.intensity import choose_mapping

    folder = HERE / "ood_images"
    manifest = json.loads((folder / "manifest.json").read_text())
    images = []
    for entry in manifest:
        raw = np.asarray(tifffile.imread(folder / entry["file"]))
        unit = np.clip(choose_mapping(raw).to_unit(raw), 0.0, 1.0)
        images.append((entry["class"], Path(entry["file"]).stem, unit.astype(np.float32)))
    return images


def test_set(scale: int, quick: bool) -> list[tuple[str, str, np.ndarray]]:
    items = [(cls, name, ood_data.scored_crop(name, scale))
             for cls, names in ood_data.CLASSES.items() for name in names]
    items += [(cls, name, hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale])
              for cls, name, hr in ood_images()]
    items += [("periodic (semsr-made)", name, hr) for name, hr in ood_data.periodic_images(scale)]
    if quick:
        keep = {"camera", "brick", "cell", "text", "sem_retic_b", "lattice_0"}
        items = [item for item in items if item[1] in keep]
    return items


def make_lr(hr: np.ndarray, scale: int, degradation: str, noise: str, seed: int) -> np.ndarray:
    from semsr_core.data.degrade import degrade

    lr = degrade(degradation, hr, scale)
    dose = NOISE[noise]
    if dose is not None:
        rng = np.random.default_rng(seed)
        lr = rng.poisson(np.clip(lr, 0, None) * dose) / dose + rng.normal(0, READ_NOISE,
                                                                           lr.shape)
    return lr.astype(np.float32)


def score(hr: np.ndarray, sr: np.ndarray) -> dict[str, float]:
    from semsr_core.metrics.full_reference import psnr, ssim

    return {"psnr": round(float(psnr(hr, sr)), 3), "ssim": round(float(ssim(hr, sr)), 4),
            "mean_error_pct": round(100 * float(sr.mean() - hr.mean()), 3)}


def old_models(rev: str, work: Path) -> dict[str, Path]:
    """The bundled models of git revision ``rev``, extracted to ``work``."""
    found = {}
    for name in ("default-x2", "default-x4", "default-x4-gan"):
        path = work / f"{name}@{rev}.semsr"
        blob = subprocess.run(["git", "show", f"{rev}:resources/models/{name}.semsr"],
                              cwd=HERE.parent, capture_output=True, check=False)
        if blob.returncode == 0:
            path.write_bytes(blob.stdout)
            found[name] = path
    return found


CANDIDATES: Path | None = None
"""A folder of model files that stand in for the bundled ones of the same name
(``--candidates``: score models before they are bundled)."""


def bundled(name: str):
    from semsr_core.models import load_model

    if CANDIDATES is not None and (CANDIDATES / f"{name}.semsr").is_file():
        model = load_model(CANDIDATES / f"{name}.semsr")
    else:
        model = load_model(name)
    variant = model.card.training.get("clean_variant")
    if variant and CANDIDATES is not None and (CANDIDATES / f"{variant['model']}.semsr").is_file():
        variant["model"] = str(CANDIDATES / f"{variant['model']}.semsr")  # a candidate too
    return model


ADAPT: float | None = None
"""``--adapt SECONDS``: also each bundled model adapted to each image for that long."""
CLASS_FILTER: set[str] | None = None
"""``--classes``: score only these image classes."""
ENSEMBLE = False
"""``--self-ensemble``: also each bundled model with the mean of the 8 rotations/mirrors."""


def methods(scale: int, old: dict[str, Path]):
    """(label, model, consistency, adapt seconds, self-ensemble) of every method at
    ``scale`` (bicubic aside)."""
    from semsr_core.models import load_model

    out = []
    for name in BUNDLED[scale]:
        model = bundled(name)
        out += [(name, model, "model", None, False),
                (f"{name} (guard off)", model, "off", None, False)]
        if ENSEMBLE:
            out.append((f"{name} (×8 ensemble)", model, "model", None, True))
        if ADAPT:
            out.append((f"{name} (adapt {ADAPT:g} s)", model, "model", ADAPT, False))
        if name in old and not name.endswith("-gan"):  # the GAN's predecessor: as x4's
            out.append((f"{name} (before)", load_model(old[name]), "off", None, False))
    return out


def run_ood(scales: list[int], quick: bool, old: dict[str, Path]) -> list[dict]:
    from semsr_core.data.resample import upscale
    from semsr_core.infer import super_resolve
    from semsr_core.infer.consistency import ConsistencyLog, noise_sigma
    from semsr_core.infer.variants import choose

    rows = []
    for scale in scales:
        ms = methods(scale, old)
        for index, (cls, name, hr) in enumerate(test_set(scale, quick)):
            if CLASS_FILTER is not None and not any(cls.startswith(c) for c in CLASS_FILTER):
                continue
            reference_sigma = round(float(noise_sigma(hr)), 4)
            for degradation in DEGRADATIONS:
                for noise in NOISE:
                    lr = make_lr(hr, scale, degradation, noise, seed=1000 * index + scale)
                    base = {"scale": scale, "class": cls, "image": name,
                            "degradation": degradation, "noise": noise,
                            "reference_sigma": reference_sigma}
                    bicubic = upscale(lr, scale, clip=False)
                    rows.append({**base, "method": "bicubic", **score(hr, bicubic)})
                    for label, model, consistency, adapt, ensemble in ms:
                        # the clean variant as super_resolve would choose it, recorded
                        chosen, variant = choose(model, lr)
                        guard = ConsistencyLog(consistency)
                        sr = super_resolve(lr, chosen, device="cpu", output_dtype="float32",
                                           consistency=guard, adapt_seconds=adapt or 0.0,
                                           clean_variant="off", self_ensemble=ensemble)
                        extra = {} if variant is None else {"clean_variant": variant["used"]}
                        # the disagreement map's share: above 1 % the user is warned
                        extra["disagreeing_fraction"] = round(
                            guard.record.get("disagreeing_fraction_max", 0.0), 5)
                        rows.append({**base, "method": label, **score(hr, sr), **extra})
            print(f"×{scale} {name}", file=sys.stderr, flush=True)
    return rows


def run_simulator(work: Path, old: dict[str, Path], scales: list[int]) -> dict:
    """``semsr evaluate`` on the held-out simulated set of the model READMEs."""
    from semsr_core.data.simulate import simulate_dataset
    from semsr_core.metrics.evaluation import evaluate
    from semsr_core.models import load_model

    figures = {}
    for scale in scales:
        names = BUNDLED[scale]
        data = work / f"sim_x{scale}"
        simulate_dataset(data, pairs=16, scale=scale, size=384, seed=7000, layout="mixed",
                         defect_rate=2)
        models = [bundled(n) for n in names]
        for name in names:
            if name in old:
                before = load_model(old[name])
                before.card.name = f"{name} (before)"
                models.append(before)
        report = evaluate(data, work / f"report_x{scale}", models, device="cpu",
                          figures=False)
        figures[scale] = {method: {key: (round(v, 3) if isinstance(v, float) else v)
                                   for key, v in values.items()
                                   if any(t in key for t in ("psnr", "ssim", "defect"))}
                          for method, values in report.aggregate.items()}
    return figures


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def _condition(row: dict) -> tuple:
    """What a row was measured on: scale, image, LR kind and noise."""
    return row["scale"], row["image"], row["degradation"], row["noise"]


def _bicubic_rows(rows: list[dict]) -> dict[tuple, dict]:
    """Bicubic's row of each condition, the baseline every gain is taken against."""
    return {_condition(r): r for r in rows if r["method"] == "bicubic"}


def summarise(rows: list[dict]) -> dict:
    """Gain over bicubic per (scale, method, class, noise) and the worst image."""
    bic = _bicubic_rows(rows)
    table: dict = {}
    for r in rows:
        if r["method"] == "bicubic":
            continue
        b = bic[_condition(r)]
        key = (r["scale"], r["method"], r["class"], "clean" if r["noise"] == "clean"
               else "noisy")
        entry = table.setdefault(key, {"gain": [], "ssim_gain": [], "mean_err": [],
                                       "worst": (np.inf, "")})
        gain = r["psnr"] - b["psnr"]
        entry["gain"].append(gain)
        entry["ssim_gain"].append(r["ssim"] - b["ssim"])
        entry["mean_err"].append(abs(r["mean_error_pct"]))
        if gain < entry["worst"][0]:
            entry["worst"] = (gain, f"{r['image']} {r['degradation']} {r['noise']}")
    return {key: {"gain_db": round(_mean(v["gain"]), 2),
                  "ssim_gain": round(_mean(v["ssim_gain"]), 4),
                  "mean_error_pct": round(_mean(v["mean_err"]), 2),
                  "worst_db": round(v["worst"][0], 2), "worst": v["worst"][1],
                  "n": len(v["gain"])} for key, v in table.items()}


def headline(rows: list[dict]) -> list[str]:
    """The README's table rows: per (scale, method), over every independent image (the
    semsr-made periodic class left out) and LR kind, the mean gain on clean and on noisy
    LR with the worst image, how many clean conditions fall more than 0.2 dB below
    bicubic, and the mean-intensity error (mean, max)."""
    bic = _bicubic_rows(rows)
    groups: dict = {}
    for r in rows:
        if r["method"] == "bicubic" or "semsr-made" in r["class"]:
            continue
        gain = r["psnr"] - bic[_condition(r)]["psnr"]
        entry = groups.setdefault((r["scale"], r["method"]), {"clean": [], "noisy": [],
                                                              "err": []})
        entry["clean" if r["noise"] == "clean" else "noisy"].append((gain, r["image"]))
        entry["err"].append(abs(r["mean_error_pct"]))
    lines = ["| scale | method | clean: mean gain (worst image) | clean: below −0.2 dB | "
             "noisy: mean gain (worst) | mean-intensity error % (max) |",
             "|---|---|---|---|---|---|"]
    for (scale, method), e in sorted(groups.items()):
        clean, noisy = e["clean"], e["noisy"]
        worst_clean, worst_noisy = min(clean), min(noisy)
        lines.append(f"| ×{scale} | {method} | {_mean([g for g, _ in clean]):+.2f} dB "
                     f"({worst_clean[0]:+.2f}, `{worst_clean[1]}`) | "
                     f"{sum(g < -0.2 for g, _ in clean)} of {len(clean)} | "
                     f"{_mean([g for g, _ in noisy]):+.2f} dB ({worst_noisy[0]:+.2f}) | "
                     f"{_mean(e['err']):.2f} ({max(e['err']):.2f}) |")
    return lines


NOISY_REFERENCE = NOISY_REFERENCE_SIGMA  # `semsr evaluate`'s limit, one owner


def noisy_references(rows: list[dict]) -> list[str]:
    """Lines naming the independent images whose reference is itself a noisy scan, with
    each clean-LR gain of the methods there (so a reader can tell such a loss apart)."""
    bic = _bicubic_rows(rows)
    sigmas = {r["image"]: r["reference_sigma"] for r in rows
              if r.get("reference_sigma", 0.0) > NOISY_REFERENCE
              and "semsr-made" not in r["class"]}
    if not sigmas:
        return []
    lines = ["## References that are noisy scans themselves", "",
             f"These images' HR has a noise estimate σ above {NOISY_REFERENCE} (the guard's "
             "`noise_sigma`, [0, 1] units). Their *clean* LR is the block mean or bicubic "
             "of a noisy scan, and a method that removes that noise loses PSNR against "
             "the noisy reference even where it is right: read their losses with that in "
             "mind. (The estimate also reads very fine texture as noise: a texture listed "
             "here, such as scikit-image's `grass`, is not a noisy scan.)", "",
             "| image | reference σ | clean-LR gains (method: block mean / bicubic) |",
             "|---|---|---|"]
    for image, sigma in sorted(sigmas.items()):
        gains: dict[str, list[str]] = {}
        for r in rows:
            if r["image"] == image and r["noise"] == "clean" and r["method"] != "bicubic":
                gain = r["psnr"] - bic[_condition(r)]["psnr"]
                gains.setdefault(f"×{r['scale']} {r['method']}", []).append(f"{gain:+.2f}")
        lines.append(f"| `{image}` | {sigma:.3f} | "
                     + "; ".join(f"{k}: {' / '.join(v)}" for k, v in gains.items()) + " |")
    return [*lines, ""]


def variant_use(rows: list[dict]) -> list[str]:
    """Lines saying, per method whose model names a clean variant, on which conditions
    the variant enlarged the LR (the input read clean)."""
    used: dict[str, list[str]] = {}
    for r in rows:
        if "clean_variant" in r:
            entry = used.setdefault(r["method"], [])
            if r["clean_variant"]:
                entry.append(f"{r['image']} {r['degradation']} {r['noise']}")
    if not used:
        return []
    lines = ["## Clean variant", "",
             "Conditions where the model's clean variant (`semsr_core/infer/variants.py`) "
             "enlarged the LR, as `super_resolve` chooses it (the LR's noise estimate at "
             "most the card's limit):", ""]
    total = {m: sum(r["method"] == m for r in rows) for m in used}
    for method, conditions in sorted(used.items()):
        lines.append(f"- {method}: {len(conditions)} of {total[method]}"
                     + (f" — {', '.join(conditions)}" if conditions else ""))
    return [*lines, ""]


def guard_warnings(rows: list[dict]) -> list[str]:
    """Lines saying, per guarded method, on how many conditions the user would be warned
    that the model changed what the scan measured (disagreement map above 1 %), clean
    and noisy, naming the clean ones (a warning on a clean image is a false alarm unless
    the model did change it)."""
    from semsr_core.infer.consistency import WARN_FRACTION

    found: dict[str, dict[str, list[str]]] = {}
    for r in rows:
        if "disagreeing_fraction" not in r or "(guard off)" in r["method"]:
            continue
        entry = found.setdefault(r["method"], {"clean": [], "noisy": [], "all": []})
        entry["all"].append(r["image"])
        if r["disagreeing_fraction"] > WARN_FRACTION:
            kind = "clean" if r["noise"] == "clean" else "noisy"
            entry[kind].append(f"{r['image']} {r['degradation']} {r['noise']}"
                               f" ({100 * r['disagreeing_fraction']:.1f} %)")
    if not found:
        return []
    lines = ["## Warnings", "",
             "Conditions where `super_resolve` warns that the model changed what the scan "
             f"measured (the disagreement map covers more than {100 * WARN_FRACTION:g} % "
             "of the image):", ""]
    for method, e in sorted(found.items()):
        lines.append(f"- {method}: {len(e['clean'])} clean, {len(e['noisy'])} noisy of "
                     f"{len(e['all'])}" + (f" — clean: {', '.join(e['clean'])}"
                                           if e["clean"] else ""))
    return [*lines, ""]


def write_markdown(path: Path, summary: dict, simulator: dict | None, meta: dict,
                   rows: list[dict] | None = None) -> None:
    lines = ["# Out-of-domain quality (generated by `benchmarks/quality_ood.py`)", "",
             f"Run: {meta['date']}, {meta['seconds']:.0f} s, command `{meta['command']}`.",
             "Gain = PSNR of the method − PSNR of bicubic on the same LR (dB); mean over the "
             "class's images × {block-mean, bicubic} LR (× both doses for *noisy*). "
             "Worst = the single image and condition with the lowest gain. |mean err| = "
             "error of the output's mean intensity, % of the range.", ""]
    if rows:
        lines += ["## Headline (every independent image and LR kind)", "", *headline(rows),
                  "", *noisy_references(rows), *variant_use(rows), *guard_warnings(rows)]
    for scale in sorted({k[0] for k in summary}):
        lines += [f"## ×{scale}", "",
                  "| method | class | noise | gain dB | SSIM gain | |mean err| % | worst dB "
                  "(image, LR, noise) | n |", "|---|---|---|---|---|---|---|---|"]
        for key in sorted(k for k in summary if k[0] == scale):
            v = summary[key]
            lines.append(f"| {key[1]} | {key[2]} | {key[3]} | {v['gain_db']:+.2f} | "
                         f"{v['ssim_gain']:+.4f} | {v['mean_error_pct']:.2f} | "
                         f"{v['worst_db']:+.2f} ({v['worst']}) | {v['n']} |")
        lines.append("")
    if simulator:
        lines += ["## The simulator's held-out set (`semsr evaluate`, seed 7000)", "",
                  "```json", json.dumps(simulator, indent=1, default=str)[:6000], "```", ""]
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a subset, ×4 only, no simulator")
    ap.add_argument("--old", help="git revision whose bundled models are also scored")
    ap.add_argument("--scales", default="2,4")
    ap.add_argument("--no-simulator", action="store_true")
    ap.add_argument("--out", default=str(HERE / "quality_ood"))
    ap.add_argument("--only", help="comma-separated bundled models to score (default all)")
    ap.add_argument("--candidates", help="folder of model files scored in place of the "
                    "bundled ones of the same name")
    ap.add_argument("--adapt", type=float, metavar="SECONDS",
                    help="also score each bundled model adapted to each image for SECONDS")
    ap.add_argument("--self-ensemble", action="store_true",
                    help="also score each bundled model with the mean of the 8 "
                         "rotations/mirrors (guard on)")
    ap.add_argument("--classes", help="comma-separated image classes to score (a prefix "
                    "matches: 'periodic' for the semsr-made periodic class)")
    args = ap.parse_args()
    global CANDIDATES, ADAPT, CLASS_FILTER, ENSEMBLE
    ADAPT = args.adapt
    ENSEMBLE = args.self_ensemble
    CLASS_FILTER = set(args.classes.split(",")) if args.classes else None
    CANDIDATES = Path(args.candidates) if args.candidates else None
    if args.only:
        wanted = set(args.only.split(","))
        for scale in BUNDLED:
            BUNDLED[scale] = tuple(n for n in BUNDLED[scale] if n in wanted)
    started = time.time()
    work = Path(tempfile.mkdtemp(prefix="semsr_ood_"))
    atexit.register(shutil.rmtree, work, True)  # no folders left in the temp dir
    old = old_models(args.old, work) if args.old else {}
    scales = [4] if args.quick else [int(s) for s in args.scales.split(",")]
    rows = run_ood(scales, args.quick, old)
    summary = summarise(rows)
    simulator = None if args.quick or args.no_simulator else run_simulator(work, old, scales)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "seconds": time.time() - started, "command": " ".join(sys.argv)}
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(
        {"meta": meta, "rows": rows, "simulator": simulator,
         "summary": [{"scale": k[0], "method": k[1], "class": k[2], "noise": k[3], **v}
                     for k, v in summary.items()]}, indent=1, default=str))
    write_markdown(out.with_suffix(".md"), summary, simulator, meta, rows)
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
