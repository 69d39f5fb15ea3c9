"""Benchmark: how right the comparison is, on the labelled set of tests/compare_pairs.py.

"Positive" is a pair that really changed (a parameter changed by 1–20 %); the comparison is right
on it when it says *differs*. Noise pairs (re-renders, spacing, wrappers, reprs, warnings) must be
*same*. Prints, per family, the pairs judged wrongly, then precision and recall of *differs*:

* recall on changes of 5 % or more (goal: 1.0, no changed pair judged same),
* the share of noise pairs judged *differs* (goal: ≤ 2 %),
* recall on 1–3 % changes (no goal: reported),

first on the set the image constants and threshold were chosen on, then on a held-out set of
other re-renders and change sizes (``image_pairs(held_out=True)``; both hold bar charts and
histograms whose bar edges moved by under half a pixel, as matplotlib 3.11 snaps them), then on the pairs added in
issue 9's second round: re-rendered text (fonts, DPI rounding), legend jitter and black-ink
figures with changes seen through a font change and a title whose number changed
(``rerender_pairs()``), text redrawn in another hinting as matplotlib 3.11 changed it, with the
title-number changes through it that only reading the text sees (``hinting_pairs()``; images.py step 8,
Tesseract OCR: without ``tesseract`` on PATH they are missed), and text reprs (``repr_pairs()``). A figure whose default size
changed is counted apart: it may be *differs* when it says "the figure size changed".
With ``--other-matplotlib VERSION`` (a venv with ``matplotlib==VERSION``, numpy and pillow is made
under ``~/.cache/paperpack-bench/``, from the configured package index) or ``--other-python PYTHON``
(a Python that has another matplotlib), also the same figures drawn by both versions: the committed
one by the other version, the re-executed one (unchanged, or changed by 1–20 %, or its title's
number changed) by this one.
Run:  .venv/bin/python benchmarks/bench_compare.py [--other-matplotlib 3.10.9 | --other-python PYTHON]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.compare_pairs

from paperpack.compare import compare_notebooks  # noqa: E402
from tests.compare_pairs import (  # noqa: E402
    Pair,
    hinting_pairs,
    image_pairs,
    one_cell_notebook,
    repr_pairs,
    rerender_pairs,
    text_pairs,
    version_pairs,
)

ROOT = Path(__file__).resolve().parent.parent


def judge(pairs: Iterable[Pair]) -> list[tuple[Pair, bool, str]]:
    """(pair, judged differs, reason) for each pair."""
    out = []
    for pair in pairs:
        result = compare_notebooks(one_cell_notebook(pair.reference), one_cell_notebook(pair.executed))
        reason = result.differences[0].reason if result.differences else str(result.verdict)
        out.append((pair, result.verdict == "differs", reason))
    return out


def report(title: str, judged: list[tuple[Pair, bool, str]]) -> None:
    size_changed = [j for j in judged if "default-size-changed" in j[0].name]
    judged = [j for j in judged if j not in size_changed]
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])  # noise n/fp, ≥5% n/tp, <5% n/tp
    for pair, differs, _ in judged:
        row = rows[pair.family]
        slot = 0 if pair.same else 2 if pair.change >= 0.05 else 4
        row[slot] += 1
        row[slot + 1] += int(differs)
    print(f"\n## {title}\n")
    print("| family | noise pairs | noise judged differs | changes ≥ 5 % | caught | changes < 5 % | caught |")
    print("|---|---|---|---|---|---|---|")
    total = [0] * 6
    for family, row in sorted(rows.items()):
        print(f"| {family} | " + " | ".join(str(v) for v in row) + " |")
        total = [t + v for t, v in zip(total, row)]
    print("| **all** | " + " | ".join(str(v) for v in total) + " |")
    tp = total[3] + total[5]
    fp = total[1]
    precision = tp / (tp + fp) if tp + fp else 1.0
    print(
        f"\nprecision of *differs* {precision:.3f}; recall ≥ 5 % {total[3] / max(1, total[2]):.3f} "
        f"(goal 1.0); recall < 5 % {total[5] / max(1, total[4]):.3f}; "
        f"noise judged differs {fp / max(1, total[0]):.1%} (goal ≤ 2 %)"
    )
    for pair, differs, reason in judged:
        if differs == pair.same:
            print(f"  wrong: {pair.name} (change {pair.change:g}): {reason}")
    for pair, differs, reason in size_changed:
        print(f"  default size changed: {pair.name}: {'differs, ' + reason if differs else 'same'}")


def other_renders(python: str) -> tuple[dict[str, str], str]:
    """The figures of tests/compare_pairs.py drawn by ``python`` (another matplotlib), and its version."""
    script = (
        "import json, matplotlib; from tests.compare_pairs import figure_renders; "
        "print(json.dumps([matplotlib.__version__, figure_renders((0.0,))]))"
    )
    done = subprocess.run([python, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=600)
    version, renders = json.loads(done.stdout)
    return renders, version


def matplotlib_python(version: str) -> str:
    """The Python of a venv with ``matplotlib==version`` (made once, under ~/.cache/paperpack-bench/)."""
    venv = Path.home() / ".cache" / "paperpack-bench" / f"matplotlib-{version}"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=600)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"matplotlib=={version}", "numpy", "pillow"],
            check=True,
            timeout=1200,
        )
    return str(python)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    other = parser.add_mutually_exclusive_group()
    other.add_argument("--other-python", help="a Python with another matplotlib version")
    other.add_argument("--other-matplotlib", metavar="VERSION", help="another matplotlib version (a venv is made)")
    args = parser.parse_args(argv)
    if args.other_matplotlib:
        args.other_python = matplotlib_python(args.other_matplotlib)
    start = time.perf_counter()
    sets = {
        "the set the constants were chosen on": list(text_pairs()) + list(image_pairs()),
        "held-out renders and change sizes": list(image_pairs(held_out=True)),
        "held out (issue 9, second round): re-rendered text, DPI rounding, legend jitter, black ink": list(
            rerender_pairs()
        ),
        "held out (issue 9, third round): text hinting changed (matplotlib 3.10's, none), a title number with it": list(
            hinting_pairs(title_numbers=True)
        ),
        "text reprs (issue 9, second round): set/dict order, float reprs, progress, timestamps, durations": list(
            repr_pairs()
        ),
    }
    if args.other_python:
        renders, version = other_renders(args.other_python)
        sets[f"held out: committed figures drawn by matplotlib {version}"] = list(version_pairs(renders, version))
    made = time.perf_counter() - start
    if shutil.which("tesseract") is None:
        print("tesseract is not installed: re-rendered text is not read (images.py step 8), title changes are missed")
    start = time.perf_counter()
    for title, pairs in sets.items():
        report(title, judge(pairs))
    compared = time.perf_counter() - start
    count = sum(len(pairs) for pairs in sets.values())
    print(
        f"\n{count} pairs drawn in {made:.1f} s, compared in {compared:.1f} s ({1000 * compared / count:.0f} ms a pair)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
