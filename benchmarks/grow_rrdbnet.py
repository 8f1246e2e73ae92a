"""Grow a model's RRDBNet by one RRDB block (or a noise-level input) without changing
what it computes.

    .venv/bin/python benchmarks/grow_rrdbnet.py MODEL OUT.semsr
    .venv/bin/python benchmarks/grow_rrdbnet.py MODEL OUT.semsr --blocks 0 --noise-input

A grown model starts a training stage (``train_broad.py … --init OUT.semsr --set
generator.blocks=N+1``) exactly where the smaller one stopped, with more capacity. The
new block's three dense blocks get a zero last convolution, so each is the identity and
the new block multiplies its input by 1.2 (its own ×0.2 residual plus the skip);
``conv_body``'s weights are divided by 1.2 to take that back. Session 9 (2026-12-06)
measured a third block a little better per wall-clock minute than two
(``quality_ood_x4_simmix.json``). ``--noise-input`` gives the network its input's noise
level as one more channel (``generator.noise_input``), with zero weights in
``conv_first`` at the start (train it with ``--set generator.noise_input=true``).
"""

from __future__ import annotations

import argparse
import copy

import torch

from semsr_core.archs.registry import build
from semsr_core.models import Model, load_model


def grow(model: Model, blocks: int = 1, noise_input: bool = False) -> Model:
    """``model`` with ``blocks`` more RRDB blocks (and, with ``noise_input``, a
    noise-level input channel), computing the same function."""
    if model.card.arch != "rrdbnet":
        raise SystemExit(f"{model.card.name}: only an RRDBNet can be grown "
                         f"(this one is {model.card.arch!r})")
    config = dict(model.card.config)
    before = int(config.get("blocks", len(model.generator.body)))
    config["blocks"] = before + blocks
    had_noise = bool(config.get("noise_input", False))
    config["noise_input"] = had_noise or noise_input
    generator = build("rrdbnet", **config)
    state = dict(model.generator.state_dict())
    first = state["conv_first.weight"]
    if config["noise_input"] and not had_noise:  # the level's channel(s) start at zero
        wanted = generator.conv_first.weight
        wider = torch.zeros_like(wanted)
        wider.view(wanted.shape[0], -1, generator.unshuffle**2, 3, 3)[:, :-1] = \
            first.view(first.shape[0], -1, generator.unshuffle**2, 3, 3)
        state["conv_first.weight"] = wider
    missing, unexpected = generator.load_state_dict(state, strict=False)
    assert not unexpected and all(
        any(k.startswith(f"body.{i}.") for i in range(before, config["blocks"]))
        for k in missing), (missing, unexpected)
    with torch.no_grad():
        for new in list(generator.body)[before:]:
            for rdb in (new.rdb1, new.rdb2, new.rdb3):
                rdb.conv5.weight.zero_()
                rdb.conv5.bias.zero_()
            generator.conv_body.weight /= 1.2
    card = copy.deepcopy(model.card)
    card.config = config
    what = [f"{blocks} more block(s), the identity at the start"] if blocks else []
    if config["noise_input"] and not had_noise:
        what.append("a noise-level input with zero weights")
    card.training["grown_from"] = f"{model.card.name} ({before} blocks; {'; '.join(what)})"
    return Model(generator, card)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="model name or file")
    ap.add_argument("out", help="where to write the grown model (.semsr)")
    ap.add_argument("--blocks", type=int, default=1, help="RRDB blocks to add (0: none)")
    ap.add_argument("--noise-input", action="store_true",
                    help="add a noise-level input channel (generator.noise_input)")
    args = ap.parse_args()
    grown = grow(load_model(args.model), args.blocks, args.noise_input)
    grown.save(args.out)
    print(f"{args.out}: {grown.card.config['blocks']} blocks, "
          f"{sum(p.numel() for p in grown.generator.parameters()):,} parameters")


if __name__ == "__main__":
    main()
