"""Cost per picture: the inspection's three models quantized to INT8 with ONNX Runtime (`defectlab TASK export RUN
int8=1`), each model's own metric before and after on the same test pictures, INT8 adopted for a model only where
it loses at most 0.5 points of accuracy / mAP50 or 0.005 AUROC, and the whole inspection timed with the adopted INT8
models against fp32 on the same pictures. Beside them, two references: the libraries' own inference paths one
picture after another, and each model's FLOPs per picture against the CPU's peak. Parts (scripts/benchmarks/results/
inspect_int8_parts/), then --merge writes inspect.json measured again, the earlier measure kept under `earlier`.

  python scripts/benchmarks/inspection/benchmark_int8.py --part quantize --data ../shared/data/NEU-DET --runs \\
      classification=runs/neu/classification/lite0-finetune-kaggle-det-seed0 \\
      detection=runs/neu/detection/yolov8n-224-e10 anomaly=runs/neu/anomaly/texture-knn-imagenet-seed0
  ... --part metrics --loco runs/neu/anomaly-protocols/loco     (the same --data and --runs)
  ... --part speed
  python scripts/benchmarks/inspection/benchmark_int8.py --merge

Every model runs at --image-size (as benchmark_inspect.py: a run trained at another size is copied, without its
data, and set to that size), in --work, which the parts share.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the project root: `scripts.benchmarks`, run as a file

from scripts.benchmarks import commands, results
from scripts.benchmarks.inspection.benchmark_inspect import sized_copy

NAME = "inspect_int8"
PARTS = ("quantize", "metrics", "speed")
TOLERANCE = {"classification": 0.005, "detection": 0.005, "anomaly": 0.005}  # accuracy, mAP50, AUROC (0..1)
METRIC = {"classification": "accuracy (kaggle-det test)", "detection": "mAP50 (kaggle-det test, ultralytics' "
          "validator)", "anomaly": "mean image AUROC, leave-one-class-out (kaggle-det test)"}
FLAG_AGREEMENT = 0.99  # the inspected anomaly model's is_anomalous: a threshold fitted on fp32 scores must still hold
WHY = ("the runs are `defectlab TASK train` and their INT8 models `defectlab TASK export RUN int8=1` (the commands "
       "here); the metrics of the ONNX models, fp32 and INT8, and the images/s are this script's (`command`)")


# -- helpers ----------------------------------------------------------------------------------------------------
def uptime() -> dict:
    """The load beside a timing: `uptime` as printed, and the 1 / 5 / 15 minute load averages."""
    text = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return {"uptime": text, "load_average": [round(x, 2) for x in os.getloadavg()]}


def cpu() -> dict:
    """The CPU model, clock and vector units, and its fp32 peak: cores x GHz x FLOPs per cycle (two 256-bit FMA
    units: 32 with AVX2 and FMA, 64 with AVX-512)."""
    info = Path("/proc/cpuinfo").read_text()
    field = lambda key: next((line.split(":", 1)[1].strip() for line in info.splitlines()
                              if line.startswith(key)), "")
    flags = set(field("flags").split())
    cores = len(os.sched_getaffinity(0))
    ghz = round(float(field("cpu MHz") or 0) / 1000, 3)
    per_cycle = 64 if "avx512f" in flags else 32 if {"avx2", "fma"} <= flags else 8
    return {"model": field("model name"), "cores": cores, "ghz": ghz, "avx2": "avx2" in flags, "fma": "fma" in flags,
            "avx512": "avx512f" in flags, "vnni": any("vnni" in f for f in flags), "fp32_flops_per_cycle": per_cycle,
            "peak_gflops": round(cores * ghz * per_cycle, 1),
            "peak_rule": f"{cores} cores x {ghz} GHz (/proc/cpuinfo, the clock the VM reports; a boost clock is not "
                         f"visible) x {per_cycle} fp32 FLOPs a cycle (AVX2 + FMA: two 8-wide FMA units)"}


def measured_sgemm_gflops(size: int = 2048, repeats: int = 5) -> float:
    """fp32 matrix product on every core (numpy's BLAS), the best of `repeats`: a peak the CPU reaches in practice."""
    import numpy as np

    a, b = (np.random.default_rng(0).standard_normal((size, size)).astype(np.float32) for _ in range(2))
    a @ b
    best = min(timed(lambda: a @ b) for _ in range(repeats))
    return round(2 * size ** 3 / best / 1e9, 1)


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def wait_quiet(limit: float, seconds: int) -> dict:
    """Poll the 1-minute load average until it is below `limit` or `seconds` passed; what was seen."""
    started = time.time()
    while os.getloadavg()[0] >= limit and time.time() - started < seconds:
        time.sleep(20)
    return {"waited_seconds": round(time.time() - started), "quiet": os.getloadavg()[0] < limit, **uptime()}


def sized_runs(runs: dict, size: int, work: Path) -> dict[str, str]:
    """Each run at `size`: itself, or its copy set to that size in work/<task>/ (made once)."""
    out = {}
    for task, path in runs.items():
        target = work / task / Path(path).name
        config = json.loads((Path(path) / "config.json").read_text())
        out[task] = str(path) if config["image_size"] == size else \
            str(target if (target / "config.json").is_file() else sized_copy(Path(path), size, work / task))
    return out


def child(argv: list[str], mode: str, payload: dict) -> dict:
    """This script in a fresh process (its own memory and thread pools), JSON in and out."""
    listing = Path(payload["work"]) / f"{mode}.json"
    listing.write_text(json.dumps(payload))
    done = subprocess.run([sys.executable, __file__, *argv, "--child", mode, "--payload", str(listing)],
                          capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        sys.exit(f"{mode} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT "):])


