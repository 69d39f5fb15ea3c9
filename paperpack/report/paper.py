"""The paper-level verdict: one class a journal can quote, and the reasons behind it.

Modelled on the AEA Data Editor's reproducibility scale. Every report (JSON, JUnit, Markdown,
HTML, badges, the certificate) carries the same :class:`PaperVerdict`, computed once from the
typed run result by :func:`paper_verdict`.

- *reproduced*: every notebook ran and gave the committed results;
- *reproduced with minor differences*: the same results, but only within tolerances the manifest
  widened, with new Python warnings, or by reproducing the error the committed notebook shows;
- *reproduced with dated dependencies*: the declared environment did not reproduce the results, the
  time machine's rerun with dependencies as of the paper's date did (``--as-of``, see docs/time-machine.md);
- *partially reproduced*: some notebooks gave the committed results, others did not (or had no
  committed outputs to compare with, or the run was interrupted);
- *not reproduced*: no notebook gave the committed results;
- *not run*: no notebook ran (no run was asked for, the image could not be built, nothing to run).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..util.words import Word

if TYPE_CHECKING:
    from ..run.results import NotebookRun, RunResult

__all__ = ["PaperClass", "Reason", "PaperVerdict", "paper_verdict", "notebook_reasons"]


class PaperClass(Word):
    """The paper-level verdict's class, best first."""

    REPRODUCED = "reproduced"
    MINOR_DIFFERENCES = "reproduced-with-minor-differences"
    DATED_DEPENDENCIES = "reproduced-with-dated-dependencies"  # only the time machine's rerun (--as-of) did
    PARTIALLY_REPRODUCED = "partially-reproduced"
    NOT_REPRODUCED = "not-reproduced"
    NOT_RUN = "not-run"

    @property
    def words(self) -> str:
        """For people: "reproduced with minor differences"."""
        return self.value.replace("-", " ")

    @property
    def passed(self) -> bool:
        """The results were reproduced as declared (with or without minor differences)."""
        return self in (PaperClass.REPRODUCED, PaperClass.MINOR_DIFFERENCES)


class Reason(Word):
    """Why a notebook (and so the paper) did not get the committed results, or only with minor differences."""

    # the run stopped
    MISSING_MODULE = "missing-module"
    MISSING_DATA = "missing-data"
    MISSING_UPSTREAM_OUTPUT = "missing-upstream-output"
    NEEDS_NETWORK = "needs-network"
    MISSING_KERNEL = "missing-kernel"
    BINARY_INCOMPATIBILITY = "binary-incompatibility"
    ENVIRONMENT = "environment"
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out-of-memory"
    PROCESS_LIMIT = "process-limit"
    KERNEL_DIED = "kernel-died"
    CODE_ERROR = "code-error"
    # the run ended, the results differ
    DIFFERS_IN_IMAGES = "differs-in-images"
    DIFFERS_IN_TEXT = "differs-in-text"
    DIFFERS_IN_KIND = "differs-in-kind"
    # minor differences, or not everything could be checked
    NEW_WARNINGS = "new-warnings"
    WIDENED_TOLERANCE = "widened-tolerance"
    REPRODUCES_COMMITTED_ERROR = "reproduces-committed-error"
    NO_COMMITTED_OUTPUTS = "no-committed-outputs"
    INTERRUPTED = "interrupted"
    DATED_DEPENDENCIES_REPRODUCE = "dated-dependencies-reproduce"  # the time machine's rerun (--as-of) reproduced
    # nothing ran
    BUILD_FAILED = "build-failed"
    NOT_REQUESTED = "not-requested"
    NO_NOTEBOOKS = "no-notebooks"
    ALL_SKIPPED = "all-skipped"


#: a notebook's verdict → how it counts for the paper
_SAME = frozenset({"same"})
_MINOR = frozenset({"same-with-warnings", "reproduces-error"})
_NOT_SAME = frozenset({"differs", "failed"})

