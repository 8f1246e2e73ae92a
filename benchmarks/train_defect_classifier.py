"""Train the bundled defect classifier on the simulator's labelled defects.

Makes ``resources/models/defect-classifier.semsr`` (the frozen classifier of the
``defect_class`` loss and of ``semsr evaluate``'s "do defects stay recognisable?"
figures) and ``benchmarks/train_defect_classifier.md`` with its held-out accuracy.

Data: ``simulate_pair`` HR scans (256², every layout via "mixed", ``--defect-rate``
defects per 256² field). Training tiles are 96×96 HR windows: one around each defect
(its centre ± 16 px) and as many at random places; each batch crops them to 64 or 96
px (the evaluation tile and the ``srgan_labels`` training crop) at random, turns or
flips them, and labels the crop by :func:`semsr_core.data.tile_labels.tile_class`.
The loss weights each class by the inverse of its share of the tiles.

Held out: pairs of other seeds (from ``--test-seed``), every tile of the 64-px grid of
each image (the data ``semsr evaluate`` sees) plus one 64-px tile centred on each
defect; the accuracy per class is the share of that class's tiles classified right.

    nice -n 10 .venv/bin/python benchmarks/train_defect_classifier.py [--minutes 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from semsr_core import archs
from semsr_core.data.simulate import simulate_pair
from semsr_core.data.tile_labels import DEFECT_CLASSES, tile_class, tile_grid
from semsr_core.models.classifier import save_classifier

ROOT = Path(__file__).resolve().parent.parent
WINDOW = 96
TILE = 64
CONFIG = {"in_channels": 1, "classes": len(DEFECT_CLASSES), "features": 12, "depth": 4}


def _window(image: np.ndarray, cy: float, cx: float, side: int) -> tuple[int, int]:
    top = int(np.clip(round(cy - side / 2), 0, image.shape[0] - side))
    left = int(np.clip(round(cx - side / 2), 0, image.shape[1] - side))
    return top, left


def training_tiles(seeds: list[int], rate: float, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """96² HR windows and their label windows: around each defect and at random places."""
    images, labels = [], []
    for seed in seeds:
        pair = simulate_pair(seed, size=256, scale=4, defect_rate=rate)
        places = [(d.centre[0] + rng.uniform(-16, 16), d.centre[1] + rng.uniform(-16, 16))
                  for d in pair.defects]
        places += [tuple(rng.uniform(0, 256, 2)) for _ in range(max(len(pair.defects), 1))]
        for cy, cx in places:
            top, left = _window(pair.hr, cy, cx, WINDOW)
            images.append(pair.hr[top:top + WINDOW, left:left + WINDOW])
            labels.append(pair.mask[top:top + WINDOW, left:left + WINDOW])
    return np.stack(images).astype(np.float32), np.stack(labels)


def held_out_tiles(seeds: list[int], rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """64² tiles of the test images (the grid, then one per defect), classes, grid flags."""
    tiles, classes, grid = [], [], []
    for seed in seeds:
        pair = simulate_pair(seed, size=256, scale=4, defect_rate=rate)
        g = tile_grid(pair.mask, TILE)
        for r in range(g.shape[0]):
            for c in range(g.shape[1]):
                tiles.append(pair.hr[r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE])
                classes.append(g[r, c])
                grid.append(True)
        for d in pair.defects:
            top, left = _window(pair.hr, d.centre[0], d.centre[1], TILE)
            tiles.append(pair.hr[top:top + TILE, left:left + TILE])
            classes.append(tile_class(pair.mask[top:top + TILE, left:left + TILE]))
            grid.append(False)
    return (np.stack(tiles).astype(np.float32), np.array(classes, dtype=np.int64),
            np.array(grid))


def _batch(images: np.ndarray, labels: np.ndarray, size: int, batch: int,
           rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    picks = rng.integers(0, len(images), batch)
    xs, ys = [], []
    for i in picks:
        top, left = rng.integers(0, WINDOW - size + 1, 2)
        x = images[i, top:top + size, left:left + size]
        y = labels[i, top:top + size, left:left + size]
        k = int(rng.integers(8))
        x = np.rot90(x if k < 4 else x.T, k % 4)
        xs.append(np.ascontiguousarray(x))
        ys.append(tile_class(y))
    return torch.from_numpy(np.stack(xs))[:, None], torch.tensor(ys)


@torch.no_grad()
def predict(net: torch.nn.Module, tiles: np.ndarray, chunk: int = 256) -> np.ndarray:
    out = [net(torch.from_numpy(tiles[i:i + chunk])[:, None]).argmax(1).numpy()
           for i in range(0, len(tiles), chunk)]
    return np.concatenate(out)


def accuracy_table(pred: np.ndarray, truth: np.ndarray, grid: np.ndarray) -> dict:
    per_class = {}
    for k, name in enumerate(DEFECT_CLASSES):
        chosen = truth == k
        per_class[name] = {"tiles": int(chosen.sum()),
                           "accuracy": None if not chosen.any() else
                           round(float((pred[chosen] == k).mean()), 3)}
    present = [v["accuracy"] for v in per_class.values() if v["accuracy"] is not None]
    return {"per_class": per_class,
            "balanced_accuracy": round(float(np.mean(present)), 3),
            "grid_accuracy": round(float((pred[grid] == truth[grid]).mean()), 3),
            "grid_tiles": int(grid.sum()), "chance_balanced": round(1 / len(present), 3)}


def _text(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="training time (wall clock)")
    parser.add_argument("--pairs", type=int, default=400, help="simulated training pairs")
    parser.add_argument("--test-pairs", type=int, default=120)
    parser.add_argument("--defect-rate", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=20000, help="first training seed")
    parser.add_argument("--test-seed", type=int, default=90000, help="first held-out seed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "resources" / "models" / "defect-classifier.semsr")
    parser.add_argument("--report", type=Path,
                        default=ROOT / "benchmarks" / "train_defect_classifier.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    began = time.monotonic()
    images, labels = training_tiles(list(range(args.seed, args.seed + args.pairs)),
                                    args.defect_rate, rng)
    test_x, test_y, test_grid = held_out_tiles(
        list(range(args.test_seed, args.test_seed + args.test_pairs)), args.defect_rate)
    data_s = time.monotonic() - began
    counts = np.bincount([tile_class(w) for w in labels], minlength=len(DEFECT_CLASSES))
    weight = torch.tensor(counts.sum() / np.maximum(counts, 1) / len(counts),
                          dtype=torch.float32)
    shares = dict(zip(DEFECT_CLASSES, counts.tolist(), strict=True))
    print(f"{len(images)} training windows {shares}, {len(test_x)} held-out tiles; "
          f"data {data_s:.0f} s", flush=True)

    net = archs.build("defect_classifier", **CONFIG)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    budget, steps, start = 60.0 * args.minutes, 0, time.monotonic()
    while (elapsed := time.monotonic() - start) < budget:
        for group in opt.param_groups:  # cosine decay over the time budget
            group["lr"] = 2e-3 * 0.5 * (1 + np.cos(np.pi * elapsed / budget))
        x, y = _batch(images, labels, int(rng.choice([TILE, WINDOW])), 32, rng)
        loss = F.cross_entropy(net(x), y, weight=weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
        if steps % 200 == 0:
            print(f"step {steps} ({elapsed:.0f} s): loss {float(loss.detach()):.3f}", flush=True)
    train_s = time.monotonic() - start
    net.eval()
    table = accuracy_table(predict(net, test_x), test_y, test_grid)
    print(json.dumps(table, indent=1))

    command = ("nice -n 10 .venv/bin/python benchmarks/train_defect_classifier.py "
               f"--minutes {args.minutes:g} --pairs {args.pairs} --threads {args.threads}")
    training = {"data": f"simulate_pair seeds {args.seed}..{args.seed + args.pairs - 1}, "
                        f"256² HR, mixed layouts, defect_rate {args.defect_rate:g}",
                "windows": len(images), "steps": steps, "seconds": round(train_s),
                "command": command, "machine": f"{platform.processor() or platform.machine()},"
                                                f" {args.threads} thread(s)"}
    metrics = {"held_out": {"seeds": f"{args.test_seed}..{args.test_seed + args.test_pairs - 1}",
                            "tile": TILE, **table}}
    path = save_classifier(
        net, args.out, config=CONFIG, classes=list(DEFECT_CLASSES), tile=TILE,
        description="Defect type of a 64×64 HR SEM tile (none, bridge, break, missing, "
                    "merged, particle), trained on the simulator's labelled masks",
        training=training, metrics=metrics)
    rows = "\n".join(f"| {n} | {v['tiles']} | {_text(v['accuracy'])} |"
                     for n, v in table["per_class"].items())
    args.report.write_text(
        "# Defect classifier: held-out accuracy\n\n"
        f"`{command}` → `{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}` "
        f"({sum(p.numel() for p in net.parameters()):,} parameters, {steps} steps in "
        f"{train_s / 60:.1f} min on {training['machine']}).\n\n"
        f"Held out: {args.test_pairs} simulated 256² HR images (seeds "
        f"{metrics['held_out']['seeds']}): every tile of the 64-px grid plus one 64-px tile "
        "centred on each defect. A tile's class is its dominant defect label by area, "
        "'none' under 24 defect pixels.\n\n| class | tiles | accuracy |\n|---|---|---|\n"
        f"{rows}\n\nBalanced accuracy (mean over classes) {table['balanced_accuracy']:.3f} "
        f"(chance {table['chance_balanced']:.3f}); accuracy over the grid tiles alone "
        f"({table['grid_tiles']}, mostly 'none') {table['grid_accuracy']:.3f}.\n")
    print(f"wrote {path} and {args.report}")


if __name__ == "__main__":
    main()
