"""The command line's progress bars (`semsr_core.cli.ProgressPrinter`)."""

from __future__ import annotations

import re
import time

from semsr_core.cli import ProgressPrinter, main
from semsr_core.events import Event, EventKind


def _progress(done, total, stage="train", unit="step"):
    return Event(EventKind.PROGRESS, {"done": done, "total": total, "stage": stage,
                                      "unit": unit})


def _rates(text: str, unit: str) -> list[float]:
    return [float(r.replace(",", "")) for r in re.findall(rf"([\d.,]+){unit}/s", text)]


def test_a_bar_reports_the_rate_of_the_work_itself(capsys):
    printer = ProgressPrinter()
    printer(_progress(0, 3, stage="simulating", unit="pair"))
    for done in (1, 2, 3):
        time.sleep(0.25)  # one pair every 0.25 s: 4 pairs per second
        printer(_progress(done, 3, stage="simulating", unit="pair"))
    printer.close()
    rates = _rates(capsys.readouterr().err, "pair")
    assert rates and all(2 < r < 6 for r in rates), rates


def test_one_bar_per_stage_even_when_the_total_grows(capsys):
    printer = ProgressPrinter()
    printer(_progress(0, 100))
    bar = printer._bar
    printer(_progress(50, 100))
    printer(_progress(60, 300))  # the run was extended: same stage, more steps
    assert printer._bar is bar and bar.total == 300 and bar.n == 60
    printer(_progress(0, 10, stage="writing", unit="slice"))
    assert printer._bar is not bar and printer._bar.desc.startswith("writing")
    printer.close()
    assert capsys.readouterr().err.count("train:") >= 1


def test_a_stage_that_starts_late_leaves_its_first_count_out_of_the_rate(capsys):
    printer = ProgressPrinter()
    printer(_progress(5, 10))  # a stage whose first event already has done > 0
    assert printer._bar.initial == 5 and printer._bar.n == 5
    printer.close()


def test_semsr_simulate_starts_its_bar_at_zero_with_a_real_rate(tmp_path, capsys):
    started = time.perf_counter()
    assert main(["simulate", str(tmp_path / "sim"), "--pairs", "3", "--size", "64"]) == 0
    average = 3 / (time.perf_counter() - started)
    err = capsys.readouterr().err
    lines = [line for line in re.split(r"[\r\n]", err) if line.startswith("simulating")]
    states = [line.split("|")[-1].split("[")[0].strip() for line in lines]
    assert states and states[0] == "0/3" and states[-1] == "3/3", states
    rates = _rates(err, "pair")
    # the engine's first event has done 0, so no rate is measured from a clock started
    # a moment before the first pair was counted (that gave tens of thousands per second)
    assert rates and max(rates) < 10 * average, (rates, average)
