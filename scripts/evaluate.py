"""The common evaluation script: `python scripts/evaluate.py DATA [options]` is `defectlab evaluate DATA [options]`
(see --help): the classifier, the detector and the anomaly detector scored on one named split, evaluation.json
(schema in the README) and a self-contained HTML report."""
import sys

from shared.suite.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
