"""The finetune recipe starts from the bundled model of the data's scale, with the
architecture and sizes of that model's card; a run ends with a verdict against bicubic."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from semsr_core.errors import ConfigError
from semsr_core.events import EventKind
from semsr_core.train import load_config, train
from semsr_core.train.verdict import read_verdict

QUICK = ["data.batch=4", "phases.pretrain.epochs=1", "phases.pretrain.steps_per_epoch=2"]


def test_finetune_takes_the_generator_from_the_bundled_models_card():
    from semsr_core.models import read_card, resolve_model

    for scale in (4, 2):
        card = read_card(resolve_model(f"default-x{scale}"))
        config = load_config("finetune", [f"data.scale={scale}"])
        assert config.generator.init == f"default-x{scale}"
        assert config.generator.arch == card.arch
        sizes = {k: v for k, v in card.config.items() if k != "scale"}
        assert config.generator.arch_kwargs() == {**sizes, "tone": True}  # + a tone curve


def test_a_finetune_starts_as_the_bundled_model_and_adds_an_identity_tone_curve(tmp_path):
    """The recipe's ``tone = true`` adds parameters the bundled model has not: they
    start as the identity, so step 0 is the bundled model; a model that does not fit
    is still refused."""
    from semsr_core import archs
    from semsr_core.models import Model, load_model
    from semsr_core.train.engine import _load_initial_weights

    config = load_config("finetune")
    net = archs.build(config.generator.arch, scale=4, **config.generator.arch_kwargs())
    assert any(k.startswith("tone.") for k in net.state_dict())
    _load_initial_weights(net, "default-x4")
    x = torch.rand(1, 1, 24, 20)
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(x), load_model("default-x4").generator(x))
    other = Model.create("rrdbnet", scale=4, blocks=1, features=8, growth=4)
    path = other.save(tmp_path / "other.semsr")
    with pytest.raises(ConfigError, match="does not fit this generator"):
        _load_initial_weights(net, str(path))


def test_a_recipe_that_drops_the_bundled_models_skip_or_highpass_is_refused():
    """Same weights, another function: en1 at the bundled model's sizes but without its
    bicubic skip or highpass would start from something that is not the model."""
    from semsr_core import archs
    from semsr_core.models import read_card, resolve_model
    from semsr_core.train.engine import _load_initial_weights

    card = read_card(resolve_model("default-x4"))
    sizes = {k: v for k, v in card.config.items() if k != "scale"}
    assert sizes["highpass"] > 0
    for option, other in (("skip", "none"), ("highpass", 0.0)):
        changed = {**sizes, option: other}
        if option == "skip":
            changed["highpass"] = 0.0
        net = archs.build("rrdbnet", scale=4, **changed)
        with pytest.raises(ConfigError, match=f"has {option} = .*--set generator.{option}="):
            _load_initial_weights(net, "default-x4")
    _load_initial_weights(archs.build("rrdbnet", scale=4, **sizes), "default-x4")  # as it is


def test_a_retrained_bundled_model_with_other_sizes_is_fine_tuned_as_it_is(
        tmp_path, monkeypatch):
    """Nothing about the generator is written in the recipe: another default-x4 (here
    a 1-block, 8-feature RRDBNet with pixel-unshuffle) is read from its card."""
    import semsr_core.models as models
    from semsr_core.models import Model

    path = tmp_path / "default-x4.semsr"
    Model.create("rrdbnet", scale=4, blocks=1, features=8, growth=4, unshuffle=2).save(path)
    real = models.resolve_model
    monkeypatch.setattr(models, "resolve_model",
                        lambda name: path if str(name) == "default-x4" else real(name))
    config = load_config("finetune")
    sizes = config.generator.arch_kwargs()
    assert (sizes["blocks"], sizes["features"], sizes["growth"]) == (1, 8, 4)
    assert sizes["unshuffle"] == 2  # an option the recipe never names


def test_a_finetune_of_a_model_file_reads_its_card(tmp_path):
    """``finetune --set generator.init=<file>``: the lab's own model, fine-tuned further;
    architecture, sizes and scale come from the file's card."""
    from semsr_core.models import Model

    path = tmp_path / "ours.semsr"
    Model.create("rrdbnet", scale=2, blocks=1, features=8, growth=4).save(path)
    config = load_config("finetune", [f'generator.init="{path}"'])
    sizes = config.generator.arch_kwargs()
    assert config.generator.arch == "rrdbnet" and config.generator.init == str(path)
    assert (sizes["blocks"], sizes["features"], sizes["growth"]) == (1, 8, 4)
    assert config.data.scale == 2
    with pytest.raises(ConfigError, match="generator.init: .*nowhere.semsr"):
        load_config("finetune", [f'generator.init="{tmp_path / "nowhere.semsr"}"'])


