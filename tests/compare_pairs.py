"""The labelled comparison set: pairs of cell outputs that must compare *same* or *differ*.

Every pair is made here, by the test run itself: figures drawn with matplotlib (Agg, PNG as
Jupyter's inline backend stores them), texts printed by numpy, and the reprs and wrappers seen in
eleven published paper repositories. ``noise`` pairs only change what a reader does not compare
(rendering, spacing, wrappers, warnings); ``change`` pairs change a parameter of the computation
by ``change`` (0.01 = 1 %). tests/test_compare_pairs.py checks them; benchmarks/bench_compare.py
reports precision and recall.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Pair",
    "image_pairs",
    "text_pairs",
    "all_pairs",
    "one_cell_notebook",
    "CHANGES",
    "rerender_pairs",
    "repr_pairs",
    "hinting_pairs",
]

CHANGES = (0.01, 0.02, 0.05, 0.1, 0.2)


@dataclass(frozen=True)
class Pair:
    name: str
    family: str  # line, field, histogram, scatter, bars, text, …
    change: float  # 0 for noise; else the relative size of the parameter change
    reference: list[dict[str, Any]]  # committed outputs of one cell
    executed: list[dict[str, Any]]  # re-executed outputs of the same cell

    @property
    def same(self) -> bool:
        return self.change == 0


def one_cell_notebook(outputs: list[dict[str, Any]]) -> Any:
    """A notebook whose one code cell has these outputs, to compare a pair with compare_notebooks."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x", execution_count=1)
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    nb.cells = [cell]
    return nb


# --- outputs --------------------------------------------------------------------------------


def stream(text: str, name: str = "stdout") -> dict[str, Any]:
    return {"output_type": "stream", "name": name, "text": text}


def display(data: dict[str, Any], result: bool = False) -> dict[str, Any]:
    if result:
        return {"output_type": "execute_result", "data": data, "metadata": {}, "execution_count": 1}
    return {"output_type": "display_data", "data": data, "metadata": {}}


# --- figures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Render:
    """How a figure is rendered: what differs between two runs that should look the same."""

    size: tuple[float, float] = (6.4, 4.8)
    dpi: int = 72
    font: str = "DejaVu Sans"
    jpeg: bool = False
    legend_shift: float = 0.0  # the legend moved by this share of the axes (placement jitter)
    edge_shift: float = 0.0  # each bar's edges moved by this many pixels, some left, some right (snapping)
    hinting: str = ""  # text.hinting ("": the default)


def _shift_edges(fig: Any, shift: float) -> None:
    """Move each bar's (rectangle patch's) left and right edges by ``shift`` pixels, in a pattern that
    differs from bar to bar: under half a pixel, each edge then snaps to its pixel or the next one, as
    matplotlib 3.11 draws 3.10's bar chart (some bars a pixel wider, some narrower, some moved)."""
    for ax in fig.axes:
        low, high = ax.get_xlim()
        per_pixel = (high - low) / ax.bbox.width
        for i, patch in enumerate(ax.patches):
            if hasattr(patch, "set_width"):
                left, right = (1, -1)[i % 2] * shift, (1, 1, -1)[i % 3] * shift
                patch.set_x(patch.get_x() + left * per_pixel)
                patch.set_width(patch.get_width() + (right - left) * per_pixel)


