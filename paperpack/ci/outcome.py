"""One CI verification: run ``paperpack build``, then read what it wrote and decide the job's status.

The run goes through the command line's own entry point (:func:`paperpack.cli.main.main`),
so CI and an author's terminal do exactly the same thing. Afterwards only the report files
this run wrote count: the output folder may hold files from before — a repository can even
commit a ``paperpack-out/report.json`` saying "reproduced" — so a file is taken only if it is
a regular file (no link) that changed during the run (every report is written to a new file
and moved into place, so its inode changes). A run that stopped before writing report.json
has the verdict *not run*.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..report.paper import PaperClass, PaperVerdict, Reason
from .settings import CiSettings, FailOn

__all__ = ["REPORT_FILES", "Snapshot", "Outcome", "Decision", "run_build", "read_outcome", "prewarm_binder"]

log = logging.getLogger(__name__)

#: the report files a build writes (issue 13), by the name CI outputs give them
REPORT_FILES = {
    "report-json": "report.json",
    "junit": "report.junit.xml",
    "sarif": "report.sarif",
    "html": "report.html",
    "badge-json": "badge.json",
    "summary": "summary.md",
    "codequality": "codequality.json",
}

#: the largest report.json read (as paperpack.report.merge reads an earlier one)
MAX_REPORT = 64 << 20


@dataclass(frozen=True)
class Snapshot:
    """What the output folder held before the run: file name → (device, inode, mtime, size)."""

    files: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)

    @classmethod
    def take(cls, folder: Path) -> Snapshot:
        found = {}
        for name in REPORT_FILES.values():
            try:
                st = os.lstat(folder / name)
            except OSError:
                continue
            found[name] = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
        return cls(found)

    def fresh(self, folder: Path) -> dict[str, Path]:
        """The report files in ``folder`` written since the snapshot: output name → path."""
        out = {}
        for key, name in REPORT_FILES.items():
            path = folder / name
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                log.warning("%s is not a regular file (a link?): not used", path)
                continue
            if self.files.get(name) == (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size):
                log.warning("%s was there before this run and was not rewritten: not used", path)
                continue
            out[key] = path
        return out


@dataclass(frozen=True)
class Decision:
    """Whether the job fails, and why in words."""

    fail: bool
    reason: str

    @property
    def exit_code(self) -> int:
        return 1 if self.fail else 0


@dataclass
class Outcome:
    """What one CI verification gave."""

    report_dir: Path
    exit_code: int  # paperpack build's
    files: dict[str, Path]  # the report files this run wrote (REPORT_FILES keys)
    report: dict[str, Any] | None  # report.json, if this run wrote it
    verdict: PaperVerdict

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.verdict.counts)

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)

    @property
    def differs(self) -> int:
        return self.counts.get("differs", 0)

    @property
    def errors(self) -> int:
        """Validation errors (findings of severity error)."""
        summary = (self.report or {}).get("summary") or {}
        value = summary.get("errors", 0) if isinstance(summary, dict) else 0
        return value if isinstance(value, int) else 0

    @property
    def complete(self) -> bool:
        return bool((self.report or {}).get("complete", False))

    def build_value(self, key: str) -> str:
        """``image`` or ``image_id`` of the report's build section ('' without one: the local engine)."""
        build = (self.report or {}).get("build")
        value = build.get(key) if isinstance(build, dict) else None
        return value if isinstance(value, str) else ""

    def decide(self, fail_on: FailOn) -> Decision:
        """The job's status for ``fail_on``."""
        said = self.verdict.sentence()
        if self.report is None:
            said = f"paperpack stopped before writing a report (exit status {self.exit_code}); the log above says why"
        if fail_on is FailOn.NEVER:
            return Decision(False, f"fail-on never: {said}")
        stopped = self.report is None or self.verdict.cls is PaperClass.NOT_RUN or not self.complete
        if stopped or self.failed:
            return Decision(True, f"fail-on {fail_on.value}: {said}")
        if fail_on is FailOn.FAILED:
            return Decision(False, f"{said} (fail-on failed: only failures fail the job)")
        if not self.verdict.cls.passed:
            return Decision(True, f"fail-on {fail_on.value}: {said}")
        if fail_on is FailOn.FINDINGS and self.errors:
            return Decision(
                True,
                f"fail-on findings: validation found {self.errors} error"
                f"{'s' * (self.errors != 1)} (the paper is {self.verdict.label()})",
            )
        return Decision(False, said)


def run_build(settings: CiSettings) -> Outcome:
    """``paperpack build`` with ``settings``, through the command line's entry point; what it wrote."""
    from ..cli.main import main  # here: it imports every sub-command

    before = Snapshot.take(settings.report_dir)
    code = main(settings.build_argv())
    return read_outcome(settings.report_dir, before, code)


def prewarm_binder(settings: CiSettings) -> int:
    """``paperpack binder --hub HUB PATH`` (a BinderHub builds this commit); its exit status."""
    from ..cli.main import main  # here: it imports every sub-command

    assert settings.binder_hub
    return main(["binder", "--hub", settings.binder_hub, "--", str(settings.path)])


def read_outcome(report_dir: Path, before: Snapshot, exit_code: int) -> Outcome:
    """The outcome of a run that exited with ``exit_code`` and wrote into ``report_dir`` after ``before``."""
    files = before.fresh(report_dir)
    report = _read_report(files["report-json"]) if "report-json" in files else None
    if report is None:
        files.pop("report-json", None)
    return Outcome(report_dir=report_dir, exit_code=exit_code, files=files, report=report, verdict=_verdict(report))


def _read_report(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > MAX_REPORT:
            log.warning("%s is larger than %d bytes: not read", path, MAX_REPORT)
            return None
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return None
    return body if isinstance(body, dict) else None


def _verdict(report: dict[str, Any] | None) -> PaperVerdict:
    """The paper-level verdict report.json carries (``paper``); *not run* without one."""
    paper = (report or {}).get("paper")
    if not isinstance(paper, dict):
        # no report: paperpack stopped first (a bad manifest, a failed build…); the log says why
        return PaperVerdict(PaperClass.NOT_RUN, (Reason.NOT_REQUESTED,) if report is not None else ())
    try:
        cls = PaperClass(paper.get("class"))
    except ValueError:
        return PaperVerdict(PaperClass.NOT_RUN, ())
    known = {r.value for r in Reason}
    reasons = tuple(Reason(r) for r in paper.get("reasons") or [] if isinstance(r, str) and r in known)
    counts = {str(k): v for k, v in (paper.get("counts") or {}).items() if isinstance(v, int)}
    return PaperVerdict(cls, reasons, _int(paper.get("reproduced")), _int(paper.get("considered")), counts)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
