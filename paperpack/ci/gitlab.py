"""The GitLab CI template's logic (``ci/gitlab/paperpack.gitlab-ci.yml`` runs ``python -m paperpack.ci.gitlab``).

Runs ``paperpack build`` with the ``PAPERPACK_*`` variables (:mod:`paperpack.ci.settings`), lists the
report files this run wrote — the template hands ``report.junit.xml`` and ``codequality.json`` to
GitLab's test and code-quality widgets, and keeps the whole folder as an artifact — pre-warms the
BinderHub ``PAPERPACK_BINDER_HUB`` after a good verdict, and exits 1 when ``PAPERPACK_FAIL_ON``
says the job fails (2 on a bad variable).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..errors import PaperpackError
from .outcome import prewarm_binder, run_build
from .settings import CiSettings

__all__ = ["main"]

#: the files GitLab's report widgets read (the template's artifacts:reports)
WIDGET_FILES = ("junit", "codequality")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m paperpack.ci.gitlab", description="The job of paperpack's GitLab CI template."
    )
    parser.add_argument("step", choices=("verify",))
    parser.parse_args(argv)
    try:
        settings = CiSettings.from_env(os.environ)
    except PaperpackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    outcome = run_build(settings)
    decision = outcome.decide(settings.fail_on)
    for key, path in sorted(outcome.files.items()):
        print(f"{key}: {path}")
    missing = [key for key in WIDGET_FILES if key not in outcome.files]
    if missing:
        print(f"note: this run wrote no {' or '.join(missing)} report: GitLab's widgets will be empty", file=sys.stderr)
    if settings.binder_hub and outcome.verdict.cls.passed and not decision.fail:
        code = prewarm_binder(settings)
        if code:
            print(
                f"warning: Binder pre-warm on {settings.binder_hub} failed (paperpack binder exit status {code}); "
                "the verdict stands",
                file=sys.stderr,
            )
    print(f"paperpack: {outcome.verdict.label()} — {decision.reason}")
    return decision.exit_code


if __name__ == "__main__":
    sys.exit(main())
