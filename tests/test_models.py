"""Model files: save/load, .pth import with architecture detection, safety, names, CLI."""

from __future__ import annotations

import json
import os
import re

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from semsr_core import cli, models
from semsr_core.errors import ModelError, OutputError
from semsr_core.models import Model, ModelCard, detect_rrdbnet, import_pth, load_model

TINY = {"blocks": 1, "features": 8, "growth": 4}


def esrgan_state(blocks=1, features=8, growth=4, in_channels=1, out_channels=1, ups=2,
                 unshuffle=1, seed=0):
    """Random weights under the public ESRGAN / Real-ESRGAN key names."""
    g = torch.Generator().manual_seed(seed)

    def conv(prefix, cin, cout):
        return {f"{prefix}.weight": torch.randn(cout, cin, 3, 3, generator=g) * 0.05,
                f"{prefix}.bias": torch.randn(cout, generator=g) * 0.01}

    state = conv("conv_first", in_channels * unshuffle**2, features)
    for b in range(blocks):
        for r in (1, 2, 3):
            for c in range(1, 5):
                state |= conv(f"body.{b}.rdb{r}.conv{c}", features + (c - 1) * growth, growth)
            state |= conv(f"body.{b}.rdb{r}.conv5", features + 4 * growth, features)
    state |= conv("conv_body", features, features)
    for u in range(1, ups + 1):
        state |= conv(f"conv_up{u}", features, features)
    state |= conv("conv_hr", features, features)
    state |= conv("conv_last", features, out_channels)
    return state


def old_esrgan_names(state):
    """The same weights under ESRGAN's RRDB_trunk / trunk_conv / upconv / HRconv names."""
    renamed = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "body":
            key = f"RRDB_trunk.{parts[1]}.RDB{parts[2][3]}.{parts[3]}.{parts[4]}"
        elif parts[0].startswith("conv_up"):
            key = f"upconv{parts[0][7:]}.{parts[1]}"
        else:
            key = {"conv_body": "trunk_conv", "conv_hr": "HRconv"}.get(parts[0], parts[0]) \
                + "." + parts[1]
        renamed[key] = value
    return renamed


def oldest_esrgan_names(state, blocks, ups):
    """The same weights under the original ESRGAN ``model.N`` Sequential layout."""
    tops = {"conv_first": 0}
    for u in range(1, ups + 1):
        tops[f"conv_up{u}"] = 3 * u
    tops["conv_hr"] = 3 * ups + 2
    tops["conv_last"] = 3 * ups + 4
    renamed = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "body":
            key = f"model.1.sub.{parts[1]}.RDB{parts[2][3]}.{parts[3]}.0.{parts[4]}"
        elif parts[0] == "conv_body":
            key = f"model.1.sub.{blocks}.{parts[1]}"
        else:
            key = f"model.{tops[parts[0]]}.{parts[1]}"
        renamed[key] = value
    return renamed


def run(model, x):
    with torch.no_grad():
        return model.generator.eval()(x)


# ------------------------------------------------------------------- save/load


def test_saved_model_loads_with_the_same_outputs_and_card(tmp_path):
    model = Model.create("rrdbnet", scale=2, name="tiny", **TINY)
    model.card.metrics = {"psnr": 31.5}
    model.card.recipe = "en1"
    path = model.save(tmp_path / "tiny.semsr")

    loaded = load_model(path)
    x = torch.rand(1, 1, 12, 10)
    assert torch.equal(run(model, x), run(loaded, x))
    assert loaded.card == model.card
    assert (loaded.scale, loaded.in_channels, loaded.out_channels) == (2, 1, 1)
    assert run(loaded, x).shape == (1, 1, 24, 20)
    assert sorted(os.listdir(tmp_path)) == ["tiny.semsr"]  # no temporary file left behind


def test_model_file_is_safetensors_with_the_card_in_its_header(tmp_path):
    path = Model.create("rrdbnet", scale=4, **TINY).save(tmp_path / "m.semsr")
    with safe_open(str(path), framework="pt") as fh:
        card = json.loads(fh.metadata()["semsr.card"])
        assert "conv_first.weight" in fh.keys()
    assert card["arch"] == "rrdbnet"
    assert card["config"] == {"in_channels": 1, "out_channels": 1, "scale": 4, **TINY}
    assert card["semsr_version"] and card["created"]


def test_saving_replaces_an_existing_model_file_whole(tmp_path):
    dest = tmp_path / "m.semsr"
    Model.create("rrdbnet", scale=4, **TINY).save(dest)
    bigger = Model.create("rrdbnet", scale=4, blocks=2, features=8, growth=4)
    bigger.save(dest)
    assert load_model(dest).card.config["blocks"] == 2
    assert sorted(os.listdir(tmp_path)) == ["m.semsr"]


