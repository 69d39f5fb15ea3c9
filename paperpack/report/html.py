"""``report.html``: one self-contained page an editor or a reader opens.

The paper (title, DOI, authors), the paper-level verdict, each notebook's verdict and time, the
cells that differ side by side (text diff; images committed / re-executed / difference), the
traceback of a failed notebook, the environment, the image, the data with DOIs and sha256, the
findings grouped by file, and the verification certificate.

Notebook outputs are untrusted. Nothing from a notebook is ever rendered as HTML: every text is
escaped (HTML and JavaScript outputs are shown as their escaped source), images are embedded
only as PNG, JPEG or GIF ``data:`` URIs whose base64 was checked, and the page carries a
Content-Security-Policy that allows no script at all, no request (``default-src 'none'``),
images from ``data:`` only and the page's own inline style. The page has no JavaScript; the
collapsible parts are ``<details>`` elements.

Size: the page stays under :data:`MAX_HTML_BYTES` (20 MiB) whatever the notebooks hold; one text
output shows at most :data:`MAX_TEXT_CHARS` characters, one image at most :data:`MAX_IMAGE_BYTES`,
and past the page budget outputs are left out with a link to the executed notebook (a relative
link into the output folder, where report.html is).
"""

from __future__ import annotations

import base64
import binascii
import difflib
import html
import io
import json
import logging
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..util.atomic import write_atomic
from ..util.terminal import strip_ansi
from .certificate import Certificate, certificate
from .provenance import Provenance, doi_url, provenance

if TYPE_CHECKING:
    from ..run.results import NotebookRun
    from .publish import Publication

__all__ = ["HTML_NAME", "MAX_HTML_BYTES", "MAX_TEXT_CHARS", "MAX_IMAGE_BYTES", "CSP", "render_html", "write_html"]

log = logging.getLogger(__name__)

HTML_NAME = "report.html"
#: the page never grows past this (outputs past the budget are left out, with a link to the executed notebook)
MAX_HTML_BYTES = 20 << 20
#: what is kept for the rest of the page (tables, findings, certificate) when outputs are embedded
_RESERVE = 2 << 20
#: one text output: at most this many characters shown
MAX_TEXT_CHARS = 20_000
#: one image: at most this many bytes of base64 embedded
MAX_IMAGE_BYTES = 2 << 20
#: notebooks larger than this are not read to show their cells (the executed copy is linked)
MAX_NOTEBOOK_READ = 256 << 20
#: no script, no request; images from data: only, style inline only
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'none'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-src 'none'"
)

