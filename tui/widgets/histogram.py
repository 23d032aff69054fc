"""Lengths per split as stacked bars over shared bins, drawn with textual-plotext."""

from __future__ import annotations

import numpy as np
from textual_plotext import PlotextPlot

BINS = 12


class LengthHistogram(PlotextPlot):
    """Per split, a length per row, drawn as stacked bars over shared bins. ``data`` holds the
    lengths drawn, so that what the plot shows can be read back as data."""

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.data: dict[str, list[int]] = {}
        self.limit: int | None = None  # a line drawn at this length (the model's context)
        self.replot()

    def show(self, data: dict[str, list[int]], limit: int | None = None) -> None:
        self.data = {split: values for split, values in data.items() if values}
        self.limit = limit
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_figure()
        values = [v for vs in self.data.values() for v in vs]
        plt.title(self.title if values else f"{self.title}: no corpus read")
        if not values:
            self.refresh()
            return
        # Shared bins, so the splits' bars stack; numpy picks them as matplotlib's would.
        edges = np.histogram_bin_edges(values, bins=BINS)
        centres = [round(x) for x in (edges[:-1] + edges[1:]) / 2]
        counts = [np.histogram(vs, bins=edges)[0].tolist() for vs in self.data.values()]
        labels = [f"{split} {len(vs)}" for split, vs in self.data.items()]
        plt.stacked_bar(centres, counts, labels=labels, width=0.9)
        # Every third bin labelled: plotext, left to choose, drops overlapping labels in an
        # order that changes from run to run.
        plt.xticks(centres[::3])
        if self.limit is not None and self.limit <= max(values):
            plt.vline(self.limit)
        self.refresh()
