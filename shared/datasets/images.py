"""Image files: probing, hashing and decoding. The one place that turns grayscale into 3 channels."""
from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..suite.errors import DataError

IMAGE_SUFFIXES = (".bmp", ".jpg", ".jpeg", ".png", ".tif", ".tiff")


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def expand_image_inputs(images) -> list:
    """A path, folder, array or list of them -> flat list: folders become their image files (sorted,
    recursive); files, even missing ones, stay as paths (the caller reports them); arrays pass through."""
    if isinstance(images, (str, Path, np.ndarray)):
        images = [images]
    items = []
    for item in images:
        if isinstance(item, np.ndarray):
            items.append(item)
        elif Path(item).is_dir():
            items += sorted(p for p in Path(item).rglob("*") if is_image_file(p))
        else:
            items.append(Path(item))
    return items


def expand_globs(words: list[str]) -> list:
    """Shell-style globs the shell did not expand (quoted, or on Windows) -> their files; other words stay."""
    items = []
    for word in words:
        matches = sorted(glob.glob(word, recursive=True)) if any(c in word for c in "*?[") else []
        items += matches or [word]
    return items


def file_sha1(path: str | Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class ImageProbe:
    width: int
    height: int
    mode: str
    problem: str | None = None  # None, or 'truncated_image' / 'unreadable_image'
    detail: str = ""


def probe_image(path: str | Path) -> ImageProbe:
    """Decode the whole file once to learn its size and whether it is intact. Never raises."""
    try:
        with Image.open(path) as image:
            size, mode = image.size, image.mode
            image.load()
        return ImageProbe(size[0], size[1], mode)
    except (UnidentifiedImageError, SyntaxError) as error:
        return ImageProbe(0, 0, "", "unreadable_image", f"not a decodable image ({error})")
    except OSError as error:
        text = str(error)
        kind = "truncated_image" if "truncated" in text or "broken data" in text else "unreadable_image"
        return ImageProbe(0, 0, "", kind, text)
    except Exception as error:  # noqa: BLE001 (decoders and plugins, e.g. ultralytics' patches, raise other kinds)
        return ImageProbe(0, 0, "", "unreadable_image", f"not a decodable image ({type(error).__name__}: {error})")


def load_image(path: str | Path, channels: int = 3, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """Decode to uint8 HxWxC (C = 1 or 3). Gray pictures are repeated into 3 channels; colour ones
    asked for as 1 channel are converted to luminance. size resizes (bilinear) to size x size or (w, h).
    Raises DataError naming the file when it cannot be decoded."""
    if channels not in (1, 3):
        raise ValueError("channels must be 1 or 3")
    try:
        with Image.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB")
            if size is not None:
                target = (size, size) if isinstance(size, int) else tuple(size)
                if image.size != target:
                    image = image.resize(target, Image.BILINEAR)
            array = np.asarray(image, dtype=np.uint8)
    except Exception as error:  # noqa: BLE001 (any decoder failure is this file's problem, said in one line)
        raise DataError(path, f"cannot decode image ({error})") from None
    return array[..., None] if channels == 1 else array


def to_rgb(array: np.ndarray, name: str = "array") -> np.ndarray:
    """Any in-memory picture -> uint8 H x W x 3: gray (HxW, HxWx1), RGB, RGBA (alpha dropped), 16-bit or float
    (scaled to its own range when it is not 0..255). DataError for shapes that are not pictures."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] in (1, 3, 4):
        array = array[..., :3] if array.shape[-1] != 1 else array[..., 0]
    if array.ndim not in (2, 3) or min(array.shape[:2]) < 1:
        raise DataError(name, f"not a picture: shape {array.shape} (expected H x W, H x W x 1, 3 or 4)")
    if array.dtype != np.uint8:
        values = array.astype(np.float64)
        top = values.max() if values.size else 0
        if array.dtype == np.bool_:
            values = values * 255
        elif np.issubdtype(array.dtype, np.floating) and top <= 1.0:
            values = values * 255  # 0..1 floats
        elif top > 255:
            values = values / (65535.0 if top <= 65535 else top) * 255  # 16-bit and wider
        array = np.clip(np.round(values), 0, 255).astype(np.uint8)
    return np.repeat(array[..., None], 3, axis=2) if array.ndim == 2 else np.ascontiguousarray(array)


def decode_input(item) -> np.ndarray:
    """A path or an in-memory array -> uint8 H x W x 3 at its own size (the one decode of a picture that every
    task's predictor shares). 16-bit files keep their range (scaled to 8 bits). DataError naming the input."""
    if isinstance(item, np.ndarray):
        return to_rgb(item)
    path = Path(item)
    if not path.is_file():
        raise DataError(path, "no such file" if not path.exists() else "not a file")
    return _decode(path, path)


def decode_bytes(data: bytes, name: str = "upload") -> np.ndarray:
    """Encoded picture bytes (an upload) -> uint8 H x W x 3, as decode_input decodes files. Stricter than files:
    a picture over Pillow's pixel limit is refused at once (Pillow only warns below twice the limit)."""
    import io
    import warnings

    if not data:
        raise DataError(name, "empty file")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return _decode(io.BytesIO(data), name)


def _decode(source, name) -> np.ndarray:
    try:
        with Image.open(source) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                return to_rgb(np.asarray(image), str(name))
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DataError(name, f"image too large ({error})") from None
    except ImportError:  # no decoder took it, and a plugin added by a library (HEIF, by ultralytics) is missing
        raise DataError(name, "cannot decode image (not a picture format this installation reads)") from None
    except Exception as error:  # noqa: BLE001 (any decoder failure is this file's problem, said in one line)
        raise DataError(name, f"cannot decode image ({error})") from None


def resize_rgb(array: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """uint8 H x W x 3 -> size x size (or (w, h)), bilinear, as load_image resizes files."""
    target = (size, size) if isinstance(size, int) else tuple(size)
    if array.shape[1::-1] == target:
        return array
    return np.asarray(Image.fromarray(array).resize(target, Image.BILINEAR))


@dataclass(frozen=True)
class Placement:
    """Where a letterboxed picture's content sits in its size x size square (pixels of the square), and the
    picture's own width and height."""
    left: int
    top: int
    width: int
    height: int
    original: tuple[int, int]  # (width, height)


def letterbox(array: np.ndarray, size: int) -> tuple[np.ndarray, Placement]:
    """H x W x C -> size x size keeping the aspect ratio: the longer side scaled to `size` (bilinear, as
    load_image), the rest filled by mirroring the picture, so a texture model sees texture, not a flat band (a
    flat band would move a texture descriptor far from square training pictures). A square picture comes out
    exactly as load_image(..., size) gives it."""
    h, w = array.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    image = Image.fromarray(array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array)
    scaled = np.asarray(image if (nw, nh) == (w, h) else image.resize((nw, nh), Image.BILINEAR))
    scaled = scaled.reshape(nh, nw, -1)
    left, top = (size - nw) // 2, (size - nh) // 2
    pad = ((top, size - nh - top), (left, size - nw - left), (0, 0))
    square = np.pad(scaled, pad, mode="symmetric") if (nw, nh) != (size, size) else scaled
    return np.ascontiguousarray(square.reshape(size, size, *array.shape[2:])), Placement(left, top, nw, nh, (w, h))


ASPECTS = ("letterbox", "resize")  # how a non-square picture becomes a square input (to_square)


def to_square(array: np.ndarray, size: int, aspect: str = "letterbox") -> tuple[np.ndarray, Placement]:
    """H x W x C -> size x size: `letterbox` (aspect kept, mirrored fill) or `resize` (stretched, as load_image;
    the content is then the whole square). Either way content / from_letterbox take maps back to the picture, and
    a square picture comes out the same."""
    if aspect == "letterbox":
        return letterbox(array, size)
    if aspect != "resize":
        raise ValueError(f"aspect {aspect!r}: want one of {', '.join(ASPECTS)}")
    h, w = array.shape[:2]
    image = Image.fromarray(array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array)
    square = np.asarray(image if (w, h) == (size, size) else image.resize((size, size), Image.BILINEAR))
    return np.ascontiguousarray(square.reshape(size, size, *array.shape[2:])), Placement(0, 0, size, size, (w, h))


def content(array: np.ndarray, placement: Placement) -> np.ndarray:
    """The part of a letterboxed square (picture or map) that is the picture, at the letterboxed scale."""
    p = placement
    return array[p.top:p.top + p.height, p.left:p.left + p.width]


def from_letterbox(values: np.ndarray, placement: Placement, size: tuple[int, int] | None = None) -> np.ndarray:
    """A float map over the letterboxed square -> the picture's content only, resized (bilinear) to `size`
    (w, h; default the picture's own size): heatmaps at the original resolution."""
    crop = np.ascontiguousarray(content(values, placement), dtype=np.float32)
    target = tuple(size or placement.original)
    if crop.shape[::-1] == target:
        return crop
    return np.asarray(Image.fromarray(crop, mode="F").resize(target, Image.BILINEAR))
