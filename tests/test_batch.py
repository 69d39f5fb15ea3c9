"""Batch mode, fast parts: the queue, fetching each kind of source, the index (no Dask here).

The helpers at the top make small submissions (git repositories with tags and branches,
archives, a hostile archive) for this file and for tests/test_batch_dask.py.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from paperpack.batch import SourceKind, Submission, parse_queue, read_queue
from paperpack.batch.fetch import fetch, quick_revision
from paperpack.batch.index import BatchEntry, _csp_hash, write_index
from paperpack.batch.state import (
    Failure,
    FailureKind,
    Layout,
    NotebookLine,
    State,
    Status,
    SubmissionResult,
    read_state,
    write_state,
)
from paperpack.errors import FetchError, QueueError, UnsafeArchiveError

GIT_ID = ["-c", "user.name=Test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false"]


def notebook(path: Path, code: str, printed: str) -> None:
    """A notebook with one code cell whose committed output is ``printed``."""
    nb = new_notebook(
        cells=[new_code_cell(code, execution_count=1, outputs=[new_output("stream", name="stdout", text=printed)])]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def paper(root: Path, value: int = 45, *, claims: int | None = None) -> Path:
    """A paper printing ``sum(range(10)) + value - 45``; its committed output says ``claims`` (default: right)."""
    notebook(
        root / "analysis.ipynb", f"print(sum(range(10)) + {value - 45})", f"{claims if claims is not None else value}\n"
    )
    return root


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *GIT_ID, *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def git_paper(root: Path) -> dict[str, str]:
    """A git repository: main has a right result (tag v1), branch `wrong` commits a wrong one."""
    paper(root)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-qm", "right")
    git(root, "tag", "v1")
    right = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-q", "-b", "wrong")
    paper(root, claims=46)
    git(root, "commit", "-qam", "wrong")
    wrong = git(root, "rev-parse", "HEAD")
    git(root, "checkout", "-q", "main")
    return {"v1": right, "wrong": wrong}


def zip_of(folder: Path, dest: Path, prefix: str = "paper-main/") -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return dest


def tar_of(folder: Path, dest: Path) -> Path:
    with tarfile.open(dest, "w:gz") as tf:
        for path in sorted(folder.rglob("*")):
            tf.add(path, path.relative_to(folder).as_posix(), recursive=False)
    return dest


def traversal_zip(dest: Path) -> Path:
    """A zip with a member that climbs out of the target folder."""
    with zipfile.ZipFile(dest, "w") as zf:
        zf.writestr("paper/analysis.ipynb", "{}")
        zf.writestr("../../escaped.txt", "gotcha")
    return dest


# -- the queue ------------------------------------------------------------------------------------------------------


def test_the_three_queue_formats_give_the_same_submissions(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "plain").mkdir()
    yaml_text = (
        "- id: a\n  source: repo\n  ref: v1\n- id: b\n  source: plain\n- id: c\n  source: c.tar.gz\n"
        "- id: d\n  source: https://example.org/paper.git\n"
    )
    csv_text = "id,source,ref\na,repo,v1\nb,plain,\nc,c.tar.gz,\nd,https://example.org/paper.git,\n"
    jsonl_text = "\n".join(
        json.dumps(r)
        for r in [
            {"id": "a", "source": "repo", "ref": "v1"},
            {"id": "b", "source": "plain"},
            {"id": "c", "source": "c.tar.gz"},
            {"id": "d", "source": "https://example.org/paper.git"},
        ]
    )
    found = []
    for name, text in (("q.yml", yaml_text), ("q.csv", csv_text), ("q.jsonl", jsonl_text)):
        (tmp_path / name).write_text(text)
        found.append(read_queue(tmp_path / name))
    assert found[0] == found[1] == found[2]
    assert found[0] == [
        Submission("a", str(tmp_path / "repo"), "v1", SourceKind.GIT),
        Submission("b", str(tmp_path / "plain"), None, SourceKind.FOLDER),
        Submission("c", str(tmp_path / "c.tar.gz"), None, SourceKind.ARCHIVE),
        Submission("d", "https://example.org/paper.git", None, SourceKind.GIT),
    ]


@pytest.mark.parametrize("ident", ["../up", "a/b", ".hidden", "index.html", "", "a b", "-x", "x" * 101, "ok..no"])
def test_an_unsafe_id_is_refused_with_what_a_safe_one_is(tmp_path: Path, ident: str) -> None:
    with pytest.raises(QueueError, match="not a safe folder name") as caught:
        parse_queue(json.dumps({"id": ident, "source": "x"}), "jsonl", base=tmp_path)
    assert "letters, digits" in caught.value.hint


@pytest.mark.parametrize(
    "source",
    [
        "ssh://git@host/x.git",
        "git@github.com:me/paper.git",
        "git://host/x.git",
        "http://host/x.git",
        "ext::sh -c touch% /tmp/pwned",
        "ftp://host/x.zip",
    ],
)
def test_sources_of_other_protocols_are_refused_not_fetched(tmp_path: Path, source: str) -> None:
    with pytest.raises(QueueError, match="protocol batch mode does not fetch"):
        parse_queue(json.dumps({"id": "a", "source": source}), "jsonl", base=tmp_path)


@pytest.mark.parametrize(
    "row, message",
    [
        ({"id": "a", "source": "x", "ref": "--upload-pack=touch"}, "not a commit, tag or branch"),
        ({"id": "a", "source": "x", "ref": "a..b"}, "not a commit, tag or branch"),
        ({"id": "a", "source": "x.zip", "ref": "v1"}, "has no commits"),
        ({"id": "a", "source": "x", "branch": "v1"}, "unknown field"),
        ({"id": "a"}, "no source"),
    ],
)
def test_bad_rows_are_refused_naming_the_line(tmp_path: Path, row: dict[str, str], message: str) -> None:
    with pytest.raises(QueueError, match=message) as caught:
        parse_queue(
            json.dumps({"id": "first", "source": "y"}) + "\n" + json.dumps(row), "jsonl", base=tmp_path, name="q.jsonl"
        )
    assert str(caught.value).startswith("q.jsonl line 2")


def test_ids_differing_only_in_case_clash(tmp_path: Path) -> None:
    with pytest.raises(QueueError, match="already used at q line 2"):
        parse_queue("id,source\nPaper,x\npaper,y\n", "csv", base=tmp_path, name="q")


# -- fetching -------------------------------------------------------------------------------------------------------


def test_git_sources_are_fetched_at_their_tag_branch_or_commit(tmp_path: Path) -> None:
    commits = git_paper(tmp_path / "repo")
    url = (tmp_path / "repo").as_uri()
    for i, (ref, expected) in enumerate(
        [
            ("v1", commits["v1"]),
            ("wrong", commits["wrong"]),
            (commits["wrong"], commits["wrong"]),
            (None, commits["v1"]),
        ]
    ):
        sub = Submission(f"s{i}", url if i % 2 else str(tmp_path / "repo"), ref, SourceKind.GIT)
        got = fetch(sub, tmp_path / "ws" / sub.id)
        assert got.commit == expected
        assert quick_revision(sub) == expected
        # the committed output (not the whole file: a random cell id can hold "46")
        cells = json.loads((got.root / "analysis.ipynb").read_text())["cells"]
        said = "".join("".join(out.get("text", "")) for cell in cells for out in cell.get("outputs", []))
        assert said == ("46\n" if expected == commits["wrong"] else "45\n"), said
        assert not list((got.root / ".git" / "hooks").glob("*"))  # no template hooks copied


def test_an_unreachable_git_url_and_an_unknown_ref_are_fetch_errors(tmp_path: Path) -> None:
    missing = (tmp_path / "nowhere" / "paper.git").as_uri()
    with pytest.raises(FetchError, match=r"git clone failed for file://.*nowhere") as caught:
        fetch(Submission("gone", missing), tmp_path / "ws" / "gone")
    assert "exists" in caught.value.hint
    assert quick_revision(Submission("gone", missing)) is None
    git_paper(tmp_path / "repo")
    with pytest.raises(FetchError, match="ref 'v9' is not a branch, tag or commit"):
        fetch(Submission("r", str(tmp_path / "repo"), "v9"), tmp_path / "ws" / "r")


def test_git_runs_with_no_user_configuration_and_no_prompt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's git configuration (here: an insteadOf rewriting the URL elsewhere) is not read."""
    git_paper(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        f'[url "{(tmp_path / "elsewhere").as_uri()}"]\n\tinsteadOf = {(tmp_path / "repo").as_uri()}\n'
    )
    monkeypatch.setenv("HOME", str(home))
    got = fetch(Submission("a", (tmp_path / "repo").as_uri(), "v1"), tmp_path / "ws")
    assert (got.root / "analysis.ipynb").is_file()


