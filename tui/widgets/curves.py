"""A plot of named series against the training step, drawn with textual-plotext."""

from __future__ import annotations

from textual_plotext import PlotextPlot

Series = tuple[list[int], list[float]]  # steps, values


class CurvePlot(PlotextPlot):
    """Named series against the step. ``series`` holds what is drawn, so that what the plot
    shows can be read back as data."""

    def __init__(self, title: str, ylabel: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.ylabel = ylabel
        self.series: dict[str, Series] = {}
        self.replot()

    def show(self, series: dict[str, Series]) -> None:
        """Draw these series in place of the ones shown."""
        self.series = {name: s for name, s in series.items() if s[0]}
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.title(self.title if self.series else f"{self.title}: no points yet")
        plt.xlabel("step")
        plt.ylabel(self.ylabel)
        for name, (steps, values) in self.series.items():
            # A braille line of one or two points is a speck: those are drawn as dots.
            marker = "braille" if len(steps) > 2 else "dot"
            plt.plot(steps, values, label=name, marker=marker)
        self.refresh()
