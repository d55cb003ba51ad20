"""Write the benchmark tables of the docs' result pages (and the README's headline table) from the result JSON
files, so the two cannot drift.

    python3 scripts/readme_tables.py            # rewrite the tables in docs/results/*.md and README.md
    python3 scripts/readme_tables.py --check    # exit 1 if a page differs from the JSON

Each table sits between `<!-- table:NAME -->` and `<!-- /table:NAME -->` in the files PAGES names, and is rebuilt
from `scripts/benchmarks/results/NAME.json` (the fewlabels-* tables from fewlabels.json, the headline from several),
plus a few fields that only the part files under `NAME_parts/` hold. Only the row labels and short remarks are text
here; every number comes from the JSON. Standard library only.
"""

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLASSES = {"crazing": "crazing", "inclusion": "inclusion", "patches": "patches",
           "pitted_surface": "pitted", "rolled-in_scale": "rolled-in", "scratches": "scratches"}
DETECTION_ROUTES = {  # route key (part/variant) -> label, formatted with the route's fields
    "yolov8n-320-e40-224px-seed0/plain": "stock YOLOv8n from scratch (baseline)",
    "yolov8n-320-e40-224px-seed0/tta": "stock + TTA (flips, scales)",
    "lite0-imagenet-e40-224px-seed0/plain": "ImageNet EfficientNet-Lite0 backbone (`lite0-imagenet`, stem + blocks 0-1 frozen)",
    "lite0-imagenet-e40-224px-seed0/tta": "ImageNet Lite0 backbone + TTA",
    "lite0-random-e40-224px-seed0/plain": "same backbone and recipe from random weights (`lite0-random`, ablation)",
    "lite0-random-e40-224px-seed0/tta": "random Lite0 backbone + TTA",
    "yolov8n-inpretrain-e40-224px-seed0/plain": "in-domain pretrained backbone ({pretrain_epochs} epochs yolov8n-cls on the train pictures)",
    "yolov8n-inpretrain-e40-224px-seed0/tta": "in-domain pretrained + TTA",
    "yolov8n-steel-e40-224px-seed0/plain": "steel augmentation (`yolov8n-steel`: vertical flips, no hue/saturation jitter)",
    "yolov8n-steel-e40-224px-seed0/tta": "steel augmentation + TTA",
    "lite0-imagenet-e100-224px-seed0/plain": "ImageNet Lite0 backbone (`lite0-imagenet`), long schedule",
    "lite0-imagenet-e100-224px-seed0/tta": "ImageNet Lite0, 100 epochs + TTA",
    # other TTA view sets (`--views`, removed after they lost on validation)
    "lite0-imagenet-e100-224px-seed0/tta-flips": "ImageNet Lite0, 100 epochs + TTA views as is, left-right, up-down",
    "lite0-imagenet-e100-224px-seed0/tta-scales-ud": "ImageNet Lite0, 100 epochs + TTA + an up-down view",
    "lite0-imagenet-e100-224px-seed0/tta-upscale": "ImageNet Lite0, 100 epochs + TTA views as is, left-right, 1.25x",
    "lite2-unfrozen-t6300s-320px-seed0/plain": "ImageNet Lite2 backbone, all trained (`lite2-unfrozen`), 1.75 h on this CPU",
    "lite2-unfrozen-t6300s-320px-seed0/tta": "Lite2, 1.75 h on this CPU + TTA",
    "lite2-unfrozen-t6300s-320px-seed1/plain": "Lite2 all trained, 1.75 h on this CPU, seed 1, glibc's default allocator",
    "lite2-unfrozen-t6300s-320px-seed1/tta": "Lite2, seed 1, 1.75 h on this CPU + TTA",
    "lite2-unfrozen-t6300s-320px-seed2-split1/plain": "Lite2 all trained, 1.75 h on this CPU, seed 2 on seed 1's carve-out (`split_seed=1`)",
    "lite2-unfrozen-t6300s-320px-seed2-split1/tta": "Lite2 seed 2 + TTA",
    "lite2-unfrozen-t12600s-320px-seed1/plain": "Lite2 all trained, 3.5 h on this CPU (twice the budget), seed 1's recipe and carve-out",
    "lite2-unfrozen-t12600s-320px-seed1/tta": "Lite2 seed 1, 3.5 h + TTA",
    "lite0-unfrozen-t6840s-320px-seed0/plain": "ImageNet Lite0 backbone, all trained (`lite0-unfrozen`), 1.9 h on this CPU",
    "lite0-unfrozen-t6840s-320px-seed0/tta": "Lite0 all trained, 1.9 h on this CPU + TTA",
    "lite2-unfrozen-e15-320px-seed0-from-gpu5/plain": "GPU x5 Lite2 trained on: +15 epochs on this CPU (`pretrained=`, SGD 0.002)",
    "lite2-unfrozen-e15-320px-seed0-from-gpu5/tta": "Lite2 trained on, CPU + TTA",
    "yolov8n-320-t6min-320px-seed0-gpu/plain": "GPU, 6 min: stock YOLOv8n from scratch (control)",
    "yolov8n-320-t6min-320px-seed0-gpu/tta": "GPU, 6 min: stock + TTA",
    "lite0-imagenet-t6min-320px-seed0-gpu/plain": "GPU, 6 min: ImageNet Lite0 backbone, blocks 0-1 frozen",
    "lite0-imagenet-t6min-320px-seed0-gpu/tta": "GPU, 6 min: ImageNet Lite0 backbone, blocks 0-1 frozen + TTA",
    "lite0-unfrozen-t6min-320px-seed0-gpu/plain": "GPU, 6 min: ImageNet Lite0 backbone, all blocks trained (`lite0-unfrozen`)",
    "lite0-unfrozen-t6min-320px-seed0-gpu/tta": "GPU, 6 min: ImageNet Lite0 backbone, all trained + TTA",
    # five routes side by side on one GPU (fewer epochs each than the three above)
    "lite0-unfrozen-t6min-320px-seed0-gpu5/plain": "GPU x5, 6 min: Lite0, all blocks trained (repeat)",
    "lite0-unfrozen-t6min-320px-seed0-gpu5/tta": "GPU x5, 6 min: Lite0, all trained + TTA (repeat)",
    "lite1-unfrozen-t6min-320px-seed0-gpu5/plain": "GPU x5, 6 min: ImageNet Lite1 backbone, all trained (`lite1-unfrozen`)",
    "lite1-unfrozen-t6min-320px-seed0-gpu5/tta": "GPU x5, 6 min: Lite1 + TTA",
    "lite2-unfrozen-t6min-320px-seed0-gpu5/plain": "GPU x5, 6 min: ImageNet Lite2 backbone, all trained (`lite2-unfrozen`)",
    "lite2-unfrozen-t6min-320px-seed0-gpu5/tta": "GPU x5, 6 min: Lite2 + TTA",
    "lite0-yolo26-t6min-320px-seed0-gpu5/plain": "GPU x5, 6 min: Lite0 + YOLO26n head and loss (`lite0-yolo26`)",
    "lite0-yolo26-t6min-320px-seed0-gpu5/tta": "GPU x5, 6 min: Lite0 + YOLO26n head + TTA",
    "yolo26n-320-t6min-320px-seed0-gpu5/plain": "GPU x5, 6 min: stock YOLO26n from scratch (control)",
    "yolo26n-320-t6min-320px-seed0-gpu5/tta": "GPU x5, 6 min: stock YOLO26n + TTA",
}
BOX_MAP_NAMES = {  # part -> its short name in the box_map rows (detection.ensemble.box_map: the predictor's boxes)
    "lite2-unfrozen-t6300s-320px-seed1": "Lite2 seed 1",
    "lite2-unfrozen-t6300s-320px-seed2-split1": "Lite2 seed 2",
    "lite2-unfrozen-t12600s-320px-seed1": "Lite2 seed 1 (3.5 h)",
}
FUSION_NAMES = {"wbf": "WBF", "nms": "pooled + NMS", "max": "keeping the best confidence", "floor": "on boxes over"}
ANOMALY_MODELS = {"texture-knn": "texture-knn", "padim": "PaDiM",  # formatted with the part's config
                  "patchcore": "PatchCore ({sampler} bank {coreset_ratio:.1%})", "dfm": "DFM"}