# -- part quantize: model.onnx and model.int8.onnx of each run at the inspection size, and FLOPs --------------------
def onnx_flops(path, feed: dict) -> dict[str, int]:
    """2 x multiply-adds of every Conv, Gemm and MatMul for one ONNX Runtime input, from the shapes ONNX Runtime
    computes: each such node's inputs and output exposed as graph outputs, the graph run once on `feed` unoptimised.
    Conv: output elements x Cin/group x kh x kw; Gemm and MatMul: output elements x the inner dimension."""
    import numpy as np
    import onnx
    import onnxruntime

    model = onnx.load(str(path))
    graph = model.graph
    constant = {i.name: list(i.dims) for i in graph.initializer}
    nodes = [n for n in graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]
    wanted = {name for n in nodes for name in [*n.input[:2], n.output[0]] if name and name not in constant}
    for name in sorted(wanted - {o.name for o in graph.output}):
        graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    shapes = {name: list(np.shape(value)) for name, value in zip(names, session.run(names, feed))}
    shape = lambda name: constant.get(name) or shapes[name]
    total = {}
    for n in nodes:
        out = shape(n.output[0])
        if n.op_type == "Conv":
            inner = int(np.prod(shape(n.input[1])[1:]))  # Cout x Cin/group x kh x kw
        elif n.op_type == "Gemm":
            trans_a = next((a.i for a in n.attribute if a.name == "transA"), 0)
            inner = shape(n.input[0])[0 if trans_a else 1]
        else:
            inner = shape(n.input[0])[-1]
        total[n.op_type] = total.get(n.op_type, 0) + 2 * int(np.prod(out)) * int(inner)
    return total


