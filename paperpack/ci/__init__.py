"""paperpack in CI: the GitHub Action's and the GitLab template's logic (``action.yml``, ``ci/gitlab/``).

Both read their settings from ``PAPERPACK_*`` environment variables (:mod:`.settings`), run
``paperpack build`` through the command line's entry point and decide the job's status from the
report files that run wrote (:mod:`.outcome`); :mod:`.github` and :mod:`.gitlab` add what each
CI system shows.
"""

from __future__ import annotations

from .outcome import REPORT_FILES, Decision, Outcome, run_build
from .settings import CiSettings, FailOn, parse_parameters

__all__ = ["CiSettings", "FailOn", "parse_parameters", "Outcome", "Decision", "run_build", "REPORT_FILES"]