def _png(draw: Callable[[Any], None], render: Render) -> str:
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    settings: dict[str, Any] = {"font.family": render.font}
    if render.hinting:
        settings["text.hinting"] = render.hinting
    with plt.rc_context(settings):
        fig = plt.figure(figsize=render.size, dpi=render.dpi)
        draw(fig)
        for ax in fig.axes:
            legend = ax.get_legend()
            if legend is not None and render.legend_shift:
                legend.set_bbox_to_anchor((-render.legend_shift, -render.legend_shift, 1, 1), ax.transAxes)
        if render.edge_shift:
            _shift_edges(fig, render.edge_shift)
        out = io.BytesIO()
        fig.savefig(out, format="png", bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
    if render.jpeg:
        from PIL import Image

        recoded = io.BytesIO()
        Image.open(io.BytesIO(out.getvalue())).convert("RGB").save(recoded, "JPEG", quality=90)
        reread = io.BytesIO()
        Image.open(io.BytesIO(recoded.getvalue())).save(reread, "PNG")
        out = reread
    return base64.b64encode(out.getvalue()).decode()


def _line(p: float) -> Callable[[Any], None]:
    def draw(fig: Any) -> None:
        import numpy as np

        x = np.linspace(0, 10, 400)
        ax = fig.add_subplot()
        ax.plot(x, np.exp(-0.2 * (1 + p) * x) * np.sin(2 * x), label="damped")
        ax.plot(x, 0.5 * np.cos(x), label="reference")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("amplitude")
        ax.set_ylim(-1, 1)
        ax.legend()

    return draw


def _field(p: float) -> Callable[[Any], None]:
    def draw(fig: Any) -> None:
        import numpy as np

        n = 40
        y, x = np.mgrid[0 : 2 * np.pi : n * 1j, 0 : 2 * np.pi : n * 1j]
        t = 1.0 * (1 - p)  # fewer time steps: the flow has developed less
        u, v = t * np.cos(x) * np.sin(y), -t * np.sin(x) * np.cos(y)
        ax = fig.add_subplot()
        filled = ax.contourf(x, y, np.hypot(u, v), levels=np.linspace(0, 1, 11), cmap="viridis")
        ax.quiver(x[::2, ::2], y[::2, ::2], u[::2, ::2], v[::2, ::2], scale=25, color="white")
        fig.colorbar(filled, ax=ax)

    return draw


def _histogram(p: float) -> Callable[[Any], None]:
    def draw(fig: Any) -> None:
        import numpy as np

        samples = np.random.default_rng(3).normal(0, 1 + p, 5000)
        ax = fig.add_subplot()
        ax.hist(samples, bins=np.linspace(-4, 4, 41), color="tab:orange")
        ax.set_xlabel("value")

    return draw


def _scatter(p: float) -> Callable[[Any], None]:
    def draw(fig: Any) -> None:
        import numpy as np

        rng = np.random.default_rng(7)
        x = rng.uniform(0, 1, 300)
        y = (1 + p) * 0.8 * x + rng.normal(0, 0.05, 300)
        ax = fig.add_subplot()
        ax.scatter(x, y, s=12)
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.2, 1.2)

    return draw


def _bars(p: float) -> Callable[[Any], None]:
    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        ax.bar(["a", "b", "c", "d", "e"], [3, 5 * (1 + p), 2, 4, 1], color="tab:green")
        ax.set_ylim(0, 7)

    return draw


def _black(p: float) -> Callable[[Any], None]:
    """Black curves and a title with a number, as many papers draw them (text and data in one ink)."""

    def draw(fig: Any) -> None:
        import numpy as np

        x = np.linspace(0, 4, 300)
        ax = fig.add_subplot()
        ax.plot(x, np.exp(-(1 + p) * x), "k-", label="model")
        ax.plot(x[::15], np.exp(-x[::15]) + 0.02, "ko", markersize=3, label="data")
        ax.set_title("fit of the decay, n = 240")
        ax.set_xlabel("t")
        ax.legend()

    return draw


def _titled(p: float) -> Callable[[Any], None]:
    """The data unchanged, only a number in the title changed (a text change the figure must show)."""

    def draw(fig: Any) -> None:
        _black(0.0)(fig)
        fig.axes[0].set_title(f"fit of the decay, n = {240 * (1 + p):.0f}")

    return draw


FIGURES: dict[str, Callable[[float], Callable[[Any], None]]] = {
    "line": _line,
    "field": _field,
    "histogram": _histogram,
    "scatter": _scatter,
    "bars": _bars,
}

#: re-renders of the same figure that a reader takes for the same figure
NOISE_RENDERS: dict[str, Render] = {
    "dpi-100": Render(dpi=100),
    "canvas-taller": Render(size=(6.4, 4.95)),
    "default-size-changed": Render(size=(6.0, 4.0)),
    "font-serif": Render(font="DejaVu Serif"),
    "jpeg": Render(jpeg=True),
}


#: other re-renders and change sizes, not looked at when the constants were chosen (a check of them)
HELD_OUT_RENDERS: dict[str, Render] = {
    "dpi-120": Render(dpi=120),
    "canvas-wider": Render(size=(6.6, 4.8)),
    "font-sans-mono": Render(font="DejaVu Sans Mono"),
    "jpeg-dpi-90": Render(dpi=90, jpeg=True),
}
HELD_OUT_CHANGES = (0.03, 0.07, 0.15)

