"""What repo2docker will build from a repository: the one environment model.

:func:`detect` (or, once per repository, ``repo.environment``) gives an :class:`Environment`:
the buildpack repo2docker picks, the files it reads and ignores, the Python version, the
conda and pip requirements, the packages the repository installs itself, and every problem
repo2docker would refuse. Validate (``checks/environment.py``, ``checks/dependencies.py``),
the offline build (``image/environment.py``, ``image/buildpack.py``) and the local engine
(``run/venv.py``) all read it; none of them opens an environment file itself.

- :mod:`.files`: parsers, one per file format, returning dataclasses;
- :mod:`.detect`: repo2docker's buildpack precedence and what each buildpack reads;
- :mod:`.conda`: conda names seen from PyPI (the offline build and the dependency closure);
- :mod:`.postbuild`: what a ``postBuild`` script installs and downloads, read statically.
"""

from __future__ import annotations

from .detect import (
    BUILDPACKS,
    DEFAULT_PYTHON,
    ENV_FILES,
    LEGACY_PYTHON,
    ROOT_ONLY,
    SUPPORTED_PYTHON,
    Environment,
    detect,
)
from .files import EnvProblem, Requirement, Runtime, is_local_requirement, parse_runtime

__all__ = [
    "Environment",
    "detect",
    "Requirement",
    "EnvProblem",
    "Runtime",
    "parse_runtime",
    "is_local_requirement",
    "BUILDPACKS",
    "ENV_FILES",
    "ROOT_ONLY",
    "SUPPORTED_PYTHON",
    "LEGACY_PYTHON",
    "DEFAULT_PYTHON",
]