def part_quantize(args, runs: dict) -> dict:
    from shared.suite import registry
    from shared.suite.quantize import INT8_FILE, has_vnni

    sized = sized_runs(runs, args.image_size, args.work)
    out = {"runs": sized, "models": {}}
    for task, path in sized.items():
        spec = registry.task(task)
        run = spec.load(path)
        started = time.perf_counter()
        if not (Path(path) / "model.onnx").is_file():
            spec.export(run)
        fp32_seconds = time.perf_counter() - started
        started = time.perf_counter()
        target, difference = spec.export(run, int8=True)
        int8_seconds = time.perf_counter() - started
        feeds = __import__(f"{task}.export", fromlist=["calibration_feeds"]).calibration_feeds(run, count=16)
        feed = feeds[0]
        pictures = len(next(iter(feed.values())))
        flops = {op: round(value / pictures / 1e9, 4) for op, value in onnx_flops(Path(path) / "model.onnx",
                                                                                   feed).items()}
        out["models"][task] = {
            "run": path, "int8_file": str(target), "fp32_mb": round((Path(path) / "model.onnx").stat().st_size / 2**20, 1),
            "int8_mb": round((Path(path) / INT8_FILE).stat().st_size / 2**20, 1),
            "max_difference_on_calibration": float(difference), "export_seconds": round(fp32_seconds, 1),
            "int8_seconds": round(int8_seconds, 1),
            "input": {name: list(value.shape[1:]) for name, value in feed.items()},
            "gflops_per_picture": {**flops, "total": round(sum(flops.values()), 4)}}
        print(task, out["models"][task], flush=True)
    out["quantization"] = {
        "tool": "onnxruntime.quantization.quantize_static", "format": "QDQ", "calibration": "MinMax on 100 train "
        "pictures (seeded draw) fed through the run's own ONNX predictor, its inputs recorded",
        "weights": "int8, per output channel", "activations": "uint8, per tensor",
        "pre_process": "onnxruntime.quantization.shape_inference.quant_pre_process (shapes, batch norms folded)",
        "reduce_range": False, "vnni": has_vnni(),
        "chosen_on": "the classifier's 144 validation pictures (kaggle-det train side's carve-out), fidelity to "
                     "fp32: mean |logit difference| 0.424 pre-processed with 8-bit weights, 0.447 with 7-bit "
                     "(reduce_range), 0.605 / 0.634 without pre-processing; uint8 weights (U8U8) 0.151 but 6x "
                     "slower (9.9 against 55.8 pictures/s fp32). Said openly: the test accuracy of the first "
                     "variants (7-bit weights without pre-processing: 0.9556; 8-bit with: 0.9806) was seen "
                     "before this choice",
        "left_float": {"detection": "the detect head after its last convolutions (box decoding, sigmoid, concat of "
                                    "pixels with 0..1 scores)",
                       "anomaly": "the nearest-patch search (MatMul / Gemm against the normal bank) and every op "
                                  "but Conv"}}
    return out


# -- part metrics: each model's metric, fp32 ONNX vs INT8 ONNX, on the same test pictures -------------------------
def classification_metric(path: str) -> dict:
    import numpy as np

    from classification.run import load

    run = load(path)
    arrays = run.dataset().side("test")
    accuracy = lambda **o: float((run.predictor(**o).probabilities(arrays.x).argmax(1) == arrays.y).mean())
    return {"framework": accuracy(), "before": accuracy(onnx=True), "after": accuracy(int8=True),
            "pictures": len(arrays.y), "classes_agree": float(np.mean(
                run.predictor(onnx=True).probabilities(arrays.x).argmax(1)
                == run.predictor(int8=True).probabilities(arrays.x).argmax(1)))}


def detection_metric(path: str, size: int, work: Path) -> dict:
    from detection.offline import ultralytics_module
    from detection.run import load, metrics_from_validator
    from shared.suite.quantize import INT8_FILE

    run = load(path)
    data = str(run.data_yaml())

    def score(file: Path) -> dict:
        yolo = ultralytics_module().YOLO(str(file), task="detect")
        result = yolo.val(data=data, split="test", imgsz=size, batch=16, plots=False, verbose=False, workers=0,
                          project=str(work / "val"), name=file.stem, exist_ok=True)
        metrics = metrics_from_validator(result, run.model.names)
        return {"map50": metrics["map50"], "map50_95": metrics["map50_95"]}

    framework = run.evaluate("test")  # `defectlab detection evaluate` on the sized copy (PyTorch)
    before, after = score(run.path / "model.onnx"), score(run.path / INT8_FILE)
    return {"framework": framework["map50"], "before": before["map50"], "after": after["map50"],
            "map50_95": {"framework": framework["map50_95"], "before": before["map50_95"],
                         "after": after["map50_95"]}}


