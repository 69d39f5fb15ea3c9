"""Images compared by what they look like (SSIM on grayscale), not by their bytes."""

from __future__ import annotations

import base64
import binascii
import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and pillow load only when an image is compared (they cost ~0.4 s at start-up)
    import numpy as np
    from PIL import Image

__all__ = ["image_similarity", "decode_image"]

SIDE = 256  # both images are resized to this square before comparing
WINDOW = 7


def decode_image(data: str | bytes) -> "Image.Image | None":
    """A PIL image from a notebook's base64 output (PNG, JPEG, GIF), or ``None`` if it is not one."""
    from PIL import Image, UnidentifiedImageError

    try:
        raw = base64.b64decode(data if isinstance(data, (bytes, str)) else "", validate=False)
        image = Image.open(io.BytesIO(raw))
        image.load()
        return image
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError):
        return None


def _gray(image: "Image.Image") -> "np.ndarray":
    import numpy as np
    from PIL import Image

    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    resized = image.convert("L").resize((SIDE, SIDE), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float64)


def _box(values: "np.ndarray") -> "np.ndarray":
    """Mean over each WINDOW×WINDOW window (valid part), via a summed-area table."""
    import numpy as np

    table = np.pad(values, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    k = WINDOW
    return (table[k:, k:] - table[:-k, k:] - table[k:, :-k] + table[:-k, :-k]) / (k * k)


def _ssim(a: "np.ndarray", b: "np.ndarray") -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = _box(a), _box(b)
    var_a = _box(a * a) - mu_a**2
    var_b = _box(b * b) - mu_b**2
    cov = _box(a * b) - mu_a * mu_b
    score = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    # Plots are mostly blank background, where every window scores 1 and hides a moved
    # curve: average over the windows where either image has something drawn.
    busy = (var_a + var_b) > 1.0
    if not busy.any():
        return float(score.mean())
    return float(score[busy].mean())


def image_similarity(a: str | bytes, b: str | bytes) -> float:
    """Similarity from 0 (unrelated) to 1 (identical); images of different shapes score low."""
    if a == b:
        return 1.0
    first, second = decode_image(a), decode_image(b)
    if first is None or second is None:
        return 0.0
    ratio_a = first.width / max(1, first.height)
    ratio_b = second.width / max(1, second.height)
    if abs(ratio_a - ratio_b) > 0.05 * max(ratio_a, ratio_b):
        return 0.0  # a different aspect ratio is a different figure
    return max(0.0, min(1.0, _ssim(_gray(first), _gray(second))))
