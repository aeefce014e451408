"""The instructor's plots, rendered with matplotlib: the regrade plot's legend never covers a bar."""

from __future__ import annotations

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from autograder.service.plots import regrade_counts, regrade_figure

ASKED = {
    "one open request (the regrade page's screenshot)": [("nb", "test-train", True)],
    "one answered request": [("nb", "test-train", False)],
    "answered and open side by side": [("nb", "test-train", False), ("nb", "test-train", True),
                                       ("nb", "test-activations", True), ("nb", "answer-vanishing", False)],
    "thirty checks in two notebooks, long names": [
        (f"notebook_{i % 2}", f"test-a-rather-long-check-name-{i}", i % 3 == 0)
        for i in range(30) for _ in range(1 + i % 4)],
}


@pytest.mark.parametrize("asked", ASKED.values(), ids=ASKED.keys())
def test_the_regrade_legend_covers_no_bar_and_stays_in_the_picture(asked: list[tuple[str, str, bool]]) -> None:
    figure = regrade_figure(asked)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # type: ignore[no-untyped-call]
    renderer = canvas.get_renderer()  # type: ignore[no-untyped-call]
    [ax] = figure.axes
    legend = ax.get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()] == ["answered", "open"]
    box = legend.get_window_extent(renderer)
    bars = [patch.get_window_extent(renderer) for patch in ax.patches]
    assert len(bars) == 2 * min(25, len({(nb, grade_id) for nb, grade_id, _open in asked}))
    assert not [bar for bar in bars if box.overlaps(bar)]
    picture = figure.get_tightbbox(renderer)  # what savefig(bbox_inches="tight") keeps, in inches
    inches = box.transformed(figure.dpi_scale_trans.inverted())
    assert picture.x0 <= inches.x0 and inches.x1 <= picture.x1 and picture.y0 <= inches.y0 and inches.y1 <= picture.y1


def test_the_regrade_plot_is_inline_svg() -> None:
    assert regrade_counts([("nb", "test-train", True)]).startswith("<svg")
    assert regrade_figure([]).axes[0].get_legend() is None  # nothing asked yet: no legend of nothing
