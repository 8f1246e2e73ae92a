"""Recipes are data: every bundled recipe validates, and mistakes name the key."""

from __future__ import annotations

import pytest

from semsr_core.errors import ConfigError
from semsr_core.train.config import (
    apply_overrides,
    dump_config,
    load_config,
    recipe_names,
    validate_config,
)

SPEC_RECIPES = {"srgan", "rirgan", "n1", "n1_reduced", "n2", "en1", "en1_defects",
                "en1_freqsep", "defect_stylizer", "wgangp_sr", "pix2pix_unet",
                "pix2pix_resnet", "zssr_pix2pix", "fsesim_unpaired", "zssr", "finetune",
                # [S1]'s contrastive methods (issue 17)
                "cut", "cut_monce", "monce_fsesim", "qsattn"}


def test_every_recipe_of_the_spec_is_bundled_and_valid():
    assert SPEC_RECIPES <= set(recipe_names()), "a recipe of the spec is missing"
    for name in recipe_names():  # the spec's, and any added since: each validates
        cfg = load_config(name)
        assert cfg.recipe.name == name
        if name == "finetune":  # semsr's own (SPEC §6)
            assert cfg.recipe.source == "semsr"
        else:
            assert cfg.recipe.source.startswith("[S"), f"{name} must cite its source"


def test_en1_defects_uses_the_source_hyper_parameters():
    cfg = load_config("en1_defects")
    gan = cfg.phases[1]
    # [S0] §4.1.1: δ = 0.9 weights L1, VGG gets 1 − δ, λ = 0.04, PatchGAN, α=64, β=128
    assert gan.losses["l1"].weight == pytest.approx(0.9)
    assert gan.losses["vgg"].weight == pytest.approx(0.1)
    assert gan.losses["gan_ragan"].weight == pytest.approx(0.04)
    assert cfg.discriminators["d"].arch == "patchgan34"
    assert (cfg.data.defects.alpha, cfg.data.defects.beta) == (64, 128)
    assert cfg.optimizer.lr == pytest.approx(2e-4)
    assert (cfg.schedule.every_epochs, cfg.schedule.gamma) == (10, 0.85)
    assert cfg.discriminators["d"].optimizer.type == "sgd"
    assert [p.epochs for p in cfg.phases] == [50, 200]


def test_wgangp_recipe_matches_its_source_table():
    cfg = load_config("wgangp_sr")
    assert cfg.phases[0].n_critic == 5
    assert cfg.phases[0].losses["l1"].weight == 100.0
    assert cfg.optimizer.betas == (0.5, 0.9) and cfg.optimizer.lr == 5e-4
    assert cfg.schedule.type == "onecycle" and cfg.data.batch == 8


def test_override_changes_a_value_and_is_validated():
    cfg = load_config("en1", ["generator.blocks=2", "phases.gan.epochs=3", "data.batch=4"])
    assert cfg.generator.arch_kwargs()["blocks"] == 2
    assert cfg.phases[1].epochs == 3
    assert cfg.data.batch == 4
    cfg = load_config("en1", ["phases.1.l1_weight=0.5"])
    assert cfg.phases[1].losses["vgg"].weight == pytest.approx(0.5)



def test_a_parameter_set_on_a_loss_given_as_a_bare_weight_keeps_its_weight():
    assert load_config("en1").phases[0].losses["l1"].params() == {}  # `l1 = 1.0`
    term = load_config("en1", ["phases.pretrain.losses.l1.mask_weight=4"]).phases[0].losses["l1"]
    assert term.weight == 1.0 and term.params() == {"mask_weight": 4}


@pytest.mark.parametrize(("override", "named"), [
    ("generator.blokcs=2", "generator.blokcs"),
    ("data.batch=\"many\"", "data.batch"),
    ("data.bacth=3", "data.bacth"),
    ("phases.gan.losses.vgg.layrs=[\"54\"]", "phases.gan.losses.vgg.layrs"),
    ("phases.gan.losses.gan_ragan.discriminator=\"nope\"", "discriminator"),
    ("discriminators.d.optimizer.type=\"adagrad\"", "discriminators.d.optimizer.type"),
    ("train.ema=1.5", "train.ema"),
    ("phases.gan.losses.vgg.discriminator=\"d\"", "phases.gan.losses.vgg.discriminator"),
])
def test_mistakes_are_errors_that_name_the_key(override, named):
    with pytest.raises(ConfigError) as info:
        load_config("en1", [override])
    assert named in str(info.value)


def test_unknown_recipe_lists_the_known_ones():
    with pytest.raises(ConfigError, match="en1_defects"):
        load_config("en2")


def test_bad_toml_file_is_named(tmp_path):
    bad = tmp_path / "mine.toml"
    bad.write_text("[generator\narch = 'rrdbnet'\n")
    with pytest.raises(ConfigError, match="mine.toml"):
        load_config(bad)


def test_override_syntax_errors():
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["generator.blocks"])
    with pytest.raises(ConfigError, match="phases.pretrian"):
        apply_overrides({"phases": [{"name": "pretrain"}]}, ["phases.pretrian.epochs=1"])


def test_dumped_config_reloads_identically(tmp_path):
    import sys

    tomllib = __import__("tomllib" if sys.version_info >= (3, 11) else "tomli")
    cfg = load_config("en1_freqsep", ["generator.features=8"])
    again = validate_config(tomllib.loads(dump_config(cfg)))
    assert again.to_dict() == cfg.to_dict()


def test_data_workers_of_an_earlier_run_is_dropped_and_any_other_value_names_the_key():
    """``data.workers`` was accepted and never read: the 0 every earlier run's
    config.toml holds still loads (so those runs resume), and is no longer written; a
    value that asks for parallel loading is refused, naming the key."""
    cfg = load_config("en1", ["data.workers=0"])
    assert "workers" not in dump_config(cfg)
    with pytest.raises(ConfigError, match=r"data: workers is not a setting"):
        load_config("en1", ["data.workers=4"])