def anomaly_auroc(path: Path) -> dict:
    """One leave-one-class-out model: image AUROC of its test pictures with model.onnx and with model.int8.onnx
    (exported here where missing), scored as `run.evaluate` scores them."""
    from sklearn.metrics import roc_auc_score

    from anomaly import models
    from anomaly.export import OnnxAnomalyModel, export_checked
    from anomaly.run import batches, load
    from shared.suite.quantize import INT8_FILE

    run = load(path)
    if not (path / "model.onnx").is_file():
        export_checked(run)
    if not (path / INT8_FILE).is_file():
        export_checked(run, int8=True)
    data = run.dataset()
    labels, images = data.part("test").label.to_numpy(), data.pixels("test")
    auroc = {}
    for name, file in (("before", "model.onnx"), ("after", INT8_FILE)):
        scores, _ = models.score(OnnxAnomalyModel(path / file), batches(images, 16), run.recipe.backbone)
        auroc[name] = float(roc_auc_score(labels, scores))
    return auroc


def anomaly_metric(path: str, loco: Path, paths: list[str]) -> dict:
    """Mean leave-one-class-out AUROC (the suite's anomaly metric, `defectlab anomaly protocol`), fp32 vs INT8, and
    the inspected model's (fitted on every class) records on the test pictures: is_anomalous agreement."""
    import numpy as np

    from anomaly.run import load
    from shared.datasets.images import load_image

    protocol = json.loads((loco.parent / f"{loco.name}.json").read_text())
    per_class = {name: anomaly_auroc(loco / name / "run") for name in protocol["per_class_auroc"]}
    for name, row in per_class.items():
        print(f"[anomaly] held out {name}: {row}", flush=True)
    run = load(path)
    fp32, int8 = run.predictor(onnx=True, batch_size=16), run.predictor(int8=True, batch_size=16)
    a, b = [], []
    for start in range(0, len(paths), 16):
        pictures = [load_image(p) for p in paths[start:start + 16]]
        a += fp32.predict_arrays(pictures)
        b += int8.predict_arrays(pictures)
    scores = np.array([[r["score"] for r in a], [r["score"] for r in b]])
    return {"framework": protocol["mean_auroc"], "before": statistics.mean(r["before"] for r in per_class.values()),
            "after": statistics.mean(r["after"] for r in per_class.values()),
            "per_held_out_class": {name: {**row, "framework": protocol["per_class_auroc"][name]}
                                   for name, row in per_class.items()},
            "inspected_model": {
                "is_anomalous_agreement": float(np.mean([x["is_anomalous"] == y["is_anomalous"] for x, y in zip(a, b)])),
                "anomalous_share": {"before": float(np.mean([x["is_anomalous"] for x in a])),
                                    "after": float(np.mean([y["is_anomalous"] for y in b]))},
                "median_score": {"before": float(np.median(scores[0])), "after": float(np.median(scores[1]))},
                "threshold": float(run.threshold), "pictures": len(paths)}}


