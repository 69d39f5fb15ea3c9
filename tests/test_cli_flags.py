"""The command line's shared vocabulary, usage errors with a hint, -q, a closed pipe, and run limits.

One meaning per flag name across commands (docs/cli.md): ``--format {text,json}``,
``-o/--out-dir DIR`` the output folder, ``--report FILE`` a copy of the JSON report,
``--offline`` no network look-ups (validate), ``--mode offline`` the offline build.
Old spellings still work and say so on stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from paperpack.cli.main import build_parser, main
from paperpack.repository.manifest import parse_manifest

NOTEBOOK = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "cells": [
        {"cell_type": "code", "id": "c1", "execution_count": 1, "metadata": {}, "outputs": [], "source": "print(1)"}
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
}


def _repo(root: Path, requirements: str = "numpy==1.26.4\n", runtime: str | None = "python-3.11\n") -> Path:
    root.mkdir(parents=True)
    (root / "analysis.ipynb").write_text(json.dumps(NOTEBOOK))
    (root / "requirements.txt").write_text(requirements)
    if runtime:
        (root / "runtime.txt").write_text(runtime)
    return root


def _parse(*argv: str):  # type: ignore[no-untyped-def]
    return build_parser(argv[0]).parse_args(list(argv))


@pytest.mark.parametrize("command", ["validate", "build", "run"])
def test_format_text_or_json_on_validate_build_and_run(command: str) -> None:
    assert _parse(command, ".", "--format", "json").format == "json"
    assert _parse(command, ".").format == "text"


@pytest.mark.parametrize("command", ["build", "run"])
@pytest.mark.parametrize("flag", ["-o", "--out-dir"])
def test_out_dir_is_the_output_folder_on_build_and_run(command: str, flag: str, tmp_path: Path) -> None:
    args = _parse(command, ".", flag, str(tmp_path / "out"))
    assert args.out == tmp_path / "out"
    assert _parse(command, ".", "--report", "r.json").report == Path("r.json")


def test_old_build_spellings_still_work_with_a_note(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from paperpack.cli.build import _old_spellings

    args = _parse("build", ".", "--json", "--offline", "-o", str(tmp_path / "report.json"))
    _old_spellings(args)
    assert (args.format, args.mode, args.report, args.out) == ("json", "offline", tmp_path / "report.json", None)
    notes = capsys.readouterr().err.splitlines()
    assert len(notes) == 3 and all(line.startswith("note: ") and "deprecated" in line for line in notes), notes
    assert "--format json" in notes[0] and "--mode offline" in notes[1] and "--report" in notes[2]
    args = _parse("build", ".", "--output", "copy.json", "--out-dir", str(tmp_path / "o"))
    _old_spellings(args)
    assert (args.report, args.out) == (Path("copy.json"), tmp_path / "o")


def test_old_validate_output_still_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path / "paper")
    assert main(["validate", str(repo), "--offline", "-o", str(tmp_path / "old.json")]) == 0
    assert "validate -o/--output FILE is deprecated" in capsys.readouterr().err
    assert json.loads((tmp_path / "old.json").read_text())["report_version"] == 1
    assert main(["validate", str(repo), "--offline", "--report", str(tmp_path / "new.json")]) == 0
    assert "deprecated" not in capsys.readouterr().err
    assert (tmp_path / "new.json").is_file()


@pytest.mark.parametrize(
    "argv, closest",
    [
        (["validate", ".", "--formt", "json"], "'--format'"),
        (["validate", ".", "--format", "jsn"], "'json'"),
        (["valdate", "."], "'validate'"),
        (["build", ".", "--mode", "ofline"], "'offline'"),
        (["run", ".", "--engne", "local"], "'--engine'"),
    ],
)
def test_usage_errors_end_with_a_hint(argv: list[str], closest: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("hint: did you mean " + closest), err
    command = "paperpack" if argv[0] == "valdate" else f"paperpack {argv[0]}"
    assert f"`{command} --help`" in err[-1]


def test_quiet_validate_prints_only_errors_and_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path / "paper", requirements="numpy\n", runtime="python-2.7\n")  # a warning and an error
    assert main(["validate", str(repo), "--offline"]) == 1
    loud = capsys.readouterr().out
    assert "warning" in loud and "ENV007" in loud, loud
    assert main(["validate", str(repo), "--offline", "-q"]) == 1
    quiet = capsys.readouterr().out.strip().splitlines()
    assert quiet[-1].startswith("1 error"), quiet
    body = quiet[:-1]
    assert body and all(line.startswith(("error ", "  fix:")) for line in body), quiet
    assert "ENV009" in quiet[0] and not any("ENV007" in line or "offline" in line for line in quiet), quiet


def test_plain_text_output_is_what_rich_prints_without_colour(tmp_path: Path) -> None:
    """Off a terminal, validate draws without rich.console: the same text, markup removed as rich does."""
    from rich.console import Console

    from paperpack.report.text import PlainConsole, render_text
    from paperpack.validate import validate

    repo = _repo(tmp_path / "pa[bold]per", requirements="numpy  # see [link](x) \\[y]\n", runtime="python-2.7\n")
    report = validate(repo, offline=True)
    plain, rich_out = tmp_path / "plain.txt", tmp_path / "rich.txt"
    with plain.open("w") as a, rich_out.open("w") as b:
        render_text(report, PlainConsole(a), verbose=True)
        render_text(report, Console(file=b, highlight=False, soft_wrap=True, emoji=False, no_color=True), verbose=True)
    assert plain.read_text() == rich_out.read_text()
    assert "ENV009" in plain.read_text()


def _into_a_closed_pipe(*argv: str) -> tuple[int, str]:
    """Run paperpack with stdout a pipe whose reader is already gone (as after `| head -1`): exit code, stderr.

    The read end is closed before the process starts, so its first write fails, every time.
    """
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "paperpack", *argv],
            stdout=write,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)
    return done.returncode, done.stderr.decode()


def test_a_closed_pipe_ends_quietly() -> None:
    """`paperpack rules | head -1`: no BrokenPipeError traceback, exit 141 as a shell reports SIGPIPE."""
    code, err = _into_a_closed_pipe("rules")
    assert (code, err) == (141, "")


def test_a_closed_pipe_ends_quietly_for_validate_json(tmp_path: Path) -> None:
    code, err = _into_a_closed_pipe("validate", str(_repo(tmp_path / "paper")), "--offline", "--format", "json")
    assert (code, err) == (141, "")


def test_a_closed_pipe_ends_quietly_for_validate_text(tmp_path: Path) -> None:
    code, err = _into_a_closed_pipe("validate", str(_repo(tmp_path / "paper")), "--offline")
    assert (code, err) == (141, "")


@pytest.mark.parametrize(
    "option, value, key",
    [
        ("--pids", "5", "pids"),
        ("--jobs", "0", "jobs"),
        ("--memory", "lots", "memory"),
        ("--timeout", "0", "timeout"),
        ("--cell-timeout", "-1", "cell_timeout"),
        ("--disk", "4 GB", "disk"),
        ("--cpus", "0", "cpus"),
    ],
)
def test_run_limits_follow_the_manifest_rules(
    option: str, value: str, key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--pids 5` is refused as `run: {pids: 5}` is, with the same words (one check for both)."""
    repo = _repo(tmp_path / "paper")
    assert main(["run", str(repo), "--engine", "local", option, value]) == 2
    err = capsys.readouterr().err
    yaml_value = repr(value) if key in ("memory", "disk") else value  # sizes are strings in YAML
    with pytest.raises(Exception) as manifest_error:
        parse_manifest(f"version: 1\nrun:\n  {key}: {yaml_value}\n")
    said = str(manifest_error.value).split(f"run.{key}: ", 1)[1]
    said = said.replace("0.0", "0").replace("-1.0", "-1")  # the command line reads "0" as a number, YAML as 0
    assert said in err.replace("0.0", "0").replace("-1.0", "-1"), (said, err)
    assert not (repo / "paperpack-out").exists()