#: text re-rendered (fonts, DPI that rounds glyphs otherwise) and legends placed a little
#: elsewhere; added after issue 9's held-out font case, and kept out of the choice of constants
RERENDERS: dict[str, Render] = {
    "font-condensed": Render(font="DejaVu Sans Condensed"),
    "font-stix": Render(font="STIXGeneral"),
    "font-serif-condensed": Render(font="DejaVu Serif Condensed"),
    "dpi-73": Render(dpi=73),
    "dpi-71": Render(dpi=71),
    "legend-jitter": Render(legend_shift=0.005),
}


def _figure_output(png: str, repr_text: str = "<Figure size 640x480 with 1 Axes>") -> dict[str, Any]:
    return display({"image/png": png, "text/plain": repr_text})


#: bar edges snapped to other pixels (issue 9, third round: matplotlib 3.10 → 3.11), for the figures of bars
SNAPPED = {False: Render(edge_shift=0.45), True: Render(edge_shift=0.3)}
SNAPPED_FIGURES = ("bars", "histogram")


def image_pairs(held_out: bool = False) -> Iterator[Pair]:
    """Figure pairs; ``held_out``: the renders and changes kept aside to check the chosen constants."""
    base = Render()
    renders = HELD_OUT_RENDERS if held_out else NOISE_RENDERS
    yield from _snapped_pairs(held_out)
    for family, figure in FIGURES.items():
        reference = _png(figure(0.0), base)
        for name, render in renders.items():
            yield Pair(
                f"{family}/{name}",
                family,
                0.0,
                [_figure_output(reference)],
                [_figure_output(_png(figure(0.0), render))],
            )
        rerender = "dpi-120" if held_out else "dpi-100"
        for change in HELD_OUT_CHANGES if held_out else CHANGES:
            yield Pair(
                f"{family}/change-{change:g}",
                family,
                change,
                [_figure_output(reference)],
                [_figure_output(_png(figure(change), base))],
            )
            # a change seen through a re-render: the change must still be caught
            yield Pair(
                f"{family}/change-{change:g}-{rerender}",
                family,
                change,
                [_figure_output(reference)],
                [_figure_output(_png(figure(change), renders[rerender]))],
            )


def _snapped_pairs(held_out: bool) -> Iterator[Pair]:
    """Bar charts and histograms whose bar edges lie up to a pixel elsewhere (noise), and changed by 5 %
    or more with their edges so (must differ)."""
    for family in SNAPPED_FIGURES:
        figure = FIGURES[family]
        reference = [_figure_output(_png(figure(0.0), Render()))]
        yield Pair(
            f"{family}/edges-snapped", family, 0.0, reference, [_figure_output(_png(figure(0.0), SNAPPED[held_out]))]
        )
        for change in (0.07,) if held_out else (0.05, 0.1):
            executed = [_figure_output(_png(figure(change), SNAPPED[held_out]))]
            yield Pair(f"{family}/change-{change:g}-edges-snapped", family, change, reference, executed)


def rerender_pairs() -> Iterator[Pair]:
    """Re-rendered text and legend jitter as noise, on every figure and on black-ink figures; changes
    seen through a font re-render; a number in a title changed with the data the same (must differ)."""
    families = dict(FIGURES, black=_black)
    for family, figure in families.items():
        reference = _png(figure(0.0), Render())
        for name, render in RERENDERS.items():
            yield Pair(
                f"{family}/{name}",
                family,
                0.0,
                [_figure_output(reference)],
                [_figure_output(_png(figure(0.0), render))],
            )
        for change in (0.05, 0.1):
            for name in ("font-stix", "font-condensed"):
                yield Pair(
                    f"{family}/change-{change:g}-{name}",
                    family,
                    change,
                    [_figure_output(reference)],
                    [_figure_output(_png(figure(change), RERENDERS[name]))],
                )
    reference = _png(_titled(0.0), Render())
    for change in (0.05, 0.2):
        yield Pair(
            f"black/title-number-{change:g}",
            "black",
            change,
            [_figure_output(reference)],
            [_figure_output(_png(_titled(change), Render()))],
        )


