"""summary.md: the verdict, the notebooks, the first failing cells and the findings, safe and under 1 MiB."""

from __future__ import annotations

import re
from pathlib import Path

from paperpack.report.summary import SUMMARY_NAME, render_summary, write_summary
from publishhelp import RULE_E, differs, failed, make_publication, same, write_notebook


def test_verdict_table_failing_cell_and_findings(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write_notebook(root, "c.ipynb", ["x = 0", "y = 1 / x", "print(y)"])
    pub = make_publication(
        root,
        [same("a.ipynb"), differs("b.ipynb"), failed("c.ipynb")],
        [RULE_E.at("a.ipynb", "absolute path", "use a relative path", cell=0)],
    )
    (path,) = write_summary(pub)
    text = path.read_text(encoding="utf-8")
    assert path.name == SUMMARY_NAME
    assert text.startswith("## paperpack: partially reproduced 1/3\n")
    assert "`differs-in-text`" in text and "`code-error`" in text
    assert "| a\\.ipynb | same | 1.5 s |" in text
    assert "| c\\.ipynb | failed | 0.7 s | code cell 1: ZeroDivisionError: division by zero |" in text
    assert "```python\ny = 1 / x\n```" in text  # the failing cell's code, from the committed notebook
    assert "ZeroDivisionError: division by zero\n```" in text
    assert "| error | NB011 | a\\.ipynb \\[cell 0\\] | absolute path |" in text


def test_markdown_and_html_in_outputs_cannot_escape(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    evil_code = "print('```')\n````\n</details><script>alert(1)</script>"
    write_notebook(root, "x.ipynb", ["x = 0", evil_code])
    evil = "<img src=x onerror=alert(1)> | injected | row |\n# Heading [link](http://evil) @octocat ````"
    pub = make_publication(root, [failed("x.ipynb", evalue=evil, traceback=[evil]), differs("y.ipynb", reason=evil)])
    text = render_summary(pub)
    outside = re.sub(r"(?ms)^(`{3,})[a-z]*\n.*?^\1\n", "", text)  # drop the fenced blocks
    assert "<" not in outside and "@octocat" not in outside and "](http" not in outside
    assert "&lt;img src=x onerror=alert\\(1\\)&gt; \\| injected \\| row \\|" in outside
    assert not re.search(r"(?m)^# ", outside)
    # fenced: the fence is longer than any backtick run inside, so the code cannot close it
    fences = re.findall(r"(?m)^(`{3,})python$", text)
    assert fences == ["`````"]
    table_rows = [line for line in text.splitlines() if line.startswith("| y")]
    assert len(table_rows) == 1 and table_rows[0].count(" | ") == 3  # one row, four cells: no injected cells


def test_a_huge_output_and_many_notebooks_stay_under_one_mebibyte(tmp_path: Path) -> None:
    huge = "x" * (50 << 20)
    notebooks = [failed(f"nb{i:05d}.ipynb", evalue=huge if i == 0 else f"error {i} " + "y" * 2000) for i in range(1500)]
    pub = make_publication(tmp_path / "repo", notebooks, write=False)
    text = render_summary(pub)
    assert len(text.encode("utf-8")) <= 1 << 20
    assert re.search(r"… \d+ more (notebooks|failed notebooks) in report\.html", text)
    small = render_summary(pub, limit=20_000)
    assert len(small.encode("utf-8")) <= 20_000 + 200 and "more notebooks in report.html" in small


def test_code_spans_show_text_as_is_and_cannot_be_closed() -> None:
    from paperpack.report.summary import code_span

    assert code_span("paperpack/my-paper:1a2b") == "`paperpack/my-paper:1a2b`"  # no backslash inside a code span
    assert code_span("a``b") == "```a``b```"
    assert code_span("`x") == "`` `x ``"
    assert code_span("<b>\x07") == "`<b>\\x07`"
