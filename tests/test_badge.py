"""Badges: launch URLs from real git repositories, the status badge files, README markers."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from paperpack.binder.launch import LaunchOptions, Provider, launch_target, parse_hub, parse_remote
from paperpack.cli.main import main
from paperpack.errors import ManifestError, UsageError
from paperpack.report.badge import (
    BadgeFormat,
    BadgeOptions,
    insert_badges,
    markers,
    readme_badges,
    status_endpoint,
    status_svg,
    write_badges,
    write_status_badges,
)
from paperpack.report.paper import PaperClass, PaperVerdict
from paperpack.report.publish import WRITERS, Publication
from paperpack.repository.manifest import BinderSettings, parse_manifest
from paperpack.repository.repo import Repo
from paperpack.util.atomic import TEMP_NAME

ENDPOINT_SCHEMA = json.loads((Path(__file__).parent / "files" / "badges" / "shields-endpoint.schema.json").read_text())
SHA = "0123456789abcdef0123456789abcdef01234567"
START, END = markers(BadgeFormat.MARKDOWN)


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.org",
            "-c",
            "init.defaultBranch=main",
            "-C",
            str(root),
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def paper(
    root: Path,
    *,
    remote: str | None = "git@github.com:carberry/lorenz.git",
    commit: bool = True,
    manifest: str | None = None,
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "analysis").mkdir()
    (root / "analysis" / "01 data.ipynb").write_text("{}")
    (root / "README.md").write_text("# Lorenz\n\nText.\n")
    if manifest is not None:
        (root / "paperpack.yml").write_text(manifest)
    git(root, "init", "-q")
    if remote:
        git(root, "remote", "add", "origin", remote)
    if commit:
        git(root, "add", "-A")
        git(root, "commit", "-qm", "paper")
    return root


# --- where a launch points -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "remote, provider, name",
    [
        ("https://github.com/carberry/lorenz.git", Provider.GITHUB, "carberry/lorenz"),
        ("https://github.com/carberry/lorenz/", Provider.GITHUB, "carberry/lorenz"),
        ("git@github.com:carberry/lorenz.git", Provider.GITHUB, "carberry/lorenz"),
        ("ssh://git@github.com/carberry/lorenz", Provider.GITHUB, "carberry/lorenz"),
        ("https://x-access-token:SECRET@github.com/carberry/lorenz.git", Provider.GITHUB, "carberry/lorenz"),
        ("carberry/lorenz", Provider.GITHUB, "carberry/lorenz"),
        ("https://gitlab.com/group/sub/project.git", Provider.GITLAB, "group/sub/project"),
        ("git@gitlab.com:group/project.git", Provider.GITLAB, "group/project"),
        ("https://codeberg.org/carberry/lorenz.git", Provider.GIT, "https://codeberg.org/carberry/lorenz.git"),
        ("https://user:SECRET@codeberg.org/carberry/lorenz", Provider.GIT, "https://codeberg.org/carberry/lorenz.git"),
        ("10.5281/zenodo.8417963", Provider.ZENODO, "10.5281/zenodo.8417963"),
        ("https://doi.org/10.5281/ZENODO.8417963", Provider.ZENODO, "10.5281/zenodo.8417963"),
    ],
)
def test_remotes_of_every_form_give_the_provider_and_no_credentials(remote: str, provider: Provider, name: str) -> None:
    source = parse_remote(remote)
    assert (source.provider, source.name) == (provider, name)
    assert "SECRET" not in source.name and "SECRET" not in source.note


@pytest.mark.parametrize(
    "remote",
    [
        "/home/me/paper",
        "file:///srv/paper.git",
        "https://github.com/only-owner",
        "https://github.com/a/b/c",
        "https://example.org/",
        "../paper",
    ],
)
def test_a_remote_binder_cannot_fetch_is_refused_naming_the_flag(remote: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_remote(remote)
    assert "--remote" in str(err.value) and "--remote" in err.value.hint


def test_launch_urls_of_each_provider(tmp_path: Path) -> None:
    root = paper(tmp_path / "p")
    sha = git(root, "rev-parse", "HEAD")
    gh = launch_target(root, ["analysis/01 data.ipynb"])
    assert gh.launch_url == f"https://mybinder.org/v2/gh/carberry/lorenz/{sha}?labpath=analysis%2F01%20data.ipynb"
    assert gh.build_url == f"https://mybinder.org/build/gh/carberry/lorenz/{sha}"
    assert gh.pinned and not gh.notes
    gl = launch_target(root, ["a.ipynb"], options=LaunchOptions(remote="https://gitlab.com/g/sub/p.git", ref=SHA))
    assert gl.launch_url == f"https://mybinder.org/v2/gl/g%2Fsub%2Fp/{SHA}?labpath=a.ipynb"
    other = launch_target(
        root,
        [],
        options=LaunchOptions(remote="https://example.org/r.git", ref=SHA, hub="https://hub.example.org/binder/"),
    )
    assert other.launch_url == f"https://hub.example.org/binder/v2/git/https%3A%2F%2Fexample.org%2Fr.git/{SHA}"
    assert other.badge_image == "https://hub.example.org/binder/badge_logo.svg"
    zen = launch_target(root, ["a.ipynb"], options=LaunchOptions(remote="10.5281/zenodo.42", ref="main"))
    assert zen.launch_url == "https://mybinder.org/v2/zenodo/10.5281/zenodo.42/?labpath=a.ipynb"
    assert zen.ref is None and any("Zenodo" in n for n in zen.notes)


def test_a_branch_ref_works_but_says_it_is_not_pinned(tmp_path: Path) -> None:
    target = launch_target(paper(tmp_path / "p"), [], options=LaunchOptions(ref="main"))
    assert target.spec == "carberry/lorenz/main" and not target.pinned
    assert any("not one commit" in note and "--ref" in note for note in target.notes)


def test_no_remote_is_an_error_naming_the_flag(tmp_path: Path) -> None:
    root = paper(tmp_path / "p", remote=None)
    with pytest.raises(UsageError) as err:
        launch_target(root, [])
    assert "no git remote 'origin'" in str(err.value) and "--remote" in err.value.hint


def test_no_git_at_all_is_an_error_naming_the_flag(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    with pytest.raises(UsageError) as err:
        launch_target(tmp_path / "p", [])
    assert "no git repository" in str(err.value) and "--remote" in err.value.hint


def test_no_commit_is_an_error_naming_the_ref_flag(tmp_path: Path) -> None:
    root = paper(tmp_path / "p", commit=False)
    with pytest.raises(UsageError) as err:
        launch_target(root, [])
    assert "no commit" in str(err.value) and "--ref" in err.value.hint
    assert launch_target(root, [], options=LaunchOptions(ref=SHA)).ref == SHA


def test_a_paper_in_a_subfolder_opens_its_notebook_from_the_repository_root(tmp_path: Path) -> None:
    paper(tmp_path / "repo")
    target = launch_target(tmp_path / "repo" / "analysis", ["01 data.ipynb"])
    assert target.labpath == "analysis/01 data.ipynb"
    assert any("folder analysis/" in note for note in target.notes)


def test_the_manifest_binder_section_is_read_and_flags_win(tmp_path: Path) -> None:
    manifest = (
        "version: 1\nbinder:\n  url: https://binder.example.org\n  repository: https://gitlab.com/g/p\n"
        "  ref: v1.0\n  urlpath: lab/tree/analysis\n"
    )
    root = paper(tmp_path / "p", manifest=manifest)
    repo = Repo.open(root)
    assert repo.manifest is not None
    assert repo.manifest.binder == BinderSettings(
        "https://binder.example.org", "https://gitlab.com/g/p", "v1.0", "lab/tree/analysis"
    )
    made = readme_badges(repo)
    assert made.target.launch_url == "https://binder.example.org/v2/gl/g%2Fp/v1.0?urlpath=lab%2Ftree%2Fanalysis"
    flags = readme_badges(
        repo, BadgeOptions(launch=LaunchOptions(hub="https://other.example.org", ref=SHA, remote="carberry/x"))
    )
    assert flags.target.launch_url == f"https://other.example.org/v2/gh/carberry/x/{SHA}?urlpath=lab%2Ftree%2Fanalysis"


def test_the_manifest_binder_url_must_be_a_web_address() -> None:
    with pytest.raises(ManifestError) as err:
        parse_manifest("version: 1\nbinder:\n  url: mybinder.org\n")
    assert "binder.url" in str(err.value) and "http(s) URL" in str(err.value)
    for bad in (
        "ftp://hub.example.org",
        "https://x.org/a)b",
        'https://x.org"><img/',
        "https://u:p@x.org",
        "https://x.org/?q=1",
        "https://x.org/a b",
    ):
        with pytest.raises(UsageError, match="is not a BinderHub address"):
            parse_hub(bad)
    assert parse_hub("http://[::1]:8080/hub/") == "http://[::1]:8080/hub"


# --- the status badge ------------------------------------------------------------------------------------------------

VERDICTS = [
    PaperVerdict(PaperClass.REPRODUCED, (), 3, 3),
    PaperVerdict(PaperClass.MINOR_DIFFERENCES, (), 3, 3),
    PaperVerdict(PaperClass.PARTIALLY_REPRODUCED, (), 2, 3),
    PaperVerdict(PaperClass.NOT_REPRODUCED, (), 0, 3),
    PaperVerdict(PaperClass.NOT_RUN),
]


@pytest.mark.parametrize("verdict", VERDICTS, ids=lambda v: v.cls.value)
def test_badge_json_follows_the_shields_endpoint_schema(verdict: PaperVerdict) -> None:
    doc = status_endpoint(verdict)
    jsonschema.validate(doc, ENDPOINT_SCHEMA)
    assert doc["message"] == verdict.label() and doc["label"] == "reproducibility"


def test_the_schema_used_rejects_what_shields_rejects() -> None:
    for bad in (
        {"schemaVersion": 2, "label": "a", "message": "b"},
        {"schemaVersion": 1, "label": "a", "message": ""},
        {"schemaVersion": 1, "message": "b"},
        {"schemaVersion": 1, "label": "a", "message": "b", "color": "mauve!"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, ENDPOINT_SCHEMA)


def test_each_class_has_its_own_colour() -> None:
    assert len({status_endpoint(v)["color"] for v in VERDICTS}) == len(VERDICTS)
    assert status_endpoint(VERDICTS[0])["message"] == "reproduced 3/3"


def test_badge_svg_is_svg_with_the_verdict_and_the_same_bytes_each_time() -> None:
    first = status_svg(VERDICTS[2])
    assert status_svg(VERDICTS[0]) != first and status_svg(VERDICTS[2]) == first  # a second badge: same bytes
    tree = ET.fromstring(first.encode())
    assert tree.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {t.text for t in tree.iter("{http://www.w3.org/2000/svg}text")}
    assert {"reproducibility", "partially reproduced 2/3"} <= texts
    assert "#dfb317" in first


def test_write_status_badges_writes_both_files_atomically(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publication = Publication(
        repo=None,
        result=None,
        verdict=VERDICTS[0],
        out_dir=out,  # type: ignore[arg-type]
        commit=SHA,
        report={},
    )
    written = write_status_badges(publication)
    assert written == [out / "badge.json", out / "badge.svg"]
    assert json.loads((out / "badge.json").read_text()) == status_endpoint(VERDICTS[0])
    assert "reproduced 3/3" in (out / "badge.svg").read_text()
    assert not [p for p in out.iterdir() if TEMP_NAME.match(p.name)]
    assert ("badge.json and badge.svg", write_status_badges) in WRITERS


def test_write_status_badges_refuses_a_link_where_badge_json_goes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (out / "badge.json").symlink_to(victim)
    publication = Publication(
        repo=None,
        result=None,
        verdict=VERDICTS[0],
        out_dir=out,  # type: ignore[arg-type]
        commit=SHA,
        report={},
    )
    with pytest.raises(UsageError):
        write_status_badges(publication)
    assert victim.read_text() == "keep"


# --- README badges and their markers ---------------------------------------------------------------------------------


def test_the_status_badge_url_is_derived_for_github_and_otherwise_a_note(tmp_path: Path) -> None:
    repo = Repo.open(paper(tmp_path / "p"))
    made = readme_badges(repo)
    assert [b.alt for b in made.badges] == ["Binder", "reproducibility"]
    assert made.badges[1].image == (
        "https://img.shields.io/endpoint?url=https%3A%2F%2Fraw.githubusercontent.com%2F"
        "carberry%2Florenz%2FHEAD%2Fpaperpack-out%2Fbadge.json"
    )
    other = readme_badges(repo, BadgeOptions(launch=LaunchOptions(remote="https://example.org/r.git")))
    assert [b.alt for b in other.badges] == ["Binder"]
    assert any("--status-url" in note for note in other.notes)
    given = readme_badges(
        repo,
        BadgeOptions(
            launch=LaunchOptions(remote="https://example.org/r.git"), status_url="https://ci.example.org/p/badge.json"
        ),
    )
    assert given.badges[1].image.endswith("url=https%3A%2F%2Fci.example.org%2Fp%2Fbadge.json")


def test_badges_render_in_markdown_rst_and_html(tmp_path: Path) -> None:
    made = readme_badges(Repo.open(paper(tmp_path / "p")))
    url = made.target.launch_url
    assert made.render(BadgeFormat.MARKDOWN).startswith(f"[![Binder](https://mybinder.org/badge_logo.svg)]({url}) ![")
    rst = made.render(BadgeFormat.RST)
    assert f".. image:: https://mybinder.org/badge_logo.svg\n   :target: {url}\n   :alt: Binder" in rst
    assert (
        f'<a href="{url.replace("&", "&amp;")}"><img src="https://mybinder.org/badge_logo.svg" alt="Binder"></a>'
        in made.render(BadgeFormat.HTML)
    )


def test_insert_after_the_title_then_update_in_place_idempotently() -> None:
    text = "# Title\nIntro.\n\n## More\n"
    once = insert_badges(text, f"{START}\nA\n{END}", BadgeFormat.MARKDOWN)
    assert once == f"# Title\n\n{START}\nA\n{END}\n\nIntro.\n\n## More\n"
    assert insert_badges(once, f"{START}\nA\n{END}", BadgeFormat.MARKDOWN) == once
    twice = insert_badges(once, f"{START}\nB\n{END}", BadgeFormat.MARKDOWN)
    assert twice == once.replace("\nA\n", "\nB\n")


def test_insertion_skips_fenced_code_and_keeps_crlf() -> None:
    text = "Intro\r\n```\r\n# not a title\r\n```\r\n# Title\r\nbody\r\n"
    out = insert_badges(text, f"{START}\nA\n{END}", BadgeFormat.MARKDOWN)
    assert out == f"Intro\r\n```\r\n# not a title\r\n```\r\n# Title\r\n\r\n{START}\r\nA\r\n{END}\r\n\r\nbody\r\n"


def test_rst_goes_after_the_underlined_title_between_rst_comments() -> None:
    start, end = markers(BadgeFormat.RST)
    out = insert_badges("Lorenz\n======\n\nText\n", f"{start}\n\nX\n\n{end}", BadgeFormat.RST)
    assert out == f"Lorenz\n======\n\n{start}\n\nX\n\n{end}\n\nText\n"


@pytest.mark.parametrize(
    "text",
    [
        f"# T\n{START}\nA\n{END}\n{START}\nB\n{END}\n",  # duplicated
        f"# T\n{START}\nA\n",  # start only
        f"# T\nA\n{END}\n",  # end only
        f"# T\n{END}\nA\n{START}\n",  # end before start
    ],
)
def test_markers_that_are_not_one_pair_are_an_error_and_the_file_is_untouched(tmp_path: Path, text: str) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(text)
    before = os.stat(readme)
    with pytest.raises(UsageError) as err:
        write_badges(tmp_path, readme, f"{START}\nNEW\n{END}", BadgeFormat.MARKDOWN)
    assert "not one pair" in str(err.value) and "not changed" in str(err.value)
    assert readme.read_text() == text and os.stat(readme).st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]


def test_write_changes_only_between_the_markers_and_not_twice(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    original = f"# T\r\nkeep \u00e9\u00e8 \t  trailing  \r\n{START}\r\nold\r\n{END}\r\nend without newline"
    readme.write_bytes(original.encode())
    assert write_badges(tmp_path, readme, f"{START}\nnew\n{END}", BadgeFormat.MARKDOWN)
    assert readme.read_bytes() == original.replace("old", "new").encode()
    stamp = os.stat(readme).st_mtime_ns
    assert not write_badges(tmp_path, readme, f"{START}\nnew\n{END}", BadgeFormat.MARKDOWN)
    assert os.stat(readme).st_mtime_ns == stamp


def test_write_refuses_a_readme_that_is_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.md"
    real.write_text("# Real\n")
    (tmp_path / "README.md").symlink_to(real)
    with pytest.raises(UsageError) as err:
        write_badges(tmp_path, tmp_path / "README.md", f"{START}\nA\n{END}", BadgeFormat.MARKDOWN)
    assert "symbolic link" in str(err.value)
    assert real.read_text() == "# Real\n" and (tmp_path / "README.md").is_symlink()


@pytest.mark.parametrize("where", ["../README.md", "linked/README.md"])
def test_write_refuses_a_file_outside_the_repository(tmp_path: Path, where: str) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "README.md").write_text("# Outside\n")
    (root / "linked").symlink_to(tmp_path)
    with pytest.raises(UsageError) as err:
        write_badges(root, root / where, f"{START}\nA\n{END}", BadgeFormat.MARKDOWN)
    assert "outside the repository" in str(err.value)
    assert (tmp_path / "README.md").read_text() == "# Outside\n"


def test_write_refuses_non_utf8_and_creates_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "latin.md").write_bytes(b"# Caf\xe9\n")
    with pytest.raises(UsageError, match="not UTF-8"):
        write_badges(tmp_path, tmp_path / "latin.md", f"{START}\nA\n{END}", BadgeFormat.MARKDOWN)
    assert (tmp_path / "latin.md").read_bytes() == b"# Caf\xe9\n"
    assert write_badges(tmp_path, tmp_path / "docs" / "NEW.md", f"{START}\nA\n{END}", BadgeFormat.MARKDOWN) is True
    assert (tmp_path / "docs" / "NEW.md").read_text() == f"{START}\nA\n{END}\n"


# --- the command -----------------------------------------------------------------------------------------------------


def test_cli_prints_then_writes_the_badges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = paper(tmp_path / "p")
    sha = git(root, "rev-parse", "HEAD")
    assert main(["badge", str(root)]) == 0
    printed = capsys.readouterr().out
    assert f"(https://mybinder.org/v2/gh/carberry/lorenz/{sha}?labpath=analysis%2F01%20data.ipynb)" in printed
    monkeypatch.chdir(root)
    assert main(["badge", ".", "--write", "README.md"]) == 0
    text = (root / "README.md").read_text()
    assert text.startswith(f"# Lorenz\n\n{START}\n{printed.strip()}\n{END}\n\nText.\n")
    assert main(["badge", ".", "--write", "README.md"]) == 0
    assert "already up to date" in capsys.readouterr().out and (root / "README.md").read_text() == text


def test_cli_without_remote_says_what_to_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = paper(tmp_path / "p", remote=None)
    assert main(["badge", str(root)]) == 2
    err = capsys.readouterr().err
    assert "no git remote 'origin'" in err and "hint: pass --remote" in err


# --- the documented examples are the command's real output -----------------------------------------------------------


def test_docs_and_readmes_show_what_paperpack_badge_prints(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parent.parent
    docs = (root / "docs" / "reports.md").read_text()
    shown = docs.split("$ paperpack badge sample_paper --remote carberry/lorenz-revisited\n", 1)[1].split("\n```", 1)[0]
    sha = shown.split("/v2/gh/carberry/lorenz-revisited/", 1)[1][:40]
    assert main(["badge", str(root / "sample_paper"), "--remote", "carberry/lorenz-revisited", "--ref", sha]) == 0
    printed = capsys.readouterr().out.strip()
    assert shown == printed
    block = f"{START}\n{printed}\n{END}"
    assert block in (root / "sample_paper" / "README.md").read_text()
    assert f"\n{printed}\n" in (root / "README.md").read_text()


@pytest.mark.slow  # a local-engine environment (shared with test_verify.py through the session's cache)
def test_a_verification_writes_the_status_badges_of_its_verdict(tmp_path: Path) -> None:
    """The real pipeline (validate, run with the local engine) writes badge.json and badge.svg beside report.json."""
    import shutil

    import paperpack
    from paperpack.verify import RunSettings, Stage

    root = tmp_path / "paper"
    shutil.copytree(Path(__file__).parent / "cases" / "run-image-found", root)
    out = tmp_path / "out"
    result = paperpack.verify(
        root,
        paperpack.VerifyOptions(
            stages=frozenset({Stage.VALIDATE, Stage.RUN}), run=RunSettings(engine="local", out_dir=out)
        ),
    )
    assert result.published is not None and not result.published.failed
    assert {out / "badge.json", out / "badge.svg"} <= set(result.published.written)
    endpoint = json.loads((out / "badge.json").read_text())
    jsonschema.validate(endpoint, ENDPOINT_SCHEMA)
    assert endpoint["message"] == result.verdict.label() == "reproduced 1/1"
    assert "reproduced 1/1" in (out / "badge.svg").read_text()