#: text hinting changed, as matplotlib 3.11 changed it (3.10: force_autohint, with a hinting factor of 8 that
#: 3.11 deprecates), and none at all
HINTINGS: dict[str, Render] = {"autohint": Render(hinting="force_autohint"), "no-hinting": Render(hinting="no_hinting")}


def hinting_pairs(title_numbers: bool = False) -> Iterator[Pair]:
    """Every glyph redrawn in another text hinting (issue 9, third round: what matplotlib 3.11 changed), the
    figure the same (noise) or changed by 5 and 10 % (must differ); with ``title_numbers``, also a number in
    the title changed through the hinting change (seen only by reading the text, images.py step 8, which needs
    tesseract-ocr: benchmark only; tests/test_compare_ocr.py tests it)."""
    for family, figure in dict(FIGURES, black=_black).items():
        reference = [_figure_output(_png(figure(0.0), Render()))]
        for name, render in HINTINGS.items():
            yield Pair(f"{family}/{name}", family, 0.0, reference, [_figure_output(_png(figure(0.0), render))])
        for change in (0.05, 0.1):
            executed = [_figure_output(_png(figure(change), HINTINGS["autohint"]))]
            yield Pair(f"{family}/change-{change:g}-autohint", family, change, reference, executed)
    if title_numbers:
        reference = [_figure_output(_png(_titled(0.0), Render()))]
        for change in (0.05, 0.2):
            executed = [_figure_output(_png(_titled(change), HINTINGS["autohint"]))]
            yield Pair(f"title/number-{change:g}-autohint", "title", change, reference, executed)


#: the figures drawn by two matplotlib versions: the five families, black ink, and a title whose number changed
VERSION_FIGURES: dict[str, Callable[[float], Callable[[Any], None]]] = dict(FIGURES, black=_black, title=_titled)


def figure_renders(changes: tuple[float, ...] = (0.0, *CHANGES)) -> dict[str, str]:
    """``{"<family>/<change>": base64 PNG}`` at the base render: drawn by another matplotlib, then
    paired with this one's (benchmarks/bench_compare.py ``--other-python``)."""
    return {
        f"{family}/{change:g}": _png(figure(change), Render())
        for family, figure in VERSION_FIGURES.items()
        for change in changes
    }


def version_pairs(other: dict[str, str], other_version: str) -> Iterator[Pair]:
    """Figures drawn by another matplotlib (``other``, from :func:`figure_renders`) against this one's."""
    import matplotlib

    mine = figure_renders()
    for key, png in mine.items():
        family, change = key.split("/")
        reference = other[f"{family}/0"]
        name = f"{family}/matplotlib-{other_version}-vs-{matplotlib.__version__}-change-{change}"
        yield Pair(name, family, float(change), [_figure_output(reference)], [_figure_output(png)])


# --- text -----------------------------------------------------------------------------------


def _numpy_text(values: Any, legacy: bool) -> str:
    import numpy as np

    with np.printoptions(legacy="1.13" if legacy else False):
        return repr(values)