def test_a_failed_save_keeps_the_old_file_and_leaves_no_partial_file(tmp_path, monkeypatch):
    import safetensors.torch

    dest = Model.create("rrdbnet", scale=4, **TINY).save(tmp_path / "m.semsr")
    before = dest.read_bytes()

    def disk_full(tensors, filename, metadata=None):
        with open(filename, "wb") as fh:
            fh.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", disk_full)
    with pytest.raises(OutputError, match="not enough disk space") as caught:
        Model.create("rrdbnet", scale=2, **TINY).save(dest)
    assert str(dest) in str(caught.value) and "needs about" in str(caught.value)
    assert dest.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.semsr"]


# ----------------------------------------------------------------- .pth import


def test_old_and_new_esrgan_key_names_import_to_the_same_network(tmp_path):
    state = esrgan_state(blocks=2, ups=2)
    torch.save(state, tmp_path / "public.pth")
    wrapped = {
        "params_ema": {f"module.{k}": v for k, v in old_esrgan_names(state).items()},
        "params": {f"module.{k}": torch.zeros_like(v) for k, v in old_esrgan_names(state).items()},
    }
    torch.save(wrapped, tmp_path / "old.pth")
    torch.save(oldest_esrgan_names(state, blocks=2, ups=2), tmp_path / "oldest.pth")

    x = torch.rand(1, 1, 9, 11)
    reference = run(import_pth(tmp_path / "public.pth"), x)
    assert reference.shape == (1, 1, 36, 44)
    for name in ("old.pth", "oldest.pth"):
        model = import_pth(tmp_path / name)
        assert model.card.config == {"in_channels": 1, "out_channels": 1, "scale": 4,
                                     "features": 8, "blocks": 2, "growth": 4, "unshuffle": 1}
        assert torch.equal(run(model, x), reference), name


def test_oldest_esrgan_layout_of_a_x2_network_imports(tmp_path):
    state = esrgan_state(blocks=1, ups=1, in_channels=3, out_channels=3)
    torch.save(oldest_esrgan_names(state, blocks=1, ups=1), tmp_path / "x2.pth")
    torch.save(state, tmp_path / "public.pth")
    x = torch.rand(1, 3, 8, 8)
    model = import_pth(tmp_path / "x2.pth")
    assert model.scale == 2
    assert torch.equal(run(model, x), run(import_pth(tmp_path / "public.pth"), x))


@pytest.mark.parametrize(
    ("in_ch", "out_ch", "ups", "unshuffle", "scale"),
    [
        (1, 1, 2, 1, 4),  # grayscale ESRGAN ×4
        (3, 3, 2, 1, 4),  # RGB ESRGAN ×4
        (1, 1, 1, 1, 2),  # grayscale ×2 with one up-convolution
        (3, 3, 2, 2, 2),  # Real-ESRGAN ×2: pixel-unshuffle by 2, then ×4
        (1, 1, 2, 2, 2),  # grayscale Real-ESRGAN-style ×2
        (3, 3, 2, 4, 1),  # Real-ESRGAN ×1: pixel-unshuffle by 4
        (1, 1, 3, 1, 8),  # ×8
    ],
)
def test_detects_rrdbnet_configuration_from_keys(in_ch, out_ch, ups, unshuffle, scale):
    state = esrgan_state(blocks=3, features=16, growth=8, in_channels=in_ch,
                         out_channels=out_ch, ups=ups, unshuffle=unshuffle)
    assert detect_rrdbnet(state) == {
        "in_channels": in_ch, "out_channels": out_ch, "scale": scale, "features": 16,
        "blocks": 3, "growth": 8, "unshuffle": unshuffle,
    }


def test_real_esrgan_x2_weights_import_and_upscale_by_two(tmp_path):
    torch.save({"params_ema": esrgan_state(in_channels=3, out_channels=3, unshuffle=2)},
               tmp_path / "RealESRGAN_x2plus.pth")
    model = import_pth(tmp_path / "RealESRGAN_x2plus.pth")
    assert (model.scale, model.in_channels, model.card.config["unshuffle"]) == (2, 3, 2)
    assert run(model, torch.rand(1, 3, 10, 14)).shape == (1, 3, 20, 28)
    assert model.card.source["file"] == "RealESRGAN_x2plus.pth"
    assert model.card.value_range == (0.0, 1.0)
    assert model.card.normalization == {"mode": "auto"}  # the intensity policy


