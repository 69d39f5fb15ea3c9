"""Rich text outputs (LaTeX, HTML, Markdown) compared by their content, not their wrapper.

sympy moved from ``$$…$$`` to ``$\\displaystyle …$``; IPython's ``YouTubeVideo`` iframe gained
attributes: the reader sees the same thing. LaTeX is compared without its math delimiters and
``\\displaystyle``; HTML as its tags and text, keeping only the attributes that point at content
(``src``, ``href``) — styling (attributes and ``<style>`` blocks: pandas changes its table CSS between
versions), sizes and ids are the wrapper.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["rich_content", "RICH_TYPES"]

RICH_TYPES = frozenset({"text/latex", "text/html", "text/markdown"})
CONTENT_ATTRIBUTES = frozenset({"src", "href"})
LATEX_WRAPPER = re.compile(
    r"^\s*(\$\$|\$|\\\[|\\\(|\\begin\{equation\*?\})"
    r"|(\$\$|\$|\\\]|\\\)|\\end\{equation\*?\})\s*$"
)


class _Content(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_style = tag == "style"
        kept = " ".join(f'{k}="{v}"' for k, v in sorted(attrs) if k in CONTENT_ATTRIBUTES)
        self.parts.append(f"<{tag}{' ' + kept if kept else ''}>")

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False
        self.parts.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if data.strip() and not self.in_style:
            self.parts.append(data.strip())


def _latex(text: str) -> str:
    text = text.strip()
    previous = None
    while previous != text:
        previous = text
        text = LATEX_WRAPPER.sub("", text).strip()
    return re.sub(r"\\displaystyle\s*", "", text).strip()


def _html(text: str) -> str:
    parser = _Content()
    parser.feed(text)
    parser.close()
    return "\n".join(parser.parts)


def rich_content(mime: str, text: str) -> str:
    """What a reader sees of a LaTeX or HTML output; other types unchanged."""
    if mime == "text/latex":
        return _latex(text)
    if mime == "text/html":
        return _html(text)
    return text