#: the runner's status → the reason (for notebooks that stopped without a diagnosed cause)
_STATUS_REASONS = {
    "timeout": Reason.TIMEOUT,
    "oom": Reason.OUT_OF_MEMORY,
    "dead-kernel": Reason.KERNEL_DIED,
    "pids-limit": Reason.PROCESS_LIMIT,
    "no-kernel": Reason.MISSING_KERNEL,
    "interrupted": Reason.INTERRUPTED,
}

#: a diagnosed cause's id (paperpack.run.causes) → the reason
_CAUSE_REASONS = {
    "no-network": Reason.NEEDS_NETWORK,
    "network-wait": Reason.NEEDS_NETWORK,
    "missing-upstream-output": Reason.MISSING_UPSTREAM_OUTPUT,
    "empty-input-glob": Reason.MISSING_DATA,
    "unreadable-file": Reason.MISSING_DATA,
    "numpy-abi": Reason.BINARY_INCOMPATIBILITY,
    "missing-kernel": Reason.MISSING_KERNEL,
    "chdir-local-import": Reason.MISSING_MODULE,
    "environment-translation": Reason.ENVIRONMENT,
    "reproduces-committed-error": Reason.REPRODUCES_COMMITTED_ERROR,
}

_MISSING_DATA_ERRORS = frozenset({"FileNotFoundError", "IsADirectoryError", "EmptyDataError"})
_MISSING_MODULE_ERRORS = frozenset({"ModuleNotFoundError", "ImportError"})

#: the compare defaults; looser tolerances in a notebook's comparison are the manifest widening them
_DEFAULT_RTOL = 1e-5
_DEFAULT_ATOL = 1e-8


@dataclass(frozen=True)
class PaperVerdict:
    """The paper-level verdict: its class, the reasons (most frequent first) and the counts behind it."""

    cls: PaperClass
    reasons: tuple[Reason, ...] = ()
    reproduced: int = 0  # notebooks that gave the committed results (with or without minor differences)
    considered: int = 0  # notebooks that were to be run (not skipped)
    counts: dict[str, int] = field(default_factory=dict)  # notebook verdict -> how many

    def label(self) -> str:
        """The short form for badges and last lines: "reproduced 3/3", "not run"."""
        if self.cls is PaperClass.NOT_RUN:
            return self.cls.words
        return f"{self.cls.words} {self.reproduced}/{self.considered}"

    def sentence(self) -> str:
        """One line for people: "partially reproduced: 2 of 3 notebooks gave the committed results (timeout)"."""
        why = f" ({', '.join(r.value for r in self.reasons)})" if self.reasons else ""
        if self.cls is PaperClass.NOT_RUN:
            return f"{self.cls.words}{why}"
        noun = "notebook" if self.considered == 1 else "notebooks"
        return f"{self.cls.words}: {self.reproduced} of {self.considered} {noun} gave the committed results{why}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "class": self.cls.value,
            "label": self.label(),
            "reasons": [r.value for r in self.reasons],
            "reproduced": self.reproduced,
            "considered": self.considered,
            "counts": dict(self.counts),
        }


def notebook_reasons(nb: NotebookRun) -> list[Reason]:
    """Why this notebook is not simply *same*: [] for same (and skipped) notebooks."""
    verdict = str(nb.verdict)
    if verdict in _SAME or verdict == "skipped":
        return _widened(nb)
    if verdict == "same-with-warnings":
        return [Reason.NEW_WARNINGS, *_widened(nb)]
    if verdict == "reproduces-error":
        return [Reason.REPRODUCES_COMMITTED_ERROR]
    if verdict == "no-outputs":
        return [Reason.NO_COMMITTED_OUTPUTS]
    if verdict == "differs":
        return _difference_reasons(nb)
    return [_failure_reason(nb)]


def _widened(nb: NotebookRun) -> list[Reason]:
    tolerances = (nb.comparison or {}).get("tolerances") or {}
    rtol, atol = tolerances.get("rtol", _DEFAULT_RTOL), tolerances.get("atol", _DEFAULT_ATOL)
    try:
        wider = float(rtol) > _DEFAULT_RTOL or float(atol) > _DEFAULT_ATOL
    except (TypeError, ValueError):
        wider = False
    return [Reason.WIDENED_TOLERANCE] if wider else []


