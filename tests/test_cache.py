"""The persistent JSON cache: location, TTL, and several processes writing the same entries."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from paperpack.util.cache import JsonCache, cache_dir


def test_location_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERPACK_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("PAPERPACK_CACHE_DIR")
    assert cache_dir().name == "paperpack"


def test_ttl_and_unreadable_entries(tmp_path: Path) -> None:
    cache = JsonCache(tmp_path, ttl=60)
    cache.set("a", {"x": 1})
    cache.set("short", [1], ttl=1)
    assert cache.get("a") == {"x": 1}
    assert cache.get("a", now=time.time() + 61) is None
    assert cache.get("short", now=time.time() + 2) is None
    cache._path("a").write_text("{not json")
    assert cache.get("a") is None  # a damaged entry is a miss, never an error


def _hammer(folder: str, worker: int, rounds: int, bad: multiprocessing.Queue[str]) -> None:
    cache = JsonCache(Path(folder))
    for i in range(rounds):
        cache.set("shared", {"worker": worker, "i": i, "pad": "x" * 4000})
        value = cache.get("shared")  # after our own write the entry always exists, whole
        if value is None or set(value) != {"worker", "i", "pad"} or len(value["pad"]) != 4000:
            bad.put(repr(value)[:80])


def test_several_processes_share_entries_safely(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    bad: multiprocessing.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path), w, 80, bad)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert bad.empty(), "a reader saw half an entry"
    assert JsonCache(tmp_path).get("shared")["i"] == 79
    assert not list(tmp_path.rglob("*.tmp")), "no temporary files left behind"
