"""Sizes: of a folder on disk, as people read them (``human_size(12_345)`` is ``"12.3 kB"``, as ``docker images``), and
as the manifest and the command line write them (``size_bytes("512m")``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import ConfigError

__all__ = ["folder_size", "human_size", "size_bytes"]


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


_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def size_bytes(text: str) -> int:
    """A size as the manifest and the command line write it (``512m``, ``1.5g``, bytes alone) in bytes."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([kmgKMG]?)", text.strip())
    if match is None:
        raise ConfigError(f"{text!r} is not a size", hint="write a size such as 512m or 4g (k, m or g)")
    return max(1, int(float(match.group(1)) * _UNITS[match.group(2).lower()]))
