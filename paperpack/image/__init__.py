"""Build a paper repository into a container image (repo2docker as a library).

See docs/build.md. The public entry points are :func:`build_image`,
:func:`ensure_base_image` and :func:`export_image`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .baseimage import BaseImage, ensure_base_image
    from .builder import BuildResult, build_image
    from .export import ExportResult, export_image

__all__ = ["BaseImage", "BuildResult", "ExportResult", "build_image", "ensure_base_image", "export_image"]

#: where each public name is defined: imported on first use, so that `paperpack validate` reading
#: ``build.baseimage.RELEASES`` does not load repo2docker and the Docker client (python -X importtime)
_WHERE = {
    "BaseImage": "baseimage",
    "ensure_base_image": "baseimage",
    "BuildResult": "builder",
    "build_image": "builder",
    "ExportResult": "export",
    "export_image": "export",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
