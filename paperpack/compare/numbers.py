"""Numbers inside text, compared within a relative and absolute tolerance."""

from __future__ import annotations

import math
import re

__all__ = ["texts_match", "split_numbers"]

NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])|\b(?:nan|inf|NaN|Inf)\b")


def split_numbers(text: str) -> tuple[str, list[str]]:
    """The text with each number replaced by ``#``, and the numbers in order."""
    found = NUMBER.findall(text)
    return NUMBER.sub("#", text), found


def _value(token: str) -> float:
    return float(token)


def _close(a: str, b: str, rtol: float, atol: float) -> bool:
    if a == b:
        return True
    x, y = _value(a), _value(b)
    if math.isnan(x) and math.isnan(y):
        return True
    return math.isclose(x, y, rel_tol=rtol, abs_tol=atol)


def texts_match(a: str, b: str, rtol: float, atol: float) -> bool:
    """Same words and punctuation, and every number within tolerance."""
    if a == b:
        return True
    skel_a, nums_a = split_numbers(a)
    skel_b, nums_b = split_numbers(b)
    if skel_a != skel_b or len(nums_a) != len(nums_b):
        return False
    return all(_close(x, y, rtol, atol) for x, y in zip(nums_a, nums_b))
