"""LIR (issue 17 item 5): every network of it trains, the KL term is as computed by
hand, and the exported restoration super-resolves from the command line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semsr_core import archs
from semsr_core.losses import build
from semsr_core.losses.lir import kl_term

SMALL = ["generator.features=4", "generator.blocks=1", "generator.noise_channels=2",
         "discriminators.d.features=4", "phases.gan.losses.lir.features=4",
         "data.lr_patch=16", "data.batch=2", "train.checkpoint_every=1",
         "train.export_worse=true", "train.log_every=1", "phases.gan.epochs=1",
         "phases.gan.steps_per_epoch=2"]


def _state(run, step):
    return torch.load(run / "checkpoints" / f"step_{step:08d}.pt", weights_only=False)


def _changed(a: dict, b: dict, prefix: str) -> bool:
    keys = [k for k in a if k.startswith(prefix) and a[k].is_floating_point()]
    assert keys, prefix
    return any(not torch.equal(a[k], b[k]) for k in keys)


def test_the_kl_term_is_the_mean_square_of_the_degradation_code():
    mu = torch.tensor([[[[1.0, -2.0], [3.0, 0.5]]]])
    assert float(kl_term(mu)) == pytest.approx((1 + 4 + 9 + 0.25) / 4)  # 3.5625


def test_the_logged_kl_is_that_of_the_noise_encoders_means():
    torch.manual_seed(0)
    net = archs.build("lir", features=4, blocks=1, noise_channels=2)
    loss = build("lir", features=4)
    loss.attach_generator(net, lambda x: 2 * x - 1, lambda y: (y + 1) / 2)
    x, y = torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32)
    torch.manual_seed(1)
    loss(x, (net(2 * x - 1) + 1) / 2, y)
    # the same draws again, by hand: μ of x, then μ of ỹ = G_X(E_Y(y) ⊕ (μ + ε))
    torch.manual_seed(1)
    with torch.no_grad():
        mu_x = net.enc_n(2 * x - 1)
        y_to_x = net.degrade(net.enc_y(2 * y - 1), mu_x + torch.randn_like(mu_x))
        mu_cycle = net.enc_n(y_to_x)
    expected = float(mu_x.pow(2).mean() + mu_cycle.pow(2).mean())
    assert loss.last_terms["kl"] == pytest.approx(expected, rel=1e-5)
    assert set(loss.last_terms) == {"cycle", "reconstruction", "kl", "adversarial",
                                    "representation", "background"}


def test_background_term_is_zero_for_equal_images_and_blur_kernels_sum_to_one():
    loss = build("lir")
    a = torch.rand(1, 1, 24, 24)
    assert float(loss.background_term(a, a)) == 0.0
    for i in range(3):
        assert float(getattr(loss, f"blur{i}").sum()) == pytest.approx(1.0, abs=1e-6)
    # a constant shift c moves every blurred pixel by c: Σ λ·c
    assert float(loss.background_term(a, a + 0.1)) == pytest.approx(0.1 * 1.75, rel=1e-4)


def test_semsr_train_lir_two_steps_trains_every_network_and_super_resolves(
        sim_data, tmp_path):
    from semsr_core.cli import main
    from semsr_core.io import read_stack

    run = tmp_path / "lir"
    args = ["train", "lir", "--data", str(sim_data), "--run", str(run), "--device", "cpu"]
    for s in SMALL:
        args += ["--set", s]
    assert main(args) == 0
    first, second = _state(run, 1), _state(run, 2)
    # E_X, E_Y, E_X^N, G_X, G_Y all change between the two steps
    for part in ("enc_x.", "enc_y.", "enc_n.", "gen_x.", "gen_y."):
        assert _changed(first["generator"], second["generator"], part), part
    # the clean-domain discriminator d, and the loss's own D_X and D_R
    assert any(not torch.equal(first["discriminators"]["d"][k],
                               second["discriminators"]["d"][k])
               for k in first["discriminators"]["d"] if k.endswith("weight"))
    lir_1, lir_2 = (s["contrastive"]["modules"]["gan/lir"] for s in (first, second))
    assert _changed(lir_1, lir_2, "d_x.") and _changed(lir_1, lir_2, "d_r.")
    assert second["contrastive"]["optimizers"]["gan/lir"]["state"]  # Adam moments kept
    lines = (run / "events.jsonl").read_text().splitlines()
    assert any('"g/lir"' in line for line in lines) and any('"s/lir"' in line
                                                            for line in lines)
    # the exported restoration super-resolves from the command line
    lr = sorted((sim_data / "lr").glob("*.tif"))[0]
    out = tmp_path / "sr.ome.tif"
    assert main(["super-resolve", str(lr), "--model", str(run / "model.semsr"),
                 "--output", str(out), "--device", "cpu", "--quiet"]) == 0
    source = np.asarray(read_stack(lr)[0])
    result = np.asarray(read_stack(out)[0])
    assert result.shape == (4 * source.shape[0], 4 * source.shape[1])
    assert np.isfinite(result.astype(np.float64)).all()


def test_a_resumed_lir_run_ends_as_an_uninterrupted_one(sim_data, tmp_path):
    from semsr_core.events import CancelToken, EventKind
    from semsr_core.infer.device import bf16_conv_speedup
    from semsr_core.train import resume, train

    bf16_conv_speedup()  # measured once per process from torch's RNG: before the runs
    sets = [*SMALL, "phases.gan.steps_per_epoch=4"]
    whole = train("lir", sim_data, tmp_path / "whole", overrides=sets, device="cpu")
    cancel = CancelToken()

    def stop_after_two(event):
        if event.kind is EventKind.STEP and event.data["step"] == 2:
            cancel.cancel()

    part = train("lir", sim_data, tmp_path / "part", overrides=sets, device="cpu",
                 on_event=stop_after_two, cancel=cancel)
    assert part.status == "stopped" and part.step == 2
    assert resume(tmp_path / "part", device="cpu").step == whole.step == 4
    a, b = _state(tmp_path / "whole", 4), _state(tmp_path / "part", 4)
    for k in a["generator"]:
        assert torch.allclose(a["generator"][k], b["generator"][k], atol=1e-6), k
    lir_a, lir_b = (s["contrastive"]["modules"]["gan/lir"] for s in (a, b))
    assert all(torch.allclose(lir_a[k], lir_b[k], atol=1e-6) for k in lir_a)