ANOMALY_TAGS = {"round1": "earlier map: calibrated, weight 0.5", "greedy": "160 px",
                "contrast": "map less its median, weight 4",
                "resolution": "28 x 28 map grid, bank 2,500, less its median, weight 2",
                "blur": "the same map blurred (sigma 8 px)"}  # part-name tag -> remark
ANOMALY_WEIGHTS = {"imagenet": "ImageNet Lite0", "random": "random Lite0"}
NOVELTY_SCORES = {  # classifier_novelty score -> (label, its one-class score or None)
    "max_softmax": ("max-softmax, logistic regression on known classes (frozen Lite0)", None),
    "knn5": ("kNN-5 distance (frozen pooled Lite0 head)", "knn1"),
    "ensemble_softmax_knn5": ("rank average of max-softmax and kNN-5", None),
}


def f3(x):
    return f"{x:.3f}"


def f2(x):
    return f"{x:.2f}"


def secs(x):
    return f"{x:.0f} s"


def pct(x):
    return f"{100 * x:.2f}".rstrip("0").rstrip(".")


def bold(text):
    return f"**{text}**"


def markdown_table(header, rows):
    def line(cells):
        return "|" + "|".join(f" {c} " if str(c) else " " for c in cells) + "|"
    return "\n".join([line(header), line(["---"] * len(header))] + [line(r) for r in rows])


