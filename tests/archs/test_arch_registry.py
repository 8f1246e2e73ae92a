"""The registry: every network by name, config keys and types checked, honest specs."""

from __future__ import annotations

import pytest
import torch

from semsr_core import archs
from semsr_core.errors import ConfigError

GENERATORS = {"srresnet", "srresnet_in", "rrdbnet", "wgan_resnet", "rir", "zssr", "unet",
              "unet64", "unet128", "unet256", "resnet_gen", "lir"}
REFERENCE_GENERATORS = {"masa"}  # take (image, reference): tests/archs/test_masa.py
DISCRIMINATORS = {"srgan_d", "srgan_d_reduced", "dcgan_d", "patchgan34", "patchgan70",
                  "patchgan9", "wgan_critic", "n2_d"}
CLASSIFIERS = {"defect_classifier"}
TANH_HEADS = {"wgan_resnet", "unet", "unet64", "unet128", "unet256", "resnet_gen", "lir"}
PIX2PIX_INPUT = {"unet", "unet64", "unet128", "unet256", "resnet_gen", "lir"}


def test_registry_lists_every_network_with_its_kind():
    assert len(archs.names()) == (len(GENERATORS) + len(REFERENCE_GENERATORS)
                                  + len(DISCRIMINATORS) + len(CLASSIFIERS))
    assert set(archs.names("generator")) == GENERATORS | REFERENCE_GENERATORS
    assert set(archs.names("discriminator")) == DISCRIMINATORS
    assert set(archs.names("classifier")) == CLASSIFIERS
    for name in archs.names():
        assert archs.spec(name).name == name


def test_unknown_network_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"'esrgan'.*rrdbnet.*patchgan34"):
        archs.build("esrgan")


def test_unknown_kind_is_a_config_error():
    with pytest.raises(ConfigError, match="'critic'"):
        archs.names("critic")


def test_a_config_key_called_name_is_reported_not_crashing():
    with pytest.raises(ConfigError, match="'name'"):
        archs.build("zssr", name="mine")


def test_unknown_key_is_named_with_the_accepted_keys():
    with pytest.raises(ConfigError, match=r"'num_block'.*Accepted keys:.*blocks.*growth"):
        archs.build("rrdbnet", num_block=8)


@pytest.mark.parametrize(
    ("key", "value"),
    [("blocks", 2.5), ("blocks", True), ("blocks", "8"), ("dropout", "half"), ("dropout", False)],
)
def test_ill_typed_value_is_named(key, value):
    name = "unet128" if key == "dropout" else "rrdbnet"
    with pytest.raises(ConfigError, match=f"'{key}'"):
        archs.build(name, **{key: value})


def test_whole_numbers_are_accepted_for_float_keys():
    net = archs.build("unet128", dropout=0, features=2)
    assert not any(isinstance(m, torch.nn.Dropout) for m in net.modules())


def test_values_a_network_cannot_use_are_config_errors():
    with pytest.raises(ConfigError, match="'scale'"):
        archs.build("srresnet", scale=3)
    with pytest.raises(ConfigError, match="'features'"):
        archs.build("patchgan70", features=0)


@pytest.mark.parametrize("name", sorted(GENERATORS | DISCRIMINATORS))
def test_every_network_builds_with_its_defaults(name):
    net = archs.build(name)
    assert isinstance(net, archs.spec(name).cls)
    assert sum(p.numel() for p in net.parameters()) > 0


def test_specs_say_which_networks_take_pix2pix_input():
    assert {n for n in archs.names() if archs.spec(n).input_at_output_size} == PIX2PIX_INPUT
    assert archs.spec("unet64").size_multiple == 64
    assert archs.spec("unet256").size_multiple == 256
    assert archs.spec("resnet_gen").size_multiple == 4
    assert archs.spec("zssr").input_at_output_size is False


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_declared_value_range_matches_the_output(name, small_config):
    """Tanh-headed generators are declared (-1, 1); the others really leave that range."""
    spec = archs.spec(name)
    torch.manual_seed(0)
    net = archs.build(name, **small_config(name)).eval()
    side = max(spec.min_size, 16)
    with torch.no_grad():
        out = net(1000 * torch.rand(1, 1, side, side))
    bounded = bool(out.abs().max() <= 1.0)
    assert spec.value_range == ((-1.0, 1.0) if name in TANH_HEADS else (0.0, 1.0))
    assert bounded == (name in TANH_HEADS)


def _input_channels(name: str) -> int:
    return 2 if name == "patchgan70" else 1


def _run(name: str, config: dict, side: int, train: bool) -> torch.Tensor:
    if name in ("srgan_d", "srgan_d_reduced"):
        config = {**config, "input_size": side}
    net = archs.build(name, **config).train(train)
    with torch.no_grad():
        return net(torch.rand(1, _input_channels(name), side, side))


@pytest.mark.parametrize("name", sorted(GENERATORS | DISCRIMINATORS))
def test_min_size_is_the_smallest_side_that_works(name, small_config):
    """Tilers and patch samplers rely on min_size: it works (batch of 1, train and eval
    mode) and the next smaller allowed side does not."""
    spec = archs.spec(name)
    config = small_config(name)
    if name == "unet":
        config.pop("downsamplings")  # min_size is stated for the default depth
    for train in (True, False):
        assert _run(name, config, spec.min_size, train).numel() > 0
    smaller = spec.min_size - spec.size_multiple
    if smaller >= 1:
        with pytest.raises((RuntimeError, ValueError, ConfigError)):
            _run(name, config, smaller, train=True)
