"""The image comparison's glyph step, pinned (paperpack/compare/images.py).

Issue 16's mutation testing left these unpinned. Each test reads the thresholds from images.py rather than
copying them, so it holds while they are tuned.
"""

from __future__ import annotations


def test_a_piece_as_wide_as_the_glyph_limit_is_not_a_glyph() -> None:
    """A glyph's box spans fewer than the limit both ways: a dash ``limit`` pixels across (a short line of a
    legend, a tick of an axis) is not a glyph, one a pixel narrower is."""
    import numpy as np

    from paperpack.compare.images import GLYPH, _glyphs

    pixels = np.full((100, 100, 3), 255.0)
    limit = max(4, round(GLYPH * 100))
    pixels[20, 10 : 10 + limit + 1] = 0.0  # right - left == limit
    pixels[60, 10 : 10 + limit] = 0.0  # right - left == limit - 1
    pixels[30 : 30 + limit + 1, 80] = 0.0  # bottom - top == limit
    assert [(g.top, g.left, g.right) for g in _glyphs(pixels)] == [(60, 10, 10 + limit - 1)]
