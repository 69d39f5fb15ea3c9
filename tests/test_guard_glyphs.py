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

    # the limit is of the *longer* side, with a floor of 4 px (numbers written out, not the formula again)
    assert GLYPH == 0.05, "the cases below assume a limit of 5 px on a 100-px longer side"
    wide = np.full((60, 100, 3), 255.0)
    wide[20, 10:16] = 0.0  # right - left == 5: not a glyph
    wide[40, 10:15] = 0.0  # right - left == 4: a glyph
    wide[5:11, 80] = 0.0  # bottom - top == 5: not a glyph
    assert [(g.top, g.left, g.right) for g in _glyphs(wide)] == [(40, 10, 14)]
    small = np.full((40, 40, 3), 255.0)  # round(0.05 * 40) = 2: the floor of 4 applies
    small[10, 5:10] = 0.0  # right - left == 4: not a glyph
    small[30, 5:9] = 0.0  # right - left == 3: a glyph
    assert [(g.top, g.left, g.right) for g in _glyphs(small)] == [(30, 5, 8)]


def _glyph_at(top: int, left: int) -> object:
    from paperpack.compare.images import Glyph

    return Glyph(top=top, left=left, bottom=top + 4, right=left + 2, rows=(top,), cols=(left,))


def _page(*corners: tuple[int, int]) -> object:
    """A padded grey page with a 5 × 3 mark (not symmetric) at each corner."""
    import numpy as np

    from paperpack.compare.images import MARGIN

    pixels = np.full((90, 90), 255.0)
    for top, left in corners:
        pixels[top : top + 5, left : left + 3] = 0.0
        pixels[top + 2, left + 3] = 0.0
    return np.pad(pixels, MARGIN, constant_values=255.0)


def test_a_glyph_moves_only_with_the_glyphs_within_a_word_gap_of_it() -> None:
    """A glyph's word is it and the glyphs whose boxes come within ``WORD`` pixels of its box, each way: the glyph
    moved (its shape is a few pixels away) only if they moved with it. Here the glyph moved 6 pixels right and its
    neighbour stayed: with the neighbour exactly ``WORD`` pixels away, that is another text; one pixel further,
    the neighbour is another word and the glyph was moved."""
    from paperpack.compare.images import WORD, _moved

    glyph = _glyph_at(40, 40)  # rows 40-44, columns 40-42
    moved_to = _glyph_at(40, 46)
    for gap, moved in ((WORD, False), (WORD + 1, True)):
        for neighbour in (
            _glyph_at(44 + gap, 40),  # below: its top is `gap` rows past the glyph's bottom
            _glyph_at(40 - 4 - gap, 40),  # above
            _glyph_at(40, 42 + gap),  # right
            _glyph_at(40, 40 - 2 - gap),  # left
        ):
            mine = _page((40, 40), (neighbour.top, neighbour.left))
            other = _page((40, 46), (neighbour.top, neighbour.left))
            assert _moved(mine, other, glyph, [glyph, neighbour], [moved_to]) is moved, (gap, neighbour)


def test_a_glyph_far_away_in_another_row_and_column_is_not_of_its_word() -> None:
    from paperpack.compare.images import _moved

    glyph, moved_to = _glyph_at(40, 40), _glyph_at(40, 46)
    for far in (_glyph_at(10, 75), _glyph_at(75, 10), _glyph_at(75, 75), _glyph_at(10, 10)):
        mine = _page((40, 40), (far.top, far.left))
        other = _page((40, 46), (far.top, far.left))
        assert _moved(mine, other, glyph, [glyph, far], [moved_to]), far


def test_a_moved_glyph_is_compared_within_a_pixel_of_where_it_went() -> None:
    """The glyph's shape is sought where a glyph of the other image starts, give or take one pixel: two
    pixels off is another place (another character drawn there)."""
    from paperpack.compare.images import _moved

    glyph = _glyph_at(40, 40)
    for shift, moved in ((1, True), (2, False)):
        other = _page((40, 46 + shift))
        assert _moved(_page((40, 40)), other, glyph, [glyph], [_glyph_at(40, 46)]) is moved, shift


def test_registration_resamples_between_pixels() -> None:
    """A shift of half a pixel is resampled (bilinear): the moved image has grey levels the new one did not."""
    import numpy as np
    from PIL import Image

    from paperpack.compare.images import _register

    ref = np.full((40, 60, 3), 255.0)
    ref[10:20, 20:26] = 0.0
    new = np.full((40, 60, 3), 255.0)
    new[10:20, 20:26] = 0.0
    new[10:20, 26] = 128.0  # the same bar drawn half a pixel to the right
    moved = np.asarray(_register(ref, Image.fromarray(new.astype(np.uint8))))
    assert set(np.unique(moved)) - {0, 128, 255}, "interpolated grey levels"


def test_each_steps_note_is_kept_when_a_character_also_changed() -> None:
    """A small bitmap-font title with one digit changed: the changes touch enough glyph tiles to read as
    re-rendered text, and the glyph-by-glyph step still finds the one other character; the reader gets both
    notes, in the order of the steps."""
    from PIL import Image, ImageDraw

    from paperpack.compare.images import compare_images

    def figure(title: str) -> Image.Image:
        image = Image.new("RGB", (200, 60), "white")
        draw = ImageDraw.Draw(image)
        draw.text((10, 10), title, fill=(0, 0, 0))
        draw.rectangle((10, 40, 190, 50), fill=(200, 30, 30))
        return image

    note = compare_images(figure("RMSE = 0.31"), figure("RMSE = 0.35")).note
    assert note.startswith("; its text was re-rendered"), note
    assert note.endswith(
        "; its text changed: 1 character of a title, label or number differs (the rest of the text is drawn the same)"
    )
