"""Label-guided SRGAN ([S2]): the frozen defect classifier's cross-entropy on SR tiles,
labelled from the training pairs' masks, through real training steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semsr_core import archs, losses
from semsr_core.data.tile_labels import (
    DEFECT_CLASSES,
    UNLABELLED,
    TileLabelled,
    tile_class,
    with_tile_labels,
)
from semsr_core.errors import ConfigError
from semsr_core.models.classifier import load_classifier, save_classifier

CONFIG = {"in_channels": 1, "classes": len(DEFECT_CLASSES), "features": 4, "depth": 2}


@pytest.fixture
def classifier_file(tmp_path):
    torch.manual_seed(3)
    net = archs.build("defect_classifier", **CONFIG)
    return save_classifier(net, tmp_path / "clf.semsr", config=CONFIG,
                           classes=list(DEFECT_CLASSES), tile=64)


def test_a_tile_class_is_its_dominant_defect_or_none():
    tile = np.zeros((64, 64), np.uint8)
    assert tile_class(tile) == 0
    tile[:4, :5] = 2  # 20 pixels: under the 24 a defect needs
    assert tile_class(tile) == 0
    tile[10:20, 10:13] = 5  # 30 pixels of particle beat 20 of break
    assert tile_class(tile) == 5
    tile[30:40, 30:35] = 2
    assert tile_class(tile) == 2 and DEFECT_CLASSES[2] == "break"


def test_the_loss_is_the_cross_entropy_of_the_frozen_classifier(classifier_file):
    loss = losses.build("defect_class", model=str(classifier_file))
    net = load_classifier(classifier_file).network
    gen = torch.Generator().manual_seed(0)
    sr = torch.rand(3, 1, 32, 32, generator=gen, requires_grad=True)
    labels = torch.tensor([4, UNLABELLED, 0])
    value = loss(sr, labels)
    with torch.no_grad():
        logp = torch.log_softmax(net(sr), dim=1)
    hand = -(logp[0, 4] + logp[2, 0]) / 2  # the unlabelled tile is left out
    assert float(value.detach()) == pytest.approx(float(hand), rel=1e-5)
    value.backward()  # the gradient reaches the SR image, not the classifier
    assert sr.grad is not None and float(sr.grad.abs().sum()) > 0
    assert all(p.grad is None and not p.requires_grad for p in loss.classifier.parameters())
    assert float(loss(sr, torch.full((3,), UNLABELLED)).detach()) == 0.0


def test_a_super_resolution_model_is_refused_as_classifier(tmp_path):
    from semsr_core.errors import ModelError
    from semsr_core.models import Model

    path = Model.create("zssr", scale=2, features=4, depth=1).save(tmp_path / "sr.semsr")
    with pytest.raises(ModelError, match="super-resolution model, not a defect-classif"):
        load_classifier(path)


def test_samples_carry_the_class_of_their_hr_tile(tmp_path):
    from semsr_core.data.datasets import PairedPatches, TrainingPairs
    from semsr_core.data.simulate import simulate_pair

    sim = simulate_pair(1, size=256, scale=4, defect_rate=6)
    pairs = TrainingPairs.from_arrays([(sim.lr, sim.hr)], scale=4, names=["p"],
                                      masks=[sim.mask], mapped=True)
    patches = PairedPatches(pairs, patch=16, samples_per_image=40, geometric="rot90flip")
    labelled = TileLabelled(patches, [sim.mask])
    seen = set()
    for i in range(len(labelled)):
        _image, top, left = patches.locate(i)
        window = sim.mask[4 * top:4 * top + 64, 4 * left:4 * left + 64]
        item = labelled[i]
        assert int(item["label"]) == tile_class(window)
        assert torch.equal(item["hr"], patches[i]["hr"])
        seen.add(int(item["label"]))
    assert len(seen) > 1  # defects and background both occur
    assert int(TileLabelled(patches, [None])[0]["label"]) == UNLABELLED


def test_data_without_masks_is_refused_naming_the_folder(tmp_path):
    from semsr_core.data.datasets import PairedPatches, TrainingPairs

    rng = np.random.default_rng(0)
    pairs = TrainingPairs.from_arrays([(rng.random((32, 32)), rng.random((128, 128)))],
                                      scale=4, names=["a"], mapped=True)
    with pytest.raises(ConfigError, match="masks"):
        with_tile_labels(PairedPatches(pairs, patch=16), tmp_path)


def test_two_real_srgan_labels_steps_leave_the_classifier_unchanged(classifier_file,
                                                                    sim_data, tmp_path):
    from semsr_core.events import EventKind
    from semsr_core.train import load_config
    from semsr_core.train.data import prepare_data
    from semsr_core.train.engine import Trainer

    sets = ["generator.features=8", "generator.blocks=1", "data.lr_patch=16", "data.batch=2",
            "data.val_fraction=0.25", "train.export_worse=true",
            "discriminators.d.features=8", "discriminators.d.input_size=64",
            "discriminators.d.dense_features=16",
            "phases.pretrain.epochs=0", "phases.gan.epochs=1", "phases.gan.steps_per_epoch=2",
            "train.log_every=1",
            f"phases.gan.losses.defect_class.model=\"{classifier_file}\""]
    config = load_config("srgan_labels", overrides=sets)
    prepared = prepare_data(config, sim_data)
    events = []
    trainer = Trainer(config, tmp_path / "run", train_set=prepared.train_set,
                      val_pairs=prepared.val_pairs, device="cpu", on_event=events.append,
                      data_summary=prepared.summary)
    result = trainer.run()
    assert result.status == "finished" and result.step == 2
    steps = [e.data["losses"] for e in events if e.kind is EventKind.STEP]
    assert len(steps) == 2
    assert all(np.isfinite(s["g/defect_class"]) and s["g/defect_class"] > 0 for s in steps)
    before = load_classifier(classifier_file).network.state_dict()
    after = trainer.losses["gan"]["defect_class"].classifier.state_dict()
    assert all(torch.equal(before[k], after[k].cpu()) for k in before)
    labels = [int(trainer.train_set[i]["label"]) for i in range(len(trainer.train_set))]
    assert UNLABELLED not in labels  # simulated pairs all have masks
