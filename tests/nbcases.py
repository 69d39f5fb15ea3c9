"""Shared runner for the notebook (nb-*) and dependency (dep-*) case folders.

Each folder under tests/cases/ is a small repository with ``expected.json`` beside it:
``{"families": ["NB", "DEP"], "findings": [{"rule", "path", "line", "cell", "severity"}]}``,
the exact findings of those families. The run must not change anything in the copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import CASES, snapshot
from paperpack.cli.main import main


def folders(*prefixes: str) -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if p.is_dir() and p.name.startswith(prefixes))


def _key(f: dict) -> tuple[str, str, int, int, str]:  # type: ignore[type-arg]
    return (
        f["rule"],
        f["path"] or "",
        f.get("line") or 0,
        f.get("cell") if f.get("cell") is not None else -1,
        f.get("severity", ""),
    )


def run_case(name: str, tmp_path: Path, capsys) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    src = CASES / name
    expected = json.loads((src / "expected.json").read_text(encoding="utf-8"))
    repo = tmp_path / name
    shutil.copytree(src, repo, symlinks=True, ignore=shutil.ignore_patterns("expected.json"))
    before = snapshot(repo)
    code = main(["validate", str(repo), "--format", "json", "--offline"])
    report = json.loads(capsys.readouterr().out)
    assert snapshot(repo) == before, "validate changed files in the repository"
    got = [f for f in report["findings"] if f["rule"].startswith(tuple(expected["families"]))]
    assert sorted(map(_key, got)) == sorted(map(_key, expected["findings"])), json.dumps(got, indent=1)
    for f in got:
        assert f["message"] and f["fix"] and f["why"], f
        assert "\n" not in f["message"] and len(f["message"]) < 300, f["message"]
    if any(f["severity"] == "error" for f in got):
        assert code == 1
    return got
