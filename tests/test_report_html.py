"""report.html: self-contained, escaped, bounded in size; opened in a real headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import require
from paperpack.report.html import _RESERVE, CSP, MAX_HTML_BYTES, render_html, write_html
from publishing import FLAG, HOSTILE_HTML, HOSTILE_JS, make_publication, stream

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def test_outputs_are_escaped_never_markup(tmp_path: Path) -> None:
    page = render_html(make_publication(tmp_path))
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page
    assert "default-src 'none'" in CSP and "script-src 'none'" in CSP and "img-src data:" in CSP
    tags = _tags(page)
    assert not [t for t, _ in tags if t in ("script", "iframe", "object", "embed", "svg", "link", "base", "form")]
    assert not [(t, a) for t, attrs in tags for a, _ in attrs if a.startswith("on")]  # no event handler
    urls = [v or "" for _, attrs in tags for a, v in attrs if a in ("href", "src")]
    assert urls and all(u.startswith(("./", "https://", "data:image/")) for u in urls), urls
    assert all(u.startswith("data:image/") for t, attrs in tags if t == "img" for a, u in attrs if a == "src")
    assert "&lt;script&gt;window.__paperpack_pwned" in page  # the HTML output, as its escaped source
    assert "window.__paperpack_pwned=&#x27;javascript-output&#x27;" in page  # JavaScript output as text
    assert "A &lt;b&gt;planted&lt;/b&gt; &amp; title" in page  # the manifest is untrusted too
    assert "\x1b" not in page and "ZeroDivisionError Traceback" in page  # ANSI stripped from the traceback


def _tags(page: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every start tag of the page and its attributes, as a browser's tokenizer reads them."""
    from html.parser import HTMLParser

    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Tags().feed(page)
    return found


def test_page_states_the_paper_verdicts_and_provenance(tmp_path: Path) -> None:
    publication = make_publication(tmp_path)
    page = render_html(publication)
    assert "10.1234/paper.5678" in page and "Josiah Carberry" in page
    assert 'href="https://orcid.org/0000-0002-1825-0097"' in page
    assert publication.verdict.label() in page and "differs-in-images" in page
    for nb in ("same.ipynb", "differs.ipynb", "failed.ipynb"):
        assert nb in page
    assert 'href="./executed/differs.ipynb"' in page  # a relative link into the output folder
    assert "<h4>cell 1: text differs</h4>" in page  # counted from 1, as failures count (no "where": the fallback)
    assert page.count('src="data:image/png;base64,') == 5  # committed, re-executed, difference + both outputs
    assert "PythonBuildPack" in page and "numpy==1.26.4" in page
    data_sha = __import__("hashlib").sha256((publication.repo.root / "data/obs.csv").read_bytes()).hexdigest()
    assert data_sha in page and "10.5281/zenodo.1234567" in page
    assert "NB003" in page and "ENV001" in page and "requirements.txt (1)" in page  # findings grouped by file
    assert "Verification certificate" in page


def test_a_50_mb_output_keeps_the_page_under_the_limit(tmp_path: Path) -> None:
    huge = stream("0123456789abcdef" * (50 * 2**20 // 16))
    publication = make_publication(tmp_path, extra_differs_output=huge)
    assert (publication.out_dir / "executed/differs.ipynb").stat().st_size > 50 * 2**20
    written = write_html(publication)[0]
    assert written.stat().st_size < MAX_HTML_BYTES
    page = written.read_text(encoding="utf-8")
    assert "more characters (see the executed notebook)" in page
    assert 'href="./executed/differs.ipynb"' in page
    # a tight limit: outputs go, the page keeps the verdicts and says what it left out
    small = render_html(publication, limit=_RESERVE + 3000)  # 3 kB for outputs
    assert len(small.encode()) <= _RESERVE + 3000 and "outputs left out" in small and "differs.ipynb" in small


def test_a_page_too_large_even_without_outputs_is_an_error(tmp_path: Path) -> None:
    publication = make_publication(tmp_path)
    with pytest.raises(ValueError, match="larger than 10,000 bytes even without notebook outputs"):
        render_html(publication, limit=10_000)


def test_non_utf8_and_lone_surrogates_in_outputs(tmp_path: Path) -> None:
    publication = make_publication(tmp_path, extra_differs_output=stream("caf\udce9 \ud800 ok\n"))
    executed = publication.out_dir / "executed/differs.ipynb"
    raw = executed.read_bytes()
    assert b"\\ud800 ok" in raw
    executed.write_bytes(raw.replace(b"\\ud800 ok", b"\\ud800 \xff\xfe"))  # not UTF-8 at all
    page = write_html(publication)[0].read_bytes().decode("utf-8")  # the page is valid UTF-8
    assert "caf? ? \ufffd\ufffd" in page


def test_links_cannot_leave_the_output_folder(tmp_path: Path) -> None:
    from paperpack.report.html import _href

    assert _href("../../etc/passwd") == "./etc/passwd"
    assert _href("executed/a b#?.ipynb") == "./executed/a%20b%23%3F.ipynb"
    assert _href("javascript:alert(1)") == "./javascript%3Aalert%281%29"


# --- in a real browser -------------------------------------------------------------------------


def _browser():  # type: ignore[no-untyped-def]
    require(os.path.exists(CHROMIUM), f"{CHROMIUM} (Debian's chromium package: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright (pip install -e '.[test]')")
    return sync_playwright()


@pytest.mark.slow
def test_report_in_headless_chromium(tmp_path: Path) -> None:
    publication = make_publication(tmp_path)
    path = write_html(publication)[0]
    assert HOSTILE_HTML and HOSTILE_JS
    with _browser() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            requests: list[str] = []
            problems: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.on(
                "console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
            )
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            # the planted link is text: there is no element to click, and no script ran
            assert page.evaluate(f"typeof window.{FLAG}") == "undefined"
            assert page.locator("script").count() == 0
            assert page.locator("a[href^='javascript']").count() == 0
            assert page.locator("#planted").count() == 0
            assert page.locator("img[onerror]").count() == 0
            for img in page.locator("img").all():  # every image is a data: URI
                assert (img.get_attribute("src") or "").startswith("data:image/")
            assert page.locator("#paper-verdict").inner_text() == publication.verdict.label()
            body = page.locator("body").inner_text()
            for nb in publication.result.run.notebooks:  # type: ignore[union-attr]
                assert re.search(rf"{re.escape(nb.path)}\s+{re.escape(nb.verdict)}", body), nb.path
            assert f"<script>window.{FLAG}='script'</script>" in body  # shown as its source
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "report-html.png"
            page.screenshot(path=str(shot), full_page=True)
            shutil.copy(shot, tmp_path / "report-html.png")
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
    assert requests == [path.as_uri()], requests  # nothing fetched: data: URIs are not requests
    assert problems == [], problems  # no console error, no CSP violation


@pytest.mark.slow
def test_planted_handlers_would_run_without_escaping(tmp_path: Path) -> None:
    """The flag check can fail: the same outputs written raw into a page do set it (without the CSP)."""
    raw = tmp_path / "raw.html"
    raw.write_text(f"<!DOCTYPE html><html><body>{HOSTILE_HTML}</body></html>", encoding="utf-8")
    with _browser() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(raw.as_uri())
            page.wait_for_function(f"window.{FLAG} === 'onerror'")
            assert page.evaluate(f"window.{FLAG}") == "onerror"
        finally:
            browser.close()
    assert json.dumps(FLAG)
