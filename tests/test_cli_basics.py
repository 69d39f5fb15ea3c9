from __future__ import annotations

import json
from pathlib import Path

import pytest

from paperpack.cli.main import main


def test_help_lists_commands_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "validate" in out
    assert "exit codes" in out


def test_no_command_is_usage_error() -> None:
    assert main([]) == 2


def test_missing_folder_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "no such folder" in err and "hint:" in err


def test_misspelt_manifest_key_points_at_line_with_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "paperpack.yml").write_text("version: 1\ntitel: Lorenz\n")
    assert main(["validate", str(tmp_path), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    man = [f for f in report["findings"] if f["rule"] == "MAN001"]
    assert len(man) == 1
    assert man[0]["line"] == 2
    assert "did you mean 'title'" in man[0]["message"]