def load(results, name, part=None):
    path = results / (f"{name}_parts/{part}.json" if part else f"{name}.json")
    return json.loads(path.read_text())


def test_score(d):  # "72/72" or "68/72 = 94.44%"
    text = f"{d['correct']}/{d['n']}"
    return text if d["correct"] == d["n"] else f"{text} = {pct(d['test_accuracy'])}%"


def cv_score(cv):  # "99.56% +- 0.37%", or "100%" when every fold agrees
    return f"{pct(cv['mean_accuracy'])}%" + (f" +- {pct(cv['std_accuracy'])}%" if cv["std_accuracy"] else "")


def cv_detail(cv):  # "(1798/1800; folds 100, 100, 99.72, 100, 99.72)", folds only when one missed
    folds = cv["per_fold_accuracy"]
    text = f"{cv['correct']}/{cv['n']}"
    return f"({text}; folds {', '.join(pct(f) for f in folds)})" if min(folds) < 1 else f"({text})"


def classification_table(results):
    d = load(results, "classification")
    base, floor = d["baseline"], d["floor"]
    missed = {}
    for m in base["kaggle_cls"]["mistakes"]:
        missed[m["true"]] = missed.get(m["true"], 0) + 1
    missed = ", ".join(f"{n} {cls}" for cls, n in missed.items())
    base_px = load(results, "classification", "baseline")["config"]["image_size"]
    floor_seconds = load(results, "classification", "floor")["seconds"]
    rows = [
        ["reference project (TensorFlow CNN, L2)", test_score(d["reference_project"]["kaggle_cls"]), "", ""],
        ["`baseline` preset (small CNN from scratch, L2, augmentation)",
         test_score(base["kaggle_cls"]) + (f" ({missed} pictures missed)" if missed else ""), "",
         f"{secs(base['train_seconds_cpu'])} ({base_px} px; CPU shared)"],
        ["frozen ImageNet Lite0 features (224 px, pooled) + logistic regression",
         test_score(floor["kaggle_cls"]), cv_score(floor["cv5"]), f"{secs(floor_seconds)} (features + fits)"],
        ["`lite0-finetune` (headline)", bold(test_score(d["kaggle_cls"])),
         f"{bold(cv_score(d['cv5']))} {cv_detail(d['cv5'])}", secs(d["train_seconds_cpu"])],
        ["`lite0-finetune` + 8-way flip/turn TTA (`--tta`)", "",
         f"{bold(cv_score(d['cv5_tta']))} {cv_detail(d['cv5_tta'])}", "same models"],
    ]
    header = ["model", "kaggle-cls test", "stratified 5-fold CV (1800 pictures)", "train time (CPU)"]
    return markdown_table(header, rows)


def box_map_label(key):
    """'a+b/tta/frame0/wbf0.7-max' -> 'Lite2 seed 1 + Lite2 seed 2 (WBF at IoU 0.7 keeping the best confidence),
    bare picture + TTA, box_map'; the tag after the frame is benchmark_ensemble.py's (none: WBF at IoU 0.55)."""
    parts, variant, frame, *fusion = key.split("/")
    label = " + ".join(BOX_MAP_NAMES[p] for p in parts.split("+"))
    if "+" in parts:
        tag = fusion[0] if fusion else "wbf0.55"
        name, iou, extra, value = re.fullmatch(r"([a-z]+)([\d.]+)(?:-([a-z]+)([\d.]*))?", tag).groups()
        how = " ".join(w for w in (FUSION_NAMES[name], f"at IoU {iou}", extra and FUSION_NAMES[extra], value) if w)
        label += f" ({how})"
    stride = frame.removeprefix("frame")
    view = "bare picture" if stride == "0" else f"{stride}-stride grey frame"
    return f"{label}, {view}{' + TTA' * (variant == 'tta')}, box_map"


