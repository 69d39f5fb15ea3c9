"""Images compared by what they look like, not by their bytes.

Two renders of the same figure differ in canvas size (a tick label a few pixels wider, another
DPI, another default figure size), font and antialiasing; a real change moves curves, bars,
points or arrows, often by a few percent of the plot. The steps:

1. decode, flatten onto white, crop both to the drawn part (the bounding box of what is not
   background): a canvas a few pixels taller or wider is then the same figure;
2. resample the re-executed image to the committed one's size (at most ``SIDE`` pixels on the
   longer side); an aspect ratio that changed by more than 5 % is noted as "figure size changed",
   and the content is still scored after resampling;
3. blur both (box of ``BLUR`` pixels: antialiasing, font hinting and a pixel of shift vanish),
   take the colour difference per pixel (largest over R, G, B);
4. text re-rendered (another font, font version or hinting, a DPI that rounds glyphs
   otherwise) changes every glyph but not what the text says: the glyphs (small dark grey
   marks: connected pieces of achromatic ink no larger than ``GLYPH`` of the longer side) are
   found in both images, and when changes touch most tiles that hold glyphs (``RERENDERED``),
   the changes on glyphs are left out;
5. filled areas (bars, histogram bins, contour bands: colours of at least ``FILL_AREA`` pixels
   whose neighbours all have their colour) whose every pixel lies within ``SNAP`` pixel of that
   colour in the other image, both ways, are the same shapes with edges snapped to other pixels
   (matplotlib 3.11 puts each bar edge of 3.10's bar chart a pixel left or right): the changes along
   their edges are left out. A bar 2 pixels taller, or a band that moved further anywhere, keeps
   all of its changes (the whole colour counts, not the edge alone);
6. cut the difference into tiles of ``TILE`` pixels and score each tile by the share of its
   pixels that changed by more than ``LEVEL``; the similarity is 1 − the worst tile's share;
7. other characters (a number in a title: "n = 240" → "n = 252", the data unchanged) change too
   few pixels for a tile, so the glyphs are also compared one by one: when more than half of them
   are drawn the same pixel for pixel (the median to ``SAME_TEXT``: the text was not re-rendered), a glyph whose
   blurred ink changed by more than ``TEXT_CHANGED`` (within ``REACH`` pixels) is another
   character unless its whole word lies a few pixels away (``MOVED``, ``WORD``), and the similarity is at most 1 − its change. Measured on the labelled set: changed
   digits 0.34–0.47, the most a re-placed legend or a JPEG re-encoding changed a glyph 0.18; a
   font, DPI or version change redraws most glyphs (half of them change by 0.1 to 0.6), and then
   no glyph is compared alone (a number changed together with the font, or with the text hinting as
   matplotlib 3.10 → 3.11 changed it, is not seen glyph by glyph: redrawn in the other hinting, the same
   glyph changes as much as another digit does; docs/run-and-compare.md gives the measures);
8. so when the text was redrawn (step 7 compared no glyph) and the score is still above
   ``READ_CHANGED``, both figures are read by Tesseract OCR (paperpack.compare.ocr: the ``tesseract``
   program, upscaled 2 and 3 times, word boxes, only words read the same at both sizes) and a word
   holding digits, read with confidence in both at the same place, whose digits differ is a changed
   number: the similarity is at most ``READ_CHANGED`` and the reason names both readings ("its text
   changed: '240' reads '252'"). Without ``tesseract`` the note says the re-rendered text was not read.

A global mean hides a local change (a dense contourf + quiver plot whose arrows are 20 %
shorter scored 0.964 with the mean SSIM used before); the worst tile does not. The constants
and the default ``image_threshold`` were chosen on the labelled set of tests/compare_pairs.py
(see docs/run-and-compare.md and benchmarks/bench_compare.py).
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and pillow load only when an image is compared (they cost ~0.4 s at start-up)
    import numpy as np
    from PIL import Image

__all__ = ["image_similarity", "decode_image", "ImageScore"]

SIDE = 512  # the longer side of the working size
BLUR = 3  # box blur, pixels at the working size
TILE = 16  # tile side, pixels at the working size
LEVEL = 64.0  # a pixel changed when a channel moved by more than this (0-255) after the blur
BACKGROUND = 16.0  # what differs from white by less than this is background, for cropping
REGISTER_SCALE = 0.03  # registration: scales searched, 1 ± this
REGISTER_SHIFT = 4.0  # registration: shifts searched, ± this many pixels
ASPECT = 0.05  # relative change of the aspect ratio reported as "figure size changed"
GLYPH = 0.05  # a glyph: a piece of dark grey ink at most this share of the longer side, both ways
INK_DARK = 170.0  # text ink: mean channel below this (0-255)
INK_GREY = 48.0  # text ink: channels within this of each other (black and grey, not a colour)
RERENDERED = 0.1  # the text was re-rendered when changes touch more than this share of glyph tiles
SAME_TEXT = 0.1  # the text was not re-rendered when the median glyph changed by at most this (pixel for pixel)
TEXT_CHANGED = 0.25  # a glyph whose blurred ink changed by more than this is another character
REACH = 2  # glyphs are compared within this many pixels (a legend placed a fraction of a pixel elsewhere)
MOVED = 12  # a changed glyph whose word lies within this many pixels in the other image was moved
WORD = 4  # glyphs this close to each other are one word, which moves as a whole
MARGIN = MOVED + REACH + 2  # white padding around the images for the glyph comparisons
FILL_TOLERANCE = 8.0  # a pixel has a fill's colour when each channel is within this of it
FILL_AREA = 16  # a fill: a colour of at least this many flat pixels
SNAP = 1  # a fill's edges may lie this many pixels elsewhere (pixel snapping of another renderer)
READ_CHANGED = 0.5  # the similarity at most of a figure whose redrawn text reads another number (OCR)
FILLS = 32  # at most this many fill colours are looked at, those most often beside changed pixels


@dataclass(frozen=True)
class ImageScore:
    """A similarity from 0 (every part changed) to 1 (identical), and a note for the reader."""

    value: float
    note: str = ""  # e.g. "; the figure size changed: 640x480 → 600x400"
    unread: str = ""  # why the figure's re-rendered text was not read (no tesseract, …): what was not checked


def decode_image(data: str | bytes) -> Image.Image | None:
    """A PIL image from a notebook's base64 output (PNG, JPEG, GIF), or ``None`` if it is not one."""
    from PIL import Image, UnidentifiedImageError

    try:
        raw = base64.b64decode(data if isinstance(data, (bytes, str)) else "", validate=False)
        image = Image.open(io.BytesIO(raw))
        image.load()
        return image
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError):
        return None