def test_half_precision_weights_in_the_legacy_torch_format_import_as_float32(tmp_path):
    state = esrgan_state()
    half = {k: v.half() for k, v in state.items()}
    torch.save(half, tmp_path / "old_fp16.pth", _use_new_zipfile_serialization=False)
    model = import_pth(tmp_path / "old_fp16.pth")
    assert all(p.dtype == torch.float32 for p in model.generator.parameters())
    expected = {k: v.float() for k, v in half.items()}
    assert all(torch.equal(model.generator.state_dict()[k], v) for k, v in expected.items())


@pytest.mark.parametrize("zip_format", [True, False])
def test_pth_that_would_run_code_is_refused_and_the_code_does_not_run(tmp_path, zip_format):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pth"
    torch.save({"params_ema": Payload()}, path, _use_new_zipfile_serialization=zip_format)
    with pytest.raises(ModelError, match="refused for safety") as info:
        load_model(path)
    assert "evil.pth" in str(info.value)
    assert not marker.exists()


def test_pth_holding_a_whole_pickled_network_is_refused(tmp_path):
    path = tmp_path / "net.pth"
    torch.save(torch.nn.Conv2d(1, 1, 3), path)
    with pytest.raises(ModelError, match="refused for safety"):
        import_pth(path)


def test_unrecognised_weights_are_refused_with_what_was_found(tmp_path):
    path = tmp_path / "unet.pth"
    torch.save({"encoder.0.weight": torch.zeros(4, 1, 3, 3),
                "decoder.0.weight": torch.zeros(1, 4, 3, 3)}, path)
    with pytest.raises(ModelError, match=r"encoder \(1\), decoder \(1\)") as info:
        import_pth(path)
    assert "unet.pth" in str(info.value)


# ------------------------------------------------------------- broken files


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_model_file_gives_an_error_naming_it(tmp_path, damage):
    path = Model.create("rrdbnet", scale=4, **TINY).save(tmp_path / "m.semsr")
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00junk" * 100,
                      "empty": b""}[damage])
    with pytest.raises(ModelError, match="not a readable model file") as info:
        load_model(path)
    assert str(path) in str(info.value)


def _rewrite(path, card=None, state=None):
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    if card is not None:
        meta = {**meta, "semsr.card": card} if card else {"semsr.format": "1"}
    save_file(state if state is not None else tensors, str(path), metadata=meta)


def test_weights_that_do_not_fit_the_card_are_reported_in_words(tmp_path):
    path = Model.create("rrdbnet", scale=4, **TINY).save(tmp_path / "m.semsr")
    card = ModelCard(arch="rrdbnet", config={"scale": 4, "blocks": 2, "features": 8,
                                             "growth": 4}, scale=4)
    _rewrite(path, card=card.to_json())
    with pytest.raises(ModelError, match=r"missing: body\.1\.") as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_weights_of_the_wrong_shape_are_named(tmp_path):
    path = Model.create("rrdbnet", scale=4, **TINY).save(tmp_path / "m.semsr")
    with safe_open(str(path), framework="pt") as fh:
        state = {k: fh.get_tensor(k) for k in fh.keys()}
    state["conv_last.weight"] = torch.zeros(1, 4, 3, 3)
    _rewrite(path, state=state)
    with pytest.raises(ModelError, match=r"wrong shape: conv_last\.weight"):
        load_model(path)


@pytest.mark.parametrize(("card", "message"), [
    ("", "no semsr model card"),
    ("{not json", "not valid JSON"),
    (json.dumps({"arch": "rrdbnet", "scale": "four"}), "'scale'"),
    (json.dumps({"arch": "rrdbnet", "scale": 4, "config": {"scale": 2}}), "config.scale"),
    (json.dumps({"arch": "no_such_net"}), "cannot build"),
    (json.dumps({"arch": "rrdbnet", "normalization": {"mode": "percentile", "low": 99}}),
     "normalization"),
    (json.dumps({"arch": "rrdbnet", "value_range": [1, 0]}), "value_range"),
])
def test_missing_or_invalid_card_is_an_error_naming_file_and_key(tmp_path, card, message):
    path = Model.create("rrdbnet", scale=4, **TINY).save(tmp_path / "m.semsr")
    _rewrite(path, card=card)
    with pytest.raises(ModelError, match=message) as info:
        load_model(path)
    assert str(path) in str(info.value)


# -------------------------------------------------------------------- names


@pytest.fixture
def bundled(tmp_path, monkeypatch):
    """A stand-in for resources/models, so tests never write into the repository."""
    folder = tmp_path / "bundled"
    folder.mkdir()
    monkeypatch.setattr(models.store, "bundled_models_dir", lambda: folder)
    return folder


