"""Batch mode with Docker: identical submissions share one content-addressed image, built once.

Two ids, one archive, two workers at once: the image lock keyed by the tag (a content hash)
lets one build while the other waits, then reuses it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from paperpack.batch import BatchOptions, SourceKind, Submission, run_batch
from test_batch import paper, zip_of

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_identical_submissions_build_their_image_once(docker: str, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    archive = zip_of(paper(tmp_path / "paper"), tmp_path / "paper.zip")
    subs = [Submission(ident, str(archive), kind=SourceKind.ARCHIVE) for ident in ("first", "again")]
    images: set[str] = set()
    try:
        result = run_batch(
            subs, BatchOptions(out_dir=tmp_path / "out", jobs=2, engine="docker", mode="offline", timeout=900)
        )
        done = {e.submission.id: e.result for e in result.entries}
        images = {r.image for r in done.values() if r is not None and r.image}
        for ident, r in done.items():
            assert r is not None and r.failure is None and r.verdict == "reproduced", (ident, r)
            assert r.engine == "docker"
        assert len(images) == 1
        assert re.fullmatch(r"paperpack/batch:[0-9a-f]{20}", next(iter(images)))  # the content hash
        assert sorted(r.image_reused for r in done.values() if r is not None) == [False, True]
    finally:
        for image in images:
            subprocess.run(["docker", "image", "rm", image], capture_output=True, check=False)