def part_metrics(args, runs: dict, paths: list[str]) -> dict:
    sized = sized_runs(runs, args.image_size, args.work)
    found = {}
    for task, path in sized.items():
        if task == "classification":
            found[task] = classification_metric(path)
        elif task == "detection":
            found[task] = detection_metric(path, args.image_size, args.work)
        else:
            found[task] = anomaly_metric(path, args.loco, paths)
        row = found[task]
        row["metric"] = METRIC[task]
        row["loss"] = round(row["before"] - row["after"], 4)
        row["tolerance"] = TOLERANCE[task]
        row["adopted"] = row["loss"] <= TOLERANCE[task]
        if task == "anomaly":
            row["flag_agreement_needed"] = FLAG_AGREEMENT
            row["adopted"] = row["adopted"] and row["inspected_model"]["is_anomalous_agreement"] >= FLAG_AGREEMENT
        print(task, {k: v for k, v in row.items() if k != "per_held_out_class"}, flush=True)
    return {"runs": sized, "metrics": found, "rule": "INT8 adopted where it loses at most 0.5 points of accuracy / "
            "mAP50 or 0.005 AUROC against the fp32 ONNX model on the same test pictures (anomaly: also the inspected "
            f"model's is_anomalous unchanged on at least {FLAG_AGREEMENT:.0%} of them, its threshold being fitted "
            "on fp32 scores)"}


# -- part speed: the whole inspection, fp32 vs adopted INT8; the libraries' own paths ----------------------------
def alone_rate(predictor, pictures: list, batch_size: int, repeats: int) -> float:
    """Images/s of one predictor on decoded pictures in batches, the median of `repeats` passes."""
    def one_pass():
        for start in range(0, len(pictures), batch_size):
            predictor.predict_arrays(pictures[start:start + batch_size])
    return round(statistics.median(len(pictures) / timed(one_pass) for _ in range(repeats)), 1)


def whole(runs: dict, paths: list[str], int8: list[str], batch_size: int, repeats: int) -> dict:
    from shared.datasets.images import load_image
    from shared.suite.inspect import Inspector
    from shared.suite.memory_guard import peak_memory_mb

    options = {task: {"int8": True} for task in int8}
    inspector = Inspector.from_runs(runs, batch_size, onnx=True, threads=True, options=options)
    inspector.inspect(paths[:batch_size])  # warm-up: lazy allocations, thread pools, sessions
    pictures = [load_image(p) for p in paths]
    alone = {task: alone_rate(predictor, pictures, batch_size, repeats)
             for task, predictor in inspector.predictors.items()}
    del pictures
    rates, loads, errors = [], [], 0
    for _ in range(repeats):
        load = uptime()
        started = time.perf_counter()
        records = inspector.inspect(paths)
        rates.append(round(len(paths) / (time.perf_counter() - started), 1))
        loads.append({**load, "after": uptime()["load_average"]})
        errors = sum("error" in r for r in records)
    return {"images_per_second": statistics.median(rates), "images_per_second_runs": rates,
            "per_model_images_per_second": alone, "int8": sorted(int8), "peak_memory_mb": peak_memory_mb(),
            "errors": errors, "loads": loads}


def int8_alone(runs: dict, paths: list[str], batch_size: int, repeats: int) -> dict:
    """Each INT8 model alone (also those not adopted), as `whole` times them."""
    from shared.datasets.images import load_image
    from shared.suite import registry

    pictures = [load_image(p) for p in paths]
    alone = {}
    for task, path in runs.items():
        predictor = registry.task(task).load(path).predictor(int8=True)
        predictor.predict_arrays(pictures[:batch_size])
        alone[task] = alone_rate(predictor, pictures, batch_size, repeats)
    return {"per_model_images_per_second": alone, **uptime()}


