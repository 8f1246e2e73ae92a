"""Does `semsr align` call well-aligned pairs "suspicious", and does it still flag the
truly ambiguous ones? Its verdicts, distinctness ratios and shift errors on pairs whose
true shift is known:

- ``lab8``: the eight-pair simulated lab case of ``lab_workflow.py --lab-pairs 8``
  (a contact-hole array over lines; LR and HR cut from different places);
- ``sim``: 20 simulator pairs displaced by a random sub-pixel shift (352² HR,
  ``tests/data/test_align.py``'s helper, with a style gap);
- ``skimage``: 12 scikit-image images, 3 random shifts each, LR the 4×4 block mean,
  LR and HR each with their own noise (σ 0.03 of the range); ``checkerboard`` is
  periodic with nothing to decide the period;
- ``lattice``: a dot lattice scanned twice with its own noise, without and with one
  missing dot.

A verdict other than "failed" with a shift error above 1 HR px would be a wrong
alignment passed on.

    cd benchmarks && OMP_NUM_THREADS=2 ../.venv/bin/python align_distinctness.py
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage import color, data
from skimage.transform import downscale_local_mean

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from semsr_core.data.align import align_pair  # noqa: E402

SCALE = 4
SKIMAGE = ["camera", "astronaut", "coins", "brick", "grass", "text", "moon", "cell",
           "gravel", "coffee", "chelsea", "checkerboard"]


def _row(group: str, name: str, result, true_shift) -> dict:
    error = float(np.hypot(result.shift[0] - true_shift[0], result.shift[1] - true_shift[1]))
    return {"group": group, "pair": name, "verdict": result.verdict,
            "ratio": round(float(result.peak_ratio), 2), "shift_error_px": round(error, 2)}


def lab8() -> list[dict]:
    import lab_workflow

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lab_workflow.LAB_PAIRS["count"] = 8
        lab_workflow.simulate(root / "sim")
        from semsr_core.io import read_stack

        stems = sorted(p.stem for p in (root / "sim" / "lr").glob("*.tif"))
        rng = np.random.default_rng(lab_workflow.SEED)  # as make_lab_case cuts
        for index, stem in enumerate(stems[:16]):
            with read_stack(root / "sim" / "lr" / f"{stem}.tif") as s:
                lr = np.asarray(s[0])
            with read_stack(root / "sim" / "hr" / f"{stem}.tif") as s:
                hr = np.asarray(s[0])
            if lab_workflow.TRAIN_PAIRS <= index < lab_workflow.TRAIN_PAIRS + 8:
                continue  # held out, whole
            ly, lx = rng.integers(0, lab_workflow.MAX_OFFSET + 1, size=2)
            hy, hx = rng.integers(0, SCALE * lab_workflow.MAX_OFFSET + 1, size=2)
            side = lab_workflow.LR_SIDE
            result = align_pair(lr[ly:ly + side, lx:lx + side],
                                hr[hy:hy + SCALE * side, hx:hx + SCALE * side], SCALE)
            rows.append(_row("lab8", stem, result, (SCALE * ly - hy, SCALE * lx - hx)))
    return rows


def sim(n: int = 20) -> list[dict]:
    sys.path.insert(0, str(HERE.parent / "tests" / "data"))
    from test_align import shifted_sim_pair

    rng = np.random.default_rng(7)
    rows = []
    for i in range(n):
        lr, hr, shift = shifted_sim_pair(1000 + i, rng, size=352)
        rows.append(_row("sim", f"sim_{1000 + i}", align_pair(lr, hr, SCALE), shift))
    return rows


def skimage_pairs() -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for name in SKIMAGE:
        image = getattr(data, name)().astype(float)
        if image.ndim == 3:
            image = color.rgb2gray(image / 255.0)
        image = (image - image.min()) / (np.ptp(image) + 1e-9)
        for trial in range(3):
            dy, dx = rng.integers(-40, 41, size=2)
            side, y0 = 256, 60
            if min(image.shape) < y0 + side + 50:
                y0 = 45
                side = (min(image.shape) - 100) // SCALE * SCALE
            hr = image[y0:y0 + side, y0:y0 + side] + rng.normal(0, 0.03, (side, side))
            lr = downscale_local_mean(image[y0 + dy:y0 + dy + side, y0 + dx:y0 + dx + side],
                                      (SCALE, SCALE))
            lr = lr + rng.normal(0, 0.03, lr.shape)
            rows.append(_row("skimage", f"{name}_{trial}", align_pair(lr, hr, SCALE),
                             (dy, dx)))
    return rows


def lattice() -> list[dict]:
    rows = []
    for defect in (False, True):
        yy, xx = np.mgrid[0:300, 0:300]
        pattern = (np.sin(2 * np.pi * yy / 24) * np.sin(2 * np.pi * xx / 24) > 0.3)
        pattern = ndimage.gaussian_filter(pattern.astype(float), 1.0)
        if defect:
            pattern[100:112, 100:112] = 0.0
        rng = np.random.default_rng(0)
        hr = pattern[20:276, 20:276] + rng.normal(0, 0.05, (256, 256))
        lr = downscale_local_mean(pattern[25:281, 13:269], (SCALE, SCALE))
        lr = lr + rng.normal(0, 0.05, lr.shape)
        rows.append(_row("lattice", "one dot missing" if defect else "perfect",
                         align_pair(lr, hr, SCALE), (5, -7)))
    return rows


def report(rows: list[dict], out: Path) -> None:
    lines = ["# `semsr align`: verdicts on pairs of known shift", "",
             f"Command: `cd benchmarks && OMP_NUM_THREADS=2 ../.venv/bin/python "
             f"align_distinctness.py` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
             "", "| group | aligned | suspicious | failed | wrong shift (> 1 px) passed on |",
             "|---|---|---|---|---|"]
    for group in dict.fromkeys(r["group"] for r in rows):
        part = [r for r in rows if r["group"] == group]
        count = {v: sum(r["verdict"] == v for r in part) for v in ("aligned", "suspicious",
                                                                  "failed")}
        wrong = [r["pair"] for r in part if r["verdict"] == "aligned"
                 and r["shift_error_px"] > 1.0]
        lines.append(f"| {group} | {count['aligned']} | {count['suspicious']} | "
                     f"{count['failed']} | {len(wrong)} {', '.join(wrong)} |")
    lines += ["", "| group | pair | verdict | ratio | shift error (HR px) |",
              "|---|---|---|---|---|"]
    lines += [f"| {r['group']} | {r['pair']} | {r['verdict']} | {r['ratio']} | "
              f"{r['shift_error_px']} |" for r in rows]
    notes = out.with_suffix(".notes.md")
    if notes.is_file():
        lines += ["", notes.read_text(encoding="utf-8").rstrip()]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(HERE / "align_distinctness"))
    args = parser.parse_args()
    rows = lab8() + sim() + skimage_pairs() + lattice()
    report(rows, Path(args.out))
    print(f"wrote {Path(args.out).with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
