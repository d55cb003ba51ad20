"""defectlab classification: name the defect in a surface image (Keras 3 transfer learning).
Depends on `shared` only. The task contract (shared.suite): `task.train(recipe) -> ClassifierRun`,
`run.evaluate(side)`, `task.load(path)`, `run.predictor().predict(images)`. Importing it changes nothing in
the process; `shared.suite.console.setup()` (called by the CLI) quiets TensorFlow before it loads."""
