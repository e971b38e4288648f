"""What is stored with a model from its report: the files under its folder in object storage
(``models/<name>/<version>/``) and the headline figures the registry lists."""

from __future__ import annotations

from wildlens.training.evaluation.plots import plots
from wildlens.training.evaluation.schemas import EvaluationReport

__all__ = ["REPORT_FILE", "headline", "report_files"]

REPORT_FILE = "evaluation.json"


def report_files(report: EvaluationReport) -> dict[str, bytes]:
    """The report as JSON and its plots as PNGs, by file name."""
    return {REPORT_FILE: report.model_dump_json(indent=2).encode(), **plots(report)}


def headline(report: EvaluationReport) -> dict[str, float | bool | None]:
    """The figures a list of models shows (the registry's ``metrics``)."""
    figures = report.challenger
    return {
        "top1": figures.top1,
        "top5": figures.top5,
        "balanced_accuracy": figures.balanced_accuracy,
        "macro_f1": figures.macro_f1,
        "ece": figures.calibration.ece,
        "temperature": figures.calibration.temperature,
        "ece_after_temperature": figures.calibration.ece_after_temperature,
        "top1_with_prior": figures.prior.top1_with if figures.prior else None,
        "champion_macro_f1": report.champion.macro_f1 if report.champion else None,
        "better_than_champion": report.better_than_champion,
    }