def detection_labels(routes):
    """(key, label) in table order: DETECTION_ROUTES, then after a part's last row there its box_map rows, and the
    rows of each pair whose other parts come earlier; within them, fusions in the order they were added, then frame."""
    last = {key.split("/")[0]: i for i, key in enumerate(DETECTION_ROUTES)}  # part -> index of its last row
    derived = {k: k.split("/") for k in routes if k.count("/") >= 2 and k not in DETECTION_ROUTES}
    tags = list(dict.fromkeys("/".join(s[3:]) for s in derived.values()))
    unplaced = [k for k, s in derived.items() if not all(p in last for p in s[0].split("+"))]
    if unplaced:
        raise SystemExit(f"readme_tables.py: box_map routes of parts without a DETECTION_ROUTES row: {unplaced}")
    owner = {k: max(last[p] for p in s[0].split("+")) for k, s in derived.items()}  # the row they follow

    def rank(key):
        part, variant, frame, *tag = derived[key]
        return "+" in part, part, tags.index("/".join(tag)), float(frame.removeprefix("frame")), variant

    ranked = sorted(derived, key=rank)
    order = []
    for i, (key, label) in enumerate(DETECTION_ROUTES.items()):
        order += [(key, label), *((k, box_map_label(k)) for k in ranked if owner[k] == i)]
    return order


def detection_table(results):
    d = load(results, "detection")
    headline = f"{d['headline_part']}/{d['headline_variant']}"
    rows = []
    for key, label in detection_labels(d["routes"]):
        if key not in d["routes"]:
            continue  # a long route still training (it resumes) has no part yet
        r = d["routes"][key]
        test = [f3(r["map50"]), f3(r["map50_95"])]
        if key == headline:
            label, test = f"{label} — headline", [bold(t) for t in test]
        if "+" in key.split("/")[0]:  # an ensemble of parts listed above
            train = f"the two models above ({secs(r['train_seconds'])} in all)"
        elif not key.endswith("/plain"):  # TTA variants: the model of the row above
            train = "same model"
        else:
            threads = f", {r['threads']} thread{'s' * (r['threads'] > 1)}" if r.get("threads") else ""
            train = f"{secs(r['train_seconds'])}, {r['epochs']} epochs, {r['hardware'].split(' (')[0]}{threads}"
            if r["pretrain_epochs"]:
                pretrain = load(results, "detection", key.split("/")[0])["pretrain_seconds"]
                train += f" ({secs(pretrain)} of it pretraining)"
        rows.append([label.format(**r), r["imgsz"], f3(r["valid_map50_95"]), *test,
                     *(f2(r["per_class_ap50"][c]) for c in CLASSES), train])
    header = ["route", "px", "valid mAP50-95", "test mAP50", "test mAP50-95", *CLASSES.values(), "train"]
    return markdown_table(header, rows)


def _anomaly_rows(results, d):
    """(part key, label, config) of every library part: models in ANOMALY_MODELS order, then weights, then tags."""
    rows = []
    for model, name in ANOMALY_MODELS.items():
        for weights, backbone in ANOMALY_WEIGHTS.items():
            for key in sorted(k for k in d["models"] if k == f"library-{model}-{weights}"
                              or k.startswith(f"library-{model}-{weights}-")):
                config = load(results, "anomaly", key)["config"]
                sampler = config.get("coreset_sampler", "greedy")  # parts before the option: greedy only
                tag = key.removeprefix(f"library-{model}-{weights}").lstrip("-")
                label = f"{name.format(sampler=sampler, **config)}, {backbone}" + (f" ({ANOMALY_TAGS[tag]})" if tag else "")
                rows.append((key, label, config))
    return rows


def anomaly_table(results):
    d = load(results, "anomaly")
    headline = re.fullmatch(r"(\S+) \((\w+) backbone\)", d["loco"]["model"]).groups()
    rows = []
    for key, label, config in _anomaly_rows(results, d):
        r = d["models"][key]
        means = [f3(r["loco_mean_auroc"]), f3(r["one_class_mean_auroc"]) if "one_class_mean_auroc" in r else "-"]
        if key == d.get("headline_part", f"library-{headline[0]}-{headline[1]}"):
            label, means = bold(f"{label} (headline)"), [bold(m) for m in means]
        rows.append([label, config["image_size"], means[0],
                     *(f3(r["loco_per_class_auroc"][c]) for c in CLASSES), means[1]])
    novelty = d["classifier_novelty"]
    px = re.search(r"(\d+) px", novelty["features"]).group(1)
    for score, (label, one_class) in NOVELTY_SCORES.items():
        one_class_cell = f"{f3(novelty['one_class_mean_auroc'][one_class])} (kNN-1)" if one_class else ""
        rows.append([label, px, f3(novelty["loco_mean_auroc"][score]),
                     *(f3(novelty["loco"][c][score]) for c in CLASSES), one_class_cell])
    header = ["method", "px", "LOCO mean", *CLASSES.values(), "one-class mean"]
    return markdown_table(header, rows)


