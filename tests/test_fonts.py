"""matplotlib's font list is built once on the trusted side and read by every kernel."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder.channel import session as session_module
from autograder.channel.kernel import CELLS_FILE
from autograder.channel.session import KernelSession
from autograder.sandbox import Limits, fonts, get_sandbox


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fonts.font_cache.cache_clear()
    yield tmp_path / "cache" / "autograder"
    fonts.font_cache.cache_clear()


def test_the_font_list_is_built_once_readable_by_anyone_and_reused(fresh_cache: Path) -> None:
    folder = fonts.font_cache()
    assert folder is not None and folder.parent == fresh_cache
    [listing] = folder.glob("fontlist-*.json")
    assert json.loads(listing.read_text())["ttflist"], "matplotlib's own fonts at least"
    assert stat.S_IMODE(listing.stat().st_mode) == 0o644 and stat.S_IMODE(folder.stat().st_mode) == 0o755
    built = listing.stat().st_mtime_ns
    fonts.font_cache.cache_clear()
    assert fonts.font_cache() == folder and listing.stat().st_mtime_ns == built
    assert [p.name for p in fresh_cache.iterdir()] == [folder.name]  # no build folder left behind


@pytest.mark.container
def test_a_kernel_loads_the_font_list_it_is_given(tmp_path: Path, sandbox_name: str,
                                                  monkeypatch: pytest.MonkeyPatch, fresh_cache: Path) -> None:
    built = fonts.font_cache()
    assert built is not None
    seed = tmp_path / "seed"
    seed.mkdir(mode=0o755)
    [listing] = built.glob("fontlist-*.json")
    marked = json.loads(listing.read_text())
    marked["ttflist"][0]["name"] = "AutograderMarkerFont"  # only a list read from the seed has this name
    (seed / listing.name).write_text(json.dumps(marked))
    (seed / listing.name).chmod(0o644)
    monkeypatch.setattr(session_module, "font_cache", lambda: seed)
    staged = tmp_path / "staged"
    staged.mkdir(mode=0o755)
    source = ("from matplotlib import font_manager\n"
              "print('marker' if any(f.name == 'AutograderMarkerFont' for f in font_manager.fontManager.ttflist)"
              " else 'built its own')")
    (staged / CELLS_FILE).write_text(json.dumps([{"index": 0, "cell_id": "a", "source": source}]))
    (staged / CELLS_FILE).chmod(0o644)
    kernel = KernelSession(get_sandbox(sandbox_name), staged, limits=Limits(), call_timeout=30)
    try:
        report = kernel.wait_ready(120)
        assert report.failure is None, report.failure
        assert [o.get("text") for o in report.cells[0].outputs] == ["marker\n"]
    finally:
        kernel.close()