def library_paths(runs: dict, paths: list[str], size: int, repeats: int) -> dict:
    """Each framework's own inference call on one picture at a time at its defaults but the image size: Keras
    `model.predict`, ultralytics `YOLO.predict`, the anomaly torch model's forward; images/s of each, and of the
    three one after another per picture."""
    import numpy as np
    import torch

    from anomaly.models import to_input
    from shared.datasets.images import letterbox, load_image, resize_rgb
    from shared.suite import registry

    loaded = {task: registry.task(task).load(path) for task, path in runs.items()}
    pictures = [load_image(p) for p in paths]
    calls = {}
    if "classification" in loaded:
        keras_model = loaded["classification"].model
        calls["classification"] = lambda image: keras_model.predict(
            resize_rgb(image, size)[None].astype("float32"), verbose=0)
    if "detection" in loaded:
        yolo = loaded["detection"].model
        calls["detection"] = lambda image: yolo.predict(np.ascontiguousarray(image[..., ::-1]), imgsz=size,
                                                        verbose=False)
    if "anomaly" in loaded:
        anomaly = loaded["anomaly"]

        def forward(image):
            with torch.no_grad():
                return anomaly.model.eval()(to_input(letterbox(image, size)[0][None], anomaly.recipe.backbone))
        calls["anomaly"] = forward
    for call in calls.values():  # warm-up
        for image in pictures[:3]:
            call(image)
    rate = lambda work: len(pictures) / timed(lambda: [work(image) for image in pictures])
    alone = {task: round(statistics.median(rate(call) for _ in range(repeats)), 1) for task, call in calls.items()}
    together = [round(rate(lambda image: [call(image) for call in calls.values()]), 1) for _ in range(repeats)]
    return {"images_per_second": statistics.median(together), "images_per_second_runs": together,
            "per_model_images_per_second": alone, "pictures": len(pictures), **uptime(),
            "calls": {"classification": "keras Model.predict(one picture resized to the image size, verbose=0)",
                      "detection": "ultralytics YOLO.predict(one BGR picture, imgsz=image size, verbose=False): its "
                                   "PyTorch model, default conf 0.25, IoU 0.7",
                      "anomaly": "torch: the texture-knn model's forward on one letterboxed picture under no_grad"},
            "threads": {"torch": torch.get_num_threads()}}


def part_speed(args, argv: list[str], runs: dict, paths: list[str]) -> dict:
    metrics = json.loads((results.parts_dir(NAME) / "metrics.json").read_text())["metrics"]
    adopted = [task for task, row in metrics.items() if row["adopted"]]
    sized = sized_runs(runs, args.image_size, args.work)
    payload = {"runs": sized, "paths": paths, "work": str(args.work), "batch_size": args.batch_size,
               "repeats": args.repeats, "image_size": args.image_size}
    quiet = wait_quiet(args.max_load, args.wait)
    print(f"load: {quiet}", flush=True)
    out = {"cpu": cpu(), "quiet": quiet, "adopted": adopted, "pictures": len(paths), "batch_size": args.batch_size,
           "image_size": args.image_size, "repeats": args.repeats}
    out["fp32"] = child(argv, "fp32", {**payload, "int8": []})
    print("fp32", out["fp32"]["images_per_second"], flush=True)
    out["int8"] = child(argv, "int8", {**payload, "int8": adopted})
    print("int8", out["int8"]["images_per_second"], flush=True)
    out["int8_alone"] = child(argv, "int8-alone", payload)
    out["library_paths"] = child(argv, "library", {**payload, "paths": paths[:args.library_pictures]})
    print("library", out["library_paths"]["images_per_second"], flush=True)
    out["sgemm_gflops"] = measured_sgemm_gflops()
    out["after"] = uptime()
    return out


def run_child(mode: str, payload: dict) -> dict:
    runs, paths, batch, repeats = payload["runs"], payload["paths"], payload["batch_size"], payload["repeats"]
    if mode == "library":
        return library_paths(runs, paths, payload["image_size"], repeats)
    if mode == "int8-alone":
        return int8_alone(runs, paths, batch, repeats)
    return whole(runs, paths, payload["int8"], batch, repeats)