def anomaly_localization_table(results):
    """Where the maps point: pixel AUROC / PRO / box hit rate (LOCO per held-out class and mean, one-class mean),
    with fit time, speed and memory; '-' where a part was measured before these metrics."""
    d = load(results, "anomaly")

    def cell(value):
        return "-" if value is None else f3(value)

    rows = []
    for key, label, config in _anomaly_rows(results, d):
        r = d["models"][key]
        rows.append([label, config["image_size"],
                     " / ".join(cell(r[f"loco_{m}"]) for m in ("mean_pixel_auroc", "mean_pro", "mean_box_hit_rate")),
                     *(cell(r["loco_per_class_box_hit_rate"][c]) for c in CLASSES),
                     " / ".join(cell(r.get(f"one_class_{m}")) for m in ("mean_pixel_auroc", "mean_pro", "mean_box_hit_rate")),
                     f"{r['fit_seconds_median']:.0f}", f"{r['infer_images_per_second_cpu']:.1f}",
                     f"{r['peak_memory_mb'] / 1024:.1f}"])
    header = ["method", "px", "LOCO pixel AUROC / PRO / box hit", *(f"hit {c}" for c in CLASSES.values()),
              "one-class pixel AUROC / PRO / box hit", "fit s", "images/s", "peak GB"]
    return markdown_table(header, rows)


def anomaly_aspect_table(results):
    """Non-square crops of the training side: each handling's mean over the six held-out classes."""
    d = load(results, "anomaly_aspect")
    labels = {"letterbox": "letterbox (aspect kept, mirrored fill)", "resize": "resize (stretched)",
              "tile": "tiles along the longer side", "square": "the square originals (any handling)"}
    rows = []
    for key, label in labels.items():
        m = d["mean"][key]
        mark = [lvl for lvl, chosen in d["chosen"].items() if chosen == key and key != "square"]
        rows.append([label + (f" — chosen for the {' and '.join(mark)} level" if mark else ""), f3(m["image_auroc"]),
                     f3(m["pixel_auroc"]), f3(m["pro"]), f3(m["box_hit_rate"])])
    return markdown_table(["handling (mean over six held-out classes, validation crops)", "image AUROC",
                           "pixel AUROC", "PRO", "box hit"], rows)


def fewlabels_table(results):
    d = load(results, "fewlabels")["semi_supervised"]
    rows = []
    for k, r in sorted(d["per_k"].items(), key=lambda kv: int(kv[0])):
        rows.append([k, f"{pct(r['mean'])}% +- {pct(r['std'])}% (min {pct(min(r['per_draw']))}%)",
                     f"{pct(r['pool_mean'])}%", f"{pct(r['supervised_only']['mean'])}%",
                     f"{pct(r['supervised_only_pool']['mean'])}%", f"{pct(r['frozen_floor']['mean'])}%"])
    header = ["labels per class", "self-training (`preset=semi`), test", "its unlabelled pool",
              "same head, labels only, test", "labels only, pool", "frozen floor (logistic regression), test"]
    return markdown_table(header, rows)


def fewlabels_clustering_table(results):
    d = load(results, "fewlabels")["clustering"]
    methods = d["methods"]
    rows = [[kind] + [f"{f3(r[m]['nmi'])} / {f3(r[m]['ari'])}" for m in methods]
            for kind, r in d["per_features"].items()]
    return markdown_table(["features", *(f"{m} NMI / ARI" for m in methods)], rows)


def fewlabels_ensembles_table(results):
    d = load(results, "fewlabels")["ensembles"]
    rows = [[name, f"{pct(r['plain']['mean_accuracy'])}% ({r['plain']['mistakes']} wrong)",
             f"{pct(r['tta']['mean_accuracy'])}% ({r['tta']['mistakes']} wrong)",
             f"{r['plain']['images_per_second']:.1f}", f"{r['tta']['images_per_second']:.1f}"]
            for name, r in d["ensembles"].items()]
    return markdown_table(["frozen heads", "5-fold CV", "5-fold CV + TTA", "images/s", "images/s with TTA"], rows)


