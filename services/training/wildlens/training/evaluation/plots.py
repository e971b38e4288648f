"""The report's pictures as PNG: the confusion matrix, the reliability diagram and F1 per
class (with the serving model's beside the trained model's, where the report has one).

Each is drawn on a ``Figure`` of its own with the Agg canvas (no pyplot, no global state), so
jobs drawing at once never share a figure and no display is needed.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from wildlens.training.evaluation.schemas import EvaluationReport, ReliabilityBin

__all__ = [
    "PLOTS",
    "confusion_matrix_png",
    "per_class_f1_png",
    "plots",
    "reliability_png",
]

DPI = 100
# Numbers in the cells while they stay legible; beyond that the colour scale says it.
MAX_LABELLED_CELLS = 900
MAX_SIDE_IN = 40.0

PLOTS = ("confusion_matrix.png", "reliability.png", "per_class_f1.png")


def _png(figure: Figure, title: str) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Title": title})
    return out.getvalue()


def _figure(width_in: float, height_in: float) -> Figure:
    figure = Figure(
        figsize=(min(width_in, MAX_SIDE_IN), min(height_in, MAX_SIDE_IN)),
        dpi=DPI,
        layout="constrained",
    )
    FigureCanvasAgg(figure)
    return figure


def confusion_matrix_png(report: EvaluationReport) -> bytes:
    """The trained model's confusion matrix: counts, true classes down, predicted across."""
    names = report.class_names
    matrix = np.asarray(report.challenger.confusion_matrix)
    side = 3.0 + 0.4 * len(names)
    figure = _figure(side + 1.5, side)
    ax = figure.add_subplot()
    image = ax.imshow(matrix, cmap="Blues", aspect="equal")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if matrix.size <= MAX_LABELLED_CELLS:
        top = matrix.max() if matrix.size else 0
        for (i, j), value in np.ndenumerate(matrix):
            colour = "white" if value > top / 2 else "black"
            ax.text(j, i, str(value), ha="center", va="center", color=colour, fontsize="small")
    bar = figure.colorbar(image, ax=ax, label="test samples")
    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    title = f"Confusion matrix ({report.samples} test samples)"
    ax.set_title(title)
    return _png(figure, title)


def _bars(bins: list[ReliabilityBin]) -> tuple[list[float], list[float], list[float]]:
    filled = [b for b in bins if b.accuracy is not None]
    return (
        [b.lower for b in filled],
        [b.accuracy or 0.0 for b in filled],
        [b.upper - b.lower for b in filled],
    )


def reliability_png(report: EvaluationReport) -> bytes:
    """Accuracy against confidence per bin, before and after the temperature where fitted."""
    calibration = report.challenger.calibration
    figure = _figure(6.0, 7.0)
    ax = figure.add_subplot()
    left, height, width = _bars(calibration.bins)
    ax.bar(
        left,
        height,
        width=width,
        align="edge",
        alpha=0.6,
        edgecolor="black",
        label=f"as trained (ECE {calibration.ece:.3f}), bins of {1 / len(calibration.bins):.3g}",
    )
    if calibration.bins_after_temperature is not None:
        # Points, not a second set of bars, so that neither hides the other.
        after = [
            (b.confidence, b.accuracy)
            for b in calibration.bins_after_temperature
            if b.confidence is not None and b.accuracy is not None
        ]
        ax.plot(
            [confidence for confidence, _ in after],
            [accuracy for _, accuracy in after],
            marker="o",
            color="tab:orange",
            label=(
                f"after temperature {calibration.temperature:.3g} "
                f"(ECE {calibration.ece_after_temperature:.3f})"
            ),
        )
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top-1 probability)")
    ax.set_ylabel("accuracy")
    figure.legend(loc="outside lower center")
    title = "Reliability diagram"
    ax.set_title(title)
    return _png(figure, title)


def per_class_f1_png(report: EvaluationReport) -> bytes:
    """F1 per class as horizontal bars, the serving model's beside the trained model's."""
    names = report.class_names
    rows = np.arange(len(names))
    figure = _figure(7.0, max(3.5, 1.5 + 0.35 * len(names) * (2 if report.champion else 1)))
    ax = figure.add_subplot()
    height = 0.4 if report.champion else 0.8
    ax.barh(
        rows - (height / 2 if report.champion else 0),
        [c.f1 for c in report.challenger.classes],
        height=height,
        label=f"trained model (macro-F1 {report.challenger.macro_f1:.3f})",
    )
    if report.champion is not None:
        ax.barh(
            rows + height / 2,
            [c.f1 for c in report.champion.classes],
            height=height,
            label=f"serving model (macro-F1 {report.champion.macro_f1:.3f})",
        )
    ax.set_yticks(rows, [f"{n} (n={s})" for n, s in zip(names, report.support, strict=True)])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1")
    # Below the axes, where no bar can run under it.
    figure.legend(loc="outside lower center", ncols=2 if report.champion else 1)
    title = "F1 per class on the test split"
    ax.set_title(title)
    return _png(figure, title)


def plots(report: EvaluationReport) -> dict[str, bytes]:
    """Every plot of the report, by file name (``PLOTS``)."""
    return {
        "confusion_matrix.png": confusion_matrix_png(report),
        "reliability.png": reliability_png(report),
        "per_class_f1.png": per_class_f1_png(report),
    }
