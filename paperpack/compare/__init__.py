"""Compare re-executed notebooks with their committed outputs (see docs/run-and-compare.md)."""

from __future__ import annotations

from .core import CellDifference, CompareOptions, Comparison, NewWarning, Verdict, compare_notebooks
from .images import ImageScore, image_similarity
from .normalize import normalise_text
from .numbers import texts_match

__all__ = [
    "CellDifference",
    "Comparison",
    "CompareOptions",
    "ImageScore",
    "NewWarning",
    "Verdict",
    "compare_notebooks",
    "image_similarity",
    "normalise_text",
    "texts_match",
]