def headline_table(results):
    """One row per task: the headline number of each benchmark, the recipe behind it and its JSON."""
    cls, semi = load(results, "classification"), load(results, "fewlabels")["semi_supervised"]["per_k"]
    det, anomaly = load(results, "detection"), load(results, "anomaly")
    inspect, service = load(results, "inspect"), load(results, "service")
    head = det["routes"][f"{det['headline_part']}/{det['headline_variant']}"]
    backbone = head["backbone"].removeprefix("efficientnet_").capitalize()
    where = head["hardware"].split(" (")[0]
    tta = ", TTA" if det["headline_variant"].startswith("tta") else ""
    workers = f"{service['workers']} worker{'s' * (service['workers'] > 1)}"
    onnx = ", `--onnx`" if service["onnx"] else ""
    loco, one_class = f3(anomaly["loco"]["mean_auroc"]), f3(anomaly["one_class"]["mean_auroc"])
    rows = [
        ["classification",
         f"{bold(test_score(cls['kaggle_cls']))} kaggle-cls test, 5-fold CV {pct(cls['cv5']['mean_accuracy'])}%",
         f"`lite0-finetune`, {secs(cls['train_seconds_cpu'])} of training on the {where}", "`classification.json`"],
        ["few labels",
         bold(f"{pct(semi['5']['mean'])}% / {pct(semi['10']['mean'])}%") + " test with 5 / 10 labels per class",
         f"`preset=semi`, mean over {len(semi['5']['per_draw'])} draws", "`fewlabels.json`"],
        ["detection", f"test mAP50 / mAP50-95 {bold(f3(head['map50']) + ' / ' + f3(head['map50_95']))}",
         f"ImageNet {backbone} backbone, {head['train_seconds'] / 3600:.1f} h on the {where}{tta}", "`detection.json`"],
        ["anomaly", f"leave-one-class-out image AUROC {bold(loco)} (one-class {one_class})",
         "texture-knn, {onnxruntime_batch16} / {onnxruntime_batch32} images/s with ONNX Runtime at batch 16 / 32"
         .format(**anomaly["speed"]["images_per_second"]),
         "`anomaly.json`"],
        ["inspection", f"{bold(str(inspect['images_per_second']) + ' images/s')}, all three models",
         f"ONNX Runtime, {inspect['image_size']} px, batch {inspect['batch_size']}", "`inspect.json`"],
        ["service", f"{bold(str(service['requests_per_second']) + ' requests/s')}, p99 {service['p99_ms']} ms",
         f"{service['concurrency']} clients, {workers}{onnx}, {service['errors']} errors", "`service.json`"],
    ]
    return markdown_table(["task", "headline", "how", "source"], rows)


def moved(command: str) -> str:
    """A recorded `python scripts/NAME.py ...` with the script's path as it is now (scripts/benchmarks/<area>/);
    their options did not change (docs/reproducing.md lists the moves)."""
    def now(match):
        found = sorted(ROOT.glob(f"scripts/benchmarks/*/{match[1]}.py"))
        return str(found[0].relative_to(ROOT)) if found else match[0]

    return re.sub(r"scripts/(\w+)\.py", now, command)


def reproduce_table(results):
    """One row per headline: the exact `defectlab` commands recorded beside its number (the result JSON's
    `defectlab` field) and, where a benchmark script scored or timed what those commands made, that script."""
    def commands(entry):
        return "<br>".join(f"`{c}`" for c in entry.get("defectlab") or [])

    def scorer(entry):
        return f"`{moved(entry['command'])}`" if entry.get("why") and entry.get("command") else \
            "the command's own output"

    cls, fewlabels = load(results, "classification"), load(results, "fewlabels")["semi_supervised"]
    det, anomaly = load(results, "detection"), load(results, "anomaly")
    head = det["routes"][f"{det['headline_part']}/{det['headline_variant']}"]
    inspect, service = load(results, "inspect"), load(results, "service")
    end_to_end = fewlabels["end_to_end"]
    rows = [["classification", commands(cls), "the train command prints the test accuracy"],
            ["few labels", commands(end_to_end) + " (one draw, k=5, end to end)", scorer(fewlabels)],
            ["detection", commands(head), scorer({**head, "command": head.get("command") or det.get("command")})],
            ["anomaly", commands(anomaly), "the protocol command prints the mean image AUROC"],
            ["inspection", commands(inspect), scorer(inspect)],
            ["service", commands(service), scorer(service)]]
    return markdown_table(["headline", "defectlab commands", "scored or timed by"], rows)


SCALE_MODES = {"in-process": "one process (`inspect --onnx`)", "ray-1x2": "Ray, 1 actor x 2 CPUs",
               "ray-2x1": "Ray, 2 actors x 1 CPU", "ray-2-nodes-2x1": "Ray, 2 nodes x 1 CPU, 2 actors"}


