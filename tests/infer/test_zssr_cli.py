"""`semsr super-resolve --model zssr`: ZSSR trained on each slice, from the command line."""

from __future__ import annotations

import signal

import numpy as np
import pytest
from test_infer_cli import RunningCommand, semsr

from semsr_core.cli import main
from semsr_core.events import EventKind
from semsr_core.infer import super_resolve_file
from semsr_core.infer.zssr import per_image_model
from semsr_core.io import read_stack, write_stack
from semsr_core.resources import resource_path

QUICK = ["--zssr-seconds", "1", "--zssr-crop", "32", "--zssr-no-ensemble", "--device", "cpu",
         "--quiet"]


@pytest.fixture
def scan(tmp_path):
    """Two 48×48 crops of the sample LR stack (uint16, 8 nm pixels) as a 2-slice TIFF."""
    with read_stack(resource_path("sample") / "sem_stack_lr.tif") as stack:
        values = np.stack([np.asarray(stack[0])[:48, :48], np.asarray(stack[1])[40:88, 40:88]])
    return write_stack(tmp_path / "scan.tif", values, pixel_size=8.0), values


def test_zssr_from_the_command_line_writes_an_ome_tiff_like_other_models(tmp_path, scan):
    source, values = scan
    out = tmp_path / "scan_zssr.ome.tif"
    assert main(["super-resolve", str(source), "-o", str(out), "--model", "zssr",
                 "--scale", "2", *QUICK]) == 0
    with read_stack(out) as result:
        assert result.shape == (2, 96, 96) and result.dtype == np.uint16
        assert result.pixel_size == pytest.approx(4.0) and result.unit == "nm"
        record = result.metadata["provenance"]
        sr = np.stack([np.asarray(result[i]) for i in range(2)]).astype(np.float64)
    assert record["model"]["name"] == "zssr" and record["model"]["arch"] == "zssr"
    assert record["model"]["scale"] == 2
    zssr = record["settings"]["zssr"]
    assert zssr["max_seconds"] == 1.0 and zssr["crop"] == 32 and zssr["self_ensemble"] is False
    # intensities mapped back: the result, shrunk again, is the scan in the scan's units
    for index in range(2):
        back = sr[index].reshape(48, 2, 48, 2).mean(axis=(1, 3))
        lr = values[index].astype(np.float64)
        assert abs(back.mean() - lr.mean()) < 0.03 * 65535
        assert np.corrcoef(back.ravel(), lr.ravel())[0, 1] > 0.9


def test_zssr_trains_once_per_slice(tmp_path, scan):
    source, _ = scan
    events = []
    model = per_image_model(2, {"max_seconds": 0.5, "crop": 32, "self_ensemble": False})
    super_resolve_file(source, tmp_path / "out.ome.tif", model, device="cpu",
                       on_event=events.append)
    starts = [e for e in events if e.kind is EventKind.PROGRESS
              and e.data["stage"] == "zssr training" and not e.data.get("postfix")]
    assert len(starts) == 2


def test_zssr_options_with_another_model_are_refused(tmp_path, scan, capsys):
    source, _ = scan
    model = tmp_path / "small.semsr"
    from semsr_core.models import Model

    Model.create("zssr", scale=2, name="small").save(model)
    per_image_file = main(["super-resolve", str(source), "-o", str(tmp_path / "a.ome.tif"),
                           "--model", str(model), "--adapt", "5", "--quiet"])
    assert per_image_file == 2
    assert "--adapt does not apply to ZSSR" in capsys.readouterr().err
    bundled = main(["super-resolve", str(source), "-o", str(tmp_path / "b.ome.tif"),
                    "--model", "default-x2", "--zssr-seconds", "5", "--quiet"])
    assert bundled == 2
    err = capsys.readouterr().err
    assert "--zssr-seconds" in err and "only to --model zssr" in err
    assert not list(tmp_path.glob("*.ome.tif"))


def test_ctrl_c_during_zssr_training_exits_130_and_leaves_no_output(tmp_path, scan):
    source, _ = scan
    out = tmp_path / "out.ome.tif"
    run = RunningCommand(semsr(str(source), "-o", str(out), "--model", "zssr",
                               "--zssr-seconds", "60", "--device", "cpu"))
    run.wait_for(b"zssr training")  # the training's progress bar is up
    assert run.process.poll() is None
    run.process.send_signal(signal.SIGINT)
    assert run.finish() == 130
    assert b"interrupted" in run.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".out.ome.tif.*"))