# -- merge into inspect.json -------------------------------------------------------------------------------------
def merged(committed: dict, parts: dict) -> dict:
    """inspect.json measured again: the whole inspection now (fp32 ONNX, the runs of today) at the top, with `int8`,
    `library_paths` and `compute_share` beside it (each with its provenance); the earlier measure, every key and
    number as it was, under `earlier`."""
    quantized, metrics, speed = parts["quantize"], parts["metrics"], parts["speed"]
    provenance = {key: speed[key] for key in ("command", "git_commit", "created_at", "versions", "hardware")}
    train = metrics["defectlab"]
    flops = {task: row["gflops_per_picture"]["total"] for task, row in quantized["models"].items()}
    peak, sgemm = speed["cpu"]["peak_gflops"], speed["sgemm_gflops"]

    def share(rate: float, tasks) -> dict:
        gflops = rate * sum(flops[t] for t in tasks)
        return {"gflops_per_second": round(gflops, 1), "of_peak": round(gflops / peak, 3),
                "of_sgemm": round(gflops / sgemm, 3)}

    fp32, int8 = speed["fp32"], speed["int8"]
    tasks = list(flops)
    earlier = committed.get("earlier") or committed
    return {
        "schema_version": committed.get("schema_version", 1), **provenance, "split": speed["split"],
        "data_fingerprint": speed["data_fingerprint"],
        "images_per_second": fp32["images_per_second"], "mode": "onnx-threads",
        "images_per_second_runs": fp32["images_per_second_runs"],
        "per_model_images_per_second": fp32["per_model_images_per_second"], "peak_memory_mb": fp32["peak_memory_mb"],
        "loads": fp32["loads"], "cpu": speed["cpu"]["model"], "batch_size": speed["batch_size"],
        "image_size": speed["image_size"], "pictures": speed["pictures"],
        "target_images_per_second": earlier.get("target_images_per_second", 25), "runs": speed["runs"],
        "note": "whole inspection = decode each file once + classifier + detector + anomaly score and heatmap + "
                "novel flag, in one process using both cores, the models of a batch in threads (onnx-threads); "
                f"medians of {speed['repeats']} passes; " + metrics["note"],
        "defectlab": train, "why": WHY,
        "int8": {
            "images_per_second": int8["images_per_second"], "images_per_second_runs": int8["images_per_second_runs"],
            "fp32_images_per_second": fp32["images_per_second"],
            "speedup": round(int8["images_per_second"] / fp32["images_per_second"], 2),
            "target_images_per_second": 60, "target_met": int8["images_per_second"] >= 60,
            "adopted": speed["adopted"], "loads": int8["loads"],
            "per_model_images_per_second": {"fp32": fp32["per_model_images_per_second"],
                                            "int8": speed["int8_alone"]["per_model_images_per_second"]},
            "per_task": {task: {"metric": row["metric"], "before": round(row["before"], 4),
                                "after": round(row["after"], 4), "framework": round(row["framework"], 4),
                                "loss": row["loss"], "adopted": row["adopted"],
                                **({"inspected_model": row["inspected_model"],
                                    "per_held_out_class": row["per_held_out_class"]} if task == "anomaly" else {}),
                                **({"map50_95": row["map50_95"]} if task == "detection" else {}),
                                **quantized["models"][task]}
                         for task, row in metrics["metrics"].items()},
            "rule": metrics["rule"], "quantization": quantized["quantization"], "cpu": speed["cpu"],
            "quiet": speed["quiet"], **provenance,
            "defectlab": train + [f"defectlab {task} export {path} int8=1" for task, path in metrics["runs"].items()],
            "why": WHY + "; a detector trained at another size is copied at the inspection's size by the script "
                         "before its export, as benchmark_inspect.py does"},
        "library_paths": {**{k: v for k, v in speed["library_paths"].items()}, **provenance, "defectlab": train,
                          "why": "the models are `defectlab TASK train`; each library's own call, one picture at a "
                                 "time, is timed by this script (`command`)"},
        "compute_share": {
            "gflops_per_picture": {task: row["gflops_per_picture"] for task, row in quantized["models"].items()},
            "counted": "2 x multiply-adds of every Conv, Gemm and MatMul in each model.onnx, at the input shapes "
                       "its predictor feeds (recorded), per picture; shapes from ONNX Runtime running the graph "
                       "with those nodes' tensors exposed (benchmark_int8.onnx_flops)",
            "peak_gflops": peak, "peak_rule": speed["cpu"]["peak_rule"], "sgemm_gflops": sgemm,
            "sgemm_rule": "numpy fp32 2048 x 2048 matrix product on every core, best of 5: what the CPU reaches",
            "whole_inspection": {"fp32": share(fp32["images_per_second"], tasks),
                                 "int8": share(int8["images_per_second"], tasks)},
            "each_model_alone_fp32": {t: share(fp32["per_model_images_per_second"][t], [t]) for t in tasks},
            "each_model_alone_int8": {t: share(speed["int8_alone"]["per_model_images_per_second"][t], [t])
                                      for t in tasks},
            "note": "INT8 models do the same multiply-adds in 8 bits; their share is still against the fp32 peak",
            **provenance, "defectlab": None, "why": "FLOPs counted from the ONNX graphs and a CPU peak: no "
                                                    "defectlab command gives them"},
        "earlier": earlier}