def scale_table(results):
    d = load(results, "scale")
    rows = [[label, f2(m["pictures_per_second"]), f2(m["median_startup_seconds"]), f2(m["steady_pictures_per_second"]),
             f2(m["steady_pictures_per_second_per_core"])]
            for mode, label in SCALE_MODES.items() if (m := d["modes"].get(mode))]
    table = markdown_table(["mode (2 CPUs in each)", "whole command, pictures/s", "start-up, s", "steady pictures/s",
                            "steady per core"], rows)
    nodes = d.get("two_nodes", {})
    return table + (f"\n\n{d['pictures']} pictures; Ray overhead (1 - the better Ray figure / one process): "
                    f"**{f3(d['ray_overhead'])}** (target {f2(d['ray_overhead_target'])}); records equal to one "
                    f"process's: {str(d.get('records_equal')).lower()}; two nodes: "
                    f"{' + '.join(str(n) for n in nodes.get('pictures_per_node', []))} pictures per node.")


def int8_table(results):
    d = load(results, "inspect")
    q, lib, share = d["int8"], d["library_paths"], d["compute_share"]
    alone = q["per_model_images_per_second"]
    rows = [[task, t["metric"], f"{t['before']:.4f}", f"{t['after']:.4f}", f"{100 * t['loss']:+.2f} points" if task
             != "anomaly" else f"{t['loss']:+.4f}", "yes" if t["adopted"] else "no", f"{alone['fp32'][task]:.1f}",
             f"{alone['int8'][task]:.1f}", f"{t['fp32_mb']} / {t['int8_mb']}"]
            for task, t in q["per_task"].items()]
    table = markdown_table(["model", "metric (test)", "fp32 ONNX", "INT8", "loss", "adopted", "alone fp32, img/s",
                            "alone INT8, img/s", "MB fp32 / INT8"], rows)
    whole = share["whole_inspection"]
    lines = [
        (f"Whole inspection: **{q['fp32_images_per_second']:.1f}** images/s fp32, **{q['images_per_second']:.1f}** "
        f"with INT8 where adopted ({', '.join(q['adopted']) or 'none'}; target {q['target_images_per_second']}: "
        f"{'met' if q['target_met'] else 'not met'}); the libraries' own calls one picture after another: "
        f"{lib['images_per_second']:.1f} images/s."),
        (f"Compute: {sum(r['total'] for r in share['gflops_per_picture'].values()):.2f} GFLOPs a picture; the whole "
        f"inspection reaches {100 * whole['fp32']['of_peak']:.1f}% of the CPU's fp32 peak "
        f"({share['peak_gflops']:.0f} GFLOP/s) and {100 * whole['fp32']['of_sgemm']:.1f}% of what a large matrix "
        f"product reaches ({share['sgemm_gflops']:.0f} GFLOP/s).")]
    return table + "\n\n" + "\n".join(lines)


NOVELTY_ROWS = (  # novelty.json rule -> its label in the table
    ("anomaly_flag", "anomaly detector alone, its training threshold (`is_anomalous`)"),
    ("anomaly_and_confidence_below_0.9", "the earlier `novel` rule: anomaly flag and confidence < 0.9"),
    ("either_texture_knn+energy_as_the_suite_calibrates_0.02", (
        "as `defectlab calibrate` sets it: the larger of anomaly score and energy by predicted class, scale and "
        "threshold from halves of the line (alpha 0.02)")),
    ("texture_knn_as_the_suite_calibrates_0.02", "the same with the anomaly score alone (the suite's before)"),
    ("texture_knn_by_class_calibrated_on_line_0.02", "anomaly score by predicted class, on the line (alpha 0.02)"),
    ("energy_by_class_calibrated_on_line_0.02", "classifier energy by predicted class, on the line (alpha 0.02)"),
    ("texture_knn_calibrated_on_line_0.02", "anomaly score, calibrated on the line (alpha 0.02)"),
    ("texture_knn_by_class_calibrated_on_valid_0.02", "anomaly score by predicted class, calibrated on validation"),
    ("feature_knn_k1_by_class_calibrated_on_line_0.02", "classifier features kNN by predicted class, on the line"),
    ("mahalanobis_by_class_calibrated_on_line_0.02", "classifier features Mahalanobis by predicted class, on the line"),
    ("texture_knn_by_class_calibrated_on_line_0.01", "anomaly score by predicted class, on the line (alpha 0.01)"),
)


