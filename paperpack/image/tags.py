"""Content-addressed image tags.

The tag is a hash of everything that decides the image: every file that goes into
the build context (paths and contents; symlinks by their target), paperpack's and
repo2docker's versions, the build mode, the base image id, the Python version and
substitution, and the source of the buildpack and builder. Same inputs → same tag,
so an unchanged repository is never rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from .._version import __version__
from ..data.download import hash_file

__all__ = ["content_hash", "image_repository", "TAG_LENGTH", "BUILD_SOURCES"]

TAG_LENGTH = 20
PACKAGE = Path(__file__).resolve().parent.parent
#: paperpack's own files (relative to the package) whose text decides what an image contains:
#: the Dockerfile (buildpack, environment, baseimage's Python versions, the environment model: which
#: files repo2docker reads, their parsers, the conda→PyPI table, and repofile's reading), the build's arguments, secrets and labels (builder) and repo2docker's
#: entry points (_r2d). tests/test_build_tags.py fails when a module the build imports is in
#: neither this list nor its list of modules that do not shape the image.
BUILD_SOURCES = (
    "image/buildpack.py",
    "image/environment.py",
    "image/builder.py",
    "image/baseimage.py",
    "image/_r2d.py",
    "environment/__init__.py",
    "environment/detect.py",
    "environment/files.py",
    "environment/conda.py",
    "repository/files.py",
    "image/paperpack-entrypoint",
)


def _file_digest(path: Path) -> str:
    return hash_file(path)["sha256"]  # remembered: data files are hashed again for the data step


def content_hash(
    root: Path, files: Iterable[str], symlinks: Iterable[str], *, settings: Mapping[str, str | None]
) -> str:
    """Hex digest over the build context and the settings that decide the image."""
    from ._r2d import repo2docker

    h = hashlib.sha256()

    def feed(*parts: str) -> None:
        for part in parts:
            data = part.encode("utf-8", "surrogateescape")
            h.update(len(data).to_bytes(8, "big") + data)

    feed("paperpack-image-v1", __version__, repo2docker.__version__)
    for key in sorted(settings):
        feed("setting", key, settings[key] or "")
    for name in BUILD_SOURCES:
        feed("source", name, _file_digest(PACKAGE / name))
    for rel in sorted(files):
        p = root / rel
        mode = "x" if os.access(p, os.X_OK) else "-"
        feed("file", rel, mode, _file_digest(p))
    for rel in sorted(symlinks):
        feed("link", rel, os.readlink(root / rel))
    return h.hexdigest()


def image_repository(root: Path, name: str | None = None) -> str:
    """``paperpack/<folder name>`` (lower-case, Docker-safe), or ``name`` as given."""
    if name:
        return name
    slug = re.sub(r"[^a-z0-9._-]+", "-", root.name.lower()).strip("-._") or "paper"
    return f"paperpack/{slug}"
