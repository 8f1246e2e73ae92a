"""VGG weight loader (finds, checks and refuses files) and the perceptual loss."""

from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import save_file

from semsr_core.errors import ConfigError, ModelError
from semsr_core.losses.vgg import VGGFeatures, VGGLoss, load_vgg_weights
from semsr_core.resources import user_dir


def test_loader_reads_a_torchvision_layout_file_and_drops_the_classifier(vgg19_file):
    weights = load_vgg_weights("vgg19", vgg19_file)
    written = torch.load(vgg19_file, weights_only=True)
    assert torch.equal(weights["features.0.weight"], written["features.0.weight"])
    assert weights["features.34.weight"].shape == (512, 512, 3, 3)
    assert len(weights) == 32  # 16 convolutions × (weight, bias)
    assert not any(key.startswith("classifier") for key in weights)


def test_loader_refuses_wrong_shapes_and_names_the_key(tmp_path, make_vgg_state_dict):
    state = make_vgg_state_dict("vgg19")
    state["features.0.weight"] = torch.zeros(64, 1, 3, 3)  # a grayscale first layer
    path = tmp_path / "gray.pth"
    torch.save(state, path)
    with pytest.raises(ModelError) as info:
        load_vgg_weights("vgg19", path)
    message = str(info.value)
    assert "features.0.weight is (64, 1, 3, 3), expected (64, 3, 3, 3)" in message
    assert str(path) in message


def test_loader_refuses_a_vgg16_file_as_vgg19_naming_the_missing_keys(vgg16_file):
    with pytest.raises(ModelError, match=r"missing keys: .*features\.30\.weight"):
        load_vgg_weights("vgg19", vgg16_file)


def test_missing_weights_say_which_file_to_put_in_which_folder(monkeypatch):
    monkeypatch.delenv("SEMSR_VGG19_WEIGHTS", raising=False)
    with pytest.raises(ModelError) as info:
        load_vgg_weights("vgg19")
    message = str(info.value)
    assert "vgg19-dcbb9e9d.pth" in message
    assert str(user_dir("weights")) in message
    assert "never downloads" in message


def test_a_given_path_that_does_not_exist_is_named(tmp_path):
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(ModelError, match=r"nowhere\.pth"):
        load_vgg_weights("vgg16", missing)


def test_weights_are_found_in_the_user_folder_under_the_torchvision_name(vgg19_file, monkeypatch):
    monkeypatch.delenv("SEMSR_VGG19_WEIGHTS", raising=False)
    os.symlink(vgg19_file, user_dir("weights") / "vgg19-dcbb9e9d.pth")
    assert load_vgg_weights("vgg19")["features.0.bias"].shape == (64,)


def test_environment_variable_points_at_the_weights(vgg16_file, monkeypatch):
    monkeypatch.setenv("SEMSR_VGG16_WEIGHTS", str(vgg16_file))
    assert load_vgg_weights("vgg16")["features.28.weight"].shape == (512, 512, 3, 3)


def test_safetensors_files_are_accepted(tmp_path, make_vgg_state_dict):
    path = tmp_path / "vgg16.safetensors"
    state = make_vgg_state_dict("vgg16")
    save_file(state, str(path))
    assert torch.equal(load_vgg_weights("vgg16", path)["features.0.weight"],
                       state["features.0.weight"])


class _Exploit:
    def __reduce__(self):
        return (os.mkdir, (os.environ["SEMSR_TEST_MARKER"],))


def test_a_file_holding_code_is_refused_without_running_it(tmp_path, monkeypatch):
    marker = tmp_path / "code_ran"
    monkeypatch.setenv("SEMSR_TEST_MARKER", str(marker))
    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": _Exploit()}, path)
    with pytest.raises(ModelError, match=r"evil\.pth"):
        load_vgg_weights("vgg19", path)
    assert not marker.exists()


def test_layers_are_named_as_in_srgan(vgg19_file):
    net = VGGFeatures("vgg19", ("22", "54"), weights=vgg19_file)
    features = net(torch.rand(1, 1, 32, 32))
    assert features["22"].shape == (1, 128, 16, 16)
    assert features["54"].shape == (1, 512, 2, 2)
    # Truncated after relu5_4 (index 35): the last max-pool is not built.
    assert len(net.features) == 36
    assert VGGFeatures("vgg19", "31", weights=vgg19_file).layers == ("31",)


def test_features_before_activation_keep_negative_values(vgg19_file):
    image = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(3))
    before = VGGFeatures("vgg19", ("22",), after_activation=False, weights=vgg19_file)(image)
    after = VGGFeatures("vgg19", ("22",), after_activation=True, weights=vgg19_file)(image)
    assert before["22"].min() < 0
    assert torch.equal(after["22"], torch.relu(before["22"]))


def test_grayscale_is_replicated_and_value_range_is_mapped(vgg19_file):
    image = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(4))
    net = VGGFeatures("vgg19", ("31",), weights=vgg19_file)
    signed = VGGFeatures("vgg19", ("31",), value_range=(-1, 1), weights=vgg19_file)
    gray = net(image)["31"]
    assert torch.allclose(gray, net(image.repeat(1, 3, 1, 1))["31"])
    assert torch.allclose(gray, signed(image * 2 - 1)["31"], atol=1e-5)


def test_feature_network_is_frozen_and_stays_in_eval_mode(vgg19_file):
    loss = VGGLoss("22", weights=vgg19_file)
    loss.train()
    assert not loss.net.training
    assert not any(p.requires_grad for p in loss.parameters())


def test_vgg_loss_is_zero_for_identical_images_and_trains_the_output(vgg19_file):
    hr = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(5))
    loss = VGGLoss({"22": 1.0}, weights=vgg19_file)
    assert loss(hr, hr).item() == 0.0
    sr = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(6), requires_grad=True)
    value = loss(sr, hr)
    value.backward()
    assert value.item() > 0 and sr.grad.abs().sum() > 0


def test_layer_weights_and_criterion(vgg19_file):
    hr = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(7))
    sr = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(8))
    single = VGGLoss({"22": 1.0}, weights=vgg19_file)(sr, hr).item()
    double = VGGLoss({"22": 2.0}, weights=vgg19_file)(sr, hr).item()
    both = VGGLoss({"22": 1.0, "34": 1.0}, weights=vgg19_file)(sr, hr).item()
    deep = VGGLoss({"34": 1.0}, weights=vgg19_file)(sr, hr).item()
    assert double == pytest.approx(2 * single, rel=1e-5)
    assert both == pytest.approx(single + deep, rel=1e-5)
    net = VGGFeatures("vgg19", ("22",), weights=vgg19_file)
    expected_l1 = (net(sr)["22"] - net(hr)["22"]).abs().mean().item()
    l1 = VGGLoss("22", criterion="l1", weights=vgg19_file)(sr, hr).item()
    assert l1 == pytest.approx(expected_l1, rel=1e-5)


def test_unknown_layer_or_criterion_is_a_config_error_with_the_choices(vgg19_file):
    with pytest.raises(ConfigError, match="54"):
        VGGLoss("55", weights=vgg19_file)
    with pytest.raises(ConfigError, match="mse"):
        VGGLoss("54", criterion="huber", weights=vgg19_file)
    with pytest.raises(ConfigError, match="vgg16"):
        VGGFeatures("vgg16", ("54",), weights=vgg19_file)  # VGG16's last block has 3 convs


def test_images_with_two_channels_are_refused(vgg19_file):
    with pytest.raises(ConfigError, match="channels"):
        VGGLoss("22", weights=vgg19_file)(torch.rand(1, 2, 8, 8), torch.rand(1, 2, 8, 8))