# -- main ---------------------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=PARTS)
    parser.add_argument("--merge", action="store_true", help="add the parts to inspect.json")
    parser.add_argument("--data", type=Path, help="the dataset the runs were trained on (NEU-DET)")
    parser.add_argument("--runs", nargs="+", metavar="TASK=PATH")
    parser.add_argument("--loco", type=Path, default=Path("runs/neu/anomaly-protocols/loco"),
                        help="the anomaly leave-one-class-out runs (`defectlab anomaly protocol --protocol loco`)")
    parser.add_argument("--work", type=Path, default=Path("runs/int8"), help="sized copies and scratch")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per measure (median reported)")
    parser.add_argument("--library-pictures", type=int, default=60, help="pictures the library paths time")
    parser.add_argument("--max-load", type=float, default=1.5, help="wait for a 1-minute load average below this")
    parser.add_argument("--wait", type=int, default=900, help="at most this many seconds of waiting, then measure")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: one timing in its own process
    parser.add_argument("--payload", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from shared.suite import console

    console.setup()
    if args.child:
        print("RESULT " + json.dumps(run_child(args.child, json.loads(args.payload.read_text()))))
        return 0
    path = results.RESULTS / "inspect.json"
    if args.merge:
        committed = json.loads(path.read_text())
        results.rewrite(path, merged(committed, results.read_parts(NAME)))
        print(f"measured again into {path}: int8, library_paths, compute_share; the earlier measure under earlier")
        return 0
    if not (args.part and args.data and args.runs):
        parser.error("--part, --data and --runs (or --merge)")

    from shared.suite.evaluate import test_pictures
    from shared.suite.provenance import script_command

    runs = dict(pair.split("=", 1) for pair in args.runs)
    configs = {task: json.loads((Path(p) / "config.json").read_text()) for task, p in runs.items()}
    split = configs.get("detection", next(iter(configs.values())))["split"]
    pictures, index = test_pictures(args.data, split)
    paths = [p["path"] for p in pictures]
    args.work.mkdir(parents=True, exist_ok=True)
    train = [commands.train_line(task, config) for task, config in configs.items()]
    note = (f"each model at {args.image_size} px (a run trained at another size copied and set to it, as "
            "benchmark_inspect.py does); the detector is the default preset's network (stock YOLOv8n, 224 px) "
            "trained for 10 of its 40 epochs on this CPU, standing in for the GPU-trained Lite2 detector that "
            "inspect.json's first measure timed (no GPU here)")
    if args.part == "quantize":
        payload = part_quantize(args, runs)
    elif args.part == "metrics":
        payload = part_metrics(args, runs, paths)
    else:
        payload = {**part_speed(args, argv, runs, paths), "runs": sized_runs(runs, args.image_size, args.work)}
    payload.update(note=note, defectlab=train, why=WHY)
    written = results.write_part(NAME, args.part, payload, split=f"{split} (test side)", index=index,
                                 command=script_command(__file__, argv))
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
