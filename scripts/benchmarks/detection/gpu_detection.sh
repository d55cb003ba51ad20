#!/usr/bin/env bash
# The one prepared GPU call of the detection benchmark: routes trained side by side at 320 px for the same wall-clock
# budget on one GPU (`defectlab detection train ... time=HOURS`), each scored on valid and test, with and without TTA.
# Which route heads the table is decided by --merge on validation mAP, as for every other part.
#   usage: [PRESETS="a b"] [WORKERS=3] scripts/benchmarks/detection/gpu_detection.sh DATA OUT [HOURS]
# DATA: NEU-DET folder; OUT: one tar (15 MB pieces) of the part JSONs, the logs and the run folders (no dataset view,
# no ultralytics checkpoints; model.pt in half precision, which loses nothing: ultralytics' best.pt is half).
#   unpack here: cat OUT/gpu.tar.* | tar -x -C runs/gpu
set -uo pipefail
data=$1 out=$2 hours=${3:-0.09} imgsz=${IMGSZ:-320} workers=${WORKERS:-3}
presets=${PRESETS:-"lite0-unfrozen lite1-unfrozen lite2-unfrozen lite0-yolo26 yolo26n-320"}
runs=${RUNS:-/tmp/gpu-runs} parts=${RUNS:-/tmp/gpu-runs}/parts
limit=$(python3 -c "print(int(float('$hours') * 3600 + 200))")  # training budget + setup and scoring
mkdir -p "$runs" "$parts" "$out"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2 DEFECTLAB_HOME=/tmp/defectlab-home
for preset in $presets; do
  timeout "$limit" python3 scripts/benchmarks/detection/benchmark_detection.py data="$data" preset="$preset" \
      image_size="$imgsz" batch_size=16 epochs=300 time="$hours" workers="$workers" out="$runs" \
      --no-speed --parts "$parts" --suffix=-gpu > "$runs/$preset.log" 2>&1 &
done
wait
tail -n 4 "$runs"/*.log
nvidia-smi --query-gpu=name,memory.used --format=csv || true
python3 - "$runs" <<'PY'
import sys, pathlib, torch
for p in pathlib.Path(sys.argv[1]).glob("*/model.pt"):
    state = torch.load(p, weights_only=True)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, p)
PY
tar -C "$runs" --exclude='*/data' --exclude='*/train/weights' --exclude='*.jpg' --exclude='*.png' -cf - . \
  | split -b 15M - "$out/gpu.tar."
ls -la "$out" "$parts"
