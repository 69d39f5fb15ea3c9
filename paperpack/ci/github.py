"""The GitHub Action's logic (``action.yml`` runs ``python -m paperpack.ci.github verify|binder``).

``verify`` runs ``paperpack build`` with the inputs (environment variables, see
:mod:`paperpack.ci.settings`), then

- sets the step outputs (``$GITHUB_OUTPUT``): the paper-level verdict, the counts, the report files
  this run wrote, the image;
- appends ``summary.md`` to ``$GITHUB_STEP_SUMMARY`` (under GitHub's 1 MiB limit);
- prints workflow annotations for failed and differing notebooks and for findings, within GitHub's
  per-step limits (10 of each level); the others are counted in the summary;
- exits 1 when ``fail-on`` says the job fails (2 on a bad input).

While paperpack runs, workflow commands are switched off (``::stop-commands::`` with a random
token): text from the repository's notebooks is printed in the log and must not be read by the
runner as commands (``::add-mask::``, fake annotations). ``binder`` asks a BinderHub to build
the commit after a good verdict (``paperpack binder``); a failure there is a warning.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checks.findings import Finding, Severity
from ..errors import PaperpackError
from ..report.github import annotation, workflow_command
from .outcome import Outcome, prewarm_binder, run_build
from .settings import CiSettings

__all__ = ["main", "make_annotations", "write_outputs", "step_summary", "ANNOTATION_LIMIT", "SUMMARY_LIMIT"]

#: annotations GitHub shows per step and level (error, warning, notice); more are dropped
ANNOTATION_LIMIT = 10
#: the largest step summary GitHub accepts
SUMMARY_LIMIT = 1024 * 1024
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
_NOTEBOOK_LEVEL = {"failed": "error", "differs": "error", "no-outputs": "warning"}


@dataclass(frozen=True)
class Annotations:
    lines: list[str]
    left_out: dict[str, int]  # level → how many were not printed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m paperpack.ci.github", description="The steps of paperpack's GitHub Action (action.yml)."
    )
    parser.add_argument("step", choices=("verify", "binder"))
    args = parser.parse_args(argv)
    env = os.environ
    try:
        settings = CiSettings.from_env(env)
    except PaperpackError as exc:
        print(workflow_command("error", f"{exc} — {exc.hint}" if exc.hint else str(exc), title="paperpack"))
        return exc.exit_code
    if args.step == "binder":
        return _binder(settings, env)
    return _verify(settings, env)


@contextmanager
def _commands_stopped() -> Iterator[None]:
    """No workflow commands in what is printed inside (text from the repository, its notebooks, its build)."""
    token = secrets.token_hex(16)
    print(f"::stop-commands::{token}", flush=True)
    try:
        yield
    finally:
        sys.stderr.flush()
        print(f"::{token}::", flush=True)


def _verify(settings: CiSettings, env: Mapping[str, str]) -> int:
    with _commands_stopped():
        outcome = run_build(settings)
    decision = outcome.decide(settings.fail_on)
    if decision.fail:  # first, and within the limit: the annotation that says why the job failed
        print(workflow_command("error", decision.reason, title="paperpack"))
    workspace = Path(env.get("GITHUB_WORKSPACE") or os.getcwd())
    notes = make_annotations(outcome, workspace, reserved_errors=int(decision.fail))
    for line in notes.lines:
        print(line)
    outputs = outputs_of(outcome)
    outputs["exit-code"] = str(decision.exit_code)
    if env.get("GITHUB_OUTPUT"):
        write_outputs(Path(env["GITHUB_OUTPUT"]), outputs)
    if env.get("GITHUB_STEP_SUMMARY"):
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:
            fh.write(step_summary(outcome, notes.left_out, decision.reason))
    print(f"paperpack: {outcome.verdict.label()} — {decision.reason}")
    return decision.exit_code


def _binder(settings: CiSettings, env: Mapping[str, str]) -> int:
    """Pre-warm the BinderHub ``binder-hub`` for this commit; a failure is a warning, not the job's."""
    if not settings.binder_hub:
        return 0
    with _commands_stopped():  # the hub's build log is the repository's build output
        code = prewarm_binder(settings)
    status = "built" if code == 0 else "failed"
    if env.get("GITHUB_OUTPUT"):
        write_outputs(Path(env["GITHUB_OUTPUT"]), {"binder": status})
    if code != 0:
        print(
            workflow_command(
                "warning",
                f"Binder pre-warm on {settings.binder_hub} failed (paperpack binder exit "
                f"status {code}); the log above says why. The verdict stands.",
                title="paperpack binder",
            )
        )
    return 0


def outputs_of(outcome: Outcome) -> dict[str, str]:
    """The action's outputs (action.yml), as strings; a report file this run did not write is ''."""
    verdict = outcome.verdict
    out = {
        "verdict": verdict.cls.value,
        "label": verdict.label(),
        "passed": "true" if verdict.cls.passed else "false",
        "same": str(verdict.reproduced),
        "differs": str(outcome.differs),
        "failed": str(outcome.failed),
        "image": outcome.build_value("image"),
        "image-digest": outcome.build_value("image_id"),
        "report-dir": str(outcome.report_dir.resolve()) if outcome.report_dir.is_dir() else "",
    }
    for key in ("report-json", "junit", "sarif", "html", "badge-json", "summary"):
        path = outcome.files.get(key)
        out[key] = str(path.resolve()) if path is not None else ""
    return out


