"""Import repo2docker without the deprecation warnings its own imports raise.

(``python-json-logger`` warns that ``pythonjsonlogger.jsonlogger`` moved; not ours to fix.)
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message=r"pythonjsonlogger\.jsonlogger has been moved", category=DeprecationWarning
    )
    import repo2docker
    from repo2docker import contentproviders
    from repo2docker.app import Repo2Docker
    from repo2docker.buildpacks import DockerBuildPack
    from repo2docker.buildpacks.base import BaseImage, BuildPack

__all__ = ["repo2docker", "contentproviders", "Repo2Docker", "DockerBuildPack", "BuildPack", "BaseImage"]
