"""The numbers of a figure whose text was re-rendered, read by Tesseract OCR (paperpack/compare/ocr.py).

Rendered with matplotlib here, as tests/compare_pairs.py does: a title's number changed together with the
text hinting (what matplotlib 3.10 → 3.11 changed) is seen; the same title redrawn otherwise is not a change;
without tesseract on PATH the comparison goes on and says the text was not read.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import require
from paperpack.compare import compare_notebooks
from paperpack.compare.images import image_similarity
from tests.compare_pairs import HINTINGS, RERENDERS, Render, _figure_output, _png, _titled, one_cell_notebook


@pytest.fixture
def tesseract() -> str:
    """The tesseract program; skips without it (a failure in CI, which installs it)."""
    path = shutil.which("tesseract")
    require(path is not None, "tesseract-ocr is not installed (apt-get install tesseract-ocr tesseract-ocr-eng)")
    assert path is not None
    return path


def _verdict(reference: str, executed: str) -> tuple[str, str]:
    result = compare_notebooks(
        one_cell_notebook([_figure_output(reference)]), one_cell_notebook([_figure_output(executed)])
    )
    return str(result.verdict), (result.differences[0].reason if result.differences else result.message)


def test_a_title_number_changed_with_the_hinting_differs_naming_both_readings(tesseract: str) -> None:
    reference = _png(_titled(0.0), Render())  # "fit of the decay, n = 240"
    executed = _png(_titled(0.05), HINTINGS["autohint"])  # "… n = 252", every glyph redrawn
    verdict, reason = _verdict(reference, executed)
    assert verdict == "differs", reason
    assert "'240' reads '252'" in reason, reason


@pytest.mark.parametrize(
    "render",
    [HINTINGS["autohint"], HINTINGS["no-hinting"], RERENDERS["font-condensed"]],
    ids=["autohint", "no-hinting", "font-condensed"],
)
def test_the_same_title_redrawn_in_another_hinting_or_font_is_the_same(tesseract: str, render: Render) -> None:
    verdict, message = _verdict(_png(_titled(0.0), Render()), _png(_titled(0.0), render))
    assert (verdict, message) == ("same", "1 cell with the same results"), "same, and nothing left unread"


def test_without_tesseract_the_text_is_not_read_and_the_note_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    reference = _png(_titled(0.0), Render())
    executed = _png(_titled(0.05), HINTINGS["autohint"])
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract there
    score = image_similarity(reference, executed)
    assert score.value >= 0.78, score  # as before OCR: the change is not seen
    assert "the re-rendered text was not read: install tesseract-ocr" in score.note, score
    assert score.unread == "install tesseract-ocr (with tesseract-ocr-eng) to read it", score


def test_a_same_notebook_says_which_figure_text_it_did_not_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A *same* never claims more than was checked: the verdict's message names the unread figure and the fix."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract there
    result = compare_notebooks(
        one_cell_notebook([_figure_output(_png(_titled(0.0), Render()))]),
        one_cell_notebook([_figure_output(_png(_titled(0.05), HINTINGS["autohint"]))]),
    )
    assert str(result.verdict) == "same", result.message
    assert result.message == (
        "1 cell with the same results (the re-rendered text of the figure in code cell 1 (In [1]) was not read: "
        "install tesseract-ocr (with tesseract-ocr-eng) to read it)"
    ), result.message


def test_identical_figures_are_the_same_without_reading_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from paperpack.compare import ocr

    monkeypatch.setattr(ocr, "tesseract_path", lambda: pytest.fail("identical figures need no OCR"))
    png = _png(_titled(0.0), Render())
    result = compare_notebooks(one_cell_notebook([_figure_output(png)]), one_cell_notebook([_figure_output(png)]))
    assert (str(result.verdict), result.message) == ("same", "1 cell with the same results"), result.message


def test_a_tesseract_that_fails_is_named_in_the_note_not_raised(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "tesseract"
    fake.write_text("#!/bin/sh\necho 'Error: no language data' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    score = image_similarity(_png(_titled(0.0), Render()), _png(_titled(0.05), HINTINGS["autohint"]))
    assert "the re-rendered text was not read: tesseract failed (Error: no language data)" in score.note, score
    assert "check that `tesseract --list-langs` lists eng" in score.note, "the fix, not only the failure"


def _word(text: str, left: float, confidence: float = 96.0) -> Any:
    from paperpack.compare.ocr import Word

    return Word(text, confidence, left, 0.1, left + 0.05, 0.12)


def test_only_confident_numbers_at_the_same_place_are_compared() -> None:
    from paperpack.compare.ocr import changed_numbers

    first = (_word("240", 0.5), _word("fit", 0.1), _word("1.5", 0.8), _word("3.0", 0.3), _word("7", 0.9))
    second = (_word("252", 0.51), _word("ht", 0.1), _word("15", 0.8), _word("8.0", 0.3, 60.0), _word("7", 0.2))
    assert [(a.text, b.text) for a, b in changed_numbers(first, second)] == [("240", "252")]


def test_a_tesseract_that_hangs_is_stopped_at_the_timeout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from paperpack.compare import ocr

    fake = tmp_path / "tesseract"
    # never answers in time: only the timeout ends it (a mutant without the timeout waits 10 s, not minutes:
    # mutmut's limit is CPU time, which a sleeping process does not use)
    fake.write_text("#!/bin/sh\nexec sleep 10\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.setattr(ocr, "TIMEOUT", 0.5)
    score = image_similarity(_png(_titled(0.0), Render()), _png(_titled(0.05), HINTINGS["autohint"]))
    assert "the re-rendered text was not read: tesseract took more than 0.5 s" in score.note, score
    assert "rerun to read it" in score.note, score


def test_doctor_names_tesseract_and_its_fix_when_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from paperpack.machine.doctor import _ocr_check

    monkeypatch.setenv("PATH", str(tmp_path))
    check = _ocr_check()
    assert not check.ok and not check.required
    assert check.fix == "sudo apt-get install tesseract-ocr tesseract-ocr-eng"
    assert "re-rendered" in check.disables


# --- the readings named in the note, from a scripted tesseract (issue 16: _read_text's survivors) ------------

#: a stand-in for the tesseract program: it answers each figure (len(SCALES) calls each, in order) as planned,
#: words as tesseract's TSV with boxes in pixels of the image it was given, and records each call
_SCRIPTED_TESSERACT = """#!{python}
import hashlib, json, os, sys
from pathlib import Path
from PIL import Image