def text_pairs() -> Iterator[Pair]:
    import numpy as np

    values = np.ones(101) + np.arange(101) * 1e-9
    old, new = _numpy_text(values, True), _numpy_text(values, False)
    yield Pair("numpy/spacing", "text", 0.0, [display({"text/plain": old}, True)], [display({"text/plain": new}, True)])
    matrix = np.linspace(0, 1, 12).reshape(3, 4)
    for change in CHANGES:
        yield Pair(
            f"numpy/change-{change:g}",
            "printed",
            change,
            [display({"text/plain": repr(matrix)}, True)],
            [display({"text/plain": repr(matrix * (1 + change))}, True)],
        )
        yield Pair(
            f"print/change-{change:g}",
            "printed",
            change,
            [stream("loss 0.31415\nacc 0.9\n")],
            [stream(f"loss {0.31415 * (1 + change):.5f}\nacc 0.9\n")],
        )
        table = "   a     b\n0  1.5  20.0\n1  2.5  30.0"
        changed = f"   a     b\n0  1.5  20.0\n1  2.5  {30 * (1 + change):.1f}"
        yield Pair(
            f"table/change-{change:g}",
            "table",
            change,
            [display({"text/plain": table}, True)],
            [display({"text/plain": changed}, True)],
        )
    yield Pair(
        "table/realigned",
        "text",
        0.0,
        [display({"text/plain": "   a     b\n0  1.5  20.0\n1  2.5  30.0"}, True)],
        [display({"text/plain": "     a      b\n0  1.5   20.0\n1  2.5   30.0"}, True)],
    )
    yield Pair(
        "sympy/latex-wrapper",
        "text",
        0.0,
        [display({"text/latex": "$$\\frac{x^{2}}{2}$$", "text/plain": "x**2/2"}, True)],
        [display({"text/latex": "$\\displaystyle \\frac{x^{2}}{2}$", "text/plain": "x**2/2"}, True)],
    )
    yield Pair(
        "sympy/latex-changed",
        "text",
        0.2,
        [display({"text/latex": "$$\\frac{x^{2}}{2}$$", "text/plain": "x**2/2"}, True)],
        [display({"text/latex": "$\\displaystyle \\frac{x^{3}}{3}$", "text/plain": "x**3/3"}, True)],
    )
    yield Pair(
        "figure/repr",
        "text",
        0.0,
        [display({"text/plain": "<matplotlib.figure.Figure at 0x7f3a2b1c9d40>"})],
        [display({"text/plain": "<Figure size 640x480 with 1 Axes>"})],
    )
    widget = {"version_major": 2, "version_minor": 0, "model_id": "0123456789abcdef0123456789abcdef"}
    yield Pair(
        "widget/repr",
        "text",
        0.0,
        [display({WIDGET: widget, "text/plain": "A Jupyter Widget"}, True)],
        [
            display(
                {
                    WIDGET: dict(widget, model_id="fedcba9876543210fedcba9876543210"),
                    "text/plain": "IntSlider(value=3, max=10)",
                },
                True,
            )
        ],
    )
    youtube = (
        '<iframe width="400" height="300" src="https://www.youtube.com/embed/abc" frameborder="0" '
        "allowfullscreen></iframe>"
    )
    yield Pair(
        "youtube/attribute",
        "text",
        0.0,
        [display({"text/html": youtube, "text/plain": "<IPython.lib.display.YouTubeVideo at 0x7f00aa11bb22>"})],
        [
            display(
                {
                    "text/html": youtube.replace("allowfullscreen", 'allowfullscreen referrerpolicy="origin"'),
                    "text/plain": "<IPython.lib.display.YouTubeVideo at 0x7f00cc33dd44>",
                }
            )
        ],
    )
    yield Pair(
        "youtube/other-video",
        "text",
        0.2,
        [display({"text/html": youtube, "text/plain": "<IPython.lib.display.YouTubeVideo at 0x7f00aa11bb22>"})],
        [
            display(
                {
                    "text/html": youtube.replace("abc", "xyz"),
                    "text/plain": "<IPython.lib.display.YouTubeVideo at 0x7f00cc33dd44>",
                }
            )
        ],
    )
    warning = "/srv/lib/python3.11/site-packages/pandas/core/frame.py:123: FutureWarning: use .loc\n  return x\n"
    yield Pair(
        "stderr/new-warning", "text", 0.0, [stream("result 42\n")], [stream("result 42\n"), stream(warning, "stderr")]
    )
    yield Pair(
        "stderr/warning-and-change",
        "printed",
        0.2,
        [stream("result 42\n")],
        [stream("result 50\n"), stream(warning, "stderr")],
    )
    yield Pair(
        "timeit",
        "text",
        0.0,
        [stream("1.2 ms ± 3.4 µs per loop (mean ± std. dev. of 7 runs, 1,000 loops each)\n")],
        [stream("2.9 ms ± 71 µs per loop (mean ± std. dev. of 7 runs, 100 loops each)\n")],
    )


WIDGET = "application/vnd.jupyter.widget-view+json"


