"""Saving matplotlib figures the one way every plot of the suite does (folder created, figure closed)."""
from __future__ import annotations

from pathlib import Path


def save(fig, path: str | Path, dpi: int = 110) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
