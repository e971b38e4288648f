"""One report for a trained model (the challenger), and beside it the same figures for the
model serving now (the champion) on the same test samples.

The promotion decision is on macro-F1: the rare species count as much as the common ones, which
is what a camera-trap project cares about, and what the trainer's early stopping optimises.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from wildlens.training.evaluation.calibration import calibration_figures, fit_temperature
from wildlens.training.evaluation.classification import (
    NOT_IN_SPLIT,
    class_figures,
    predictions,
    top_k_accuracy,
)
from wildlens.training.evaluation.groups import event_accuracy, level_accuracy, location_accuracy
from wildlens.training.evaluation.inputs import (
    EvaluationError,
    Samples,
    as_probabilities,
)
from wildlens.training.evaluation.schemas import (
    EvaluationReport,
    FiguresDifference,
    ModelFigures,
    PriorEffect,
)

__all__ = ["TOP_K", "compare", "evaluate", "model_figures"]

TOP_K = 5


def model_figures(
    samples: Samples,
    probabilities: npt.ArrayLike,
    *,
    probabilities_with_prior: npt.ArrayLike | None = None,
    temperature: float | None = None,
) -> ModelFigures:
    """Every figure of one model on the test samples.

    Args:
        samples: the test split.
        probabilities: the model's (samples x classes) probabilities, without temperature.
        probabilities_with_prior: the same after the spatiotemporal prior, when there is one.
        temperature: the model's fitted temperature: calibration is reported before and after.
    """
    p = as_probabilities(probabilities, samples)
    labels = samples.labels
    predicted = predictions(p)
    by_class = class_figures(labels, predicted, samples.class_names)
    calibration = calibration_figures(p, labels, temperature)
    top1 = top_k_accuracy(p, labels, 1)
    prior = None
    if probabilities_with_prior is not None:
        with_prior = as_probabilities(probabilities_with_prior, samples, "probabilities with prior")
        top1_with = top_k_accuracy(with_prior, labels, 1)
        prior = PriorEffect(
            top1_without=top1,
            top1_with=top1_with,
            top5_with=top_k_accuracy(with_prior, labels, TOP_K),
            macro_f1_with=class_figures(
                labels, predictions(with_prior), samples.class_names
            ).macro_f1,
            top1_gain=top1_with - top1,
        )
    return ModelFigures(
        samples=len(samples),
        top1=top1,
        top5=top_k_accuracy(p, labels, TOP_K),
        top5_k=min(TOP_K, len(samples.class_names)),
        balanced_accuracy=by_class.balanced_accuracy,
        macro_f1=by_class.macro_f1,
        macro_f1_classes=by_class.macro_f1_classes,
        classes=by_class.classes,
        confusion_matrix=by_class.confusion_matrix.tolist(),
        locations=location_accuracy(samples.locations, labels, predicted),
        events=event_accuracy(samples.events, labels, p),
        taxonomic_levels=level_accuracy(samples.lineages, labels, predicted),
        calibration=calibration,
        prior=prior,
    )


def compare(challenger: ModelFigures, champion: ModelFigures) -> FiguresDifference:
    """Challenger minus champion, figure by figure."""
    levels = {
        a.level: a.accuracy - b.accuracy
        for a, b in zip(challenger.taxonomic_levels, champion.taxonomic_levels, strict=True)
        if a.accuracy is not None and b.accuracy is not None
    }
    return FiguresDifference(
        top1=challenger.top1 - champion.top1,
        top5=challenger.top5 - champion.top5,
        balanced_accuracy=challenger.balanced_accuracy - champion.balanced_accuracy,
        macro_f1=challenger.macro_f1 - champion.macro_f1,
        ece=challenger.calibration.ece - champion.calibration.ece,
        f1={a.name: a.f1 - b.f1 for a, b in zip(challenger.classes, champion.classes, strict=True)},
        taxonomic_levels=levels,
        events=challenger.events.accuracy - champion.events.accuracy,
    )


def evaluate(
    samples: Samples,
    probabilities: npt.ArrayLike,
    *,
    probabilities_with_prior: npt.ArrayLike | None = None,
    validation_logits: npt.ArrayLike | None = None,
    validation_labels: npt.ArrayLike | None = None,
    champion: npt.ArrayLike | None = None,
    champion_with_prior: npt.ArrayLike | None = None,
    min_gain: float = 0.0,
) -> EvaluationReport:
    """The evaluation report of a trained model on its test split.

    Args:
        samples: the test split.
        probabilities: the trained model's (samples x classes) test probabilities, without
            temperature (``softmax(logits)``).
        probabilities_with_prior: the same with the spatiotemporal prior applied (a prior
            fitted on the training split only), for top-1 with and without it.
        validation_logits: the trained model's validation logits, with ``validation_labels``:
            the temperature is fitted on them, and the test calibration reported before and
            after it.
        champion: the serving model's test probabilities over the same classes (see
            ``align_classes`` where its classes differ); ``champion_with_prior`` likewise.
        min_gain: how much higher the challenger's macro-F1 must be to be called better.
    """
    if (validation_logits is None) != (validation_labels is None):
        raise EvaluationError("validation logits and validation labels come together")
    temperature = None
    if validation_logits is not None and validation_labels is not None:
        logits = np.asarray(validation_logits, dtype=np.float64)
        if logits.ndim != 2 or logits.shape[1] != len(samples.class_names):
            raise EvaluationError(
                f"validation logits must have one column per class ({len(samples.class_names)}), "
                f"got {logits.shape}"
            )
        temperature = fit_temperature(logits, validation_labels)
    challenger = model_figures(
        samples,
        probabilities,
        probabilities_with_prior=probabilities_with_prior,
        temperature=temperature,
    )
    served = None
    difference = None
    if champion is not None:
        served = model_figures(samples, champion, probabilities_with_prior=champion_with_prior)
        difference = compare(challenger, served)
        better = difference.macro_f1 > min_gain
        decision = (
            f"macro-F1 {challenger.macro_f1:.4f} against the serving model's "
            f"{served.macro_f1:.4f}: a gain of {difference.macro_f1:+.4f}, "
            f"{'more' if better else 'not more'} than the {min_gain:.4f} required"
        )
    elif champion_with_prior is not None:
        raise EvaluationError("the champion's probabilities with prior need its probabilities")
    else:
        better = True
        decision = "no model is serving: there is nothing to beat"
    support = [int(n) for n in np.bincount(samples.labels, minlength=len(samples.class_names))]
    return EvaluationReport(
        class_names=list(samples.class_names),
        lineages=list(samples.lineages),
        samples=len(samples),
        support=support,
        challenger=challenger,
        champion=served,
        difference=difference,
        better_than_champion=better,
        decision=decision,
        notes=_notes(challenger, served),
    )


def _notes(challenger: ModelFigures, champion: ModelFigures | None) -> list[str]:
    notes = []
    for who, figures in (("trained model", challenger), ("serving model", champion)):
        if figures is None:
            continue
        for c in figures.classes:
            # Absence from the split is the same for both models: say it once.
            if c.note and (who == "trained model" or c.note != NOT_IN_SPLIT):
                notes.append(f"{c.name} ({who}): {c.note}")
    return notes
