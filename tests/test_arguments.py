"""One check of option keys: every place that turns a recipe's or a call's options into
keyword arguments refuses an unknown key the same way, naming it and the accepted ones."""

from __future__ import annotations

import numpy as np
import pytest
from torch import nn

from semsr_core.arguments import accepted_keywords, check_kwargs
from semsr_core.errors import ConfigError


class _Net(nn.Module):
    def __init__(self, features: int = 8, *, blocks: int = 2, **extra):
        super().__init__()


def _degrade(hr, s, rng=None, *, dose: float = 10.0):
    return hr


def test_the_accepted_keys_are_the_named_parameters_less_the_callers_own():
    assert accepted_keywords(_Net) == ("features", "blocks")
    assert accepted_keywords(_degrade, ignore=("hr", "s", "rng")) == ("dose",)
    assert check_kwargs(_Net, {"blocks": 3}, what="net") == ("features", "blocks")


def test_an_unknown_key_is_named_with_the_accepted_ones_and_kwargs_do_not_widen_them():
    with pytest.raises(ConfigError) as info:
        check_kwargs(_Net, {"blocks": 3, "extra": 1}, what="net")
    assert str(info.value) == "net: unknown key 'extra'. Accepted keys: features, blocks."
    with pytest.raises(ConfigError, match=r"^recipe: unknown key 'generator\.blokcs'\. "
                                          r"Accepted keys: features, blocks, weight\.$"):
        check_kwargs(_Net, ["blokcs"], what="recipe", extra=("weight",),
                     key_prefix="generator.")
    with pytest.raises(ConfigError, match="Accepted keys: none"):
        check_kwargs(lambda hr, s: hr, {"dose": 1}, what="d", ignore=("hr", "s"))


def _arch():
    from semsr_core import archs

    archs.build("rrdbnet", num_block=2)


def _loss():
    from semsr_core import losses

    losses.build("l1", mask_wieght=2)


def _degradation():
    from semsr_core.data.degrade import degrade

    degrade("sem-noise", np.zeros((8, 8), np.float32), 2, rng=0, doze=5)


def _dataset():
    from semsr_core.data.datasets.factory import training_dataset

    training_dataset("none", None, alpha=3)


def _config():
    from semsr_core.train import load_config

    load_config("en1", ["phases.gan.losses.vgg.layrs=[\"54\"]"])


@pytest.mark.parametrize(("call", "key", "accepted"), [
    (_arch, "'num_block'", "blocks"),
    (_loss, "'mask_wieght'", "mask_weight"),
    (_degradation, "'doze'", "dose"),
    (_dataset, "'alpha'", "patch"),
    (_config, "'phases.gan.losses.vgg.layrs'", "layers"),
])
def test_every_registry_refuses_an_unknown_key_in_the_same_words(call, key, accepted):
    with pytest.raises(ConfigError) as info:
        call()
    text = str(info.value)
    assert f"unknown key {key}" in text
    assert "Accepted keys: " in text and accepted in text.split("Accepted keys: ")[1]
