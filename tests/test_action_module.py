"""paperpack.ci: the settings, the fail-on decision, annotations within GitHub's limits, the step summary,
the outputs file, and which report files count as this run's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from actionharness import parse_file_commands, read_annotations
from paperpack.ci.github import ANNOTATION_LIMIT, SUMMARY_LIMIT, make_annotations, step_summary, write_outputs
from paperpack.ci.outcome import Outcome, Snapshot, read_outcome
from paperpack.ci.settings import CiSettings, FailOn, parse_parameters
from paperpack.errors import ConfigError
from paperpack.report.paper import PaperClass, PaperVerdict, Reason


def test_parameters_are_name_value_lines_with_comments() -> None:
    assert parse_parameters("# small\n\nn_samples = 100\nlabel=a=b\n") == (("n_samples", "100"), ("label", "a=b"))
    with pytest.raises(ConfigError, match=r"line 2: '2x=1' is not name=value"):
        parse_parameters("ok=1\n2x=1\n")


def test_settings_become_the_arguments_of_paperpack_build() -> None:
    settings = CiSettings.from_env(
        {
            "PAPERPACK_PATH": "-paper",
            "PAPERPACK_TIMEOUT": "600",
            "PAPERPACK_PUSH": "True",
            "PAPERPACK_PARAMETERS": "n=3",
            "PAPERPACK_IMAGE_NAME": "ghcr.io/a/b",
            "PAPERPACK_ENGINE": "local",
            "PAPERPACK_FAIL_ON": "never",
        }
    )
    assert settings.fail_on is FailOn.NEVER
    assert settings.build_argv() == [
        "build",
        "--mode",
        "auto",
        "--engine",
        "local",
        "--out-dir",
        "paperpack-out",
        "--timeout",
        "600.0",
        "-p",
        "n",
        "3",
        "--image-name",
        "ghcr.io/a/b",
        "--push",
        "--",
        "-paper",
    ]
    from paperpack.cli.main import build_parser

    parsed = build_parser().parse_args(settings.build_argv())
    assert (parsed.path, parsed.timeout, parsed.parameters, parsed.push) == (Path("-paper"), 600.0, [["n", "3"]], True)


@pytest.mark.parametrize(
    "variable, value",
    [
        ("PAPERPACK_TIMEOUT", "0"),
        ("PAPERPACK_TIMEOUT", "inf"),
        ("PAPERPACK_CELL_TIMEOUT", "nan"),
        ("PAPERPACK_MODE", "docker"),
        ("PAPERPACK_PUSH", "yes please"),
    ],
)
def test_a_bad_setting_names_the_input_and_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"\({variable}\)"):
        CiSettings.from_env({variable: value})


def outcome(
    cls: PaperClass,
    *,
    counts: dict[str, int] | None = None,
    errors: int = 0,
    complete: bool = True,
    report: bool = True,
    findings: list[dict[str, Any]] | None = None,
    notebooks: list[dict[str, Any]] | None = None,
) -> Outcome:
    body = {
        "summary": {"errors": errors},
        "complete": complete,
        "findings": findings or [],
        "repository": {"root": "/work/space/paper"},
        "run": {"notebooks": notebooks or []},
    }
    verdict = PaperVerdict(cls, (), 0, 3, counts or {})
    return Outcome(Path("out"), 0 if report else 2, {}, body if report else None, verdict)


R, P, N = PaperClass.REPRODUCED, PaperClass.PARTIALLY_REPRODUCED, PaperClass.NOT_RUN
DECISIONS = [  # (outcome, {fail-on: fails?})
    (outcome(R), {"failed": False, "differs": False, "findings": False, "never": False}),
    (outcome(PaperClass.MINOR_DIFFERENCES), {"failed": False, "differs": False, "findings": False, "never": False}),
    (outcome(R, errors=2), {"failed": False, "differs": False, "findings": True, "never": False}),
    (
        outcome(P, counts={"same": 2, "differs": 1}),
        {"failed": False, "differs": True, "findings": True, "never": False},
    ),
    (
        outcome(P, counts={"same": 2, "no-outputs": 1}),
        {"failed": False, "differs": True, "findings": True, "never": False},
    ),
    (outcome(P, counts={"same": 2, "failed": 1}), {"failed": True, "differs": True, "findings": True, "never": False}),
    (
        outcome(PaperClass.NOT_REPRODUCED, counts={"differs": 3}),
        {"failed": False, "differs": True, "findings": True, "never": False},
    ),
    (outcome(N, report=False), {"failed": True, "differs": True, "findings": True, "never": False}),
    (outcome(N), {"failed": True, "differs": True, "findings": True, "never": False}),
    (
        outcome(P, counts={"same": 1}, complete=False),
        {"failed": True, "differs": True, "findings": True, "never": False},
    ),
]


@pytest.mark.parametrize("number", range(len(DECISIONS)))
def test_fail_on_decides_the_status(number: int) -> None:
    case, expected = DECISIONS[number]
    for fail_on, fails in expected.items():
        decision = case.decide(FailOn(fail_on))
        assert decision.fail is fails, (fail_on, decision)
        assert decision.exit_code == int(fails)
        if fails:
            assert decision.reason.startswith(f"fail-on {fail_on}:")


def finding(severity: str, number: int) -> dict[str, Any]:
    return {
        "rule": f"NB{number:03d}",
        "name": "a-rule",
        "severity": severity,
        "path": f"nb{number}.ipynb",
        "line": number + 1,
        "cell": None,
        "message": f"message {number}\n::error::not a command",
        "why": "why",
        "fix": "fix",
    }


def test_annotations_stay_within_githubs_limits_and_the_rest_is_counted() -> None:
    findings = [finding("error", n) for n in range(15)] + [finding("warning", n) for n in range(12)]
    notebooks = [
        {"path": "a.ipynb", "verdict": "failed", "message": "boom"},
        {"path": "b.ipynb", "verdict": "differs", "message": "cell 3"},
        {"path": "c.ipynb", "verdict": "same", "message": ""},
    ]
    case = outcome(P, findings=findings, notebooks=notebooks)
    notes = make_annotations(case, Path("/work/space"))
    made = read_annotations("\n".join(notes.lines))
    assert [a.level for a in made].count("error") == ANNOTATION_LIMIT
    assert [a.level for a in made].count("warning") == ANNOTATION_LIMIT
    assert len(made) == len(notes.lines)  # one line each: the newline in a message is escaped
    assert made[0].properties["file"] == "paper/a.ipynb" and made[1].properties["file"] == "paper/b.ipynb"
    assert made[2].properties == {"file": "paper/nb0.ipynb", "line": "1", "title": "NB000 a-rule"}
    assert made[2].message.startswith("message 0\n::error::not a command")
    assert notes.left_out == {"error": 7, "warning": 2}
    summary = step_summary(case, notes.left_out, "fail-on differs: partially reproduced")
    assert "7 errors, 2 warnings more not shown as annotations" in summary
    failing = make_annotations(case, Path("/work/space"), reserved_errors=1)  # the verdict's own error comes first
    assert [a.level for a in read_annotations("\n".join(failing.lines))].count("error") == ANNOTATION_LIMIT - 1
    assert failing.left_out["error"] == 8


def test_the_step_summary_stays_under_githubs_limit(tmp_path: Path) -> None:
    big = tmp_path / "summary.md"
    big.write_text("## paperpack\n" + "| a.ipynb | differs |\n" * 100_000, encoding="utf-8")
    assert big.stat().st_size > SUMMARY_LIMIT
    case = outcome(R)
    case.files["summary"] = big
    text = step_summary(case, {"error": 1}, "reproduced")
    assert len(text.encode("utf-8")) <= SUMMARY_LIMIT
    assert "summary.md cut here" in text and text.rstrip().endswith("report.html of the report artifact.")


def test_outputs_survive_any_text(tmp_path: Path) -> None:
    path = tmp_path / "output"
    values = {"verdict": "reproduced", "odd": "two\nlines\nEOF\nname=value", "empty": ""}
    write_outputs(path, values)
    write_outputs(path, {"binder": "built"})
    assert parse_file_commands(path.read_text()) == {**values, "binder": "built"}


def test_only_report_files_written_since_the_snapshot_count(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text('{"paper": {"class": "reproduced", "reproduced": 3, "considered": 3}}')
    (out / "badge.json").write_text("{}")
    before = Snapshot.take(out)
    stale = read_outcome(out, before, 2)
    assert stale.files == {} and stale.report is None and stale.verdict.cls is PaperClass.NOT_RUN
    new = out / ".report.json.tmp"
    new.write_text(
        '{"paper": {"class": "partially-reproduced", "reasons": ["differs-in-text", "from-the-future"],'
        ' "reproduced": 2, "considered": 3, "counts": {"same": 2, "differs": 1}}, "complete": true}'
    )
    os.replace(new, out / "report.json")
    (out / "report.html").symlink_to(out / "badge.json")
    fresh = read_outcome(out, before, 1)
    assert set(fresh.files) == {"report-json"}  # badge.json unchanged, report.html a link
    assert fresh.verdict == PaperVerdict(
        PaperClass.PARTIALLY_REPRODUCED, (Reason.DIFFERS_IN_TEXT,), 2, 3, {"same": 2, "differs": 1}
    )
    assert (fresh.differs, fresh.failed) == (1, 0)
