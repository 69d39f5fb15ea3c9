"""paperpack: turn a paper's repository into a verified, launchable, reproducible package.

The names below are imported eagerly, on purpose: ``validate`` and ``verify`` are also the
names of submodules, and a lazy ``__getattr__`` would let the import system replace the
functions with the modules once anything imports ``paperpack.validate``. These modules are
cheap to import: every stage imports its heavy dependencies (requests, jsonschema, rich,
repo2docker, the Docker client) where it uses them (tests/test_cli_imports.py).
"""

from ._version import __version__
from .checks.findings import Finding, Rule, Severity
from .errors import PaperpackError
from .report import Report
from .repository.manifest import Manifest, load_manifest
from .repository.repo import Repo
from .validate import validate
from .verify import BuildSettings, Result, RunSettings, Stage, ValidateSettings, VerifyOptions, verify

__all__ = [
    "__version__",
    "BuildSettings",
    "Finding",
    "Manifest",
    "PaperpackError",
    "Repo",
    "Report",
    "Result",
    "Rule",
    "RunSettings",
    "Severity",
    "Stage",
    "ValidateSettings",
    "VerifyOptions",
    "load_manifest",
    "validate",
    "verify",
]
