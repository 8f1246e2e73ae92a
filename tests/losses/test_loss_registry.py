"""Building losses by the names recipes use."""

from __future__ import annotations

import pytest
import torch

from semsr_core import losses
from semsr_core.errors import ConfigError
from semsr_core.losses import Loss, LossRole
from semsr_core.losses.adversarial import AdversarialLoss

SPEC_NAMES = {"l1", "l2", "vgg", "gan_ns", "gan_ragan", "gan_rsgan", "wgan_gp", "cgan",
              "content_lf", "texture", "color", "fsesim", "patchnce", "gradient",
              "monce", "gan_ls", "qsattn", "defect_class", "lsesim", "lir"}


def test_every_loss_of_the_spec_is_registered():
    assert set(losses.names()) == SPEC_NAMES


ADVERSARIAL_NAMES = ["gan_ns", "gan_ragan", "gan_rsgan", "wgan_gp", "cgan", "texture", "color",
                     "gan_ls"]


def test_every_loss_declares_its_role_and_the_registry_derives_its_sets_from_them():
    declared = {}
    for name in losses.names():
        cls = losses.loss_class(name)
        assert issubclass(cls, Loss), name
        assert isinstance(cls.role, LossRole), f"{name} declares no LossRole"
        assert isinstance(cls.uses_mask, bool) and isinstance(cls.trains_structure_net, bool)
        # the role the engine dispatches on agrees with the interface it then calls
        assert issubclass(cls, AdversarialLoss) == (cls.role is LossRole.ADVERSARIAL), name
        assert losses.role(name) is cls.role
        declared[name] = cls
    for role in LossRole:
        assert losses.with_role(role) == {n for n, c in declared.items() if c.role is role}
    assert losses.using_masks() == {n for n, c in declared.items() if c.uses_mask}
    # the losses of the spec land where the engine must call them (a new loss joins the
    # set of the role it declares)
    assert losses.with_role(LossRole.ADVERSARIAL) == set(ADVERSARIAL_NAMES)
    assert losses.with_role(LossRole.PIXEL) >= {"l1", "l2", "vgg", "content_lf", "gradient"}
    assert losses.with_role(LossRole.INPUT_REFERENCED) >= {"fsesim", "lsesim"}
    assert losses.with_role(LossRole.CONTRASTIVE) >= {"patchnce", "monce", "qsattn"}
    assert losses.with_role(LossRole.TILE_LABELS) == {"defect_class"}
    assert losses.using_masks() == {"l1", "l2"}
    assert {n for n, c in declared.items() if c.trains_structure_net} >= {"lsesim"}


def test_a_loss_class_that_declares_no_role_has_none_to_inherit():
    class Undeclared(Loss):
        pass

    assert not hasattr(Undeclared, "role")


@pytest.mark.parametrize("name", ADVERSARIAL_NAMES)
def test_adversarial_losses_share_one_interface(name):
    loss = losses.build(name)
    assert losses.is_adversarial(name)
    assert isinstance(loss, AdversarialLoss)
    real, fake = torch.tensor([[1.0], [0.0]]), torch.tensor([[-1.0], [0.5]])
    assert loss.d_loss(real, fake).dim() == 0 and loss.g_loss(real, fake).dim() == 0


@pytest.mark.parametrize("name", ["l1", "l2", "content_lf", "gradient"])
def test_pixel_losses_compare_output_and_target(name):
    assert not losses.is_adversarial(name)
    image = torch.rand(1, 1, 16, 16)
    assert losses.build(name)(image, image).item() == pytest.approx(0.0, abs=1e-6)


def test_recipe_parameters_reach_the_loss(vgg19_file):
    assert losses.build("content_lf", kernel_size=9).kernel_size == 9
    assert losses.build("wgan_gp", lambda_gp=5.0).lambda_gp == 5.0
    vgg = losses.build("vgg", layers={"31": 1.0}, criterion="l1", weights=str(vgg19_file))
    assert vgg.layer_weights == {"31": 1.0} and vgg.criterion == "l1"


def test_unknown_name_lists_the_choices():
    with pytest.raises(ConfigError, match="gan_ragan"):
        losses.build("ragan")


def test_unknown_parameter_is_named_with_the_accepted_ones():
    with pytest.raises(ConfigError, match=r"'kernel'.*kernel_size"):
        losses.build("texture", kernel=9)
