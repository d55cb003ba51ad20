"""The anomaly verb beyond train / evaluate / predict: `protocol` (NEU leave-one-class-out or one-class).
Parsing only; the work is anomaly.protocols.run_protocol."""
from __future__ import annotations

from .recipe import PROTOCOLS, AnomalyRecipe


def register_protocol(verbs, common) -> None:
    from shared.suite.cli import FORMATTER, add_recipe_options

    protocol = verbs.add_parser("protocol", help="NEU leave-one-class-out or one-class, one model per class",
                                formatter_class=FORMATTER,
                                description="Fit one model per class on a labelled NEU-like dataset (split "
                                            "kaggle-det) and score it; writes OUT/<protocol>.json with provenance.")
    protocol.add_argument("--protocol", choices=PROTOCOLS, default="loco", help="protocol (default loco)")
    protocol.add_argument("--classes", nargs="+", help="only these held-out / normal classes (default all)")
    add_recipe_options(protocol, AnomalyRecipe)
    protocol.set_defaults(out_default="runs/anomaly-protocols")
    common(protocol)
    protocol.set_defaults(handler=run_protocol_verb)


def run_protocol_verb(args) -> int:
    from shared.suite.recipe import recipe_values

    from .protocols import run_protocol

    values = {k: v for k, v in recipe_values(args, AnomalyRecipe).items() if k not in ("data", "out")}
    if not args.data:
        raise ValueError("protocol needs data=PATH (a labelled NEU-like dataset, e.g. ../shared/data)")
    out = args.out or args.out_default
    result = run_protocol(args.data, args.protocol, AnomalyRecipe.from_preset(args.preset, **values), out,
                          classes=args.classes, progress=True)
    print(f"{args.protocol}: mean image AUROC {result['mean_auroc']:.3f} -> {out}/{args.protocol}.json")
    return 0
