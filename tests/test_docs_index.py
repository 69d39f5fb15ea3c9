"""The docs map (docs/index.md) reaches every page, the README keeps two commands, and every
`$ paperpack …` command shown in the docs is one the command line accepts."""

from __future__ import annotations

import re
import shlex

import pytest

from conftest import ROOT
from paperpack.cli.main import build_parser

DOCS = ROOT / "docs"
#: pages other engineers write this session: linked from the index before they land
COMING = {"reports.md", "ci.md", "batch.md"}


def _links(text: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"\]\(([^)#]+\.md)(?:#[^)]*)?\)", text)}


def test_index_maps_every_page() -> None:
    linked = _links((DOCS / "index.md").read_text(encoding="utf-8"))
    pages = {p.name for p in DOCS.glob("*.md")} - {"index.md"}
    assert pages - linked == set(), f"docs/index.md does not link {sorted(pages - linked)}"
    assert linked - pages - COMING == set(), f"docs/index.md links pages that do not exist: {linked - pages - COMING}"
    for section in ("## Tutorial", "## How-to guides", "## Reference", "## Explanation"):
        assert section in (DOCS / "index.md").read_text(encoding="utf-8")


def test_readme_quick_start_is_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quick start\n.*?```bash\n(.*?)```", text, re.S)
    assert block, "README has no Quick start block"
    commands = [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 2, commands


def _shown_commands() -> list[tuple[str, list[str]]]:
    out = []
    for page in sorted(DOCS.glob("*.md")) + [ROOT / "README.md"]:
        for line in page.read_text(encoding="utf-8").splitlines():
            match = re.match(r"^\$ paperpack (.*)$", line)
            if match and "--format jsn" not in line:  # cli.md shows that usage error on purpose
                argv = shlex.split(match.group(1).split(" #")[0].split(" | ")[0].split(" && ")[0])
                out.append((f"{page.name}: paperpack {match.group(1)}", argv))
    return out


SHOWN = _shown_commands()


def test_the_docs_show_commands() -> None:
    assert len(SHOWN) >= 8


@pytest.mark.parametrize("where, argv", SHOWN, ids=[w for w, _ in SHOWN])
def test_every_command_shown_in_the_docs_parses(
    where: str, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        build_parser(argv[0]).parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{where}: {capsys.readouterr().err or exc}")


def test_readme_python_version_is_the_package_minimum() -> None:
    import tomllib

    required = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    minimum = re.fullmatch(r">=\s*(3\.[0-9]+)", required.strip())
    assert minimum, required
    assert f"Python {minimum.group(1)}+" in (ROOT / "README.md").read_text(encoding="utf-8")
    # the code imports tomllib, new in 3.11: the minimum cannot be lower
    assert tuple(map(int, minimum.group(1).split("."))) >= (3, 11)
