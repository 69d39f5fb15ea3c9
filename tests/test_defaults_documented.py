"""Every run limit's default is the same in the code, `--help`, the docs and the manifest schema."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT
from paperpack.cli.main import main
from paperpack.image.builder import DEFAULT_BUILD_MEMORY, DEFAULT_BUILD_PIDS, DEFAULT_BUILD_TIMEOUT
from paperpack.run.plan import DEFAULT_CELL_TIMEOUT, DEFAULT_DISK, DEFAULT_MEMORY, DEFAULT_PIDS, DEFAULT_TIMEOUT
from paperpack.util.schemas import load_schema

#: manifest key -> (command-line option, the default the run plan applies, as people write it)
LIMITS = {
    "timeout": ("--timeout", f"{DEFAULT_TIMEOUT:g}"),
    "cell_timeout": ("--cell-timeout", f"{DEFAULT_CELL_TIMEOUT:g}"),
    "memory": ("--memory", DEFAULT_MEMORY),
    "pids": ("--pids", str(DEFAULT_PIDS)),
    "disk": ("--disk", DEFAULT_DISK),
}


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _option_help(help_text: str, option: str) -> str:
    """The help of ``option`` in ``--help`` output, on one line."""
    match = re.search(rf"^  {re.escape(option)} \S+\s+(.*?)(?=^  -)", help_text, re.M | re.S)
    assert match, f"{option} not in --help"
    return _flat(match.group(1))


@pytest.mark.parametrize("key", sorted(LIMITS))
def test_schema_default_is_the_code_default(key: str) -> None:
    rule = load_schema("manifest")["properties"]["run"]["properties"][key]
    assert str(rule["default"]) == LIMITS[key][1] and f"default {LIMITS[key][1]}" in rule["description"]


@pytest.mark.parametrize("command", ["run", "build"])
def test_help_gives_the_code_defaults(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    wrong = {
        option: _option_help(text, option)
        for option, value in LIMITS.values()
        if f"(default {value}" not in _option_help(text, option)
    }
    assert wrong == {}, wrong


def test_docs_cli_md_table_gives_the_code_defaults() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    rows = {
        m.group(1): m.group(2).strip() for m in re.finditer(r"^\| `(--[a-z-]+) \S+` \| [^|]+ \| ([^|]+) \|", text, re.M)
    }
    assert {option: rows.get(option) for option, _ in LIMITS.values()} == dict(LIMITS.values())
    assert f"`PAPERPACK_BUILD_TIMEOUT`, default {DEFAULT_BUILD_TIMEOUT:g} seconds" in _flat(text)


def test_docs_manifest_md_gives_the_code_defaults() -> None:
    text = _flat((ROOT / "docs" / "manifest.md").read_text(encoding="utf-8"))
    row = re.search(r"\| `run` \|.*?\|(.*?)\|", text)
    assert row, "docs/manifest.md has no `run` row"
    missing = [f"{key} {value}" for key, (_, value) in LIMITS.items() if f"{key} {value}" not in row.group(1)]
    assert missing == [], f"docs/manifest.md's run row lacks {missing}"


def test_docs_run_and_compare_md_gives_the_code_defaults() -> None:
    text = _flat((ROOT / "docs" / "run-and-compare.md").read_text(encoding="utf-8"))
    said = re.search(r"Defaults: (.*?);", text)
    assert said, "run-and-compare.md says its defaults in one sentence: `Defaults: memory 2g, …;`"
    assert f"memory {DEFAULT_MEMORY}" in said.group(1) and f"{DEFAULT_PIDS} processes" in said.group(1)
    assert f"disk {DEFAULT_DISK}" in said.group(1) and f"timeout {DEFAULT_TIMEOUT:g} s" in said.group(1)
    assert f"cell timeout {DEFAULT_CELL_TIMEOUT:g} s" in said.group(1)


def test_build_help_and_docs_give_the_build_limits(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--help"]) == 0
    assert f"PAPERPACK_BUILD_TIMEOUT seconds (default {DEFAULT_BUILD_TIMEOUT:g})" in _flat(capsys.readouterr().out)
    docs = _flat((ROOT / "docs" / "build.md").read_text(encoding="utf-8"))
    # the build limits table: limit | default | knob | …
    assert f"| wall-clock time of the whole build | {DEFAULT_BUILD_TIMEOUT:g} s | `PAPERPACK_BUILD_TIMEOUT`" in docs
    assert f"| memory of each build step | `{DEFAULT_BUILD_MEMORY}` | `PAPERPACK_BUILD_MEMORY`" in docs
    assert f"| processes of each build step | {DEFAULT_BUILD_PIDS} | `PAPERPACK_BUILD_PIDS`" in docs
