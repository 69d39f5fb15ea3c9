"""Build a paper repository into a container image (repo2docker as a library).

See docs/build.md. The public entry points are :func:`build_image`,
:func:`ensure_base_image` and :func:`export_image`.
"""

from __future__ import annotations

from .baseimage import BaseImage, ensure_base_image
from .builder import BuildResult, build_image
from .export import ExportResult, export_image

__all__ = ["BaseImage", "BuildResult", "ExportResult", "build_image", "ensure_base_image", "export_image"]