def _on_white(image: Image.Image) -> Image.Image:
    from PIL import Image

    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _crop(image: Image.Image) -> Image.Image:
    """The bounding box of what is drawn (the whole image when nothing is)."""
    import numpy as np

    pixels = np.asarray(image, dtype=np.float64)
    drawn = (255.0 - pixels).max(axis=2) > BACKGROUND
    rows, cols = np.flatnonzero(drawn.any(axis=1)), np.flatnonzero(drawn.any(axis=0))
    if not len(rows):
        return image
    return image.crop((int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1))


def _box(values: np.ndarray, k: int) -> np.ndarray:
    """Mean over each k×k window (same size, edges padded), via a summed-area table; per channel."""
    import numpy as np

    before, after = k // 2, k - 1 - k // 2
    padded = np.pad(values, ((before, after), (before, after), (0, 0)), mode="edge")
    table = np.pad(padded, ((1, 0), (1, 0), (0, 0))).cumsum(0).cumsum(1)
    return (table[k:, k:] - table[:-k, k:] - table[k:, :-k] + table[:-k, :-k]) / (k * k)


def _worst_tile(changed: np.ndarray) -> float:
    """The largest share of changed pixels in a TILE×TILE tile (tiles overlap by half; the last row and
    column of tiles reach past the image's edge, where nothing changed, so no strip is left out)."""
    import numpy as np

    k, step = min(TILE, *changed.shape), TILE // 2
    height, width = changed.shape
    extra = ((0, -(height - k) % step), (0, -(width - k) % step))  # the last tile ends at the edge or past it
    table = np.pad(np.pad(changed, extra).astype(np.float64), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    sums = table[k:, k:] - table[:-k, k:] - table[k:, :-k] + table[:-k, :-k]
    return float(sums[::step, ::step].max()) / (k * k)


def _fit_axis(ref: np.ndarray, new: np.ndarray) -> tuple[float, float]:
    """Scale and shift mapping positions along one axis of ``ref`` onto ``new``, from ink profiles."""
    import numpy as np

    positions = np.arange(len(ref), dtype=np.float64)
    fit = (1.0, 0.0)  # kept unless another fit is strictly better
    best = float(np.abs(ref - new).sum())
    for scale in np.arange(1 - REGISTER_SCALE, 1 + REGISTER_SCALE + 1e-9, REGISTER_SCALE / 15):
        for shift in np.arange(-REGISTER_SHIFT, REGISTER_SHIFT + 1e-9, 0.5):
            cost = float(np.abs(ref - np.interp(positions * scale + shift, positions, new)).sum())
            if cost < best:
                best, fit = cost, (float(scale), float(shift))
    return fit


def _register(ref: np.ndarray, new: Image.Image) -> Image.Image:
    """``new`` scaled and shifted (a few pixels, a few percent) so its ink lies over ``ref``'s."""
    import numpy as np
    from PIL import Image

    ink_ref = 255.0 - ref.mean(axis=2)
    ink_new = 255.0 - np.asarray(new, dtype=np.float64).mean(axis=2)
    sx, tx = _fit_axis(ink_ref.sum(axis=0), ink_new.sum(axis=0))
    sy, ty = _fit_axis(ink_ref.sum(axis=1), ink_new.sum(axis=1))
    return new.transform(
        new.size, Image.Transform.AFFINE, (sx, 0, tx, 0, sy, ty), Image.Resampling.BILINEAR, fillcolor=(255, 255, 255)
    )


@dataclass(frozen=True)
class Glyph:
    """A glyph's box (rows ``top``..``bottom``, columns ``left``..``right``, inclusive) and its pixels."""

    top: int
    left: int
    bottom: int
    right: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]


