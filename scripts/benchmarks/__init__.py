"""The benchmarks: one folder per task (classification, detection, anomaly, inspection, service), each script
running `defectlab` commands where one exists and writing its numbers through `results` (docs/reproducing.md)."""
