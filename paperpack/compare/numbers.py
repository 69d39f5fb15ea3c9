"""Numbers inside text, compared within a relative and absolute tolerance, whatever the spacing.

numpy, pandas and Python print the same numbers with different padding and line wrapping from
one version to the next (``[ 1.  1. …`` against ``[1. 1. …``): a reader compares the numbers,
so the text around them is compared as a sequence of tokens (words and punctuation), blind to
whitespace, and each number within tolerance.
"""

from __future__ import annotations

import math
import re

__all__ = ["texts_match", "split_numbers", "close"]

NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])|\b(?:nan|inf|NaN|Inf)\b")
TOKEN = re.compile(r"\w+|[^\w\s]")


def split_numbers(text: str) -> tuple[list[str], list[str]]:
    """The tokens of the text with each number replaced by ``#``, and the numbers in order."""
    found = NUMBER.findall(text)
    return TOKEN.findall(NUMBER.sub("#", text)), found


def close(a: str, b: str, rtol: float, atol: float) -> bool:
    """``|a − b| ≤ max(rtol·max(|a|, |b|), atol)``; ``nan`` equals ``nan``."""
    if a == b:
        return True
    x, y = float(a), float(b)
    if math.isnan(x) and math.isnan(y):
        return True
    return math.isclose(x, y, rel_tol=rtol, abs_tol=atol)


def texts_match(a: str, b: str, rtol: float, atol: float) -> bool:
    """Same words and punctuation (spacing aside), and every number within tolerance."""
    if a == b:
        return True
    skel_a, nums_a = split_numbers(a)
    skel_b, nums_b = split_numbers(b)
    if skel_a != skel_b or len(nums_a) != len(nums_b):
        return False
    return all(close(x, y, rtol, atol) for x, y in zip(nums_a, nums_b))