def write_outputs(path: Path, values: Mapping[str, str]) -> None:
    """Append ``values`` to ``$GITHUB_OUTPUT``, each as ``name<<DELIMITER`` lines (safe for any text)."""
    with open(path, "a", encoding="utf-8") as fh:
        for name, value in values.items():
            delimiter = f"paperpack_{secrets.token_hex(8)}"
            fh.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def make_annotations(outcome: Outcome, workspace: Path, *, reserved_errors: int = 0) -> Annotations:
    """Annotations for notebooks that failed or differ, then for findings; at most 10 per level
    (``reserved_errors`` fewer errors: the caller prints those itself)."""
    prefix = _prefix(outcome.report, workspace)
    candidates: list[tuple[str, str]] = []
    run = (outcome.report or {}).get("run")
    for nb in (run.get("notebooks") or []) if isinstance(run, dict) else []:
        level = _NOTEBOOK_LEVEL.get(str(nb.get("verdict")))
        if level and isinstance(nb.get("path"), str):
            text = f"{nb['path']}: {nb['verdict']}" + (f" — {str(nb['message'])[:2000]}" if nb.get("message") else "")
            candidates.append(
                (
                    level,
                    workflow_command(
                        level, text, file=prefix + nb["path"], title=f"paperpack: notebook {nb['verdict']}"
                    ),
                )
            )
    findings = [f for f in (_finding(d) for d in (outcome.report or {}).get("findings") or []) if f is not None]
    for finding in sorted(findings, key=lambda f: (f.severity.rank, *f.sort_key())):
        candidates.append((_LEVEL[finding.severity], annotation(finding, prefix)))
    shown: dict[str, int] = {"error": reserved_errors}
    left_out: dict[str, int] = {}
    lines = []
    for level, line in candidates:
        if shown.get(level, 0) < ANNOTATION_LIMIT:
            shown[level] = shown.get(level, 0) + 1
            lines.append(line)
        else:
            left_out[level] = left_out.get(level, 0) + 1
    return Annotations(lines, left_out)


def step_summary(outcome: Outcome, left_out: Mapping[str, int], reason: str) -> str:
    """summary.md of this run, with what annotations left out; under :data:`SUMMARY_LIMIT` bytes."""
    tail = [f"\n**paperpack:** {reason}\n"]
    if left_out:
        counted = ", ".join(f"{n} {level}{'s' * (n != 1)}" for level, n in sorted(left_out.items()))
        tail.append(
            f"\n{counted} more not shown as annotations (GitHub shows {ANNOTATION_LIMIT} of each level a "
            "step): every finding is in report.sarif and report.html of the report artifact.\n"
        )
    path = outcome.files.get("summary")
    if path is None:
        head = (
            f"## paperpack: {outcome.verdict.label()}\n\nsummary.md was not written by this run; "
            "report.json and the log above have the details.\n"
        )
    else:
        head = _read_text(path)
    end = "".join(tail)
    room = SUMMARY_LIMIT - len(end.encode("utf-8")) - 200
    if len(head.encode("utf-8")) > room:
        cut = head.encode("utf-8")[:room].decode("utf-8", "ignore")
        head = cut[: cut.rfind("\n") + 1] + "\n… summary.md cut here: GitHub takes at most 1 MiB; see report.html.\n"
    return head.rstrip("\n") + "\n" + end


def _read_text(path: Path) -> str:
    with open(path, "rb") as fh:
        data = fh.read(SUMMARY_LIMIT + 1)
    return data.decode("utf-8", "replace")


def _prefix(report: dict[str, Any] | None, workspace: Path) -> str:
    """The repository's folder inside the workspace, as annotations' file paths need it ('' or 'paper/')."""
    root = ((report or {}).get("repository") or {}).get("root")
    if not isinstance(root, str):
        return ""
    try:
        relative = Path(root).resolve().relative_to(workspace.resolve())
    except ValueError:
        return ""
    return "" if relative == Path(".") else f"{relative.as_posix()}/"


def _finding(d: object) -> Finding | None:
    """A finding of report.json back as a :class:`Finding` (``None`` for anything else)."""
    if not isinstance(d, dict):
        return None
    try:
        severity = Severity(d.get("severity"))
    except ValueError:
        return None

    def text(key: str) -> str:
        return str(d.get(key) or "")

    def number(key: str) -> int | None:
        value = d.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    path = d.get("path")
    return Finding(
        rule=text("rule"),
        name=text("name"),
        severity=severity,
        path=path if isinstance(path, str) else None,
        message=text("message"),
        why=text("why"),
        fix=text("fix"),
        line=number("line"),
        cell=number("cell"),
    )


if __name__ == "__main__":
    sys.exit(main())
