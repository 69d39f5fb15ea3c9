"""The numbers of a figure read with Tesseract OCR, when its text was re-rendered.

A figure whose every glyph was redrawn (another font, DPI, or the text hinting matplotlib 3.11
changed) cannot be compared glyph by glyph: the same digit redrawn changes as many pixels as
another digit does (docs/run-and-compare.md). What the text *says* can still be compared: both
images are read by the ``tesseract`` program (Debian package ``tesseract-ocr``, with
``tesseract-ocr-eng``), grey, one word box per word (page segmentation mode 11, sparse text: titles,
labels and tick labels are scattered over the figure), twice: upscaled 2 and 3 times (``SCALES``; at
most ``MAX_SIDE`` pixels on the longer side), keeping the words read the same at both sizes. A word
is compared when it holds a digit and was read with a confidence of at least ``CONFIDENT`` in both
images, at the same place (its boxes, in shares of the cropped figure, overlap by at least
``OVERLAP`` of their union): its digits differ → the figure's text changed. Only digits are compared: a decimal point is often dropped when redrawn ("1.5" read
"15" in one hinting), and letters are misread with high confidence ("fit" read "ht" under the
autohinter), so a word of letters alone is never a change. A word read in one image and not in the
other is not a change either.

The figure comes from an untrusted run: the image is decoded by Pillow, written again as a grey PNG
into a private temporary folder, and read by the binary without a shell, with a timeout
(``TIMEOUT`` seconds) and one thread. Without ``tesseract`` on PATH nothing is read, and
:func:`read_words` says why (the comparison notes it and goes on).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Word", "Reading", "read_words", "changed_numbers", "tesseract_path"]

log = logging.getLogger(__name__)

SCALES = (2, 3)  # the figure is read upscaled this many times (glyphs of 8-12 px → 16-36 px), once for each
MAX_SIDE = 4000  # the upscaled image's longer side is at most this many pixels (a large figure is scaled less)
TIMEOUT = 30.0  # seconds tesseract may take on one image
CONFIDENT = 90.0  # a word is compared when read with at least this confidence (0-100) in both images
WORD = 40  # characters kept of a word read (the figure is untrusted: its words go into the reason)
OVERLAP = 0.5  # the two readings of a word are at the same place when their boxes overlap by this share


@dataclass(frozen=True)
class Word:
    """A word read, its confidence (0-100) and its box in shares of the image's width and height."""

    text: str
    confidence: float
    left: float
    top: float
    right: float
    bottom: float

    @property
    def digits(self) -> str:
        return "".join(c for c in self.text if c.isdigit())

    def overlap(self, other: Word) -> float:
        """The area of the two boxes' intersection over that of their union (0 to 1)."""
        width = min(self.right, other.right) - max(self.left, other.left)
        height = min(self.bottom, other.bottom) - max(self.top, other.top)
        if width <= 0 or height <= 0:
            return 0.0
        both = width * height
        area = (self.right - self.left) * (self.bottom - self.top) + (other.right - other.left) * (
            other.bottom - other.top
        )
        return both / (area - both)


@dataclass(frozen=True)
class Reading:
    """The words read in an image, or none and why not (``problem``: a sentence for the reader)."""

    words: tuple[Word, ...] = ()
    problem: str = ""


def tesseract_path() -> str | None:
    """The ``tesseract`` program on PATH, or None."""
    return shutil.which("tesseract")


def _parse(tsv: str, width: int, height: int) -> tuple[Word, ...]:
    """The words (level 5 rows) of tesseract's TSV output, boxes in shares of ``width`` × ``height``."""
    words = []
    for line in tsv.splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) != 12 or fields[0] != "5" or not fields[11].strip():
            continue
        try:
            left, top, w, h, confidence = (float(v) for v in fields[6:11])
        except ValueError:
            continue
        words.append(
            Word(
                fields[11].strip()[:WORD],
                confidence,
                left / width,
                top / height,
                (left + w) / width,
                (top + h) / height,
            )
        )
    return tuple(words)


def read_words(image: Image.Image) -> Reading:
    """The words tesseract reads the same at each of ``SCALES`` in ``image`` (an RGB figure, already decoded
    and flattened): the same text at the same place (boxes overlapping by ``OVERLAP``), with the lower of the
    confidences. A glyph tesseract cannot tell (DejaVu Sans Mono's dotted zero read "0" at one size and "6"
    at the next, both with confidence 90 or more) is read otherwise at another size, and left out."""
    program = tesseract_path()
    if program is None:
        return Reading(problem="install tesseract-ocr (with tesseract-ocr-eng) to read it")
    readings = [_read_at(program, image, scale) for scale in SCALES]
    for reading in readings:
        if reading.problem:
            return reading
    stable = list(readings[0].words)
    for reading in readings[1:]:
        kept = []
        for word in reading.words:
            same = [w for w in stable if w.text == word.text and w.overlap(word) >= OVERLAP]
            if same:
                kept.append(replace(word, confidence=min(word.confidence, *(w.confidence for w in same))))
        stable = kept
    return Reading(tuple(stable))


def _read_at(program: str, image: Image.Image, times: int) -> Reading:
    """The words tesseract reads in ``image`` upscaled ``times`` times (at most ``MAX_SIDE`` pixels)."""
    from PIL import Image

    scale = min(float(times), MAX_SIDE / max(image.width, image.height, 1))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    grey = image.convert("L").resize(size, Image.Resampling.LANCZOS)
    with tempfile.TemporaryDirectory(prefix="paperpack-ocr-") as folder:
        path = Path(folder) / "figure.png"
        grey.save(path, format="PNG")
        environment = {"PATH": os.environ.get("PATH", ""), "OMP_THREAD_LIMIT": "1", "LC_ALL": "C"}
        try:
            done = subprocess.run(
                [program, str(path), "stdout", "-l", "eng", "--psm", "11", "tsv"],
                capture_output=True,
                timeout=TIMEOUT,
                env=environment,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Reading(
                problem=f"tesseract took more than {TIMEOUT:g} s (a very large figure, or a busy machine: rerun to read it)"
            )
        except OSError as error:
            return Reading(
                problem=f"tesseract could not be started ({error.strerror or error}): reinstall it "
                "(apt-get install --reinstall tesseract-ocr tesseract-ocr-eng)"
            )
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        log.info("tesseract failed on a figure: %s", detail)
        said = detail[-1][:200] if detail else f"exit status {done.returncode}"
        return Reading(
            problem=f"tesseract failed ({said}): check that `tesseract --list-langs` lists eng "
            "(apt-get install tesseract-ocr-eng)"
        )
    return Reading(_parse(done.stdout.decode("utf-8", "replace"), size[0], size[1]))


def changed_numbers(first: tuple[Word, ...], second: tuple[Word, ...]) -> list[tuple[Word, Word]]:
    """The words holding digits, read with confidence at the same place in both images, whose digits differ
    (each word of ``first`` with the word of ``second`` that overlaps it most)."""

    def numbers(words: tuple[Word, ...]) -> list[Word]:
        return [w for w in words if w.confidence >= CONFIDENT and w.digits]

    changed = []
    theirs = numbers(second)
    for word in numbers(first):
        best = max(theirs, key=word.overlap, default=None)
        if best is not None and word.overlap(best) >= OVERLAP and best.digits != word.digits:
            changed.append((word, best))
    return changed