def test_pids_from_16_are_accepted() -> None:
    assert _parse("run", ".", "--pids", "16").pids == 16


@pytest.mark.parametrize(
    "text, shown, fix",
    [
        ("environment:\n  python: 3.10\n", "found the number 3.10, which YAML reads as 3.1", "'3.10'"),
        ("environment:\n  python: 3.9\n", "found the number 3.9", "'3.9'"),
        ("title: 2.50\n", "found the number 2.50, which YAML reads as 2.5", "'2.50'"),
    ],
)
def test_an_unquoted_version_says_to_write_a_string(text: str, shown: str, fix: str) -> None:
    with pytest.raises(Exception) as error:
        parse_manifest("version: 1\n" + text)
    assert shown in str(error.value) and "ScalarFloat" not in str(error.value), str(error.value)
    assert getattr(error.value, "hint", "") == f"write it as a string: {fix}"


def test_validate_suggests_ignoring_the_output_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path / "paper")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "paperpack-out").mkdir()
    main(["validate", str(repo), "--offline"])
    assert "add the line `paperpack-out/` to .gitignore" in capsys.readouterr().err
    (repo / ".gitignore").write_text("paperpack-out/\n")
    main(["validate", str(repo), "--offline"])
    assert ".gitignore" not in capsys.readouterr().err


def test_init_suggests_ignoring_the_output_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path / "paper")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    assert main(["init", str(repo)]) == 0
    assert "add the line `paperpack-out/` to .gitignore" in capsys.readouterr().err
    (repo / "paperpack.yml").unlink()
    (repo / ".gitignore").write_text("paperpack-out\n")
    assert main(["init", str(repo)]) == 0
    assert ".gitignore" not in capsys.readouterr().err


def test_escape_is_rich_markup_escape() -> None:
    """report.text's escape (no rich import) gives what rich.markup.escape gives, on many awkward strings."""
    import random

    from rich.markup import escape as rich_escape

    from paperpack.report.text import escape

    pieces = ["[", "]", "\\", "a", "/", "#", "@", " ", "[b]", "[/]", "\\[", "[red on white]", "x]"]
    rng = random.Random(7)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(0, 9))) for _ in range(5000)]
    assert [escape(t) for t in texts] == [rich_escape(t) for t in texts]