_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_INJECTED_TAG = "injected-parameters"  # paperpack.compare.core.INJECTED_TAG, without importing numpy's chain

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 2rem;color:#1b1b1b}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{border-bottom:1px solid #ccc;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;width:100%}th,td{border:1px solid #ddd;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}code,pre{font:13px/1.35 ui-monospace,monospace}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:.5rem;overflow:auto;max-height:30rem;white-space:pre-wrap;
word-break:break-all}
.verdict{font-size:1.3rem;font-weight:600;padding:.6rem 1rem;border-radius:.4rem;display:inline-block}
.v-reproduced,.v-same{background:#d8f3dc}.v-reproduced-with-minor-differences,.v-same-with-warnings,
.v-reproduces-error{background:#fff3bf}.v-partially-reproduced,.v-differs,.v-no-outputs{background:#ffe8cc}
.v-not-reproduced,.v-failed{background:#ffd6d6}.v-not-run,.v-skipped{background:#e9ecef}
td.v{font-weight:600}.side{display:grid;grid-template-columns:1fr 1fr;gap:.5rem}.three{display:grid;
grid-template-columns:1fr 1fr 1fr;gap:.5rem}.side>div,.three>div{min-width:0}img{max-width:100%;
border:1px solid #ddd}.note{color:#555}.del{background:#ffd6d6}.add{background:#d8f3dc}.hunk{color:#777}
details{margin:.5rem 0}summary{cursor:pointer;font-weight:600}.hash{font:12px ui-monospace,monospace;
word-break:break-all}
"""


def _e(value: Any) -> str:
    """Escaped text (quotes too: safe in an attribute); lone surrogates and other undecodable text replaced."""
    text = value if isinstance(value, str) else str(value)
    return html.escape(text.encode("utf-8", "replace").decode("utf-8"), quote=True)


def _href(rel: str) -> str:
    """A relative link into the output folder: each part percent-encoded (no scheme, no ``..`` can come out)."""
    parts = [urllib.parse.quote(p, safe="") for p in rel.split("/") if p not in ("", ".", "..")]
    return "./" + "/".join(parts)


class _Budget:
    """What is left of the page's size for embedded outputs."""

    def __init__(self, total: int) -> None:
        self.left = total
        self.omitted = 0

    def take(self, size: int) -> bool:
        if size > self.left:
            self.omitted += 1
            return False
        self.left -= size
        return True


@dataclass
class _Page:
    parts: list[str]
    budget: _Budget

    def add(self, *html_parts: str) -> None:
        self.parts.extend(html_parts)


# --- notebook outputs, as escaped text and checked images ---------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=1, ensure_ascii=False, default=str)


def _pre(text: str, budget: _Budget, cls: str = "") -> str:
    text = strip_ansi(text)
    cut = ""
    if len(text) > MAX_TEXT_CHARS:
        cut = f"\n… {len(text) - MAX_TEXT_CHARS:,} more characters (see the executed notebook)"
        text = text[:MAX_TEXT_CHARS]
    shown = _e(text + cut)
    if not budget.take(len(shown.encode("utf-8", "replace"))):
        return '<p class="note">output left out: the page is at its size limit (see the executed notebook)</p>'
    return f"<pre{f' class={cls!r}' if cls else ''}>{shown}</pre>"


def _image_data(value: Any) -> str | None:
    """The base64 of an image output, whitespace removed, or ``None`` when it is not plain base64."""
    data = "".join(_text(value).split())
    return data if data and _BASE64.match(data) else None


def _img(mime: str, data: str, budget: _Budget, alt: str) -> str:
    if len(data) > MAX_IMAGE_BYTES:
        return (
            f'<p class="note">{_e(alt)}: an image of {len(data):,} bytes, not embedded (see the executed notebook)</p>'
        )
    if not budget.take(len(data) + 200):
        return f'<p class="note">{_e(alt)}: left out, the page is at its size limit (see the executed notebook)</p>'
    return f'<img alt="{_e(alt)}" src="data:{mime};base64,{data}">'


def _output_html(output: Any, budget: _Budget) -> str:
    if not isinstance(output, dict):
        return _pre(_text(output), budget)
    kind = output.get("output_type")
    if kind == "stream":
        return _pre(_text(output.get("text", "")), budget, "stderr" if output.get("name") == "stderr" else "")
    if kind == "error":
        text = (
            "\n".join(_text(line) for line in output.get("traceback") or [])
            or f"{_text(output.get('ename', ''))}: {_text(output.get('evalue', ''))}"
        )
        return _pre(text, budget)
    data = output.get("data")
    if not isinstance(data, dict):
        return _pre(_text(output), budget)
    for mime in _IMAGE_TYPES:
        if mime in data:
            image = _image_data(data[mime])
            if image is not None:
                return _img(mime, image, budget, f"{mime} output")
    if "text/plain" in data:
        return _pre(_text(data["text/plain"]), budget)
    for mime in sorted(data):  # HTML, JavaScript, SVG, Markdown, JSON: their source, escaped, never rendered
        return f'<p class="note">{_e(mime)} output, shown as source:</p>' + _pre(_text(data[mime]), budget)
    return ""


def _outputs_html(outputs: Iterable[Any], budget: _Budget) -> str:
    shown = "".join(_output_html(o, budget) for o in outputs)
    return shown or '<p class="note">(no output)</p>'


# --- images: committed / re-executed / difference ------------------------------------------------


def _first_image(outputs: list[Any]) -> tuple[str, str] | None:
    for output in outputs:
        data = output.get("data") if isinstance(output, dict) else None
        if isinstance(data, dict):
            for mime in _IMAGE_TYPES:
                if mime in data and (image := _image_data(data[mime])) is not None:
                    return mime, image
    return None


def _difference_png(old: str, new: str) -> str | None:
    """A PNG (base64) where what changed between two images is dark, what stayed is white; None if undecodable."""
    try:
        from PIL import Image, ImageChops, ImageOps

        from ..compare.images import decode_image
    except ImportError:  # pillow is a dependency; without it the two images are still shown
        return None
    first, second = decode_image(old), decode_image(new)
    if first is None or second is None:
        return None
    first = first.convert("RGB")
    second = second.convert("RGB").resize(first.size)
    changed = ImageChops.difference(first, second).convert("L").point(lambda v: min(255, v * 4))
    picture = ImageOps.invert(changed)
    picture.thumbnail((800, 800), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _images_side_by_side(old: list[Any], new: list[Any], budget: _Budget) -> str:
    first, second = _first_image(old), _first_image(new)
    if first is None or second is None:
        return ""
    try:
        difference = _difference_png(first[1], second[1])
    except (OSError, ValueError, binascii.Error) as exc:
        log.info("no difference image: %s", exc)
        difference = None
    cells = [
        f"<div><p>committed</p>{_img(first[0], first[1], budget, 'committed image')}</div>",
        f"<div><p>re-executed</p>{_img(second[0], second[1], budget, 're-executed image')}</div>",
    ]
    if difference is not None:
        cells.append(
            f"<div><p>difference (dark: changed)</p>{_img('image/png', difference, budget, 'difference')}</div>"
        )
    return f'<div class="three">{"".join(cells)}</div>'


def _text_of(outputs: list[Any]) -> list[str]:
    lines: list[str] = []
    for output in outputs:
        if not isinstance(output, dict):
            continue
        if output.get("output_type") == "stream":
            lines += strip_ansi(_text(output.get("text", ""))).splitlines()
        elif output.get("output_type") == "error":
            lines.append(strip_ansi(f"{_text(output.get('ename', ''))}: {_text(output.get('evalue', ''))}"))
        elif isinstance(output.get("data"), dict) and "text/plain" in output["data"]:
            lines += strip_ansi(_text(output["data"]["text/plain"])).splitlines()
    return lines


def _diff_html(old: list[Any], new: list[Any], budget: _Budget) -> str:
    a, b = _text_of(old)[:2000], _text_of(new)[:2000]
    if a == b:
        return ""
    rows = []
    for line in list(difflib.unified_diff(a, b, "committed", "re-executed", lineterm="", n=2))[:400]:
        cls = (
            "add"
            if line.startswith("+")
            else "del"
            if line.startswith("-")
            else "hunk"
            if line.startswith("@@")
            else ""
        )
        rows.append(f'<span class="{cls}">{_e(line[:2000])}</span>' if cls else _e(line[:2000]))
    shown = "\n".join(rows)
    if not budget.take(len(shown.encode("utf-8", "replace"))):
        return '<p class="note">text diff left out: the page is at its size limit</p>'
    return f"<p>text diff</p><pre>{shown}</pre>"


# --- notebooks -----------------------------------------------------------------------------------


def _read_notebook(path: Path) -> dict[str, Any] | None:
    """A notebook as a dict (undecodable bytes replaced), or ``None``: missing, a link, too large, not JSON."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_NOTEBOOK_READ:
            return None
        doc = json.loads(path.read_bytes().decode("utf-8", "replace"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _code_cells(doc: dict[str, Any] | None) -> list[tuple[int, dict[str, Any]]]:
    """(index, cell) of the code cells, the injected parameters cell left out (as compare pairs them)."""
    cells = doc.get("cells") if doc else None
    if not isinstance(cells, list):
        return []
    out = []
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        metadata = cell.get("metadata")
        tags = metadata.get("tags") if isinstance(metadata, dict) else None
        if not (isinstance(tags, list) and _INJECTED_TAG in tags):
            out.append((i, cell))
    return out


def _outputs(cell: dict[str, Any] | None) -> list[Any]:
    found = cell.get("outputs") if cell else None
    return found if isinstance(found, list) else []


def _differs_html(run: NotebookRun, repo_root: Path, out_dir: Path, page: _Page) -> None:
    comparison = run.comparison or {}
    differences = [d for d in comparison.get("differences") or [] if isinstance(d, dict)]
    committed = _code_cells(_read_notebook(repo_root / run.path))
    executed = _code_cells(_read_notebook(out_dir / run.executed)) if run.executed else []
    pairs = {index: (cell, executed[n][1] if n < len(executed) else None) for n, (index, cell) in enumerate(committed)}
    for difference in differences[:50]:
        index = difference.get("cell")
        old, new = pairs.get(index, (None, None)) if isinstance(index, int) else (None, None)
        name = difference.get("where") or (f"cell {index + 1}" if isinstance(index, int) else "a cell")
        page.add(f"<h4>{_e(name)}: {_e(difference.get('reason', ''))}</h4>")
        if old is not None:
            page.add(f"<details><summary>source</summary>{_pre(_text(old.get('source', '')), page.budget)}</details>")
        page.add(_images_side_by_side(_outputs(old), _outputs(new), page.budget))
        if difference.get("diff"):
            page.add("<p>as compared</p>", _pre(str(difference["diff"]), page.budget))
        page.add(_diff_html(_outputs(old), _outputs(new), page.budget))
        page.add(
            '<div class="side"><div><p>committed outputs</p>',
            _outputs_html(_outputs(old), page.budget),
            "</div><div><p>re-executed outputs</p>",
            _outputs_html(_outputs(new), page.budget),
            "</div></div>",
        )
    if len(differences) > 50:
        page.add(f'<p class="note">… {len(differences) - 50} more cells differ (see report.json)</p>')


def _failed_html(run: NotebookRun, page: _Page) -> None:
    error = run.error or {}
    cause = error.get("cause") if isinstance(error.get("cause"), dict) else None
    if cause:
        page.add(f"<p><b>Cause:</b> {_e(cause.get('message', ''))}</p><p><b>Fix:</b> {_e(cause.get('fix', ''))}</p>")
    if error.get("where"):
        page.add(f"<p>in {_e(error['where'])}</p>")
    traceback = error.get("traceback") or []
    text = "\n".join(_text(line) for line in traceback) if isinstance(traceback, list) else _text(traceback)
    if not text and (error.get("ename") or error.get("evalue")):
        text = f"{_text(error.get('ename', ''))}: {_text(error.get('evalue', ''))}"
    if text:
        page.add("<p>traceback</p>", _pre(text, page.budget))
    if error.get("stderr"):
        page.add("<p>stderr</p>", _pre(_text(error["stderr"]), page.budget))


def _notebooks(facts: Provenance, repo_root: Path, out_dir: Path, page: _Page) -> None:
    page.add("<h2 id=notebooks>Notebooks</h2>")
    if not facts.notebooks:
        page.add('<p class="note">No notebook was run.</p>')
        return
    page.add(
        "<table><tr><th>notebook</th><th>verdict</th><th>status</th><th>time (s)</th><th>message</th>"
        "<th>executed copy</th></tr>"
    )
    for record in facts.notebooks:
        run = record.run
        link = f'<a href="{_e(_href(run.executed))}">{_e(run.executed)}</a>' if run.executed else ""
        seconds = "" if run.duration is None else f"{run.duration:.1f}"
        page.add(
            f'<tr><td>{_e(run.path)}</td><td class="v v-{_e(run.verdict)}">{_e(run.verdict)}</td>'
            f"<td>{_e(run.status)}</td><td>{seconds}</td><td>{_e(run.message)}</td><td>{link}</td></tr>"
        )
    page.add("</table>")
    for record in facts.notebooks:
        run = record.run
        if str(run.verdict) not in ("differs", "failed", "reproduces-error"):
            continue
        page.add(f"<details open><summary>{_e(run.path)}: {_e(run.verdict)}</summary>")
        if run.executed:
            page.add(f'<p>executed copy: <a href="{_e(_href(run.executed))}">{_e(run.executed)}</a></p>')
        if str(run.verdict) == "differs":
            _differs_html(run, repo_root, out_dir, page)
        else:
            _failed_html(run, page)
        page.add("</details>")


# --- the rest of the page ------------------------------------------------------------------------


def _table(header: list[str], rows: Iterable[Iterable[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>{f'<tr>{head}</tr>' if any(header) else ''}{body}</table>"


def _environment(facts: Provenance, page: _Page) -> None:
    env = facts.environment
    page.add("<h2 id=environment>Environment</h2>")
    if env.get("error"):
        page.add(f"<p>{_e(env['error'])}</p>")
    else:
        page.add(f"<p>{_e(env.get('summary') or '')}</p>")
        page.add(
            _table(
                ["buildpack", "Python", "files"],
                [
                    [
                        _e(env.get("buildpack") or ""),
                        _e(env.get("python_version") or "not set"),
                        _e(", ".join(map(str, env.get("files") or []))),
                    ]
                ],
            )
        )
        requirements = [r for r in env.get("requirements") or [] if isinstance(r, dict)]
        if requirements:
            page.add(
                "<details><summary>declared packages "
                f"({sum(bool(r.get('pinned')) for r in requirements)} of {len(requirements)} pinned)</summary>",
                _table(
                    ["package", "as written", "pinned", "file"],
                    [
                        [
                            _e(r.get("name", "")),
                            f"<code>{_e(r.get('raw', ''))}</code>",
                            "yes" if r.get("pinned") else "no",
                            _e(r.get("path", "")),
                        ]
                        for r in requirements
                    ],
                ),
                "</details>",
            )
    image = facts.image
    page.add("<h3>Image</h3>")
    if image is None:
        page.add('<p class="note">No image: the notebooks did not run in a container.</p>')
        return
    page.add(
        _table(
            ["image", "id (digest)", "mode", "Python"],
            [
                [
                    _e(image.name or ""),
                    f'<span class="hash">{_e(image.digest or "unknown")}</span>',
                    _e(image.mode or ""),
                    _e(image.python or ""),
                ]
            ],
        )
    )
    if facts.reused_from:
        page.add(
            f"<p><b>Reused image:</b> built from commit <code>{_e(facts.reused_from)}</code>; this "
            f"verification is of commit <code>{_e(facts.commit)}</code>. The labels describe that build.</p>"
        )
    if image.labels:
        page.add(
            "<details><summary>labels</summary>",
            _table(["label", "value"], [[_e(k), _e(v)] for k, v in sorted(image.labels.items())]),
            "</details>",
        )


def _data(facts: Provenance, page: _Page) -> None:
    page.add("<h2 id=data>Data</h2>")
    if not facts.data:
        page.add('<p class="note">No data declared in paperpack.yml.</p>')
        return
    rows = []
    for item in facts.data:
        doi = f'<a href="{_e(doi_url(item.doi))}">{_e(item.doi)}</a>' if item.doi else _e(item.url or "")
        hashed = item.file.sha256 or f"({item.file.note})"
        match = (
            ""
            if not (item.declared_sha256 and item.file.sha256)
            else (
                "matches the declared hash"
                if item.declared_sha256.lower() == item.file.sha256
                else f"DIFFERS from the declared {item.declared_sha256}"
            )
        )
        rows.append([_e(item.file.path), doi, f'<span class="hash">{_e(hashed)}</span>', _e(match), _e(item.where)])
    page.add(_table(["file", "DOI / URL", "sha256", "check", "where"], rows))


def _findings(report: dict[str, Any], page: _Page) -> None:
    findings = [f for f in report.get("findings") or [] if isinstance(f, dict)]
    page.add("<h2 id=findings>Findings</h2>")
    if not findings:
        page.add('<p class="note">No findings (or the repository was not validated).</p>')
        return
    by_file: dict[str, list[dict[str, Any]]] = {}
    for finding in findings:
        by_file.setdefault(str(finding.get("path") or "(the repository)"), []).append(finding)
    for path in sorted(by_file):
        items = by_file[path]
        page.add(
            f"<details><summary>{_e(path)} ({len(items)})</summary>",
            _table(
                ["severity", "rule", "where", "message", "fix"],
                [
                    [
                        _e(f.get("severity", "")),
                        _e(f.get("rule", "")),
                        _e(
                            ", ".join(
                                x
                                for x in (
                                    f"line {f['line']}" if f.get("line") else "",
                                    f"cell {f['cell']}" if f.get("cell") is not None else "",
                                )
                                if x
                            )
                        ),
                        _e(f.get("message", "")),
                        _e(f.get("fix", "")),
                    ]
                    for f in items
                ],
            ),
            "</details>",
        )


def _certificate(cert: Certificate, page: _Page) -> None:
    page.add(
        "<h2 id=certificate>Verification certificate</h2>",
        f"<p><b>Verdict:</b> {_e(cert.verdict)}</p>",
        _table([], [[f"<b>{_e(what)}</b>", _e(value)] for what, value in cert.facts]),
        "<h3>Hashes</h3>",
        _table(
            ["what", "file", "sha256 / id"],
            [
                [_e(h.role), _e(h.name), f'<span class="hash">{_e(h.value or f"({h.note or chr(63)})")}</span>']
                for h in cert.hashes
            ],
        ),
    )


def render_html(publication: Publication, facts: Provenance | None = None, *, limit: int = MAX_HTML_BYTES) -> str:
    """The page, as text, under ``limit`` bytes (outputs left out first; ValueError if even that is too large)."""
    facts = facts or provenance(publication)
    text = _render(publication, facts, limit, max(0, limit - _RESERVE))
    if len(text.encode("utf-8", "replace")) > limit:  # the tables alone are large: no outputs at all
        text = _render(publication, facts, limit, 0)
    if len(text.encode("utf-8", "replace")) > limit:
        raise ValueError(
            f"report.html would be larger than {limit:,} bytes even without notebook outputs "
            "(see report.json for the findings and the per-notebook results)"
        )
    return text


def _render(publication: Publication, facts: Provenance, limit: int, budget: int) -> str:
    verdict = publication.verdict
    paper = facts.paper
    page = _Page([], _Budget(budget))
    title = paper.title or publication.repo.root.name
    page.add(
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>",
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>paperpack: {_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
    )
    if paper.doi:
        page.add(f'<p>DOI: <a href="{_e(doi_url(paper.doi))}">{_e(paper.doi)}</a></p>')
    if paper.authors:
        names = []
        for author in paper.authors:
            orcid = f' <a href="{_e(author.orcid)}">ORCID</a>' if author.orcid else ""
            names.append(f"{_e(author.name)}{orcid}")
        page.add(f"<p>Authors: {', '.join(names)}</p>")
    page.add(
        f"<p>Commit <code>{_e(facts.commit or 'none (not a git repository)')}</code> — checked by paperpack "
        f"{_e(facts.paperpack_version)} on {_e(facts.created)}</p>"
    )
    page.add(
        "<h2 id=verdict>Verdict</h2>",
        f'<p class="verdict v-{_e(verdict.cls.value)}" id="paper-verdict">{_e(verdict.label())}</p>',
        f"<p>{_e(verdict.sentence())}</p>",
    )
    if verdict.reasons:
        page.add("<ul>" + "".join(f"<li><code>{_e(r.value)}</code></li>" for r in verdict.reasons) + "</ul>")
    if not facts.complete:
        page.add("<p><b>Incomplete:</b> the run was interrupted.</p>")
    _notebooks(facts, publication.repo.root, publication.out_dir, page)
    if page.budget.omitted:
        page.add(
            f'<p class="note">{page.budget.omitted} outputs left out to keep this page under '
            f"{limit >> 20} MiB: open the executed notebooks (linked above).</p>"
        )
    _environment(facts, page)
    _data(facts, page)
    _findings(publication.report, page)
    _certificate(certificate(facts, verdict), page)
    page.add("</body></html>\n")
    return "".join(page.parts)


def write_html(publication: Publication) -> list[Path]:
    """Write ``report.html`` into the output folder."""
    path = publication.out_dir / HTML_NAME
    write_atomic(path, render_html(publication).encode("utf-8", "replace"))
    return [path]
