"""The trainer binds each adversarial term to its discriminator without writing into the
recipe's configuration, which is recorded as the user wrote it."""

from __future__ import annotations

from pathlib import Path

from semsr_core.train import load_config
from semsr_core.train.engine import Trainer

PRESETS = Path(__file__).resolve().parents[2] / "resources" / "presets"
SMALL = ["generator.features=8", "generator.growth=4", "generator.blocks=1",
         "discriminators.d.features=8", "phases.pretrain.epochs=1", "phases.gan.epochs=1"]


def test_a_term_without_a_named_discriminator_trains_against_the_only_one(fake_vgg, tmp_path):
    text = (PRESETS / "en1.toml").read_text(encoding="utf-8")
    unnamed = "\n".join(line for line in text.splitlines()
                        if not line.strip().startswith('discriminator = "d"'))
    assert unnamed != text
    recipe = tmp_path / "en1_unnamed.toml"
    recipe.write_text(unnamed, encoding="utf-8")
    config = load_config(recipe, SMALL)
    assert config.phases[1].losses["gan_ragan"].discriminator is None
    recorded = config.to_dict()

    trainer = Trainer(config, tmp_path / "run", train_set=[None] * 8, device="cpu")

    assert trainer.loss_discriminators == {"pretrain": {}, "gan": {"gan_ragan": "d"}}
    assert config.phases[1].losses["gan_ragan"].discriminator is None
    assert config.to_dict() == recorded
