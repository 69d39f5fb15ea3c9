"""Text normalisation: remove what legitimately changes between two runs of the same code.

Memory addresses, timestamps and dates, temporary and home paths, UUIDs and widget model
ids, progress bars (tqdm and friends, which rewrite a line with ``\\r``), ``%time`` /
``%timeit`` output, matplotlib's figure and axes reprs (which changed between versions:
``<matplotlib.figure.Figure at 0x…>`` became ``<Figure size 640x480 with 1 Axes>``), numpy
scalar wrappers (``np.float64(1.5)`` is ``1.5``), durations and rates (``took 3.2 s``,
``12ms/step``, ``14.2it/s``: how fast a machine is, not a result), the order of a set's or
dict's items in its repr (set order follows string hashing, which changes from run to run), and
the text the manifest's ``compare.ignore_patterns`` match (only that text: the rest of the line
is still compared).
Numbers are left in place: :mod:`paperpack.compare.numbers` compares them with a tolerance.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

__all__ = ["normalise_text", "remove_ignored", "compile_patterns", "RULES"]

#: (pattern, replacement), applied in this order.
RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\x1b\[[0-9;]*[A-Za-z]"), ""),  # ANSI colours
    (re.compile(r"<(matplotlib\.figure\.)?Figure (at 0x[0-9a-fA-F]+|size [\d.]+x[\d.]+ with \d+ Axes)>"), "<Figure>"),
    (
        re.compile(r"<matplotlib\.axes\.[\w.]*\b(Axes|AxesSubplot) at 0x[0-9a-fA-F]+>|<(Axes|AxesSubplot): ?[^<>\n]*>"),
        "<Axes>",
    ),
    (re.compile(r"\bnp\.(?:float|int|uint|complex)\d*\(([^()]*)\)"), r"\1"),  # numpy 2 scalar reprs
    (re.compile(r"\b0x[0-9a-fA-F]{6,16}\b"), "0x<ADDR>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<UUID>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?(Z|[+-]\d{2}:?\d{2})?"), "<DATETIME>"),
    (
        re.compile(
            r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} "
            r"\d{2}:\d{2}:\d{2}( [A-Z]{3,4})? \d{4}"
        ),
        "<DATETIME>",
    ),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<DATE>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(\.\d+)?\b"), "<TIME>"),
    (re.compile(r"(/private)?/(tmp|var/tmp|var/folders)/[^\s'\"<>)\],]*"), "<TMP>"),
    (re.compile(r"/paperpack/work\b|/paperpack/repo\b"), "<WORKDIR>"),
    (re.compile(r"/(home|Users)/[^/\s'\"]+"), "<HOME>"),
    (re.compile(r"[A-Za-z]:\\Users\\[^\\\s'\"]+"), "<HOME>"),
    (re.compile(r"^(CPU times|Wall time):.*$", re.M), "<TIMING>"),
    (re.compile(r"^.*(±|\+-) .* per loop \(mean.*$", re.M), "<TIMING>"),
    (re.compile(r"^[^\n|]*?\b\d+%\|.*\|.*$", re.M), "<PROGRESS>"),  # tqdm, with or without a description
    (
        re.compile(
            r"\b\d+(\.\d+)?\s?(ms|us|µs|ns|s)/(step|it|sample|epoch|batch)\b|\b\d+(\.\d+)?\s?(it|samples)/s\b"
            r"|(?<=\] - )\d+m?s\b|\bETA:? ?[\d:]+(\.\d+)?\s?s?"
        ),
        "<RATE>",
    ),  # keras, tqdm
    (
        re.compile(
            r"(?i)\b(took|elapsed|in|runtime|duration|time)(:|=)?\s*\d+(\.\d+)?\s?"
            r"(ms|µs|us|ns|s|sec|secs|seconds|min|mins|minutes)\b"
        ),
        r"\1 <DURATION>",
    ),
    (re.compile(r"(\"model_id\"\s*:\s*\")[0-9a-f]{16,}\""), r'\1<MODEL>"'),
    (re.compile(r"\b(id|data-root-id|data-id)=([\"'])[A-Za-z0-9_-]{16,}\2"), r"\1=\2<ID>\2"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<HEX>"),
]


_BRACED = re.compile(r"\{([^{}\n]*,[^{}\n]*)\}")
_ITEM = re.compile(r"\s*,\s*(?=(?:[^'\"]|'[^']*'|\"[^\"]*\")*$)")


def _sorted_items(match: re.Match[str]) -> str:
    """A set's or dict's items in a fixed order (by key, then by the text of the item)."""
    if len(match.group(1)) > 4000:  # a long one-line repr: left as printed (the split is quadratic)
        return match.group(0)
    items = [item.strip() for item in _ITEM.split(match.group(1))]
    return "{" + ", ".join(sorted(items, key=lambda item: (item.split(":", 1)[0], item))) + "}"


def _last_carriage_segment(text: str) -> str:
    """A line rewritten with ``\\r`` (a progress bar) keeps only its final state."""
    if "\r" not in text:
        return text
    lines = []
    for line in text.split("\n"):
        lines.append(line.rstrip("\r").rsplit("\r", 1)[-1])
    return "\n".join(lines)


@functools.lru_cache(maxsize=64)
def compile_patterns(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """The manifest's ``ignore_patterns``, compiled once per run (the manifest loader checked them)."""
    return tuple(re.compile(p) for p in patterns)


def remove_ignored(text: str, ignore_patterns: Iterable[str]) -> str:
    """Each line without the text the patterns match (a line they empty is dropped)."""
    ignores = compile_patterns(tuple(ignore_patterns))
    if not ignores:
        return text
    kept = []
    for line in text.split("\n"):
        cut = line
        for pattern in ignores:
            cut = pattern.sub("", cut)
        if cut.strip() or not line.strip():
            kept.append(cut)
    return "\n".join(kept)


def normalise_text(text: str, ignore_patterns: Iterable[str] = (), workdirs: Iterable[str] = ()) -> str:
    """``text`` with every legitimately changing part replaced by a placeholder."""
    text = _last_carriage_segment(text.replace("\r\n", "\n"))
    text = remove_ignored(text, ignore_patterns)
    for folder in workdirs:
        if folder:
            text = text.replace(folder, "<WORKDIR>")
    for pattern, replacement in RULES:
        text = pattern.sub(replacement, text)
    text = _BRACED.sub(_sorted_items, text)
    lines = [line.rstrip() for line in text.split("\n") if line.strip() != "<PROGRESS>"]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)
