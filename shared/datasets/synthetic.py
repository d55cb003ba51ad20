"""Seeded procedural NEU-like data: six defect kinds drawn on steel-like textures, with boxes, written in
the same on-disk layouts as the real copies (NEU-DET VOC, Kaggle NEU-CLS split folders, class folders).
The embedded default for the demo and the fixture for tests; a few hundred images take a few seconds."""
from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element, SubElement, tostring

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from . import neu

LAYOUTS = ("neu-det", "neu-cls", "folders")


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """Rolled-steel look: a smooth mottle, horizontal rolling streaks and fine grain."""
    coarse = Image.fromarray(rng.normal(0, 1, (size // 8, size // 8)).astype(np.float32), mode="F")
    mottle = np.asarray(coarse.resize((size, size), Image.BICUBIC))
    streaks = np.repeat(rng.normal(0, 1, (size, 1)), size, axis=1)
    base = rng.uniform(100, 160)
    return base + 10 * mottle + 5 * streaks + rng.normal(0, 4, (size, size))


def _region(rng, size, lo, hi):
    w, h = int(rng.integers(lo, hi)), int(rng.integers(lo, hi))
    x0, y0 = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
    return x0, y0, x0 + w, y0 + h


def _crazing(draw, rng, size):
    x0, y0, x1, y1 = _region(rng, size, 70, size - 10)
    for _ in range(int(rng.integers(25, 45))):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        points = [(x, y)]
        for _ in range(int(rng.integers(2, 5))):
            x = float(np.clip(x + rng.normal(0, 7), x0, x1))
            y = float(np.clip(y + rng.normal(0, 7), y0, y1))
            points.append((x, y))
        draw.line(points, fill=255, width=1)
    return [(x0, y0, x1, y1)]


def _inclusion(draw, rng, size):
    boxes = []
    for _ in range(int(rng.integers(1, 4))):
        w, h = int(rng.integers(8, 18)), int(rng.integers(20, 60))  # real inclusions are dark, elongated spots
        x0, y0 = int(rng.integers(2, size - w - 2)), int(rng.integers(2, size - h - 2))
        draw.ellipse((x0, y0, x0 + w, y0 + h), fill=255)
        boxes.append((x0, y0, x0 + w, y0 + h))
    return boxes


def _patches(draw, rng, size):
    boxes = []
    for _ in range(int(rng.integers(1, 3))):
        x0, y0, x1, y1 = _region(rng, size, 60, 130)  # real patches are large dark areas
        for _ in range(int(rng.integers(6, 12))):
            cx, cy = rng.uniform(x0 + 8, x1 - 8), rng.uniform(y0 + 8, y1 - 8)
            r = rng.uniform(6, min(x1 - x0, y1 - y0) / 2.5)
            draw.ellipse((max(cx - r, x0), max(cy - r, y0), min(cx + r, x1), min(cy + r, y1)), fill=255)
        boxes.append((x0, y0, x1, y1))
    return boxes


def _pitted(draw, rng, size):
    boxes = []
    for _ in range(int(rng.integers(1, 3))):
        x0, y0, x1, y1 = _region(rng, size, 30, 80)
        for _ in range(int(rng.integers(15, 40))):
            cx, cy, r = rng.uniform(x0 + 2, x1 - 2), rng.uniform(y0 + 2, y1 - 2), rng.uniform(0.8, 2.5)
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
        boxes.append((x0, y0, x1, y1))
    return boxes


def _rolled_in_scale(draw, rng, size):
    boxes = []
    for _ in range(int(rng.integers(1, 4))):
        x0, y0, x1, y1 = _region(rng, size, 25, 70)
        for _ in range(int(rng.integers(8, 25))):
            cx, cy = rng.uniform(x0 + 4, x1 - 4), rng.uniform(y0 + 4, y1 - 4)
            angles = np.sort(rng.uniform(0, 2 * np.pi, 5))
            radius = rng.uniform(1.5, 4.5, 5)
            draw.polygon([(cx + 2.2 * r * np.cos(a), cy + r * np.sin(a)) for a, r in zip(angles, radius)], fill=255)
        boxes.append((x0, y0, x1, y1))
    return boxes


def _scratches(draw, rng, size):
    boxes = []
    for _ in range(int(rng.integers(1, 4))):
        length = rng.uniform(60, size - 10)
        angle = np.pi / 2 + rng.normal(0, 0.35)
        cx, cy = rng.uniform(20, size - 20), size / 2 + rng.normal(0, size / 8)
        dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
        x0, x1 = sorted(np.clip([cx - dx, cx + dx], 1, size - 2))
        y0, y1 = sorted(np.clip([cy - dy, cy + dy], 1, size - 2))
        ends = [(cx - dx, cy - dy), (cx + dx, cy + dy)]
        draw.line([(float(np.clip(x, 1, size - 2)), float(np.clip(y, 1, size - 2))) for x, y in ends],
                  fill=255, width=int(rng.integers(2, 4)))
        boxes.append((x0 - 2, y0 - 2, x1 + 2, y1 + 2))
    return boxes


# class -> (drawer, signed contrast range, blur radius). Contrasts are set so that each kind is as plain to see as
# in the real NEU pictures (frozen ImageNet features separate the real classes almost perfectly): rolled-in scale is
# bright flakes, pits and inclusions dark, scratches bright lines.
DEFECTS = {
    "crazing": (_crazing, (-60, -45), 0.6),
    "inclusion": (_inclusion, (-80, -55), 1.2),
    "patches": (_patches, (-60, -40), 3.0),
    "pitted_surface": (_pitted, (-80, -60), 0.7),
    "rolled-in_scale": (_rolled_in_scale, (45, 70), 0.8),
    "scratches": (_scratches, (55, 80), 0.8),
}


MIN_SIDE = 160  # the defects' sizes are drawn in pixels: below about 140 px some no longer fit


def draw_picture(class_name: str, number: int, seed: int = 0, size: int = 200, shape: tuple[int, int] | None = None):
    """One synthetic picture: (uint8 HxW gray image, [(xmin, ymin, xmax, ymax), ...]). shape (width, height): a
    non-square picture, cut from the square one of its longer side around the centre of its largest box (the
    boxes clipped to it; those left under 4 px wide or high dropped), as one cuts a wide frame of a steel strip."""
    if max(shape or (size,)) < MIN_SIDE or min(shape or (size,)) < 1:
        raise ValueError(f"synthetic pictures need a longer side of at least {MIN_SIDE} px, got {shape or size}")
    if shape is not None:
        width, height = shape
        square, boxes = draw_picture(class_name, number, seed, max(width, height))
        return crop_around(square, boxes, width, height)
    drawer, contrast, blur = DEFECTS[class_name]
    rng = np.random.default_rng([seed, neu.CLASSES.index(class_name), number])
    image = _texture(rng, size)
    mask = Image.new("L", (size, size), 0)
    boxes = drawer(ImageDraw.Draw(mask), rng, size)
    mask = np.asarray(mask.filter(ImageFilter.GaussianBlur(blur)), dtype=np.float32) / 255
    image += rng.uniform(*contrast) * mask
    clipped = [(max(1, int(a)), max(1, int(b)), min(size, int(np.ceil(c))), min(size, int(np.ceil(d))))
               for a, b, c, d in boxes]
    return np.clip(image, 0, 255).astype(np.uint8), clipped


def crop_around(image: np.ndarray, boxes, width: int, height: int):
    """The width x height window of image around the centre of its largest box, and the boxes in it."""
    xmin, ymin, xmax, ymax = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    left = int(np.clip((xmin + xmax) // 2 - width // 2, 0, image.shape[1] - width))
    top = int(np.clip((ymin + ymax) // 2 - height // 2, 0, image.shape[0] - height))
    kept = []
    for a, b, c, d in boxes:
        a, b = max(a - left, 1), max(b - top, 1)
        c, d = min(c - left, width), min(d - top, height)
        if c - a >= 4 and d - b >= 4:
            kept.append((a, b, c, d))
    return np.ascontiguousarray(image[top:top + height, left:left + width]), kept


def voc_xml(file_name: str, size: int | tuple[int, int], class_name: str, boxes) -> bytes:
    """size: the side of a square picture, or (width, height)."""
    width, height = (size, size) if isinstance(size, int) else size
    root = Element("annotation")
    SubElement(root, "folder").text = class_name[:2]
    SubElement(root, "filename").text = file_name
    dims = SubElement(root, "size")
    for tag, value in (("width", width), ("height", height), ("depth", 1)):
        SubElement(dims, tag).text = str(value)
    for xmin, ymin, xmax, ymax in boxes:
        obj = SubElement(root, "object")
        SubElement(obj, "name").text = class_name
        SubElement(obj, "difficult").text = "0"
        box = SubElement(obj, "bndbox")
        for tag, value in (("xmin", xmin), ("ymin", ymin), ("xmax", xmax), ("ymax", ymax)):
            SubElement(box, tag).text = str(value)
    return tostring(root)


def _kaggle_cls_side(number: int, per_class: int) -> str:
    order = sorted(range(1, per_class + 1), key=lambda k: f"{k}.")
    rank = order.index(number)
    return "test" if rank < 12 else "valid" if rank < 24 else "train"


def synthesize(out_dir: str | Path, per_class: int = 60, seed: int = 0, size: int = 200,
               layouts=("neu-det", "neu-cls"), classes=neu.CLASSES, shape: tuple[int, int] | None = None) -> Path:
    """Write per_class pictures of each class in each layout under out_dir:
    NEU-DET/{IMAGES,ANNOTATIONS}, NEU-Metal-Surface-Defects/{train,valid,test}/<Class>, folders/<class>.
    The same picture (class, number) is identical across layouts, as in the real NEU copies. shape (width,
    height): non-square pictures instead of size x size ones (draw_picture)."""
    unknown = set(layouts) - set(LAYOUTS)
    if unknown:
        raise ValueError(f"unknown layouts {sorted(unknown)}; choose from {LAYOUTS}")
    if "neu-cls" in layouts and per_class < 25:
        raise ValueError("the NEU-CLS layout (kaggle-cls rule: 12 test + 12 valid per class) needs per_class >= 25")
    out_dir = Path(out_dir)
    for class_name in classes:
        for number in range(1, per_class + 1):
            gray, boxes = draw_picture(class_name, number, seed, size, shape)
            stem = neu.picture_id(class_name, number)
            if "neu-det" in layouts:
                image_dir, xml_dir = out_dir / "NEU-DET" / "IMAGES", out_dir / "NEU-DET" / "ANNOTATIONS"
                image_dir.mkdir(parents=True, exist_ok=True)
                xml_dir.mkdir(parents=True, exist_ok=True)
                Image.fromarray(gray).convert("RGB").save(image_dir / f"{stem}.jpg", quality=92)
                (xml_dir / f"{stem}.xml").write_bytes(voc_xml(f"{stem}.jpg", shape or size, class_name, boxes))
            if "neu-cls" in layouts:
                side = _kaggle_cls_side(number, per_class)
                folder = out_dir / "NEU-Metal-Surface-Defects" / side / neu.CLS_FOLDER[class_name]
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(gray).save(folder / neu.cls_file_name(class_name, number))
            if "folders" in layouts:
                folder = out_dir / "folders" / class_name
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(gray).save(folder / f"{stem}.png")
    return out_dir
