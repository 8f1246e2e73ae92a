"""Grow a model's RRDBNet by one RRDB block without changing what it computes.

    .venv/bin/python benchmarks/grow_rrdbnet.py MODEL OUT.semsr

A grown model starts a training stage (``train_broad.py … --init OUT.semsr --set
generator.blocks=N+1``) exactly where the smaller one stopped, with more capacity. The
new block's three dense blocks get a zero last convolution, so each is the identity and
the new block multiplies its input by 1.2 (its own ×0.2 residual plus the skip);
``conv_body``'s weights are divided by 1.2 to take that back. Session 9 (2026-12-06)
measured a third block a little better per wall-clock minute than two
(``quality_ood_x4_simmix.json``).
"""

from __future__ import annotations

import argparse
import copy

import torch

from semsr_core.archs.registry import build
from semsr_core.models import Model, load_model


def grow(model: Model) -> Model:
    """``model`` with one more RRDB block, computing the same function."""
    if model.card.arch != "rrdbnet":
        raise SystemExit(f"{model.card.name}: only an RRDBNet can be grown "
                         f"(this one is {model.card.arch!r})")
    config = dict(model.card.config)
    config["blocks"] = int(config.get("blocks", len(model.generator.body))) + 1
    generator = build("rrdbnet", **config)
    missing, unexpected = generator.load_state_dict(model.generator.state_dict(),
                                                    strict=False)
    new = generator.body[config["blocks"] - 1]
    assert not unexpected and all(k.startswith(f"body.{config['blocks'] - 1}.")
                                  for k in missing), (missing, unexpected)
    with torch.no_grad():
        for rdb in (new.rdb1, new.rdb2, new.rdb3):
            rdb.conv5.weight.zero_()
            rdb.conv5.bias.zero_()
        generator.conv_body.weight /= 1.2
    card = copy.deepcopy(model.card)
    card.config = config
    card.training["grown_from"] = (f"{model.card.name} ({config['blocks'] - 1} blocks; "
                                   "one more, the identity at the start)")
    return Model(generator, card)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="model name or file")
    ap.add_argument("out", help="where to write the grown model (.semsr)")
    args = ap.parse_args()
    grown = grow(load_model(args.model))
    grown.save(args.out)
    print(f"{args.out}: {grown.card.config['blocks']} blocks, "
          f"{sum(p.numel() for p in grown.generator.parameters()):,} parameters")


if __name__ == "__main__":
    main()