def _glyphs(pixels: np.ndarray) -> list[Glyph]:
    """The glyphs: 8-connected pieces of dark grey ink whose box is at most ``GLYPH`` of the longer side
    (letters, digits, tick marks; not an axis, a grid line or a black curve)."""
    import numpy as np

    ink = ((pixels.max(axis=2) - pixels.min(axis=2)) < INK_GREY) & (pixels.mean(axis=2) < INK_DARK)
    limit = max(4, round(GLYPH * max(ink.shape)))
    found = []
    seen = np.zeros_like(ink)
    height, width = ink.shape
    for start in zip(*np.nonzero(ink)):
        if seen[start]:
            continue
        seen[start] = True
        piece, todo = [start], [start]
        top, left, bottom, right = start[0], start[1], start[0], start[1]
        while todo:
            y, x = todo.pop()
            for ny in (y - 1, y, y + 1):
                for nx in (x - 1, x, x + 1):
                    if 0 <= ny < height and 0 <= nx < width and ink[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        todo.append((ny, nx))
                        piece.append((ny, nx))
                        top, bottom, left, right = min(top, ny), max(bottom, ny), min(left, nx), max(right, nx)
        if bottom - top < limit and right - left < limit:
            ys, xs = zip(*piece)
            found.append(Glyph(int(top), int(left), int(bottom), int(right), tuple(map(int, ys)), tuple(map(int, xs))))
    return found


def _glyph_mask(shape: tuple[int, int], glyphs: list[Glyph]) -> np.ndarray:
    """The pixels of ``glyphs`` in an image of ``shape``."""
    import numpy as np

    mask = np.zeros(shape, dtype=bool)
    for glyph in glyphs:
        mask[list(glyph.rows), list(glyph.cols)] = True
    return mask


def _glyph_change(
    grey: np.ndarray, other: np.ndarray, glyph: Glyph, reach: int, offset: tuple[int, int] = (0, 0)
) -> float:
    """How much of a glyph's ink differs in ``other`` at its place moved by ``offset``, for the best further
    shift of at most ``reach`` pixels: the summed grey difference over the summed ink of both, on the
    glyph's box and a pixel all round (0 the same, 1 all of it; the box holds the glyph's own ink, so
    that sum is never 0). Both images are padded with ``MARGIN`` pixels of white."""
    import numpy as np

    top, left = glyph.top + MARGIN - 1, glyph.left + MARGIN - 1
    bottom, right = glyph.bottom + MARGIN + 2, glyph.right + MARGIN + 2
    mine = grey[top:bottom, left:right]

    def change(theirs: np.ndarray) -> float:
        return float(np.abs(mine - theirs).sum()) / float(np.maximum(255.0 - mine, 255.0 - theirs).sum())

    return min(
        change(other[top + dy : bottom + dy, left + dx : right + dx])
        for dy in range(offset[0] - reach, offset[0] + reach + 1)
        for dx in range(offset[1] - reach, offset[1] + reach + 1)
    )


def _moved(grey: np.ndarray, other: np.ndarray, glyph: Glyph, mine: list[Glyph], others: list[Glyph]) -> bool:
    """Whether the glyph's word (it and the glyphs of ``mine`` within ``WORD`` pixels of it) lies, each
    glyph the same, within ``MOVED`` pixels in ``other``, where a glyph of ``others`` starts: a label
    placed elsewhere, not another character. The glyph alone would not do: in "0.31" → "0.13" each
    digit has its shape a digit's width away, but its neighbours did not move with it."""
    word = [glyph] + [  # the glyph first: where its shape is not, the rest is not compared
        g
        for g in mine
        if g is not glyph
        and g.top - WORD <= glyph.bottom
        and glyph.top - WORD <= g.bottom
        and g.left - WORD <= glyph.right
        and glyph.left - WORD <= g.right
    ]
    return any(
        abs(o.top - glyph.top) <= MOVED
        and abs(o.left - glyph.left) <= MOVED
        and all(
            _glyph_change(grey, other, g, 1, (o.top - glyph.top, o.left - glyph.left)) <= TEXT_CHANGED for g in word
        )
        for o in others
    )


def _text_change(a: np.ndarray, b: np.ndarray, glyphs_a: list[Glyph], glyphs_b: list[Glyph]) -> tuple[float, int, bool]:
    """The largest change of one glyph, how many glyphs (of the image with more) changed by more than
    ``TEXT_CHANGED``, and whether the text was redrawn: when the text was not re-rendered (the median glyph,
    of both images, unchanged to ``SAME_TEXT`` pixel for pixel: with two glyphs, one changed on each side,
    nothing is compared); else ``(0.0, 0, True)`` (``(0.0, 0, False)`` without glyphs).

    Same text re-rendered (another font, DPI or hinting) changes every glyph a little: no glyph can
    be told apart, and the text is left to the tiles. Other characters at one place of a text that is
    otherwise drawn pixel for pixel the same (a number in a title) change those glyphs a lot: each
    glyph is compared blurred (``BLUR``) within ``REACH`` pixels (a legend placed a fraction of a
    pixel elsewhere is the same text), and a changed glyph whose shape is found a few pixels away
    (:func:`_moved`) was moved, not replaced."""
    import numpy as np

    grey_a, grey_b = (np.pad(pixels.mean(axis=2), MARGIN, constant_values=255.0) for pixels in (a, b))

    def changes(first: np.ndarray, second: np.ndarray, reach: int) -> tuple[list[float], list[float]]:
        return (
            [_glyph_change(first, second, glyph, reach) for glyph in glyphs_a],
            [_glyph_change(second, first, glyph, reach) for glyph in glyphs_b],
        )

    exact_a, exact_b = changes(grey_a, grey_b, 1)
    if not exact_a + exact_b:
        return 0.0, 0, False
    if float(np.median(exact_a + exact_b)) > SAME_TEXT:
        return 0.0, 0, True
    soft_a, soft_b = (_box(grey[:, :, None], BLUR)[:, :, 0] for grey in (grey_a, grey_b))
    change_a, change_b = changes(soft_a, soft_b, REACH)
    replaced_a = [
        c for c, g in zip(change_a, glyphs_a) if c > TEXT_CHANGED and not _moved(soft_a, soft_b, g, glyphs_a, glyphs_b)
    ]
    replaced_b = [
        c for c, g in zip(change_b, glyphs_b) if c > TEXT_CHANGED and not _moved(soft_b, soft_a, g, glyphs_b, glyphs_a)
    ]
    return max(replaced_a + replaced_b, default=0.0), max(len(replaced_a), len(replaced_b)), False


def _read_text(a: Image.Image, b: Image.Image, score: float, note: str) -> tuple[float, str, str]:
    """The score, note and why the text was not read ("" when it was) once the numbers of both figures
    (their text redrawn) are read and compared (paperpack.compare.ocr): a number that reads otherwise caps
    the score at ``READ_CHANGED``."""
    from .ocr import changed_numbers, read_words

    first = read_words(a)
    second = read_words(b) if not first.problem else first
    if first.problem or second.problem:
        problem = first.problem or second.problem
        return score, note + f"; the re-rendered text was not read: {problem}", problem
    changed = changed_numbers(first.words, second.words)
    if not changed:
        return score, note, ""
    readings = ", ".join(f"'{old.text}' reads '{new.text}'" for old, new in changed[:3])
    more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
    return min(score, READ_CHANGED), note + f"; its text changed: {readings}{more} (read by OCR)", ""


def _text_rerendered(changed: np.ndarray, text: np.ndarray) -> bool:
    """Whether changes touch more than ``RERENDERED`` of the tiles that hold glyphs."""
    import numpy as np

    rows, cols = changed.shape[0] // TILE, changed.shape[1] // TILE  # whole tiles (none: no tile holds a glyph)

    def per_tile(mask: np.ndarray) -> np.ndarray:
        return np.asarray(mask[: rows * TILE, : cols * TILE].reshape(rows, TILE, cols, TILE).any(axis=(1, 3)))

    holding = per_tile(text)
    return bool(holding.any()) and float(per_tile(changed & text)[holding].mean()) > RERENDERED


def _grow(mask: np.ndarray, r: int) -> np.ndarray:
    """``mask`` dilated by ``r`` pixels (a square)."""
    import numpy as np

    padded = np.pad(mask, r)
    grown = np.zeros_like(mask)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            grown |= padded[dy : dy + mask.shape[0], dx : dx + mask.shape[1]]
    return grown


def _fills(pixels: np.ndarray) -> set[int]:
    """The colours (as ``0xRRGGBB``) of filled areas (bars, patches, contour bands): colours of at least
    ``FILL_AREA`` pixels whose 8 neighbours have their exact colour, not background."""
    import numpy as np

    colours = _colour_keys(pixels)
    padded = np.pad(colours, 1, mode="edge")
    height, width = colours.shape
    flat = np.ones(colours.shape, dtype=bool)
    for dy in range(3):
        for dx in range(3):
            flat &= padded[dy : dy + height, dx : dx + width] == colours
    found, counts = np.unique(colours[flat & ((255.0 - pixels).max(axis=2) > BACKGROUND)], return_counts=True)
    return {int(colour) for colour in found[counts >= FILL_AREA]}


def _colour_keys(pixels: np.ndarray) -> np.ndarray:
    """Each pixel's colour as one integer, ``0xRRGGBB`` (channels rounded)."""
    import numpy as np

    rgb = np.rint(pixels).astype(np.int32)
    return np.asarray(rgb[:, :, 0] * 65536 + rgb[:, :, 1] * 256 + rgb[:, :, 2])


def _snapped(a: np.ndarray, b: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """Where the two images differ only because a fill's edges lie up to ``SNAP`` pixels elsewhere: for each
    fill colour of either image whose pixels, in each image, all lie within ``SNAP`` of that colour's
    pixels in the other (each edge of each bar snapped to the pixel grid otherwise, the shapes the same),
    the pixels within the blur's reach of where the two disagree on that colour or its edge (a pixel all
    round, where antialiasing blends it). A pixel has a fill's colour when each channel is within
    ``FILL_TOLERANCE`` of it. Only the ``FILLS`` fill colours found most often beside ``changed`` pixels
    are looked at (a heat map has a fill per cell; the changes of the others stay)."""
    import numpy as np

    explained = np.zeros(a.shape[:2], dtype=bool)
    near = _grow(changed, BLUR // 2 + 1)
    beside, counts = np.unique(np.concatenate([_colour_keys(a)[near], _colour_keys(b)[near]]), return_counts=True)
    fills = _fills(a) | _fills(b)
    ranked = [int(key) for _, key in sorted(zip(-counts, beside)) if int(key) in fills][:FILLS]
    small_a, small_b = np.rint(a).astype(np.int16), np.rint(b).astype(np.int16)
    for key in ranked:
        colour = np.array([key // 65536, key // 256 % 256, key % 256], dtype=np.int16)
        in_a, in_b = ((np.abs(p - colour) <= FILL_TOLERANCE).all(axis=2) for p in (small_a, small_b))
        if (in_a & ~_grow(in_b, SNAP)).any() or (in_b & ~_grow(in_a, SNAP)).any():
            continue
        explained |= _grow(_grow(in_a | in_b, 1) & ~(in_a & in_b), BLUR // 2)
    return explained


def _working_size(width: int, height: int) -> tuple[int, int]:
    """The committed image's size scaled down (never up) to at most ``SIDE`` on the longer side, each
    side at least ``TILE``."""
    scale = min(1.0, SIDE / max(width, height))
    return max(TILE, round(width * scale)), max(TILE, round(height * scale))


def compare_images(first: Image.Image, second: Image.Image) -> ImageScore:
    import numpy as np
    from PIL import Image

    a, b = _crop(_on_white(first)), _crop(_on_white(second))
    ratio_a, ratio_b = a.width / max(1, a.height), b.width / max(1, b.height)
    note = ""
    if abs(ratio_a - ratio_b) > ASPECT * max(ratio_a, ratio_b):
        note = f"; the figure size changed: {first.width}x{first.height} → {second.width}x{second.height}"
    size = _working_size(a.width, a.height)
    pixels_a = np.asarray(a.resize(size, Image.Resampling.LANCZOS), dtype=np.float64)
    resized_b = _register(pixels_a, b.resize(size, Image.Resampling.LANCZOS))
    pixels_b = np.asarray(resized_b, dtype=np.float64)
    difference = np.abs(_box(pixels_a, BLUR) - _box(pixels_b, BLUR)).max(axis=2)  # the largest of R, G, B
    changed = difference > LEVEL
    glyphs_a, glyphs_b = _glyphs(pixels_a), _glyphs(pixels_b)
    text = _grow(_glyph_mask(changed.shape, glyphs_a) | _glyph_mask(changed.shape, glyphs_b), BLUR)
    if _text_rerendered(changed, text):
        changed &= ~text
        note += "; its text was re-rendered (another font or hinting): glyph shapes not compared"
    if changed.any():
        changed &= ~_snapped(pixels_a, pixels_b, changed)
    score = max(0.0, 1.0 - _worst_tile(changed))
    worst_glyph, glyphs_changed, redrawn = _text_change(pixels_a, pixels_b, glyphs_a, glyphs_b)
    unread = ""
    if redrawn and score > READ_CHANGED:  # (a lower score already says more than a changed number would)
        score, note, unread = _read_text(a, b, score, note)
    if glyphs_changed:
        score = min(score, 1.0 - worst_glyph)
        plural = glyphs_changed > 1
        note += (
            f"; its text changed: {glyphs_changed} character{'s' if plural else ''} of a title, label or number "
            f"{'differ' if plural else 'differs'} (the rest of the text is drawn the same)"
        )
    return ImageScore(score, note, unread)


def image_similarity(a: str | bytes, b: str | bytes) -> ImageScore:
    """How alike two base64 images look, from 0 to 1; an undecodable image scores 0."""
    if a == b:
        return ImageScore(1.0)
    first, second = decode_image(a), decode_image(b)
    if first is None or second is None:
        return ImageScore(0.0, "; one of them is not an image")
    return compare_images(first, second)
