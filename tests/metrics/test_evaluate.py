"""`evaluate` / `semsr evaluate` on a tiny simulated dataset with a freshly created model."""

from __future__ import annotations

import csv
import json
import math

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from semsr_core.cli import main
from semsr_core.data.simulate import simulate_dataset
from semsr_core.errors import Cancelled, InputError, ModelError, OutputError
from semsr_core.events import CancelToken, EventKind
from semsr_core.metrics import evaluate
from semsr_core.models import Model


def _tiny_model(scale: int = 4) -> Model:
    return Model.create("rrdbnet", scale=scale, blocks=1, features=8, growth=4, name="tiny")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """3 simulated ×4 pairs of 128² with defect masks; one HR cropped (needs alignment),
    one HR replaced by noise (cannot be aligned), one left as simulated."""
    root = tmp_path_factory.mktemp("eval") / "data"
    simulate_dataset(root, pairs=3, scale=4, size=128, seed=1, defect_rate=8)
    stems = ["pair_000", "pair_001", "pair_002"]
    masks = {s: tifffile.imread(root / "masks" / f"{s}.tif") for s in stems}
    shifted = max(stems, key=lambda s: int((masks[s] > 0).sum()))  # keep the defects
    noise, intact = [s for s in stems if s != shifted]
    hr = tifffile.imread(root / "hr" / f"{shifted}.tif")
    tifffile.imwrite(root / "hr" / f"{shifted}.tif", hr[6:126, 3:123])
    tifffile.imwrite(root / "masks" / f"{shifted}.tif", masks[shifted][6:126, 3:123])
    rng = np.random.default_rng(0)
    tifffile.imwrite(root / "hr" / f"{noise}.tif",
                     (rng.random((124, 124)) * 65535).astype(np.uint16))
    (root / "masks" / f"{noise}.tif").unlink()
    return {"root": root, "shifted": shifted, "noise": noise, "intact": intact,
            "full_mask": masks[shifted]}