def _difference_reasons(nb: NotebookRun) -> list[Reason]:
    found: list[Reason] = []
    for difference in (nb.comparison or {}).get("differences") or []:
        text = str(difference.get("reason", ""))
        reason = (
            Reason.DIFFERS_IN_IMAGES
            if "looks different" in text
            else Reason.DIFFERS_IN_KIND
            if "not of the same kinds" in text
            else Reason.DIFFERS_IN_TEXT
        )
        if reason not in found:
            found.append(reason)
    return found or [Reason.DIFFERS_IN_TEXT]


def _failure_reason(nb: NotebookRun) -> Reason:
    error = nb.error or {}
    cause = (error.get("cause") or {}).get("id")
    if cause in _CAUSE_REASONS:
        return _CAUSE_REASONS[cause]
    status = str(nb.status)
    if status in _STATUS_REASONS:
        return _STATUS_REASONS[status]
    ename = str(error.get("ename") or "")
    if ename in _MISSING_MODULE_ERRORS:
        return Reason.MISSING_MODULE
    if ename in _MISSING_DATA_ERRORS:
        return Reason.MISSING_DATA
    return Reason.CODE_ERROR


def _ranked(reasons: Iterable[Reason]) -> tuple[Reason, ...]:
    counted = Counter(reasons)
    order = list(Reason)
    return tuple(sorted(counted, key=lambda r: (-counted[r], order.index(r))))


def paper_verdict(run: RunResult | None, *, build_failed: bool = False) -> PaperVerdict:
    """The paper-level verdict of a run (``None``: no run, e.g. ``--no-run`` or a build that failed)."""
    if run is None:
        return PaperVerdict(PaperClass.NOT_RUN, (Reason.BUILD_FAILED if build_failed else Reason.NOT_REQUESTED,))
    counts: dict[str, int] = {}
    for nb in run.notebooks:
        counts[str(nb.verdict)] = counts.get(str(nb.verdict), 0) + 1
    considered = [nb for nb in run.notebooks if str(nb.verdict) != "skipped"]
    if not run.notebooks:
        return PaperVerdict(PaperClass.NOT_RUN, (Reason.NO_NOTEBOOKS,), counts=counts)
    if not considered:
        return PaperVerdict(PaperClass.NOT_RUN, (Reason.ALL_SKIPPED,), counts=counts)

    reasons = [reason for nb in considered for reason in notebook_reasons(nb)]
    if not run.complete:
        reasons.append(Reason.INTERRUPTED)
    if run.dated is not None and run.dated.paper_class:
        reasons.append(Reason.DATED_DEPENDENCIES_REPRODUCE)
    verdicts = [str(nb.verdict) for nb in considered]
    reproduced = sum(v in _SAME or v in _MINOR for v in verdicts)
    if not run.complete and not any(str(nb.status) not in ("not-run", "interrupted") for nb in considered):
        return PaperVerdict(PaperClass.NOT_RUN, _ranked(reasons), 0, len(considered), counts)
    if reproduced == len(considered) and run.complete:
        minor = bool(reasons) or any(v in _MINOR for v in verdicts)
        cls = PaperClass.MINOR_DIFFERENCES if minor else PaperClass.REPRODUCED
    elif reproduced == 0 and any(v in _NOT_SAME for v in verdicts):
        cls = PaperClass.NOT_REPRODUCED
    else:
        cls = PaperClass.PARTIALLY_REPRODUCED
    if run.dated is not None and run.dated.paper_class and not cls.passed:
        dated = run.dated.result
        fixed = sum(str(nb.verdict) in _SAME or str(nb.verdict) in _MINOR for nb in dated.notebooks) if dated else 0
        return PaperVerdict(
            PaperClass.DATED_DEPENDENCIES, _ranked(reasons), max(reproduced, fixed), len(considered), counts
        )
    return PaperVerdict(cls, _ranked(reasons), reproduced, len(considered), counts)
