"""INT8 post-training quantization of a run's model.onnx with ONNX Runtime's own tools (onnxruntime.quantization):
the model pre-processed (quant_pre_process: shapes inferred, batch norms folded), then quantized statically, QDQ
format, weights int8 per output channel, activations uint8 from the ranges seen on calibration inputs.

The calibration inputs are what the run's predictor itself feeds its ONNX Runtime session (recorded by `Recorder`
around the session), so a picture is preprocessed for calibration exactly as it is when inspected. Weights keep
all 8 bits (no reduce_range), chosen on the classifier's validation pictures: 7-bit weights moved its logits more
(mean |fp32 - int8| 0.45 against 0.42) and cut its validation accuracy (scripts/benchmarks/results/inspect.json,
int8.quantization). 8-bit weights against 8-bit activations (not both unsigned) keep ONNX Runtime's fast kernels:
uint8 weights ran the classifier 6x slower here."""
from __future__ import annotations

from pathlib import Path

import numpy as np

INT8_FILE = "model.int8.onnx"


class Recorder:
    """An ONNX Runtime session that keeps a copy of every input it is fed and otherwise behaves as the session."""

    def __init__(self, session):
        self.session, self.feeds = session, []

    def run(self, output_names, feed, *args, **kwargs):
        self.feeds.append({name: np.array(value) for name, value in feed.items()})
        return self.session.run(output_names, feed, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.session, name)


def has_vnni() -> bool:
    """Whether this CPU adds 8-bit products without the 16-bit intermediate (Linux: /proc/cpuinfo flags)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "vnni" in text


def quantize(source: str | Path, target: str | Path, feeds: list[dict], nodes_to_exclude=(),
             op_types: list[str] | None = None, per_channel: bool = True) -> Path:
    """target: source pre-processed, then quantized statically (QDQ) with activation ranges (min / max) from
    `feeds`, ONNX Runtime input dicts; the nodes `nodes_to_exclude` names (a list, or a function of the
    pre-processed model's path giving one) and op types outside `op_types` stay float. The source's metadata (e.g.
    class names an exporter wrote) is carried over."""
    import tempfile

    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    if not feeds:
        raise ValueError("no calibration inputs: the predictor fed its session nothing")

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.left = iter(feeds)

        def get_next(self):
            return next(self.left, None)

    from onnxruntime.quantization.shape_inference import quant_pre_process

    target = Path(target)
    with tempfile.TemporaryDirectory(prefix="defectlab-int8-") as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        dumps = lambda: {*Path.cwd().glob("*-*-*-*-*.data"), *Path.cwd().glob("sym_shape_infer_temp.onnx")}
        before = dumps()
        try:
            quant_pre_process(str(source), str(prepared))
        except Exception:  # noqa: BLE001 - symbolic shapes fail on some graphs (e.g. a dynamic letterbox); ONNX's own do
            # the failed attempt dumps its half-inferred model (sym_shape_infer_temp.onnx, weights as <uuid>.data) in
            # the working directory: not the user's to clean up
            for left in dumps() - before:
                left.unlink(missing_ok=True)
            quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        excluded = nodes_to_exclude(prepared) if callable(nodes_to_exclude) else nodes_to_exclude
        quantize_static(str(prepared), str(target), Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        reduce_range=False, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=op_types, nodes_to_exclude=list(excluded),
                        calibrate_method=CalibrationMethod.MinMax)
    original, quantized = onnx.load(str(source), load_external_data=False), onnx.load(str(target))
    if original.metadata_props and not quantized.metadata_props:
        quantized.metadata_props.extend(original.metadata_props)
        onnx.save(quantized, str(target))
    return target


def run_to_int8(run, source: Path, export, feeds_of, **options) -> tuple[Path, float]:
    """run.path/model.int8.onnx from the run's fp32 ONNX model `source` (export(run) makes it where missing),
    calibrated on feeds_of(run), quantize's options as given; and the largest |fp32 - int8| output difference on
    those feeds (output_difference)."""
    if not source.is_file():
        export(run)
    feeds = feeds_of(run)
    target = quantize(source, run.path / INT8_FILE, feeds, **options)
    return target, output_difference(source, target, feeds)


def output_difference(fp32_path: str | Path, int8_path: str | Path, feeds: list[dict]) -> float:
    """The largest |fp32 - int8| over every output and feed, as a share of that output's largest |fp32| value
    (outputs have scales of their own: pixels, probabilities, distances)."""
    from .onnx import scaled_difference, session

    fp32, int8 = session(fp32_path), session(int8_path)
    worst = 0.0
    for feed in feeds:
        for expected, got in zip(fp32.run(None, feed), int8.run(None, feed)):
            worst = max(worst, scaled_difference(expected, got))
    return worst


def picked(paths: list, count: int, seed: int = 0) -> list:
    """`count` of `paths` drawn without replacement, seeded, in their given order."""
    if len(paths) <= count:
        return list(paths)
    keep = np.sort(np.random.default_rng(seed).choice(len(paths), count, replace=False))
    return [paths[i] for i in keep]
