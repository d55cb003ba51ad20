"""mkdocs hook: the pictures under scripts/benchmarks/results/ join the site as results/img/NAME.png, so the result
pages show the committed pictures without a second copy in docs/ (and links to them are checked like any other)."""
from pathlib import Path

from mkdocs.structure.files import File

RESULTS = Path(__file__).resolve().parents[2] / "scripts" / "benchmarks" / "results"


def on_files(files, config):
    for picture in sorted(RESULTS.glob("*.png")):
        files.append(File.generated(config, f"results/img/{picture.name}", abs_src_path=str(picture)))
    return files
