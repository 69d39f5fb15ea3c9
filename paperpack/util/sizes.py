"""Sizes: of a folder on disk, and as people read them (``human_size(12_345)`` is ``"12.3 kB"``, as ``docker images``)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["folder_size", "human_size"]


def human_size(size: int) -> str:
    """Bytes in B, kB, MB or GB (powers of 1000), one decimal above bytes."""
    value = float(size)
    for unit in ("B", "kB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def folder_size(path: Path) -> int:
    """Bytes of the regular files under ``path`` (links not followed); 0 when it does not exist."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            total += st.st_size
    return total
