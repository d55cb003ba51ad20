"""defectlab detection: locate defects with bounding boxes (ultralytics YOLO, offline). Depends on `shared` and
`backbones`. The task contract: `task.train(recipe) -> DetectorRun`, `run.evaluate(side)`, `task.load(path)`,
`run.predictor().predict(images)`."""
