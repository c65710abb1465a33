"""``imgcls models``: the backbones imgcls can fine-tune, with input size and cached-weights status."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the available backbones", description=__doc__)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..engine import list_backbones, weights_cached

    print(f"{'name':<20} {'family':<14} {'params':>8} {'input':>6}  pretrained weights")
    for spec in list_backbones():
        cached = "cached" if weights_cached(spec.name) else "download on first use"
        print(f"{spec.name:<20} {spec.family:<14} {spec.params_millions:>7.1f}M {spec.input_size:>6}  {cached}")
    return 0
