"""MASA-SR end to end: references for training, two steps of masa_rec, and inference
with (and refused without) a reference."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from semsr_core.cli import main
from semsr_core.data.references import WithReferences, attach_references
from semsr_core.io import read_stack, write_stack

TINY = ["generator.features=8", "generator.encoder_blocks=1", "generator.decoder_blocks=1",
        "generator.fusion_blocks=[1,1,1]", "data.lr_patch=16", "data.batch=2",
        "train.checkpoint_every=1", "data.val_fraction=0.25", "train.export_worse=true",
        "train.validation_share=1", "phases.rec.epochs=1", "phases.rec.steps_per_epoch=2",
        "train.log_every=1"]


class _Crops(torch.utils.data.Dataset):
    """Stand-in base set: sample i comes from pair i % 3."""

    def __len__(self):
        return 6

    def locate(self, index):
        return index % 3, 0, 0

    def __getitem__(self, index):
        return {"lr": torch.zeros(1, 4, 4), "hr": torch.zeros(1, 16, 16)}


def test_a_sample_takes_its_ref_file_else_another_pairs_hr(tmp_path):
    hr = [np.full((32, 32), v, np.float32) for v in (0.1, 0.2, 0.3)]
    (tmp_path / "ref").mkdir()
    ramp = np.tile(np.arange(24, dtype=np.uint16) * 2000, (20, 1))
    write_stack(tmp_path / "ref" / "b.tif", ramp)
    ds = attach_references(_Crops(), ["a", "b", "c"], hr, 16, tmp_path, seed=0)
    assert isinstance(ds, WithReferences)
    for epoch in range(3):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            ref = ds[i]["ref"]
            assert ref.shape == (1, 16, 16)
            value = round(float(ref.mean()), 3)
            if i % 3 == 1:
                assert float(ref.std()) > 0.05  # a crop of the ramp in ref/b.tif
            else:
                assert value in (0.1, 0.2, 0.3) and value != hr[i % 3][0, 0].round(3)


@pytest.fixture(scope="module")
def masa_model(sim_data, tmp_path_factory):
    run = tmp_path_factory.mktemp("masa") / "run"
    args = ["train", "masa_rec", "--data", str(sim_data), "--run", str(run), "--device", "cpu"]
    for s in TINY:
        args += ["--set", s]
    assert main(args) == 0
    return run


def test_semsr_train_masa_rec_two_steps_validates_with_a_reference(masa_model):
    from semsr_core.models import load_model

    events = [json.loads(line) for line in (masa_model / "events.jsonl").read_text()
              .splitlines()]
    steps = [e for e in events if e.get("kind") == "step"]
    assert len(steps) == 2 and all(np.isfinite(s["losses"]["g/l1"]) for s in steps)
    metrics = [e for e in events if e.get("kind") == "metrics"]
    assert metrics and np.isfinite(metrics[-1]["psnr"])
    model = load_model(masa_model / "model.semsr")
    assert model.card.arch == "masa" and model.card.recipe == "masa_rec"
    assert model.card.config["fusion_blocks"] == [1, 1, 1]


def test_super_resolve_with_a_reference_and_refused_without(masa_model, sim_data, tmp_path,
                                                            capsys):
    rng = np.random.default_rng(0)
    image = tmp_path / "scan.tif"
    write_stack(image, (rng.random((36, 44)) * 60000).astype(np.uint16), pixel_size=8.0,
                unit="nm")
    reference = sorted((sim_data / "hr").iterdir())[0]
    model = str(masa_model / "model.semsr")
    out = tmp_path / "scan_sr.ome.tif"
    assert main(["super-resolve", str(image), "-o", str(out), "--model", model,
                 "--reference", str(reference), "--device", "cpu", "--quiet"]) == 0
    with read_stack(out) as stack:
        assert stack.shape == (1, 144, 176) and stack.pixel_size == pytest.approx(2.0)
        assert stack.dtype == np.uint16
    code = main(["super-resolve", str(image), "-o", str(tmp_path / "none.ome.tif"),
                 "--model", model, "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and "reference" in err and "--reference FILE" in err
    assert not (tmp_path / "none.ome.tif").exists()
    code = main(["super-resolve", str(image), "-o", str(tmp_path / "bic.ome.tif"),
                 "--model", "default-x4", "--reference", str(reference), "--quiet"])
    assert code != 0 and "takes no reference" in capsys.readouterr().err