def test_archives_are_extracted_and_named_by_their_hash(tmp_path: Path) -> None:
    paper(tmp_path / "p")
    z = zip_of(tmp_path / "p", tmp_path / "p.zip")
    t = tar_of(tmp_path / "p", tmp_path / "p.tar.gz")
    for archive in (z, t):
        sub = Submission(archive.name.replace(".", "-"), str(archive), kind=SourceKind.ARCHIVE)
        got = fetch(sub, tmp_path / "ws" / sub.id)
        assert (got.root / "analysis.ipynb").is_file()  # the zip's one top folder is the repository
        assert got.commit.startswith("sha256:") and got.commit == quick_revision(sub)


def test_an_archive_with_a_path_traversal_is_refused_and_nothing_escapes(tmp_path: Path) -> None:
    bad = traversal_zip(tmp_path / "bad.zip")
    with pytest.raises(UnsafeArchiveError, match="points outside the target folder"):
        fetch(Submission("bad", str(bad), kind=SourceKind.ARCHIVE), tmp_path / "a" / "b" / "ws")
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not (tmp_path / "a" / "b" / "ws").exists()


def test_a_plain_folder_is_copied_with_its_links_as_links(tmp_path: Path) -> None:
    paper(tmp_path / "p")
    (tmp_path / "secret").write_text("do not copy")
    (tmp_path / "p" / "link").symlink_to(tmp_path / "secret")
    got = fetch(Submission("p", str(tmp_path / "p"), kind=SourceKind.FOLDER), tmp_path / "ws")
    assert (got.root / "link").is_symlink()
    again = fetch(Submission("p", str(tmp_path / "p"), kind=SourceKind.FOLDER), tmp_path / "ws2")
    assert got.commit == again.commit and got.commit.startswith("sha256:")