def test_generator_sizes_in_a_finetune_are_refused_naming_the_key():
    with pytest.raises(ConfigError, match="generator.blocks: the generator's sizes come from"):
        load_config("finetune", ["generator.blocks=4"])
    with pytest.raises(ConfigError, match="no bundled model for ×8"):
        load_config("finetune", ["data.scale=8"])


def test_finetune_reads_the_scale_of_the_data(tmp_path):
    from semsr_core.data.simulate import simulate_dataset
    from semsr_core.models import load_model

    data = tmp_path / "x2"
    simulate_dataset(data, pairs=3, scale=2, size=96, seed=5)
    result = train("finetune", data, tmp_path / "run", device="cpu",
                   overrides=[*QUICK, "train.export_worse=true"])
    card = load_model(result.model_path).card
    assert card.scale == 2
    assert card.training["initialised_from"]["model"] == "default-x2"


def test_finetune_of_data_at_a_scale_with_no_bundled_model_names_the_data(tmp_path):
    """×3 pairs: the message names the data folder and its scale, not an override the
    user never gave (it said "--set data.scale=3: generator.init: …")."""
    from semsr_core.io import write_stack

    data, rng = tmp_path / "x3", np.random.default_rng(5)
    for folder in ("lr", "hr"):
        (data / folder).mkdir(parents=True)
    for name in ("a", "b"):
        write_stack(data / "lr" / f"{name}.tif", rng.random((16, 16), dtype=np.float32))
        write_stack(data / "hr" / f"{name}.tif", rng.random((48, 48), dtype=np.float32))
    with pytest.raises(ConfigError) as caught:
        train("finetune", data, tmp_path / "run", device="cpu", overrides=QUICK)
    text = str(caught.value)
    assert "are ×3" in text and str(data) in text and "--set data.scale" not in text
    assert not (tmp_path / "run").exists()


def test_a_good_run_exports_its_best_validation_and_its_card_says_so(sim_data, tmp_path):
    from semsr_core.models import load_model

    events = []
    result = train("finetune", sim_data, tmp_path / "run", device="cpu", overrides=QUICK,
                   on_event=events.append)
    assert result.verdict.status == "better than bicubic", result.verdict.text()
    assert result.model_path == tmp_path / "run" / "model.semsr"
    card = load_model(result.model_path).card
    assert card.training["verdict"]["status"] == "better than bicubic"
    # default-x4 names a clean variant; a lab's model is its own and names none
    assert load_model("default-x4").card.training.get("clean_variant")
    assert "clean_variant" not in card.training
    # the best validation: of a trained step, or of the start when no step beat it
    assert card.training["verdict"]["exported"].startswith(
        ("the best validation (step ", "the weights it started from (default-x4)"))
    assert read_verdict(tmp_path / "run").gain_db == pytest.approx(result.verdict.gain_db)
    finished = [e for e in events if e.kind is EventKind.FINISHED][-1]
    assert finished.data["verdict"]["gain_db"] > 0


def test_a_run_worse_than_bicubic_exports_nothing_and_says_so(sim_data, tmp_path, capsys):
    """Two steps of n1_reduced from scratch are far worse than bicubic: no model.semsr,
    a verdict in verdict.json, the FINISHED event and the CLI's last lines."""
    from semsr_core.cli import main

    run = tmp_path / "run"
    sets = ["generator.features=8", "generator.growth=4", "generator.blocks=1",
            "discriminators.d.features=8", "discriminators.d.dense_features=16",
            "discriminators.d.input_size=64", "data.lr_patch=16", "data.batch=2",
            "data.val_fraction=0.25", "phases.gan.epochs=1", "phases.gan.steps_per_epoch=2"]
    code = main(["train", "n1_reduced", "--data", str(sim_data), "--run", str(run),
                 "--device", "cpu", *[a for s in sets for a in ("--set", s)]])
    out = capsys.readouterr().out
    assert code == 0
    assert "VERDICT: model worse than bicubic on its validation pairs" in out
    assert "no model exported" in out and "try: Start from the bundled model" in out
    assert not (run / "model.semsr").exists()
    verdict = json.loads((run / "verdict.json").read_text())
    assert verdict["status"] == "worse than bicubic" and verdict["exported"] == "none"
    assert verdict["gain_db"] < 0 and verdict["advice"]
    assert verdict["reference_noise"] < 0.03  # the simulator's HR reads clean enough
    assert (run / "checkpoints" / "best.pt").is_file()  # the weights are kept
    events = [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines()]
    finished = [e for e in events if e["kind"] == "finished"][-1]
    assert finished["model"] is None and finished["verdict"]["status"] == "worse than bicubic"
    # Looking at the run afterwards says the same: `semsr runs show` and `runs list`.
    assert main(["runs", "show", str(run)]) == 0
    shown = capsys.readouterr().out
    assert "VERDICT: model worse than bicubic on its validation pairs" in shown
    assert "no model exported" in shown and "try: Start from the bundled model" in shown
    assert main(["runs", "list", str(tmp_path)]) == 0
    listed = capsys.readouterr().out
    assert f"worse than bicubic ({verdict['gain_db']:+.2f} dB)" in listed


