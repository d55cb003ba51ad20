#!/usr/bin/env bash
# The one prepared GPU call of the detection benchmark (issue "The defect locator, round 2"): three routes trained
# side by side at 320 px for the same wall-clock budget on one GPU, each scored on valid and test, with and without
# TTA. Which route heads the table is decided by --merge on validation mAP, as for every other part.
#   usage: scripts/benchmarks/gpu_detection.sh DATA OUT [HOURS]
# DATA: NEU-DET folder; OUT: where part JSONs, logs and the run folders (tar, 15 MB pieces) land.
set -uo pipefail
data=$1 out=$2 hours=${3:-0.09} imgsz=${IMGSZ:-320}
runs=${RUNS:-/tmp/gpu-runs} parts=$out/parts
limit=$(python3 -c "print(int(float('$hours') * 3600 + 150))")  # training budget + setup and scoring
mkdir -p "$runs" "$parts"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=4 DEFECTLAB_HOME=/tmp/defectlab-home
for preset in lite0-imagenet lite0-unfrozen yolov8n-320; do
  timeout "$limit" python3 scripts/benchmark_detection.py --data "$data" --preset "$preset" --imgsz "$imgsz" --epochs 300 \
      --hours "$hours" --workers 4 --no-speed --runs "$runs" --parts "$parts" --suffix=-gpu \
      > "$runs/$preset.log" 2>&1 &
done
wait
tail -n 5 "$runs"/*.log
cat "$runs"/*.log > "$out/log.txt"
# run folders without the YOLO data view (the dataset) and ultralytics' checkpoints (model.pt is the network)
tar -C "$runs" --exclude='*/data' --exclude='*/train/weights' --exclude='*.jpg' --exclude='*.png' -cf - . | split -b 15M - "$out/runs.tar."
ls -la "$out" "$parts"