@pytest.fixture(scope="module")
def report(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "report"
    events = []
    result = evaluate(dataset["root"], out, [_tiny_model()], device="cpu",
                      on_event=events.append)
    return {"out": out, "result": result, "events": events,
            "json": json.loads((out / "report.json").read_text())}


def test_report_folder_holds_json_tables_and_figures(report, dataset):
    out = report["out"]
    for name in ("report.json", "report.md", "report.csv", "pairs.csv", "figures/summary.png"):
        assert (out / name).is_file(), name
    for stem in ("pair_000", "pair_001", "pair_002"):
        for kind in ("crops", "spectrum"):
            image = iio.imread(out / "figures" / f"{stem}_{kind}.png")
            assert image.shape[0] > 300 and image.shape[1] > 600
            assert image[..., :3].std() > 10  # a drawn figure, not a blank canvas


def test_report_compares_the_model_with_bicubic(report):
    doc = report["json"]
    assert doc["methods"] == ["bicubic", "tiny"]
    assert doc["models"]["tiny"]["arch"] == "rrdbnet"
    bicubic, tiny = doc["aggregate"]["bicubic"], doc["aggregate"]["tiny"]
    assert 10 < bicubic["psnr"] < 40 and 0 < bicubic["ssim"] < 1
    assert bicubic["spectrum_score"] == pytest.approx(0.0)  # LR↑ of the score is bicubic
    assert tiny["psnr_gain"] == pytest.approx(tiny["psnr"] - bicubic["psnr"])
    rows = list(csv.DictReader((report["out"] / "report.csv").open()))
    assert [r["method"] for r in rows] == ["bicubic", "tiny"]
    assert float(rows[0]["psnr"]) == pytest.approx(bicubic["psnr"], abs=0.01)
    table = (report["out"] / "report.md").read_text()
    assert "| bicubic |" in table and "| tiny |" in table


def test_pairs_are_marked_reference_aligned_or_no_reference(report, dataset):
    pairs = {p["stem"]: p for p in report["json"]["pairs"]}
    assert pairs[dataset["intact"]]["mode"] == "reference"
    aligned = pairs[dataset["shifted"]]
    assert aligned["mode"] == "aligned"
    assert aligned["alignment"]["verdict"] == "aligned"
    assert aligned["alignment"]["shift_y"] == pytest.approx(-6, abs=1.0)  # HR pixels
    assert aligned["alignment"]["shift_x"] == pytest.approx(-3, abs=1.0)
    lonely = pairs[dataset["noise"]]
    assert lonely["mode"] == "no-reference" and "alignment failed" in lonely["reason"]
    assert "psnr" not in lonely["metrics"]["tiny"]
    assert lonely["metrics"]["tiny"]["sharpness_ratio"] is not None
    assert report["json"]["counts"] == {"reference": 1, "aligned": 1, "no-reference": 1,
                                        "skipped": 0}
    assert report["json"]["aggregate"]["bicubic"]["pairs_full_reference"] == 2
    text = (report["out"] / "report.md").read_text()
    assert "no-reference: alignment failed" in text and "aligned (shift" in text


def test_defect_masks_follow_the_alignment_and_give_defect_fidelity(report, dataset):
    aligned = {p["stem"]: p for p in report["json"]["pairs"]}[dataset["shifted"]]
    r0, r1, c0, c1 = (int(v) for v in aligned["alignment"]["lr_crop"].split())
    # the cropped HR was moved back onto the LR grid: its mask is the simulator's mask there
    expected = int((dataset["full_mask"][4 * r0:4 * r1, 4 * c0:4 * c1] > 0).sum())
    assert expected > 0
    assert aligned["defect_pixels"] == pytest.approx(expected, rel=0.15)
    for method in ("bicubic", "tiny"):
        values = aligned["metrics"][method]
        assert math.isfinite(values["defect_psnr"]) and math.isfinite(values["background_psnr"])
    assert report["json"]["aggregate"]["tiny"]["defect_psnr_gain"] is not None


def test_progress_per_pair_and_a_finished_event(report):
    progress = [e.data["done"] for e in report["events"] if e.kind is EventKind.PROGRESS]
    assert progress == [0, 1, 2, 3]
    finished = [e for e in report["events"] if e.kind is EventKind.FINISHED]
    assert finished and finished[0].data["report"].endswith("report.json")
    warnings = [e.data["text"] for e in report["events"] if e.kind is EventKind.MESSAGE]
    assert any("no-reference" in text for text in warnings)


def test_an_existing_report_is_not_overwritten_without_asking(report, dataset):
    with pytest.raises(OutputError, match="already holds an evaluation report"):
        evaluate(dataset["root"], report["out"], [], device="cpu")


def test_a_model_of_another_scale_is_refused_before_any_work(dataset, tmp_path):
    with pytest.raises(ModelError, match="×2.*×4"):
        evaluate(dataset["root"], tmp_path / "r", [_tiny_model(scale=2)], device="cpu")
    assert not (tmp_path / "r" / "report.json").exists()


def test_cancel_stops_before_a_report_is_written(dataset, tmp_path):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        evaluate(dataset["root"], tmp_path / "r", [], device="cpu", cancel=token)
    assert not (tmp_path / "r" / "report.json").exists()


def test_images_that_cannot_be_mapped_are_refused_naming_the_file(tmp_path):
    for folder in ("lr", "hr"):
        (tmp_path / "d" / folder).mkdir(parents=True)
    lr = np.full((16, 16), 2.0, np.float32)
    lr[3, 3] = np.nan
    tifffile.imwrite(tmp_path / "d" / "lr" / "a.tif", lr)
    tifffile.imwrite(tmp_path / "d" / "hr" / "a.tif", np.full((64, 64), 0.5, np.float32))
    with pytest.raises(InputError, match=r"a\.tif.*NaN"):
        evaluate(tmp_path / "d", tmp_path / "r", [], device="cpu")


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli") / "data"
    simulate_dataset(root, pairs=2, scale=4, size=64, seed=3, defect_rate=4)
    return root


def test_cli_evaluate_writes_the_report_and_prints_the_table(small_dataset, tmp_path, capsys):
    model_file = _tiny_model().save(tmp_path / "tiny.semsr")
    code = main(["evaluate", "--data", str(small_dataset), "--model", str(model_file),
                 "-o", str(tmp_path / "rep"), "--device", "cpu", "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "| bicubic |" in printed and "| tiny |" in printed
    assert (tmp_path / "rep" / "report.json").is_file()
    assert (tmp_path / "rep" / "figures" / "pair_000_crops.png").is_file()


def test_cli_evaluate_reports_a_wrong_scale_model_in_one_line(small_dataset, tmp_path, capsys):
    model_file = _tiny_model(scale=2).save(tmp_path / "x2.semsr")
    code = main(["evaluate", "--data", str(small_dataset), "--model", str(model_file),
                 "-o", str(tmp_path / "rep"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "×2" in err and "×4" in err


def test_cancel_during_the_run_removes_the_figures_already_written(small_dataset, tmp_path):
    token = CancelToken()

    def cancel_after_first_pair(event):
        if event.kind is EventKind.PROGRESS and event.data["done"] == 1:
            token.cancel()

    with pytest.raises(Cancelled):
        evaluate(small_dataset, tmp_path / "r", [], device="cpu", cancel=token,
                 on_event=cancel_after_first_pair)
    assert not (tmp_path / "r" / "report.json").exists()
    assert list((tmp_path / "r" / "figures").iterdir()) == []


def test_overwrite_replaces_an_earlier_report(small_dataset, tmp_path):
    first = evaluate(small_dataset, tmp_path / "r", [], device="cpu", figures=False)
    again = evaluate(small_dataset, tmp_path / "r", [], baseline="nearest", device="cpu",
                     figures=False, overwrite=True)
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["baseline"] == "nearest" and again.methods == ["nearest"]
    # nearest-neighbour LR↑ is blockier than bicubic: lower PSNR on the same pairs
    assert doc["aggregate"]["nearest"]["psnr"] < first.aggregate["bicubic"]["psnr"]


def test_the_report_has_each_models_disagreement_with_the_scan(small_dataset, tmp_path):
    from semsr_core.models import Model

    model = Model.create("rrdbnet", scale=4, blocks=1, features=8, growth=4, skip="bicubic",
                         name="bicubic-like")
    report = evaluate(small_dataset, tmp_path / "r", [model], device="cpu", figures=False)
    assert 0.0 <= report.aggregate["bicubic-like"]["disagreement"] < 0.05
    assert "disagreement" not in report.aggregate["bicubic"]


def test_a_flat_pair_leaves_the_psnr_means_and_gains_finite(tmp_path):
    """A flat pair, which bicubic gives back exactly (PSNR inf), counts at the ceiling in
    the means and gains; before, the bicubic mean was inf (null in the report) and the
    model's gain −inf."""
    from semsr_core.io import write_stack
    from semsr_core.metrics.full_reference import PSNR_CEILING_DB

    root = tmp_path / "data"
    simulate_dataset(root, pairs=1, scale=4, size=64, seed=3)
    write_stack(root / "lr" / "flat.tif", np.full((16, 16), 20000, np.uint16))
    write_stack(root / "hr" / "flat.tif", np.full((64, 64), 20000, np.uint16))
    model = Model.create("rrdbnet", scale=4, blocks=1, features=8, growth=4, skip="bicubic",
                         name="bicubic-like")
    report = evaluate(root, tmp_path / "r", [model], device="cpu", figures=False)
    bicubic, ours = report.aggregate["bicubic"], report.aggregate["bicubic-like"]
    assert math.isfinite(bicubic["psnr"]) and bicubic["psnr"] < PSNR_CEILING_DB
    assert math.isfinite(ours["psnr_gain"])


def test_a_noisy_reference_is_named_in_the_report_and_warned_about(tmp_path):
    """An HR that is itself a noisy scan (here a clean image plus σ 0.1) penalises a
    model that removes the noise: `evaluate` names such pairs, warns, and records each
    HR's noise estimate; a clean HR is not named."""
    from skimage import data as images

    from semsr_core.data.degrade import area

    clean = images.camera()[:128, :128].astype(np.float32) / 255
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 0.1, clean.shape), 0, 1)
    root = tmp_path / "data"
    for folder in ("lr", "hr"):
        (root / folder).mkdir(parents=True)
    for stem, hr in (("clean", clean), ("noisy", noisy.astype(np.float32))):
        tifffile.imwrite(root / "hr" / f"{stem}.tif", hr)
        tifffile.imwrite(root / "lr" / f"{stem}.tif", area(hr, 4))
    events = []
    result = evaluate(root, tmp_path / "report", [], device="cpu", figures=False,
                      on_event=events.append)
    sigmas = {p.stem: p.hr["noise_sigma"] for p in result.pairs}
    assert sigmas["noisy"] > 0.05 > 0.02 > sigmas["clean"]
    warned = [e.data["text"] for e in events
              if e.kind is EventKind.MESSAGE and e.data["level"] == "warning"]
    assert any(t.startswith("1 of 2 HR references read noisy (noisy;") for t in warned)
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "**Noisy references.** 1 of 2 HR references read noisy (noisy;" in markdown
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["pairs"][1]["hr"]["noise_sigma"] == pytest.approx(sigmas["noisy"])
    assert "noise_sigma" in saved["definitions"]


def test_clean_references_bring_no_noisy_reference_note(report):
    assert "Noisy references" not in (report["out"] / "report.md").read_text()
