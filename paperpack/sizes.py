"""Sizes as people read them: ``human_size(12_345)`` is ``"12.3 kB"`` (decimal units, as ``docker images``)."""

from __future__ import annotations

__all__ = ["human_size"]


def human_size(size: int) -> str:
    """Bytes in B, kB, MB or GB (powers of 1000), one decimal above bytes."""
    value = float(size)
    for unit in ("B", "kB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
