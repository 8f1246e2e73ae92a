"""Training is sized by what the user gives: a time limit is used in full, an epoch over
a small set is useful, validation takes a bounded share, one progress bar for the run."""

from __future__ import annotations

import pytest

from semsr_core.events import EventKind
from semsr_core.train import train
from semsr_core.train.budget import (
    RunPlan,
    TimeBook,
    fit_to_time,
    steps_in_epoch,
    validation_subset,
)

# A from-scratch recipe at a tiny width: its steps are fast, so the per-epoch and
# per-validation costs weigh as much as they ever do.
TINY_N1 = ["generator.features=8", "generator.growth=4", "generator.blocks=1",
           "discriminators.d.features=8", "discriminators.d.dense_features=16",
           "discriminators.d.input_size=64", "data.lr_patch=16", "data.batch=4",
           "data.val_fraction=0.25"]


def test_a_small_set_makes_epochs_of_many_steps_never_one_step_epochs():
    # 3 pairs of 88² LR at a 32-px patch: 12 samples, less than one batch of 16
    assert steps_in_epoch(12, 16, min_samples=1024) == 64
    assert steps_in_epoch(100_000, 16, min_samples=1024) == 6250  # a large set: one pass
    assert steps_in_epoch(12, 16, min_samples=1024, fixed=3) == 3  # the recipe's own count


def test_fitting_a_budget_stretches_every_phase_alike_and_keeps_phases_that_are_off():
    # pretrain 10 epochs × 5 steps at 1 s, gan 0 epochs: 50 s planned; 200 s given
    assert fit_to_time([10, 0], [5, 5], [1.0, 2.0], 200.0) == ([40, 0], [5, 5])
    # both phases on: 10×5×1 + 10×5×2 = 150 s planned; 75 s given halves both
    assert fit_to_time([10, 10], [5, 5], [1.0, 2.0], 75.0) == ([5, 5], [5, 5])
    # the budget ends inside an epoch: the last epoch is shorter, not dropped
    assert fit_to_time([10, 0], [5, 5], [1.0, 1.0], 53.0) == ([11, 0], [3, 5])
    # part-way through phase 0 (20 steps done): only what is left is fitted
    assert fit_to_time([10, 10], [5, 5], [1.0, 2.0], 2 * (30 * 1.0 + 50 * 2.0),
                       done_steps=[20, 0]) == ([16, 20], [5, 5])
    # no time left: a phase with steps left keeps one more; a finished one keeps its own
    assert fit_to_time([10, 10], [5, 5], [1.0, 1.0], 0.0, done_steps=[50, 15]) == (
        [10, 4], [5, 1])


def test_validation_is_skipped_while_it_would_exceed_its_share():
    book = TimeBook()
    assert book.may_validate(elapsed_s=1.0, share=0.05)  # the first one: cost unknown
    book.add_validation(2.0)
    assert not book.may_validate(elapsed_s=10.0, share=0.05)  # 4 s > 5% of 10 s
    assert book.may_validate(elapsed_s=80.0, share=0.05)  # 4 s ≤ 5% of 80 s
    assert book.may_validate(elapsed_s=3.0, share=1.0)  # 1: no bound


def test_a_large_held_out_set_is_validated_on_a_bounded_part_of_it():
    import numpy as np

    from semsr_core.train.engine import ValidationPair

    pairs = [ValidationPair(f"p{i}", np.zeros((64, 64)), np.zeros((256, 256)))
             for i in range(100)]
    assert len(validation_subset(pairs, max_pixels=4_000_000)) == 61  # 61 × 65,536 px
    assert len(validation_subset(pairs[:3], max_pixels=4_000_000)) == 3
    assert len(validation_subset(pairs, max_pixels=10)) == 1  # never none


def test_a_plan_says_its_steps_and_minutes():
    plan = RunPlan(["pretrain", "gan"], [12, 0], [64, 64], budget_s=600,
                   seconds_per_step=[0.5, 1.0])
    assert plan.total_steps == 768
    text = plan.describe()
    assert "768 steps" in text and "pretrain 12 epoch(s) of 64 steps" in text
    assert "6.4 min" in text
    assert "10-minute limit" in text and "gan" not in text


def test_a_time_limited_run_on_four_pairs_spends_its_budget_on_training_steps(
        sim_data, tmp_path):
    """4 pairs (3 to train, 1 to validate), 0.4 minutes: the recipe's 100 epochs are
    fitted to the limit, ≥ 90% of it goes to training steps, validation ≤ 10%."""
    events = []
    result = train("n1_reduced", sim_data, tmp_path / "run", device="cpu",
                   overrides=[*TINY_N1, "train.export_worse=true"], max_minutes=0.4,
                   on_event=events.append)
    use = result.time
    assert use["budget_s"] == pytest.approx(24.0)
    assert use["training_share_of_budget"] >= 0.90, use
    assert use["validation_s"] <= 0.10 * use["budget_s"], use
    assert use["validations"] >= 2  # validated during the run, not only at its end
    plans = [e.data["plan"] for e in events if e.kind is EventKind.PLAN]
    assert len(plans) == 1 and plans[0]["budget_s"] == pytest.approx(24.0)
    assert plans[0]["epochs"][0] != 100  # the recipe's 100 epochs were fitted to the limit
    assert result.plan["steps_per_epoch"][0] > 1  # no one-step epochs on 3 pairs
    # a run that ends by its plan did every step of it: a refit that lengthened the
    # epoch under way is followed (an epoch's batches were once drawn for the length
    # planned at its start, which ended runs with seconds of the budget unused)
    assert result.status == "time_limit" or result.step == result.plan["total_steps"], (
        result.status, result.step, result.plan)


def test_the_run_reports_one_progress_bar_of_all_its_steps(sim_data, tmp_path):
    events = []
    sets = [*TINY_N1, "phases.gan.epochs=3", "phases.gan.steps_per_epoch=2",
            "train.export_worse=true"]
    result = train("n1_reduced", sim_data, tmp_path / "run", device="cpu", overrides=sets,
                   on_event=events.append)
    progress = [e.data for e in events if e.kind is EventKind.PROGRESS]
    assert {p["stage"] for p in progress} == {"train"}
    assert {p["total"] for p in progress} == {6} and {p["unit"] for p in progress} == {"step"}
    assert progress[0]["done"] == 0  # the bar starts at 0
    assert [p["done"] for p in progress[1:]] == list(range(1, 7))
    assert progress[1]["postfix"].startswith("gan · epoch 1/3")
    assert progress[-1]["postfix"].startswith("gan · epoch 3/3")
    assert result.step == 6
