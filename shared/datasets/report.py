"""Validation report: every quirk or fault found while reading a dataset, counted by kind."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field

# Each kind of finding and what it means; 'error' kinds make a file unusable, 'note' kinds are kept quirks.
FINDING_KINDS = {
    "unreadable_image": ("error", "image cannot be decoded"),
    "truncated_image": ("error", "image file ends early"),
    "xml_unparsable": ("error", "annotation is not well-formed XML"),
    "xml_missing_field": ("error", "annotation lacks a required field; the object or file is skipped"),
    "label_unparsable": ("error", "YOLO label line is not 'class cx cy w h'; the line is skipped"),
    "unknown_class": ("error", "label class id is not in data.yaml names; the box is skipped"),
    "missing_annotation": ("error", "image has no annotation file; kept without boxes"),
    "orphan_annotation": ("error", "annotation has no image"),
    "box_outside_image": ("error", "box extends past the image border"),
    "box_degenerate": ("error", "box has zero or negative width or height"),
    "size_mismatch": ("note", "annotation <size> differs from the decoded image size"),
    "duplicate_box": ("note", "the same box appears twice in one annotation"),
    "cross_class_box": ("note", "box <name> differs from the file-name class; the box keeps its <name>"),
    "filename_without_extension": ("note", "annotation <filename> has no extension; matched by file stem"),
    "byte_identical_files": ("note", "two files are byte-identical; they are twins and share a split side"),
    "difficult_box": ("note", "box is flagged <difficult>1</difficult>"),
    "empty_class": ("error", "class folder holds no images"),
}


@dataclass(frozen=True)
class Finding:
    kind: str
    path: str
    message: str

    def line(self) -> str:
        return f"{self.path}: {self.kind}: {self.message}"


@dataclass
class ValidationReport:
    """Findings plus summary counts of what was read. Never raises for bad files; it records them."""

    dataset: str = ""
    layout: str = ""
    findings: list[Finding] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def add(self, kind: str, path, message: str) -> None:
        if kind not in FINDING_KINDS:
            raise ValueError(f"unknown finding kind {kind!r}")
        self.findings.append(Finding(kind, str(path), " ".join(message.split())))

    def extend(self, other: ValidationReport) -> None:
        self.findings.extend(other.findings)

    def counts(self) -> dict[str, int]:
        counter = Counter(f.kind for f in self.findings)
        return {kind: counter[kind] for kind in FINDING_KINDS if counter[kind]}

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    @property
    def n_errors(self) -> int:
        return sum(1 for f in self.findings if FINDING_KINDS[f.kind][0] == "error")

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "layout": self.layout,
            "summary": self.summary,
            "counts": self.counts(),
            "kinds": {k: {"severity": s, "meaning": m} for k, (s, m) in FINDING_KINDS.items()},
            "findings": [asdict(f) for f in self.findings],
        }

    def to_json(self, **extra) -> str:
        return json.dumps({**extra, **self.to_dict()}, indent=2)

    def to_text(self, max_lines_per_kind: int = 5) -> str:
        lines = [f"Dataset: {self.dataset} ({self.layout})"]
        for key, value in self.summary.items():
            lines.append(f"  {key}: {value}")
        counts = self.counts()
        if not counts:
            lines.append("No findings.")
            return "\n".join(lines)
        lines.append("Findings:")
        for kind, n in counts.items():
            severity, meaning = FINDING_KINDS[kind]
            lines.append(f"  {kind:<27} {n:>5}  [{severity}] {meaning}")
            examples = self.of_kind(kind)
            for finding in examples[:max_lines_per_kind]:
                lines.append(f"      {finding.path}: {finding.message}")
            if len(examples) > max_lines_per_kind:
                lines.append(f"      ... {len(examples) - max_lines_per_kind} more (all are in the JSON report)")
        return "\n".join(lines)