# -- state and index ------------------------------------------------------------------------------------------------


def _result(ident: str, **kw: object) -> SubmissionResult:
    return SubmissionResult(ident, kw.pop("status", Status.DONE), **kw)  # type: ignore[arg-type]


def test_state_is_written_atomically_and_every_transition_logged(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    for status in (Status.QUEUED, Status.FETCHING, Status.VERIFYING, Status.DONE):
        write_state(layout, State("a", status, commit="c1", result=_result("a") if status.final else None))
    state = read_state(layout, "a")
    assert state is not None and state.status is Status.DONE and state.result == _result("a")
    events = [json.loads(line)["event"] for line in layout.log("a").read_text().splitlines()]
    assert events == ["queued", "fetching", "verifying", "done"]
    assert state.finished_at("c1") and not state.finished_at("c2") and not state.finished_at(None)
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["state.json"]  # no temporary file left


def test_index_escapes_hostile_text_and_runs_only_its_own_script(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>"\x1b[31m\x00'
    entries = [
        BatchEntry(
            Submission("ok", "/x"),
            Status.DONE,
            _result(
                "ok",
                commit="a" * 40,
                verdict="reproduced",
                label="reproduced 1/1",
                notebooks=[NotebookLine("a.ipynb", "same", "ok", 1.0, "")],
                duration=2.0,
            ),
        ),
        BatchEntry(
            Submission("bad", "/y"),
            Status.FAILED,
            _result(
                "bad", status=Status.FAILED, failure=Failure(FailureKind.UNSAFE_SOURCE, f"member {hostile}", "hint")
            ),
        ),
        BatchEntry(
            Submission("diff", "/z"),
            Status.DONE,
            _result(
                "diff",
                verdict="not-reproduced",
                label="not reproduced 0/1",
                reasons=["differs-in-text"],
                notebooks=[NotebookLine("b.ipynb", "differs", "ok", 1.0, hostile)],
            ),
        ),
        BatchEntry(Submission("late", "/w"), Status.VERIFYING, None),
    ]
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "report.html").write_text("<p>report</p>")
    write_index(layout, entries)
    page = (tmp_path / "index.html").read_text()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert html.escape(f"member {hostile}") in page
    assert page.count("<script>") == 1  # the sorting script, allowed by its hash
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert script and style
    assert _csp_hash(script.group(1)) in html.unescape(csp.group(1))
    assert _csp_hash(style.group(1)) in html.unescape(csp.group(1))
    assert "default-src 'none'" in html.unescape(csp.group(1))
    assert 'href="ok/report.html"' in page and 'href="diff/report.html"' not in page  # only reports that exist
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # no external asset

    index = json.loads((tmp_path / "index.json").read_text())
    assert [s["status"] for s in index["submissions"]] == ["done", "failed", "done", "verifying"]
    assert index["submissions"][1]["result"]["failure"]["kind"] == "unsafe-source"

    suites = ET.parse(tmp_path / "batch.junit.xml").getroot()
    assert [s.get("name") for s in suites.iter("testsuite")] == ["ok", "bad", "diff", "late"]
    by_name = {s.get("name"): s for s in suites.iter("testsuite")}
    assert by_name["ok"].get("failures") == "0" and by_name["ok"].get("errors") == "0"
    assert by_name["bad"].find("testcase/error").get("type") == "unsafe-source"  # type: ignore[union-attr]
    # the same reporter as report.junit.xml: colour codes dropped, NUL (XML cannot carry it) shown as text
    shown = hostile.replace("\x1b[31m", "").replace("\x00", "\\x00")
    assert shown in by_name["bad"].find("testcase/error").text  # type: ignore[operator,union-attr]
    assert "\x1b" not in (tmp_path / "batch.junit.xml").read_text(encoding="utf-8")
    diff_cases = {c.get("name"): c for c in by_name["diff"].iter("testcase")}
    assert diff_cases["b.ipynb"].find("failure").get("type") == "differs"  # type: ignore[union-attr]
    assert diff_cases["verdict"].find("failure").get("type") == "not-reproduced"  # type: ignore[union-attr]
    assert by_name["late"].find("testcase/error").get("type") == "interrupted"  # type: ignore[union-attr]
    assert suites.get("tests") == "6"
    # the paper class and reasons as properties, as in each submission's report.junit.xml
    props = {
        p.get("name"): p.get("value")
        for p in by_name["diff"].iter("property")
        if p.get("name", "").startswith("paper.")
    }
    assert props == {
        "paper.class": "not-reproduced",
        "paper.label": "not reproduced 0/1",
        "paper.reasons": "differs-in-text",
    }
    assert {
        p.get("name"): p.get("value")
        for p in by_name["diff"].find("testcase[@name='b.ipynb']/properties")  # type: ignore[union-attr]
    } == {"verdict": "differs", "status": "ok"}


def test_the_index_is_written_without_leaving_temporary_files(tmp_path: Path) -> None:
    write_index(Layout(tmp_path), [BatchEntry(Submission("a", "/x"), Status.QUEUED, None)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["batch.junit.xml", "index.html", "index.json"]


# -- the command line -----------------------------------------------------------------------------------------------


def test_a_bad_queue_stops_the_batch_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from paperpack.cli.main import main

    queue = tmp_path / "q.jsonl"
    queue.write_text(json.dumps({"id": "ok", "source": "x"}) + "\n" + json.dumps({"id": "../up", "source": "y"}) + "\n")
    code = main(["batch", str(queue), "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {queue} line 2: id '../up' is not a safe folder name" in err
    assert "hint: use 1-100 letters" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--jobs", "0"], "--jobs must be 1 or more"),
        (["--timeout", "-5"], "--timeout must be a positive number"),
        (["--memory", "lots"], "'lots' is not a size"),
    ],
)
def test_bad_options_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    from paperpack.cli.main import main

    queue = tmp_path / "q.yml"
    queue.write_text("- id: a\n  source: x\n")
    assert main(["batch", str(queue), "--out-dir", str(tmp_path / "out"), *args]) == 2
    assert message in capsys.readouterr().err
