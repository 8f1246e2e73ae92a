"""A pair whose LR and HR are read by different rules of the intensity policy is named
at the start of the run: the model would learn that difference in contrast."""

from __future__ import annotations

import shutil

import numpy as np

from semsr_core.events import EventKind
from semsr_core.io import read_stack, write_stack
from semsr_core.train import train

SHORT = ["generator.blocks=1", "generator.features=8", "generator.growth=4",
         "data.lr_patch=16", "data.batch=2", "phases.gan.epochs=0", "data.val_fraction=0.25",
         "train.export_worse=true", "phases.pretrain.epochs=1",
         "phases.pretrain.steps_per_epoch=2",
         "discriminators.d.input_size=64"]  # unused (no GAN epochs) but checkpointed


def _warnings(events) -> list[str]:
    return [e.data["text"] for e in events
            if e.kind is EventKind.MESSAGE and e.data.get("level") == "warning"]


def test_a_pair_read_by_two_rules_is_named_and_one_by_one_rule_is_not(sim_data, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(sim_data, data)
    events = []
    train("en1", data, tmp_path / "same", device="cpu", overrides=SHORT,
          on_event=events.append)
    assert not [w for w in _warnings(events) if "difference in contrast" in w]
    # one HR saved as float with values well outside [0, 1] (a registration that kept
    # counts): read by its own percentiles, while its LR is read by the uint16 range
    hr_path = sorted((data / "hr").glob("*.tif"))[0]
    with read_stack(hr_path) as stack:
        hr, pixel_size = np.asarray(stack[0]), stack.pixel_size
    write_stack(hr_path, (hr / 65535.0 * 2.0 - 0.3).astype(np.float32), pixel_size=pixel_size,
                overwrite=True)
    events = []
    train("en1", data, tmp_path / "mixed", device="cpu", overrides=SHORT,
          on_event=events.append)
    named = [w for w in _warnings(events) if "difference in contrast" in w]
    assert len(named) == 1 and named[0].startswith(hr_path.stem + ":")
    assert "uint16 by its range" in named[0] and "float32 by percentiles" in named[0]
