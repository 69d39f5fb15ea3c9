"""paperpack: turn a paper's repository into a verified, launchable, reproducible package."""

from ._version import __version__
from .errors import PaperpackError
from .findings import Finding, Rule, Severity
from .manifest import Manifest, load_manifest
from .repo import Repo
from .report import Report
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
