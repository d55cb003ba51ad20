"""The classification verb beyond train / evaluate / predict: `explain` (Grad-CAM). Parsing only; the work is
classification.gradcam.explain."""
from __future__ import annotations

from pathlib import Path


def register_explain(verbs, common) -> None:
    explain = verbs.add_parser("explain", help="Grad-CAM heatmaps for images",
                               description="Draw where in each image the predicted (or --class) class comes from.")
    explain.add_argument("run", type=Path, help="run folder")
    explain.add_argument("images", nargs="+", help="image files and/or folders")
    explain.add_argument("--out", type=Path, default=Path("runs/gradcam"), help="folder for PNGs (default runs/gradcam)")
    explain.add_argument("--class", dest="class_name", help="explain this class instead of the predicted one")
    common(explain)
    explain.set_defaults(handler=run_explain)


def run_explain(args) -> int:
    import sys

    from .gradcam import explain
    from .run import load

    for record in explain(load(args.run), args.images, args.out, args.class_name):
        if "error" in record:
            print(f"defectlab: skipped {record['error']}", file=sys.stderr)
        else:
            print(f"{record['image']}: {record['class']} ({record['confidence']:.1%}) -> {record['picture']}")
    return 0