def novelty_table(results):
    d = load(results, "novelty")
    stated, mean, valid = d["stated_rule_key"], d["mean"], d["validation"]["mean"]

    def pct(v):
        return f"{100 * v:.1f}%"

    def row(key, label):
        m, v = mean[key], valid.get(key)
        cells = [label, f3(m["precision"]), f3(m["recall"]), pct(m["false_alarm_rate"]),
                 f3(m["tpr_at_far_0.01"]) if "tpr_at_far_0.01" in m else "", f3(v["recall"]) if v else ""]
        return [f"**{c}**" if c else c for c in cells] if key == stated else cells

    def earlier(m):
        return f"{f3(m['recall'])} / {pct(m['false_alarm_rate'])}"

    keys = [(stated, f"`{stated}` (chosen on validation)")] + [(k, label) for k, label in NOVELTY_ROWS if k != stated]
    table = markdown_table(["flag (mean over the six held-out classes, test side)", "precision", "recall",
                            "known pictures flagged", "TPR at 1% flagged", "validation recall"],
                           [row(k, label) for k, label in keys if k in mean])
    per_class = markdown_table(["held-out class", "recall", "known pictures flagged", "TPR at 1%", "TPR at 5%",
                                "AUROC", "earlier rule: recall / flagged"],
                               [[c, f3(r[stated]["recall"]), pct(r[stated]["false_alarm_rate"]),
                                 f3(r[stated]["tpr_at_far_0.01"]), f3(r[stated]["tpr_at_far_0.05"]),
                                 f3(r[stated]["auroc"]), earlier(r["anomaly_and_confidence_below_0.9"])]
                                for c, r in d["per_class"].items()])
    met = ", ".join(f"{k.replace('_', ' ')}: {'met' if v else 'not met'}" for k, v in d["targets"].items())
    return f"{table}\n\n{per_class}\n\nTargets ({stated}): {met}."


TABLES = {"headline": headline_table, "novelty": novelty_table, "scale": scale_table, "int8": int8_table, "reproduce": reproduce_table, "classification": classification_table, "detection": detection_table,
          "anomaly": anomaly_table, "anomaly-localization": anomaly_localization_table,
          "anomaly-aspect": anomaly_aspect_table, "fewlabels": fewlabels_table,
          "fewlabels-clustering": fewlabels_clustering_table, "fewlabels-ensembles": fewlabels_ensembles_table}


PAGES = {  # file (from the repository root) -> the tables it holds
    "README.md": ["headline", "reproduce"],
    "docs/results/index.md": ["headline", "reproduce"],
    "docs/results/classification.md": ["classification"],
    "docs/results/fewlabels.md": ["fewlabels", "fewlabels-clustering", "fewlabels-ensembles"],
    "docs/results/detection.md": ["detection"],
    "docs/results/anomaly.md": ["anomaly", "anomaly-localization", "anomaly-aspect"],
    "docs/scale.md": ["scale", "int8"],
    "docs/results/suite.md": ["novelty"],
}


def marked_span(text, name, page):
    """(start, end) of the lines between `<!-- table:NAME -->` and `<!-- /table:NAME -->`."""
    m = re.search(rf"^<!-- table:{name} -->\n(.*?)^<!-- /table:{name} -->$", text, re.DOTALL | re.MULTILINE)
    if not m:
        raise SystemExit(f"{page} has no <!-- table:{name} --> ... <!-- /table:{name} --> markers")
    return m.start(1), m.end(1)


def stale_pages(root: Path, results: Path) -> dict:
    """{page: (its text with every table rebuilt, names of the tables that differed)} for every page in PAGES."""
    built = {name: TABLES[name](results) + "\n" for name in dict.fromkeys(n for ns in PAGES.values() for n in ns)}
    out = {}
    for page, names in PAGES.items():
        new = (root / page).read_text()
        stale = []
        for name in names:
            start, end = marked_span(new, name, page)
            if new[start:end] != built[name]:
                stale.append(name)
                new = new[:start] + built[name] + new[end:]
        out[page] = (new, stale)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="repository root holding README.md and docs/results/ (default: %(default)s)")
    parser.add_argument("--results", type=Path, default=ROOT / "scripts/benchmarks/results",
                        help="folder with NAME.json and NAME_parts/ (default: %(default)s)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 and name each table that differs from the JSON")
    args = parser.parse_args()
    pages = stale_pages(args.root, args.results)
    if args.check:
        for page, (_, stale) in pages.items():
            for name in stale:
                print(f"{page}: table '{name}' differs from the JSON under {args.results} "
                      f"(run python3 scripts/readme_tables.py)")
        raise SystemExit(1 if any(stale for _, stale in pages.values()) else 0)
    for page, (new, stale) in pages.items():
        if stale:
            (args.root / page).write_text(new)
        print(f"{page}: rewrote {', '.join(stale)}" if stale else f"{page}: tables already match the JSON")


if __name__ == "__main__":
    main()