def test_names_resolve_to_user_models_before_bundled_ones(bundled):
    Model.create("rrdbnet", scale=2, **TINY).save(bundled / "sem.semsr")
    Model.create("rrdbnet", scale=4, **TINY).save(bundled / "other.semsr")
    assert load_model("sem").scale == 2
    assert load_model("sem").path == bundled / "sem.semsr"
    Model.create("rrdbnet", scale=4, **TINY).save(models.user_models_dir() / "sem.semsr")
    assert load_model("sem").scale == 4
    listed = {e.name: e.origin for e in models.list_models()}
    assert listed == {"sem": "user", "other": "bundled"}


def test_unknown_name_lists_the_available_models(bundled):
    Model.create("rrdbnet", scale=2, **TINY).save(bundled / "sem-x2.semsr")
    with pytest.raises(ModelError, match=r"no model named 'nope' \(available: sem-x2\)"):
        load_model("nope")


def test_missing_model_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(ModelError, match="model file not found") as info:
        load_model(tmp_path / "absent.semsr")
    assert "absent.semsr" in str(info.value)


def test_repository_models_folder_is_where_bundled_models_resolve():
    assert models.bundled_models_dir().is_dir()
    assert models.bundled_models_dir().name == "models"


def test_an_unreadable_installed_model_is_listed_with_its_problem():
    (models.user_models_dir() / "broken.semsr").write_bytes(b"junk")
    (entry,) = [e for e in models.list_models() if e.name == "broken"]
    assert "not a readable model file" in entry.problem


# ---------------------------------------------------------------------- CLI


def test_cli_imports_lists_describes_and_exports(tmp_path, capsys):
    torch.save({"params_ema": esrgan_state(blocks=2)}, tmp_path / "ESRGAN x4.pth")
    assert cli.main(["models", "import", str(tmp_path / "ESRGAN x4.pth"), "--name", "mine"]) == 0
    installed = models.user_models_dir() / "mine.semsr"
    assert installed.is_file()
    assert load_model("mine").card.config["blocks"] == 2

    assert cli.main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\*\s+mine\s+user\s+rrdbnet ×4", out, re.M)  # the panel's pick

    assert cli.main(["models", "info", "mine"]) == 0
    out = capsys.readouterr().out
    n_params = sum(v.numel() for v in esrgan_state(blocks=2).values())
    assert re.search(rf"^parameters: +{n_params:,}$", out, re.M)
    assert re.search(r"^architecture: +rrdbnet", out, re.M) and "ESRGAN x4.pth" in out

    assert cli.main(["models", "export", "mine", str(tmp_path / "shared.semsr")]) == 0
    x = torch.rand(1, 1, 6, 6)
    assert torch.equal(run(load_model(tmp_path / "shared.semsr"), x), run(load_model("mine"), x))


def test_cli_import_without_name_uses_the_file_name_and_refuses_to_overwrite(tmp_path, capsys):
    torch.save(esrgan_state(), tmp_path / "RRDB_ESRGAN_x4.pth")
    assert cli.main(["models", "import", str(tmp_path / "RRDB_ESRGAN_x4.pth")]) == 0
    assert (models.user_models_dir() / "RRDB_ESRGAN_x4.semsr").is_file()
    capsys.readouterr()
    assert cli.main(["models", "import", str(tmp_path / "RRDB_ESRGAN_x4.pth")]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [
    ["models", "info", "no-such-model"],
    ["models", "import", "missing.pth"],
    ["models", "export", "no-such-model", "out.semsr"],
])
def test_cli_errors_are_one_line_with_exit_status_2(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("semsr: error:") and err.count("\n") == 1


def test_cli_refuses_a_malicious_pth_in_one_line(tmp_path, capsys):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save(Payload(), tmp_path / "evil.pth")
    assert cli.main(["models", "import", str(tmp_path / "evil.pth")]) == 2
    err = capsys.readouterr().err
    assert "refused for safety" in err and err.count("\n") == 1
    assert not marker.exists()
    assert not list(models.user_models_dir().iterdir())


def test_the_model_list_says_which_models_adapting_fits():
    """``ModelEntry.measurement`` is the card's; "adapt to this image" fits a model that
    names it and enlarges the LR itself (the panel offers it only there)."""
    from semsr_core.infer.zssr import adaptable

    Model.create("rrdbnet", scale=4, **TINY).save(models.user_models_dir() / "lab.semsr")
    entries = {e.name: e for e in models.list_models()}
    assert entries["lab"].measurement is None
    assert not adaptable(entries["lab"].arch, entries["lab"].measurement)
    bundled = entries["default-x4"]
    assert bundled.origin == "bundled" and bundled.measurement == "auto"
    assert adaptable(bundled.arch, bundled.measurement)
    assert not adaptable("unet", "area")  # fed the LR already enlarged: nothing to adapt
