"""defectlab anomaly: flag defect patterns no model was trained on (anomalib models and texture-knn). Depends on
`shared` and `backbones`. The task contract: `task.train(recipe) -> AnomalyRun`, `run.evaluate(side)`,
`task.load(path)`, `run.predictor().predict(images)`. Importing it changes nothing in the process."""