def repr_pairs() -> Iterator[Pair]:
    """Text reprs that change between runs or versions while saying the same (set and dict order,
    float reprs, progress bars, timestamps, addresses, warnings), and changed pairs of each kind."""

    def result(text: str) -> list[dict[str, Any]]:
        return [display({"text/plain": text}, True)]

    def noise(name: str, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> Pair:
        return Pair(f"repr/{name}", "repr", 0.0, old, new)

    def changed(name: str, old: list[dict[str, Any]], new: list[dict[str, Any]], change: float = 0.1) -> Pair:
        return Pair(f"repr/{name}", "repr", change, old, new)

    yield noise("set-order", result("{'beta', 'alpha', 'gamma'}"), result("{'gamma', 'alpha', 'beta'}"))
    yield changed("set-member", result("{'beta', 'alpha', 'gamma'}"), result("{'gamma', 'alpha', 'delta'}"))
    yield noise(
        "dict-order", result("{'lr': 0.01, 'epochs': 10, 'seed': 3}"), result("{'epochs': 10, 'seed': 3, 'lr': 0.01}")
    )
    yield changed(
        "dict-value", result("{'lr': 0.01, 'epochs': 10, 'seed': 3}"), result("{'epochs': 10, 'seed': 3, 'lr': 0.011}")
    )
    yield noise(
        "counter-ties", result("Counter({'a': 2, 'b': 1, 'c': 1})"), result("Counter({'a': 2, 'c': 1, 'b': 1})")
    )
    yield noise("float-repr", result("0.30000000000000004"), result("0.3"))
    yield noise(
        "pandas-float-precision",
        result("          x\n0  1.234568\n1  2.000000"),
        result("           x\n0  1.2345678\n1  2.0000000"),
    )
    yield changed(
        "pandas-float-value",
        result("          x\n0  1.234568\n1  2.000000"),
        result("          x\n0  1.234568\n1  2.200000"),
    )
    yield noise(
        "object-address",
        result("<__main__.Model object at 0x7f3a2b1c9d40>"),
        result("<__main__.Model object at 0x7fe01122aa90>"),
    )
    yield noise(
        "tqdm-described",
        [stream("training: 100%|██████████| 50/50 [00:03<00:00, 14.2it/s]\n", "stderr"), stream("loss 0.125\n")],
        [stream("training: 100%|██████████| 50/50 [00:05<00:00,  9.87it/s]\n", "stderr"), stream("loss 0.125\n")],
    )
    yield changed(
        "tqdm-and-result",
        [stream("training: 100%|██████████| 50/50 [00:03<00:00, 14.2it/s]\n", "stderr"), stream("loss 0.125\n")],
        [stream("training: 100%|██████████| 50/50 [00:05<00:00,  9.87it/s]\n", "stderr"), stream("loss 0.150\n")],
        0.2,
    )
    yield noise(
        "keras-progress",
        [stream("32/32 [==============================] - 1s 12ms/step - loss: 0.3100\n")],
        [stream("32/32 [==============================] - 0s 7ms/step - loss: 0.3100\n")],
    )
    yield changed(
        "keras-loss",
        [stream("32/32 [==============================] - 1s 12ms/step - loss: 0.3100\n")],
        [stream("32/32 [==============================] - 0s 7ms/step - loss: 0.3410\n")],
    )
    yield noise(
        "logging-timestamp",
        [stream("2023-06-15 10:01:02,345 INFO fitted 12 models\n", "stderr")],
        [stream("2026-11-30 21:11:09,871 INFO fitted 12 models\n", "stderr")],
    )
    yield changed(
        "logging-count",
        [stream("2023-06-15 10:01:02,345 INFO fitted 12 models\n", "stderr")],
        [stream("2026-11-30 21:11:09,871 INFO fitted 14 models\n", "stderr")],
    )
    yield noise("elapsed", [stream("done in 3.21 s; accuracy 0.912\n")], [stream("done in 5.02 s; accuracy 0.912\n")])
    yield changed(
        "elapsed-and-accuracy",
        [stream("done in 3.21 s; accuracy 0.912\n")],
        [stream("done in 5.02 s; accuracy 0.951\n")],
    )
    warning = (
        "/srv/lib/python3.11/site-packages/sklearn/base.py:{line}: UserWarning: X does not have valid "
        "feature names\n  warnings.warn(\n"
    )
    yield noise(
        "warning-moved",
        [stream("score 0.5\n"), stream(warning.format(line=439), "stderr")],
        [stream("score 0.5\n"), stream(warning.format(line=465), "stderr")],
    )


def all_pairs() -> Iterator[Pair]:
    yield from text_pairs()
    yield from repr_pairs()
    yield from image_pairs()
    yield from image_pairs(held_out=True)
    yield from rerender_pairs()
    yield from hinting_pairs()