state = Path({state!r})
calls = state / "calls.jsonl"
done = calls.read_text().splitlines() if calls.exists() else []
image = Image.open(sys.argv[1])
width, height = image.size
seen = {{"image": sys.argv[1], "argv": sys.argv[2:], "env": dict(os.environ), "size": [width, height]}}
seen["mode"] = image.mode
seen["pixels"] = hashlib.sha256(image.tobytes()).hexdigest()
with calls.open("a") as out:
    out.write(json.dumps(seen) + "\\n")
plan = json.loads((state / "plan.json").read_text())
figure = plan[len(done) // {scales}]
if isinstance(figure, dict):  # read otherwise at each size
    figure = figure["each"][len(done) % {scales}]
if isinstance(figure, str):
    sys.stderr.write("Tesseract Open Source OCR Engine\\n" + figure + "\\n")
    sys.exit(1)
print("level\\tpage_num\\tblock_num\\tpar_num\\tline_num\\tword_num\\tleft\\ttop\\twidth\\theight\\tconf\\ttext")
for i, (text, left, *more) in enumerate(figure):
    confidence, top, across, tall = more or (96.5, 0.1, 0.05, 0.02)
    box = (left * width, top * height, across * width, tall * height)
    print("\\t".join(["5", "1", "1", "1", "1", str(i + 1), *(f"{{v:.0f}}" for v in box), str(confidence), text]))
"""


@pytest.fixture(scope="module")
def redrawn_pair() -> tuple[str, str]:
    """The same titled figure in two hintings, every glyph redrawn: its text is read."""
    return _png(_titled(0.0), Render()), _png(_titled(0.05), HINTINGS["autohint"])


@pytest.fixture
def scripted_tesseract(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """``plan(figure, ...)``: each figure's words ``[(text, left share[, confidence, top, width, height]), ...]``
    (``{"each": [words, words]}``: other words at each scale), or a failure's last stderr line;
    returns the file where each call is recorded (one JSON line: arguments, environment, image size)."""
    import json
    import sys

    from paperpack.compare.ocr import SCALES

    program = tmp_path / "tesseract"
    program.write_text(_SCRIPTED_TESSERACT.format(python=sys.executable, state=str(tmp_path), scales=len(SCALES)))
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")

    def plan(*figures: Any) -> Path:
        (tmp_path / "plan.json").write_text(json.dumps(figures))
        calls = tmp_path / "calls.jsonl"
        calls.unlink(missing_ok=True)  # a new comparison: its figures' calls counted from the first
        return calls

    return plan


_OLD = [("0.5", 0.1), ("1.5", 0.3), ("2.5", 0.5), ("3.5", 0.7)]
_NEW = [("0.7", 0.1), ("1.7", 0.3), ("2.7", 0.5), ("3.7", 0.7)]


def test_three_changed_numbers_are_each_named_and_cap_the_score(
    redrawn_pair: tuple[str, str], scripted_tesseract: Any
) -> None:
    from paperpack.compare.images import READ_CHANGED

    scripted_tesseract(_OLD[:3], _NEW[:3])
    score = image_similarity(*redrawn_pair)
    assert score.note.endswith(
        "; its text changed: '0.5' reads '0.7', '1.5' reads '1.7', '2.5' reads '2.7' (read by OCR)"
    ), score
    assert (score.value, score.unread) == (READ_CHANGED, ""), "read, and what it read changed"


def test_a_fourth_changed_number_is_counted_not_named(redrawn_pair: tuple[str, str], scripted_tesseract: Any) -> None:
    scripted_tesseract(_OLD, _NEW)
    score = image_similarity(*redrawn_pair)
    assert score.note.endswith(
        "; its text changed: '0.5' reads '0.7', '1.5' reads '1.7', '2.5' reads '2.7' and 1 more (read by OCR)"
    ), score
    scripted_tesseract(_OLD + [("4.5", 0.85)], _NEW + [("4.7", 0.85)])
    assert image_similarity(*redrawn_pair).note.endswith("'2.5' reads '2.7' and 2 more (read by OCR)")


def test_numbers_read_the_same_leave_the_score_and_note_alone(
    redrawn_pair: tuple[str, str], scripted_tesseract: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    scripted_tesseract(_OLD, _OLD)
    read = image_similarity(*redrawn_pair)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    unread = image_similarity(*redrawn_pair)  # the same comparison, its text not read
    assert read.value == unread.value > 0.5, (read, unread)
    assert read.note + "; the re-rendered text was not read: " + unread.unread == unread.note
    assert read.unread == "", "nothing left unread"


def test_a_second_figure_that_could_not_be_read_is_named_as_unread(
    redrawn_pair: tuple[str, str], scripted_tesseract: Any
) -> None:
    scripted_tesseract(_OLD, "Error: cannot read the image")
    score = image_similarity(*redrawn_pair)
    assert score.unread.startswith("tesseract failed (Error: cannot read the image): check that"), score
    assert score.note.endswith("; the re-rendered text was not read: " + score.unread), score


def test_a_first_figure_that_could_not_be_read_is_not_followed_by_reading_the_second(
    redrawn_pair: tuple[str, str], scripted_tesseract: Any
) -> None:
    """Each failed reading may have cost a timeout (30 s): the second figure is not read for nothing."""
    from paperpack.compare.ocr import SCALES

    calls = scripted_tesseract("Error: cannot read the image", _OLD)
    score = image_similarity(*redrawn_pair)
    assert score.unread.startswith("tesseract failed (Error: cannot read the image)"), score
    assert len(calls.read_text().splitlines()) == len(SCALES), "the first figure only, at each size"


def test_a_figure_is_read_upscaled_in_grey_with_lanczos_and_at_most_max_side_pixels_long(
    scripted_tesseract: Any,
) -> None:
    """Twice and three times its size; a long figure's longer side is cut to MAX_SIDE (4000), whichever side it
    is, and its shorter side never to nothing (one pixel wide stays one pixel wide)."""
    import hashlib
    import json

    import numpy as np
    from PIL import Image

    from paperpack.compare.ocr import MAX_SIDE, SCALES, read_words

    assert (MAX_SIDE, SCALES) == (4000, (2, 3))
    for size, read in (
        ((300, 200), [[600, 400], [900, 600]]),
        ((2500, 100), [[4000, 160], [4000, 160]]),
        ((100, 2500), [[160, 4000], [160, 4000]]),
        ((1, 5000), [[1, 4000], [1, 4000]]),
        ((5000, 1), [[4000, 1], [4000, 1]]),
    ):
        calls = scripted_tesseract([])
        assert read_words(Image.new("RGB", size, "white")).words == ()
        assert [json.loads(line)["size"] for line in calls.read_text().splitlines()] == read, size
    noise = Image.fromarray(np.random.default_rng(3).integers(0, 256, (30, 40, 3), dtype=np.uint8))
    calls = scripted_tesseract([])
    read_words(noise)
    seen = [json.loads(line) for line in calls.read_text().splitlines()]
    grey = noise.convert("L")
    assert [call["mode"] for call in seen] == ["L", "L"]
    assert [call["pixels"] for call in seen] == [
        hashlib.sha256(grey.resize((40 * k, 30 * k), Image.Resampling.LANCZOS).tobytes()).hexdigest() for k in SCALES
    ], "what tesseract is given: the grey figure upscaled with Lanczos"


def test_the_words_are_the_level_five_rows_with_text_of_tesseracts_tsv() -> None:
    """Boxes in shares of the image read; the page, block, paragraph and line rows, a word without text and a
    row whose numbers do not parse are left out, and the words after them kept."""
    from paperpack.compare.ocr import Word, _parse

    def row(level: int, box: str, confidence: str, text: str) -> str:
        return "\t".join([str(level), "1", "1", "1", "1", "1", *box.split(), confidence, text])

    tsv = "\n".join(
        [
            "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
            row(1, "0 0 200 100", "-1", ""),
            row(4, "10 10 60 10", "-1", "n=240"),  # a line's row, were it to carry its text
            row(5, "10 10 20 10", "96.5", "240"),
            row(5, "40 10 20 10", "95", " "),
            row(5, "x 10 20 10", "96", "241"),
            row(5, "100 50 50 20", "91", "fit"),
        ]
    )
    assert _parse(tsv, 200, 100) == (
        Word("240", 96.5, 0.05, 0.1, 0.15, 0.2),
        Word("fit", 91.0, 0.5, 0.5, 0.75, 0.7),
    )


def _box(text: str, left: float, right: float, confidence: float = 96.0, top: float = 0.25) -> Any:
    from paperpack.compare.ocr import Word

    return Word(text, confidence, left, top, right, 0.5)


def test_numbers_are_compared_at_exactly_the_confidence_and_overlap_bounds() -> None:
    from paperpack.compare.ocr import CONFIDENT, OVERLAP, changed_numbers

    old, new = _box("240", 0.25, 0.625), _box("252", 0.375, 0.75)  # overlapping by 0.25 of 0.5: exactly OVERLAP
    assert old.overlap(new) == OVERLAP
    assert changed_numbers((old,), (new,)) == [(old, new)]
    sure = _box("1.5", 0.0, 0.1, CONFIDENT), _box("1.7", 0.0, 0.1, CONFIDENT)
    assert changed_numbers(sure[:1], sure[1:]) == [sure], "read with exactly CONFIDENT: compared"
    assert changed_numbers((old,), ()) == [], "no number in the other figure"


def test_the_overlap_of_boxes_that_do_not_meet_is_none() -> None:
    """From 0 to 1: boxes apart one way (though level the other), or of no width or height, share nothing."""
    assert _box("1", 0.1, 0.15).overlap(_box("2", 0.5, 0.55)) == 0.0
    assert _box("1", 0.5, 0.5).overlap(_box("2", 0.5, 0.5)) == 0.0, "no width"
    assert _box("1", 0.1, 0.2, top=0.5).overlap(_box("2", 0.1, 0.2, top=0.5)) == 0.0, "no height"
    assert _box("1", 0.1, 0.2).overlap(_box("2", 0.1, 0.2)) == 1.0


def test_tesseract_reads_a_png_in_a_private_folder_removed_after_with_only_path_one_thread_and_c(
    scripted_tesseract: Any, tmp_path: Path
) -> None:
    import json

    from PIL import Image

    from paperpack.compare.ocr import read_words

    calls = scripted_tesseract([])
    read_words(Image.new("RGB", (30, 20), "white"))
    for call in (json.loads(line) for line in calls.read_text().splitlines()):
        image = Path(call["image"])
        assert image.name == "figure.png" and image.parent.name.startswith("paperpack-ocr-"), image
        assert not image.parent.exists(), "the folder is removed once read"
        assert call["argv"] == ["stdout", "-l", "eng", "--psm", "11", "tsv"]
        assert call["env"] == {"PATH": f"{tmp_path}:/usr/bin:/bin", "OMP_THREAD_LIMIT": "1", "LC_ALL": "C"}


def test_without_path_tesseract_is_found_in_the_default_places_and_runs(
    tesseract: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job started with no PATH at all (a bare service): the program is looked for where the system looks by
    default, and run with an empty PATH rather than none."""
    from PIL import Image

    from paperpack.compare.ocr import Reading, read_words

    monkeypatch.delenv("PATH")
    assert read_words(Image.new("RGB", (40, 20), "white")) == Reading(())


def test_the_words_kept_are_read_the_same_at_the_same_place_at_each_size_with_the_lower_confidence(
    scripted_tesseract: Any,
) -> None:
    """A digit read "6" at one size and "0" at the other, or a word read at another place, is left out; a word
    whose boxes overlap by exactly OVERLAP is at the same place. Boxes in shares of the figure, whatever its
    shape."""
    from PIL import Image

    from paperpack.compare.ocr import Word, read_words

    wide = (0.25, 0.375, 0.25)  # top, width, height: whole pixels at both sizes of a 40 x 20 figure
    scripted_tesseract(
        {
            "each": [
                [("0.5", 0.0, 91.0, *wide), ("6", 0.25, 97.0, *wide), ("7", 0.25, 97.0, 0.5, 0.375, 0.25)],
                [("0.5", 0.0, 97.0, *wide), ("0", 0.25, 97.0, *wide), ("7", 0.375, 93.0, 0.5, 0.375, 0.25)],
            ]
        }
    )
    assert read_words(Image.new("RGB", (40, 20), "white")).words == (
        Word("0.5", 91.0, 0.0, 0.25, 0.375, 0.5),
        Word("7", 93.0, 0.375, 0.5, 0.75, 0.75),
    )


def _fake_tesseract(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, script: str) -> None:
    fake = tmp_path / "tesseract"
    fake.write_text(script)
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")


def test_a_failed_reading_names_the_last_line_tesseract_said_or_its_exit_status_and_logs_all(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from PIL import Image

    from paperpack.compare.ocr import read_words

    figure = Image.new("RGB", (40, 20), "white")
    _fake_tesseract(monkeypatch, tmp_path, "#!/bin/sh\nprintf 'Tesseract\\nbad \\377 byte\\n' >&2\nexit 1\n")
    with caplog.at_level(logging.INFO, logger="paperpack.compare.ocr"):
        reading = read_words(figure)
    assert reading.problem == (
        "tesseract failed (bad \ufffd byte): check that `tesseract --list-langs` lists eng "
        "(apt-get install tesseract-ocr-eng)"
    )
    assert "tesseract failed on a figure: ['Tesseract', 'bad \ufffd byte']" in caplog.messages
    _fake_tesseract(monkeypatch, tmp_path, "#!/bin/sh\nexit 3\n")
    assert read_words(figure).problem.startswith("tesseract failed (exit status 3): check that")
    _fake_tesseract(monkeypatch, tmp_path, "#!/bin/sh\nprintf '%0300d' 0 >&2\nexit 1\n")
    assert read_words(figure).problem.startswith(f"tesseract failed ({'0' * 200}): check"), "cut at 200"


def test_a_tesseract_that_cannot_be_started_is_named_with_its_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from PIL import Image

    from paperpack.compare.ocr import read_words

    _fake_tesseract(monkeypatch, tmp_path, "#!/nonexistent/interpreter\n")
    assert read_words(Image.new("RGB", (40, 20), "white")).problem == (
        "tesseract could not be started (No such file or directory): reinstall it "
        "(apt-get install --reinstall tesseract-ocr tesseract-ocr-eng)"
    )


def test_a_word_tesseract_wrote_in_bytes_that_are_not_utf8_is_kept_with_a_replacement_character(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sys

    from PIL import Image

    from paperpack.compare.ocr import read_words

    answer = 'b"header\\n5\\t1\\t1\\t1\\t1\\t1\\t0\\t0\\t%d\\t%d\\t96\\t24\\xff0\\n" % (w // 2, h // 2)'
    _fake_tesseract(
        monkeypatch,
        tmp_path,
        f"#!{sys.executable}\nimport sys\nfrom PIL import Image\nw, h = Image.open(sys.argv[1]).size\n"
        f"sys.stdout.buffer.write({answer})\n",
    )
    assert [w.text for w in read_words(Image.new("RGB", (40, 20), "white")).words] == ["24\ufffd0"]


@pytest.mark.parametrize(
    ("cells", "named"),
    [
        (3, "code cell 1, code cell 2, code cell 3"),
        (4, "code cell 1, code cell 2, code cell 3 and 1 more"),
        (6, "code cell 1, code cell 2, code cell 3 and 3 more"),
    ],
)
def test_a_same_names_the_first_three_unread_figures_and_counts_the_rest(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cells: int, named: str
) -> None:
    """Every unread figure is accounted for: three named (a verdict line stays short), the rest counted."""
    from tests.test_compare import _cell, _notebook

    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract there
    reference = _figure_output(_png(_titled(0.0), Render()))
    executed = _figure_output(_png(_titled(0.05), HINTINGS["autohint"]))
    result = compare_notebooks(
        _notebook(*(_cell([reference], None) for _ in range(cells))),
        _notebook(*(_cell([executed], None) for _ in range(cells))),
    )
    assert str(result.verdict) == "same", result.message
    assert result.message == (
        f"{cells} cells with the same results (the re-rendered text of the figure in {named} was not read: "
        "install tesseract-ocr (with tesseract-ocr-eng) to read it)"
    ), result.message


def test_a_cell_compared_without_a_list_for_unread_text_still_judges_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """compare_cell's ``unread`` is optional: without it, an unread figure is the same, not a crash."""
    from paperpack.compare import CompareOptions
    from paperpack.compare.core import compare_cell

    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract there
    reference = _figure_output(_png(_titled(0.0), Render()))
    executed = _figure_output(_png(_titled(0.05), HINTINGS["autohint"]))
    assert compare_cell(0, [reference], [executed], CompareOptions()) == (None, [])