def test_a_small_loss_against_noisy_validation_scans_is_explained_first(sim_data, tmp_path):
    """Against a noisy HR scan a perfect, noise-free result loses up to 10·log10(1/(1 −
    1/s²)) dB (0.28 at ×4): a run that lost no more, on validation scans that read
    noisy, says so first among its advice; a larger loss, or clean scans, do not. The
    run records its validation HR's noise estimate in the verdict."""
    import shutil

    import tifffile

    from semsr_core.metrics.noisy_reference import denoising_cost_db
    from semsr_core.train.verdict import judge

    assert denoising_cost_db(2) == pytest.approx(1.249, abs=1e-3)
    assert denoising_cost_db(4) == pytest.approx(0.280, abs=1e-3)
    small, large = {"psnr": 20.8, "psnr_bicubic": 21.0}, {"psnr": 20.0, "psnr_bicubic": 21.0}
    tip = judge(small, "last", recipe="en1", fine_tuned=False, reference_noise=0.09,
                scale=4).advice[0]
    assert tip.startswith("Your validation HR scans read noisy (noise estimate up to σ 0.090)")
    assert "0.28 dB at ×4" in tip and "train.export_worse=true" in tip
    for metrics, noise, scale in ((large, 0.09, 4), (small, 0.02, 4), (large, None, 2)):
        advice = judge(metrics, "last", recipe="en1", fine_tuned=False,
                       reference_noise=noise, scale=scale).advice
        assert not any("read noisy" in t for t in advice)
    assert any("read noisy" in t for t in judge(large, "last", recipe="en1", fine_tuned=False,
                                                reference_noise=0.09, scale=2).advice)

    data = tmp_path / "noisy"
    shutil.copytree(sim_data, data)
    rng = np.random.default_rng(3)
    for path in (data / "hr").glob("*.tif"):
        hr = tifffile.imread(path) / 65535.0
        noisy = np.clip(hr + rng.normal(0, 0.1, hr.shape), 0, 1)
        tifffile.imwrite(path, np.round(noisy * 65535).astype(np.uint16))
    result = train("finetune", data, tmp_path / "run", device="cpu", overrides=QUICK)
    assert result.verdict.reference_noise > 0.06
    assert read_verdict(tmp_path / "run").reference_noise == result.verdict.reference_noise


def test_a_fine_tune_that_only_hurts_exports_the_model_it_started_from(sim_data, tmp_path):
    """The bundled model is validated before the first step: when training makes it
    worse (here a learning rate far too high), the exported model is the one it started
    from, and the verdict says that training did not improve on it."""
    from semsr_core.models import load_model

    result = train("finetune", sim_data, tmp_path / "run", device="cpu",
                   overrides=[*QUICK, "optimizer.lr=0.02", "schedule.type=\"constant\""])
    verdict = result.verdict
    assert verdict.exported.startswith("the weights it started from (default-x4)")
    assert verdict.psnr == pytest.approx(verdict.start_psnr)
    exported = load_model(result.model_path).generator.state_dict()
    bundled = load_model("default-x4").generator.state_dict()
    assert all(torch.equal(exported[k], bundled[k]) for k in bundled)


def test_runs_show_says_when_a_run_has_no_verdict_yet(tmp_path, capsys):
    """A run folder stopped before its export (config, no verdict.json) is shown as such,
    not as better or worse than bicubic."""
    from semsr_core.cli import main

    run = tmp_path / "stopped"
    run.mkdir()
    (run / "config.toml").write_text('[recipe]\nname = "finetune"\n', encoding="utf-8")
    assert main(["runs", "show", str(run)]) == 0
    out = capsys.readouterr().out
    assert "recipe finetune, new" in out and "verdict: none yet" in out
    assert main(["runs", "list", str(tmp_path)]) == 0
    assert "bicubic" not in capsys.readouterr().out
