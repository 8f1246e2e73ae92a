"""The one engine trains every recipe, resumes exactly, and exports a usable model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semsr_core.events import CancelToken, EventKind, RunStatus, TrainingState
from semsr_core.train import load_config, resume, train

# Tiny widths so each recipe trains a couple of steps in seconds; the structure
# (networks, losses, phases, discriminators) is the recipe's own.
TINY_NETS = {
    "rrdbnet": ["generator.features=8", "generator.growth=4", "generator.blocks=1"],
    "srresnet": ["generator.features=8", "generator.blocks=1"],
    "srresnet_in": ["generator.features=8", "generator.blocks=1"],
    "rir": ["generator.features=8", "generator.rir_blocks=1", "generator.residual_blocks=1"],
    "wgan_resnet": ["generator.features=8", "generator.blocks=1"],
    "zssr": ["generator.features=8", "generator.depth=2"],
    "unet128": ["generator.features=4"],
    "resnet_gen": ["generator.features=8", "generator.blocks=7"],  # CUT's layer 16: block 7
    "masa": ["generator.features=8", "generator.encoder_blocks=1", "generator.decoder_blocks=1",
             "generator.fusion_blocks=[1,1,1]"],
    "lir": ["generator.features=4", "generator.blocks=1", "generator.noise_channels=2",
            "phases.gan.losses.lir.features=4"],
}


def tiny(recipe: str, lr_patch: int = 16) -> list[str]:
    cfg = load_config(recipe)
    # a fine-tune keeps the bundled model's sizes (its card fixes them)
    sets = [] if cfg.generator.init else list(TINY_NETS[cfg.generator.arch])
    hr_patch = lr_patch * cfg.data.scale if cfg.data.scale > 1 else lr_patch
    if cfg.generator.arch.startswith("unet"):
        lr_patch, hr_patch = 32, 128
    # two steps from scratch are worse than bicubic: export anyway, to test the model
    sets += [f"data.lr_patch={lr_patch}", "data.batch=2", "train.checkpoint_every=1",
             "data.val_fraction=0.25", "train.export_worse=true",
             "train.validation_share=1"]  # every validation the tests count
    if cfg.data.defects is not None:
        sets += [f"data.defects.alpha={lr_patch}", "data.defects.beta=4"]
    for name, d in cfg.discriminators.items():
        sets.append(f"discriminators.{name}.features=8")
        if "input_size" in d.arch_kwargs():
            sets.append(f"discriminators.{name}.input_size={max(hr_patch, 64)}")
        if d.arch.startswith("srgan_d"):
            sets.append(f"discriminators.{name}.dense_features=16")
    for phase in cfg.phases:
        sets += [f"phases.{phase.name}.epochs=1", f"phases.{phase.name}.steps_per_epoch=2"]
    return sets


def _weights(path):
    from semsr_core.models import load_model

    return {k: v.clone() for k, v in load_model(path).generator.state_dict().items()}


PAIRED = ["srgan", "rirgan", "n1", "n1_reduced", "n2", "en1", "en1_defects", "en1_freqsep",
          "wgangp_sr", "pix2pix_unet", "pix2pix_resnet", "zssr", "zssr_pix2pix", "finetune",
          "srgan_labels", "masa_rec", "masa", "monce_paired"]
UNPAIRED = ["fsesim_unpaired", "defect_stylizer", "cut", "cut_monce", "monce_fsesim",
            "qsattn", "lsesim_unpaired", "lir", "lir_sesim"]
# ZSSR settings small enough for a test (the recipe's are those of [S1]).
QUICK_ZSSR = "data.zssr={max_iterations = 2, self_ensemble = false, crop = 32}"


def test_the_smoke_tests_cover_every_bundled_recipe():
    from semsr_core.train import recipe_names

    assert set(PAIRED) | set(UNPAIRED) == set(recipe_names())


@pytest.mark.parametrize("recipe", PAIRED + UNPAIRED)
def test_every_recipe_trains_and_exports_a_model_that_super_resolves(
        recipe, sim_data, fake_vgg, tmp_path):
    from semsr_core import super_resolve
    from semsr_core.models import load_model

    events = []
    run = tmp_path / "run"
    sets = tiny(recipe) + ([QUICK_ZSSR] if recipe == "zssr_pix2pix" else [])
    result = train(recipe, sim_data, run, overrides=sets, device="cpu", on_event=events.append)
    assert result.status == "finished"
    steps = [e for e in events if e.kind is EventKind.STEP]
    assert steps, "no step events"
    for e in steps:
        assert all(np.isfinite(v) for v in e.data["losses"].values()), e.data["losses"]
    assert list((run / "checkpoints").glob("step_*.pt"))
    assert (run / "events.jsonl").stat().st_size > 0
    model = load_model(run / "model.semsr")
    assert model.card.recipe == recipe and model.card.training["steps"] == result.step
    # generator weights changed from their initialisation
    from semsr_core import archs
    torch.manual_seed(load_config(recipe).train.seed)
    init = archs.build(model.card.arch, **model.card.config).state_dict()
    trained = model.generator.state_dict()
    assert any(not torch.equal(init[k], trained[k]) for k in init if init[k].is_floating_point())
    lr = np.random.default_rng(0).random((40, 40), dtype=np.float32)
    reference = ({"reference": np.random.default_rng(1).random((96, 96), dtype=np.float32)}
                 if recipe.startswith("masa") else {})  # MASA-SR takes a reference image
    sr = super_resolve(lr, model, device="cpu", **reference)
    s = model.card.scale
    assert sr.shape == (40 * s, 40 * s) and np.isfinite(sr).all()
    if recipe in PAIRED:  # unpaired data have no aligned validation pairs
        metrics = [e for e in events if e.kind is EventKind.METRICS]
        assert metrics and np.isfinite(metrics[-1].data["psnr"])
    if recipe == "zssr_pix2pix":  # inference upscales with ZSSR first, as training did
        assert model.card.training["pre_upscale"] == "zssr"


def test_resume_is_exact(sim_data, tmp_path):
    """A run stopped at step k and resumed ends with the weights of an uninterrupted run."""
    sets = [*tiny("n1_reduced"), "phases.gan.epochs=2", "phases.gan.steps_per_epoch=3"]
    whole = train("n1_reduced", sim_data, tmp_path / "whole", overrides=sets, device="cpu")
    assert whole.step == 6

    cancel = CancelToken()

    def stop_after_four(event):
        if event.kind is EventKind.STEP and event.data["step"] == 4:
            cancel.cancel()

    sets_log = [*sets, "train.log_every=1"]
    part = train("n1_reduced", sim_data, tmp_path / "part", overrides=sets_log, device="cpu",
                 on_event=stop_after_four, cancel=cancel)
    assert part.status == "stopped" and part.step == 4
    resumed = resume(tmp_path / "part", device="cpu")
    assert resumed.status == "finished" and resumed.step == 6
    assert part.status is RunStatus.STOPPED and resumed.status is RunStatus.FINISHED
    a, b = _weights(whole.model_path), _weights(resumed.model_path)
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-6


def test_training_in_a_used_run_folder_is_refused(sim_data, tmp_path):
    from semsr_core.errors import ConfigError

    train("zssr", sim_data, tmp_path / "r", overrides=tiny("zssr"), device="cpu")
    with pytest.raises(ConfigError, match="--resume"):
        train("zssr", sim_data, tmp_path / "r", overrides=tiny("zssr"), device="cpu")


def test_unaligned_pairs_are_refused_with_a_hint(tmp_path):
    from semsr_core.errors import InputError
    from semsr_core.io import write_stack

    (tmp_path / "d" / "lr").mkdir(parents=True)
    (tmp_path / "d" / "hr").mkdir(parents=True)
    write_stack(tmp_path / "d" / "lr" / "a.tif", np.zeros((40, 40), np.uint16))
    write_stack(tmp_path / "d" / "hr" / "a.tif", np.zeros((170, 166), np.uint16))
    with pytest.raises(InputError, match="semsr align"):
        train("zssr", tmp_path / "d", tmp_path / "r", overrides=tiny("zssr"), device="cpu")


def test_pause_holds_training_without_losing_steps_and_resume_finishes(sim_data, tmp_path):
    """The app's Pause: no step is taken while paused, a checkpoint is on disk, and after
    Resume the run finishes with all its steps."""
    import threading
    import time

    from semsr_core.train.checkpoint import CheckpointStore

    sets = [*tiny("en1"), "phases.gan.epochs=0", "phases.pretrain.steps_per_epoch=4",
            "train.log_every=1", "train.checkpoint_every=100"]
    token = CancelToken()
    steps: list[int] = []
    messages: list[dict] = []

    def on_event(event):
        if event.kind is EventKind.STEP:
            steps.append(event.data["step"])
            if event.data["step"] == 2:
                token.pause()
        elif event.kind is EventKind.STATE:  # a pause is a state change, not a message
            messages.append({"paused": event.payload.state is TrainingState.PAUSED})

    result = {}
    worker = threading.Thread(target=lambda: result.update(r=train(
        "en1", sim_data, tmp_path / "run", overrides=sets, device="cpu", on_event=on_event,
        cancel=token)))
    worker.start()
    deadline = time.monotonic() + 60
    while not any(m.get("paused") for m in messages) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any(m.get("paused") for m in messages), "training never reported the pause"
    time.sleep(0.5)
    assert steps == [1, 2], f"steps were taken while paused: {steps}"
    assert CheckpointStore(tmp_path / "run", keep_last=3).latest() is not None
    token.resume()
    worker.join(60)
    assert not worker.is_alive()
    assert result["r"].status == "finished" and steps == [1, 2, 3, 4]
    assert any(m.get("paused") is False for m in messages)


def test_generator_init_starts_from_a_saved_model_and_refuses_a_mismatch(fake_vgg, tmp_path):
    """Fine-tuning: `generator.init` loads a model file's weights before the first step;
    a model of another shape is refused with a message naming it."""
    from semsr_core.errors import ConfigError
    from semsr_core.models import Model
    from semsr_core.train.engine import Trainer

    torch.manual_seed(123)
    parent = Model.create("rrdbnet", scale=4, blocks=1, features=8, growth=4, name="parent")
    path = parent.save(tmp_path / "parent.semsr")
    cfg = load_config("en1", [*tiny("en1"), f"generator.init=\"{path}\""])
    trainer = Trainer(cfg, tmp_path / "run", train_set=[None] * 8, device="cpu")
    got = trainer.generator.state_dict()
    want = parent.generator.state_dict()
    assert all(torch.equal(got[k].contiguous(), want[k].contiguous()) for k in want)
    shadow = trainer.ema.state_dict()
    assert all(torch.equal(shadow[k].contiguous(), want[k].contiguous()) for k in want)

    other = Model.create("rrdbnet", scale=4, blocks=2, features=8, growth=4).save(
        tmp_path / "other.semsr")
    cfg = load_config("en1", [*tiny("en1"), f"generator.init=\"{other}\""])
    with pytest.raises(ConfigError, match="other.semsr"):
        Trainer(cfg, tmp_path / "run2", train_set=[None] * 8, device="cpu")


def test_export_best_writes_the_weights_and_figures_of_the_best_validation(sim_data, tmp_path):
    """`train.export = "best"`: model.semsr holds the EMA weights saved at the validation
    with the highest PSNR, and its card carries that validation's figures."""
    sets = [*tiny("n1_reduced"), "phases.gan.epochs=4", "phases.gan.steps_per_epoch=2",
            "train.export=\"best\"", "optimizer.lr=2e-2",
            "phases.gan.losses.gan_ragan.weight=5.0"]
    events = []
    result = train("n1_reduced", sim_data, tmp_path / "run", overrides=sets, device="cpu",
                   on_event=events.append)
    validations = [e.data for e in events if e.kind is EventKind.METRICS]
    assert len(validations) == 4
    best = max(validations, key=lambda m: m["psnr"])
    # the run is seeded; at this learning rate the last validation is not the best one,
    # so exporting the last weights would fail this test
    assert best is not validations[-1], [round(m["psnr"], 3) for m in validations]
    from semsr_core.models import load_model

    card = load_model(result.model_path).card
    assert card.metrics["psnr"] == pytest.approx(best["psnr"])
    assert result.metrics["psnr"] == pytest.approx(best["psnr"])
    state = torch.load(tmp_path / "run" / "checkpoints" / "best.pt", weights_only=True)
    exported = _weights(result.model_path)
    assert all(torch.equal(exported[k], state["ema"][k]) for k in exported)


def test_the_exported_model_carries_the_figures_of_its_own_weights(sim_data, tmp_path):
    """A run whose last epoch is not a validation epoch is validated once more at the
    end: the model card's figures are those of the weights in the file, not of an
    earlier validation."""
    sets = [*tiny("en1"), "phases.gan.epochs=0", "phases.pretrain.epochs=3",
            "phases.pretrain.steps_per_epoch=2", "train.validate_every_epochs=2"]
    events = []
    result = train("en1", sim_data, tmp_path / "run", overrides=sets, device="cpu",
                   on_event=events.append)
    validations = [e.data for e in events if e.kind is EventKind.METRICS]
    assert [v["step"] for v in validations] == [4, 6]
    assert result.metrics["psnr"] == pytest.approx(validations[-1]["psnr"])
